"""GET /v2/<name>/referrers/<digest> (OCI distribution v1.1)."""

import os
import urllib.parse

import pytest

from helpers import (OCI_INDEX, OCI_MANIFEST, assert_error, canon, descriptor, digest_of,
                     make_artifact, make_image, push_manifest, unique)

SIG = "application/vnd.test.signature.v1"
SBOM = "application/vnd.test.sbom.v1+json"


def referrers(reg, repo, digest, artifact_type=None):
    path = "/v2/%s/referrers/%s" % (repo, digest)
    if artifact_type:
        path += "?artifactType=" + urllib.parse.quote(artifact_type, safe="")
    r = reg.get(path)
    assert r.status == 200, r
    assert r.header("Content-Type", "").split(";")[0] == OCI_INDEX, r
    doc = r.json()
    assert doc.get("schemaVersion") == 2, doc
    assert doc.get("mediaType") == OCI_INDEX, doc
    assert isinstance(doc.get("manifests"), list), doc
    return r, doc["manifests"]


@pytest.fixture(scope="module")
def graph(reg):
    repo = unique("refs")
    sbody, smt, sd, _ = make_image(reg, repo, tag="base")
    sig_body, sig_d, _ = make_artifact(reg, repo, sbody, smt, artifact_type=SIG,
                                       annotations={"org.example.signer": "alice"})
    # No artifactType: the config media type stands in for it.
    sbom_body, sbom_d, _ = make_artifact(reg, repo, sbody, smt, config_mt=SBOM)
    # Unrelated manifest with a different subject.
    obody, omt, od, _ = make_image(reg, repo, tag="other")
    make_artifact(reg, repo, obody, omt, artifact_type=SIG)
    return {"repo": repo, "subject": sd, "sig": (sig_body, sig_d), "sbom": (sbom_body, sbom_d)}


def test_referrers_lists_descriptors(reg, graph):
    r, ms = referrers(reg, graph["repo"], graph["subject"])
    by_digest = {m["digest"]: m for m in ms}
    sig_body, sig_d = graph["sig"]
    sbom_body, sbom_d = graph["sbom"]
    assert set(by_digest) == {sig_d, sbom_d}, ms
    sig = by_digest[sig_d]
    assert sig["mediaType"] == OCI_MANIFEST, sig
    assert sig["size"] == len(sig_body), sig
    assert sig["artifactType"] == SIG, sig
    assert sig.get("annotations") == {"org.example.signer": "alice"}, sig
    sbom = by_digest[sbom_d]
    assert sbom["mediaType"] == OCI_MANIFEST and sbom["size"] == len(sbom_body), sbom
    assert sbom["artifactType"] == SBOM, sbom
    assert not sbom.get("annotations"), sbom


def test_referrers_filter(reg, graph):
    r, ms = referrers(reg, graph["repo"], graph["subject"], artifact_type=SIG)
    assert [m["digest"] for m in ms] == [graph["sig"][1]], ms
    applied = [x.strip() for x in r.header("OCI-Filters-Applied", "").split(",")]
    assert "artifactType" in applied, r
    r, ms = referrers(reg, graph["repo"], graph["subject"], artifact_type=SBOM)
    assert [m["digest"] for m in ms] == [graph["sbom"][1]], ms
    r, ms = referrers(reg, graph["repo"], graph["subject"], artifact_type="application/x-none")
    assert ms == [], ms


def test_referrers_unknown_digest_is_empty(reg, graph):
    r, ms = referrers(reg, graph["repo"], digest_of(os.urandom(16)))
    assert ms == []
    assert r.header("OCI-Filters-Applied") is None, r


def test_referrers_bad_digest(reg, graph):
    r = reg.get("/v2/%s/referrers/sha256:xyz" % graph["repo"])
    assert_error(r, 400, "DIGEST_INVALID")


def test_referrer_pushed_before_subject(reg):
    repo = unique("early")
    sbody, smt, sd, _ = make_image(reg, repo, push=False)
    body, d, r = make_artifact(reg, repo, sbody, smt, artifact_type=SIG)
    assert r.header("OCI-Subject") == sd, r
    _, ms = referrers(reg, repo, sd)
    assert [m["digest"] for m in ms] == [d], ms
    # Now the subject arrives; the referrer stays listed.
    assert push_manifest(reg, repo, "late", sbody, smt).status == 201
    _, ms = referrers(reg, repo, sd)
    assert [m["digest"] for m in ms] == [d], ms


def test_deleted_referrer_disappears(reg):
    repo = unique("delref")
    sbody, smt, sd, _ = make_image(reg, repo, tag="base")
    _, d1, _ = make_artifact(reg, repo, sbody, smt, artifact_type=SIG)
    _, d2, _ = make_artifact(reg, repo, sbody, smt, artifact_type=SIG)
    _, ms = referrers(reg, repo, sd)
    assert {m["digest"] for m in ms} == {d1, d2}
    assert reg.delete("/v2/%s/manifests/%s" % (repo, d1)).status == 202
    _, ms = referrers(reg, repo, sd)
    assert [m["digest"] for m in ms] == [d2], ms


def test_index_as_referrer(reg):
    repo = unique("idxref")
    sbody, smt, sd, _ = make_image(reg, repo, tag="base")
    cbody, cmt, cd, _ = make_image(reg, repo)
    idx = canon({"schemaVersion": 2, "mediaType": OCI_INDEX, "artifactType": SBOM,
                 "manifests": [descriptor(cmt, cbody)],
                 "subject": descriptor(smt, sbody),
                 "annotations": {"k": "v"}})
    r = push_manifest(reg, repo, digest_of(idx), idx, OCI_INDEX)
    assert r.status == 201, r
    assert r.header("OCI-Subject") == sd, r
    _, ms = referrers(reg, repo, sd)
    assert len(ms) == 1, ms
    m = ms[0]
    assert m["digest"] == digest_of(idx) and m["mediaType"] == OCI_INDEX, m
    assert m["size"] == len(idx) and m["artifactType"] == SBOM, m
    assert m.get("annotations") == {"k": "v"}, m


def test_referrers_are_per_repository(reg, graph):
    other = unique("elsewhere")
    make_image(reg, other, tag="x")
    _, ms = referrers(reg, other, graph["subject"])
    assert ms == [], ms
