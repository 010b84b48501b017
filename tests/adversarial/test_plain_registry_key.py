"""Defect 4: the plain registry kept its data under the instance name "default", a name any
tenant could take: an instance called default then read, and deleted, the plain registry's
images. Now the plain registry's data sits under a key that no instance incarnation can equal,
so an instance named default is an instance like any other, and sees nothing of it."""

import pytest

from conftest import running_instances

from helpers import assert_error, fetch_blob, make_image, push_blob, unique
from instances_helpers import REGION_A, internet_host

USER, PASSWORD = "mallory", "mallory-Pass.word-1"
DEFAULT = internet_host("default")


@pytest.fixture
def srv(tmp_path):
    with running_instances(tmp_path, {"inet": dict(endpoint="internet")}, plain=True) as s:
        yield s


def plain_image(srv):
    repo = "library/" + unique("app")
    body, mt, digest, blobs = make_image(srv.plain, repo, tag="1")
    return repo, body, mt, digest, blobs


def make_default(srv, admin):
    admin.ok("POST", "/api/v1/instances", {"name": "default", "region": REGION_A,
                                           "edition": "personal"})
    admin.ok("PUT", "/api/v1/instances/default/credentials/%s" % USER, {"password": PASSWORD})
    return srv.client("inet", DEFAULT, auth=(USER, PASSWORD))


def assert_plain_intact(srv, repo, body, mt, digest, blobs):
    r = srv.plain.get("/v2/%s/manifests/1" % repo, headers={"Accept": mt})
    assert r.status == 200 and r.body == body, r
    for d in blobs:
        assert fetch_blob(srv.plain, repo, d).status == 200
    assert repo in srv.plain.get("/v2/_catalog").json()["repositories"]


@pytest.mark.parametrize("owner", ["A", "B"])
def test_instance_named_default_sees_nothing_of_the_plain_registry(srv, owner):
    repo, body, mt, digest, blobs = plain_image(srv)
    tenant = make_default(srv, srv.admin if owner == "A" else srv.admin_b)

    r = tenant.get("/v2/_catalog")
    assert r.status == 200 and r.json()["repositories"] == [], r
    assert_error(tenant.get("/v2/%s/tags/list" % repo), 404, "NAME_UNKNOWN")
    assert tenant.get("/v2/%s/manifests/1" % repo, headers={"Accept": mt}).status == 404
    assert tenant.get("/v2/%s/manifests/%s" % (repo, digest), headers={"Accept": mt}).status == 404
    for d in blobs:
        assert tenant.head("/v2/%s/blobs/%s" % (repo, d)).status == 404
        # A cross-repository mount from the plain registry's repository gives nothing either.
        r = tenant.post("/v2/mine/app/blobs/uploads/?mount=%s&from=%s" % (d, repo))
        assert r.status == 202, r  # a plain upload session, not a mount
        assert tenant.head("/v2/mine/app/blobs/%s" % d).status == 404

    # Nor can it delete anything of it.
    assert tenant.delete("/v2/%s/manifests/%s" % (repo, digest)).status == 404
    assert tenant.delete("/v2/%s/manifests/1" % repo).status == 404
    for d in blobs:
        assert tenant.delete("/v2/%s/blobs/%s" % (repo, d)).status == 404
    assert_plain_intact(srv, repo, body, mt, digest, blobs)

    # What the tenant pushes is its own; the plain registry does not see it.
    mine = "mine/" + unique("img")
    push_blob(tenant, mine, b"tenant blob")
    assert mine not in srv.plain.get("/v2/_catalog").json()["repositories"]

    # Deleting the instance leaves the plain registry whole, and so does a restart.
    (srv.admin if owner == "A" else srv.admin_b).ok("DELETE", "/api/v1/instances/default")
    assert_plain_intact(srv, repo, body, mt, digest, blobs)
    srv.restart()
    assert_plain_intact(srv, repo, body, mt, digest, blobs)
    tenant = make_default(srv, srv.admin)
    assert tenant.get("/v2/_catalog").json()["repositories"] == []
