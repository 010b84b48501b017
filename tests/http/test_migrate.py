"""`kura migrate`: an embedded installation (`kura serve --data D`: SQLite and blob files) moved to
the PostgreSQL + S3 stores of a cluster, checked from the outside: what the embedded server
served, a cluster node serves after the migration, byte for byte; a running node picks the
World up; a token signed before still verifies; a second run copies nothing; a corrupted blob
file is refused; bad input is refused in one line.

Stores: KURA_TEST_POSTGRES, the libpq URL of a PostgreSQL server on which the tests may CREATE
DATABASE (scripts/pg-up.sh prints one), and KURA_TEST_S3, the s3.env file of an S3 gateway
(scripts/ceph-up.sh writes DIR/s3.env). Without them the tests that need them are skipped; the
refusals that need no store always run. Each test creates a database of its own (dropped at the
end) and writes under a prefix of its own in the bucket kura-migrate-tests.

The sources are always embedded servers of their own, so the suite run on shared stores
(KURA_TEST_STORES) skips this module: it would test the same thing again.
"""

import glob
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
import urllib.parse

import pytest

from conftest import KURA_BIN, is_peer
from helpers import (DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST,
                     ALL_MANIFEST_TYPES, canon, descriptor, digest_of, make_artifact, make_image,
                     push_blob, push_manifest, start_upload, wait_until, with_query)
from instances_helpers import REGION_A, EndpointClient, InstanceServer, internet_host
from plain_server import read_env_file

pytestmark = [
    pytest.mark.skipif(is_peer(), reason="kura migrate is a kura feature"),
    pytest.mark.skipif(bool(os.environ.get("KURA_TEST_STORES")),
                       reason="kura migrate brings its own stores: it runs in the suite on "
                              "embedded stores"),
]

PG_BASE = os.environ.get("KURA_TEST_POSTGRES", "")
S3_ENV_PATH = os.environ.get("KURA_TEST_S3", "")
BUCKET = "kura-migrate-tests"
MIGRATE_TIMEOUT = 600
LISTENERS = {"inet": dict(endpoint="internet")}
PASSWORD = "alice-Pass.word-1"


def psql_bin():
    found = shutil.which("psql")
    if found:
        return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))
    return candidates[-1] if candidates else None


def need_stores():
    if not PG_BASE or not S3_ENV_PATH:
        pytest.skip("set KURA_TEST_POSTGRES to a libpq URL of a PostgreSQL server the test may "
                    "CREATE DATABASE on (scripts/pg-up.sh /tmp/mig-pg 5450 prints one) and "
                    "KURA_TEST_S3 to an s3.env file (RGW_PORT=7495 MON_V2_PORT=3320 "
                    "MON_V1_PORT=6795 scripts/ceph-up.sh /tmp/mig-ceph writes "
                    "/tmp/mig-ceph/s3.env)")
    if not PG_BASE.startswith(("postgresql://", "postgres://")):
        pytest.skip("KURA_TEST_POSTGRES must be a postgresql:// URL for this module")
    if not psql_bin():
        pytest.skip("psql not found (apt-get install postgresql-client)")


def psql(url, sql):
    r = subprocess.run([psql_bin(), "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-d", url,
                        "-c", sql], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, "psql %s: %s" % (sql, r.stderr)
    return r.stdout.strip()


class ClusterStores:
    """A database of its own on KURA_TEST_POSTGRES (dropped by close()) and a prefix of its own
    in the S3 bucket: the stores of one cluster."""

    def __init__(self, migrate_schema=True):
        need_stores()
        self.s3 = read_env_file(S3_ENV_PATH)
        self.name = "kura_mig_" + os.urandom(5).hex()
        psql(PG_BASE, "CREATE DATABASE %s" % self.name)
        u = urllib.parse.urlsplit(PG_BASE)
        self.url = urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + self.name, u.query, ""))
        if migrate_schema:
            r = subprocess.run([KURA_BIN, "db", "migrate", "--database", self.url],
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr

    def config_lines(self):
        return ["metadata:", "  postgres: \"%s\"" % self.url,
                "blobs:", "  s3:",
                "    endpoint: %s" % self.s3["AWS_ENDPOINT_URL"],
                "    bucket: %s" % BUCKET,
                "    prefix: %s/" % self.name,
                "    region: %s" % self.s3.get("AWS_REGION", "us-east-1"),
                "    access_key: %s" % self.s3["AWS_ACCESS_KEY_ID"],
                "    secret_key: %s" % self.s3["AWS_SECRET_ACCESS_KEY"]]

    def sql(self, query):
        return psql(self.url, query)

    def close(self):
        psql(PG_BASE, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name)


@pytest.fixture
def cluster():
    stores = ClusterStores()
    yield stores
    stores.close()


class ClusterNode(InstanceServer):
    """`kura serve` on the cluster's stores, with a plain registry, an Internet endpoint listener
    and the admin API (accounts A and B); its configuration is also the CLUSTER.yaml given to
    kura migrate (it names both stores)."""

    def __init__(self, workdir, stores):
        self.stores = stores
        super().__init__(KURA_BIN, workdir, LISTENERS, plain=True)

    def _write_config(self):
        super()._write_config()
        with open(self.config_path, "a") as f:
            f.write("\n".join(self.stores.config_lines()) + "\n")


def embedded(tmp_path, name):
    """An embedded installation: SQLite and files under its data directory."""
    return InstanceServer(KURA_BIN, tmp_path / name, LISTENERS, plain=True)


def migrate(data, config, *extra):
    r = subprocess.run([KURA_BIN, "migrate", "--data", data, "--config", config] + list(extra),
                       capture_output=True, text=True, timeout=MIGRATE_TIMEOUT)
    return r


def summary(r):
    """What a run says it did: {"blobs": (copied, present, refused), table: (copied, present)}."""
    out = {}
    m = re.search(r"^blobs: (\d+) (?:copied|to copy \(verified\)) \([^)]*\), (\d+) already "
                  r"there \([^)]*\), (\d+) refused", r.stdout, re.M)
    assert m, "no blob summary in:\n%s\n%s" % (r.stdout, r.stderr)
    out["blobs"] = tuple(int(g) for g in m.groups())
    for t in re.finditer(r"^  (\w+)\s+(\d+) (?:copied|to copy), (\d+) already there", r.stdout,
                         re.M):
        out[t.group(1)] = (int(t.group(2)), int(t.group(3)))
    return out


def assert_refused(r, *needles):
    """A refusal: exit status 1, one line on stderr naming the reason."""
    assert r.returncode == 1, "expected exit 1, got %d:\n%s%s" % (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.rstrip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("kura migrate: "), \
        "want one error line: %r" % r.stderr
    for n in needles:
        assert n in lines[0], "%r not in %r" % (n, lines[0])
    return lines[0]


def blob_files(data):
    """{path: sha256 of the bytes} of every blob file of a data directory."""
    out = {}
    for p in glob.glob(os.path.join(data, "blobs", "*", "*", "*")):
        with open(p, "rb") as f:
            out[p] = hashlib.sha256(f.read()).hexdigest()
    return out


def file_digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def push_image(reg, repo, layers, tag):
    """An OCI image of the given layer bytes. Returns (body, digest, {digest: bytes})."""
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "nonce": os.urandom(4).hex(),
                      "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    blobs = {push_blob(reg, repo, cfg): cfg}
    for data in layers:
        blobs[push_blob(reg, repo, data)] = data
    body = canon({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                  "config": descriptor(OCI_CONFIG, cfg),
                  "layers": [descriptor(OCI_LAYER, d) for d in layers]})
    r = push_manifest(reg, repo, tag, body, OCI_MANIFEST)
    assert r.status == 201, r
    return body, digest_of(body), blobs


def snapshot(reg, repos, referrers_of):
    """Everything a client reads back: catalog, tags, each tag's manifest (bytes and digest),
    every blob a manifest names (bytes), the referrers of the given manifests."""
    state = {"catalog": reg.get("/v2/_catalog").json()["repositories"], "repos": {}}
    for repo in repos:
        r = reg.get("/v2/%s/tags/list" % repo)
        assert r.status == 200, r
        tags = sorted(r.json()["tags"] or [])
        manifests, blobs = {}, {}
        for tag in tags:
            m = reg.get("/v2/%s/manifests/%s" % (repo, tag), headers={"Accept": ALL_MANIFEST_TYPES})
            assert m.status == 200, m
            manifests[tag] = (m.body, m.header("Docker-Content-Digest"), m.header("Content-Type"))
            doc = json.loads(m.body)
            for d in [doc.get("config")] + doc.get("layers", []):
                if d:
                    b = reg.get("/v2/%s/blobs/%s" % (repo, d["digest"]))
                    assert b.status == 200, b
                    blobs[d["digest"]] = b.body
        state["repos"][repo] = {"tags": tags, "manifests": manifests, "blobs": blobs}
    state["referrers"] = {}
    for repo, digest in referrers_of:
        r = reg.get("/v2/%s/referrers/%s" % (repo, digest))
        assert r.status == 200, r
        state["referrers"][digest] = r.json()
    return state


# ============================================================================ the whole move

def test_migrate_moves_everything_and_again_copies_nothing(tmp_path, cluster):
    src = embedded(tmp_path, "embedded")
    src.start()
    try:
        # The plain registry: images with a big layer (a multipart upload), an index of two
        # images, a referrer, a tag deleted, a second repository, an upload left half-done.
        reg = src.plain
        big = os.urandom(20 * 1024 * 1024 + 12345)
        v1, v1_digest, _ = push_image(reg, "lib/app", [big, os.urandom(3000)], "v1")
        v2, v2_digest, _ = push_image(reg, "lib/app", [os.urandom(5000)], "v2")
        index = canon({"schemaVersion": 2, "mediaType": OCI_INDEX,
                       "manifests": [descriptor(OCI_MANIFEST, v1, platform={"architecture": "amd64",
                                                                            "os": "linux"}),
                                     descriptor(OCI_MANIFEST, v2, platform={"architecture": "arm64",
                                                                            "os": "linux"})]})
        assert push_manifest(reg, "lib/app", "multi", index, OCI_INDEX).status == 201
        make_artifact(reg, "lib/app", v1, OCI_MANIFEST, artifact_type="application/vnd.test.sbom",
                      annotations={"org.example": "yes"})
        assert push_manifest(reg, "lib/app", "old", v2, OCI_MANIFEST).status == 201
        assert reg.delete("/v2/lib/app/manifests/old").status == 202
        make_image(reg, "lib/other", docker=True, tag="latest")
        upload = start_upload(reg, "lib/app")
        r = reg.patch(upload, b"half an upload",
                      headers={"Content-Type": "application/octet-stream"})
        assert r.status == 202, r

        # An instance with a password, a namespace and an image; a token signed now; an
        # instance deleted (a tombstone).
        src.admin.ok("POST", "/api/v1/instances",
                     {"name": "acme", "region": REGION_A, "edition": "enterprise"})
        src.admin.internet("acme", True, [("0.0.0.0/0", "all IPs")])
        src.admin.ok("PUT", "/api/v1/instances/acme/credentials/alice", {"password": PASSWORD})
        src.admin.ok("POST", "/api/v1/instances/acme/namespaces",
                     {"name": "team", "visibility": "public"})
        acme = EndpointClient(src.port("inet"), internet_host("acme"), auth=("alice", PASSWORD))
        acme_body, _, acme_digest, _ = make_image(acme, "team/app", tag="1")
        r = acme.token("repository:team/app:pull")
        assert r.status == 200, r
        token = r.json()["token"]
        src.admin.ok("POST", "/api/v1/instances",
                     {"name": "gone", "region": REGION_A, "edition": "personal"})
        src.admin.ok("PUT", "/api/v1/instances/gone/credentials/bob", {"password": PASSWORD})
        src.admin.ok("DELETE", "/api/v1/instances/gone")

        before = snapshot(reg, ["lib/app", "lib/other"], [("lib/app", v1_digest)])
        instances_before = src.admin.ok("GET", "/api/v1/instances")
        namespaces_before = src.admin.ok("GET", "/api/v1/instances/acme/namespaces")
    finally:
        src.stop()
    assert before["referrers"][v1_digest]["manifests"], "the referrer was not pushed"
    db_path = os.path.join(src.data, "kura.db")
    db_before, files_before = file_digest(db_path), blob_files(src.data)
    ro = sqlite3.connect("file:%s?immutable=1" % db_path, uri=True)
    tombstones = ro.execute("SELECT count(*) FROM deleted_instances").fetchone()[0]
    ro.close()
    assert tombstones >= 1

    # A node is already running on the (empty) cluster during the migration: it made a token
    # key of its own, and must pick the migrated World up.
    node = ClusterNode(tmp_path / "node", cluster)
    node.start()
    try:
        assert node.admin.ok("GET", "/api/v1/instances") == []
        assert node.plain.get("/v2/_catalog").json()["repositories"] == []

        # A dry run reads and verifies everything and writes nothing.
        r = migrate(src.data, node.config_path, "--dry-run")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "dry run" in r.stdout
        dry = summary(r)
        assert dry["blobs"] == (len(files_before), 0, 0), r.stdout
        assert dry["manifests"][0] > 0, r.stdout
        assert cluster.sql("SELECT count(*) FROM manifests") == "0"
        # The node started on the cluster saved only its configured accounts.
        assert cluster.sql("SELECT count(*) FROM world_rows WHERE kind <> 'account'") == "0"
        assert node.plain.get("/v2/_catalog").json()["repositories"] == []

        r = migrate(src.data, node.config_path)
        assert r.returncode == 0, r.stdout + r.stderr
        got = summary(r)
        assert got["blobs"] == (len(files_before), 0, 0), r.stdout
        for table in ("repositories", "repository_blobs", "manifests", "tags", "credentials",
                      "namespaces", "deleted_instances", "secrets"):
            assert got[table][0] > 0 and got[table][1] == 0, (table, r.stdout)
        assert got["manifests"] == dry["manifests"] and got["tags"] == dry["tags"], r.stdout
        assert got["deleted_instances"] == (tombstones, 0), r.stdout
        assert "upload sessions: 1 in progress, not migrated" in r.stdout, r.stdout
        assert "secret registry-token-hmac" in r.stdout and "replaced" in r.stdout, r.stdout
        assert cluster.sql("SELECT count(*) FROM deleted_instances") == str(tombstones)

        # The running node reloads the World (its revision moved) and serves the plain registry.
        assert wait_until(lambda: node.admin.ok("GET", "/api/v1/instances") == instances_before,
                          10), node.admin.ok("GET", "/api/v1/instances")
        assert snapshot(node.plain, ["lib/app", "lib/other"], [("lib/app", v1_digest)]) == before

        # Restarted, as the migration asked (the token key was replaced), it verifies a token
        # signed by the embedded server.
        node.restart()
        assert snapshot(node.plain, ["lib/app", "lib/other"], [("lib/app", v1_digest)]) == before
        assert node.plain.get("/v2/lib/app/manifests/old").status == 404
        assert node.admin.ok("GET", "/api/v1/instances") == instances_before
        assert node.admin.ok("GET", "/api/v1/instances/acme/namespaces") == namespaces_before
        bearer = EndpointClient(node.port("inet"), internet_host("acme"), bearer=token)
        r = bearer.get("/v2/team/app/manifests/1", headers={"Accept": OCI_MANIFEST})
        assert r.status == 200 and r.body == acme_body, r
        assert r.header("Docker-Content-Digest") == acme_digest, r
        # ... and the password: a new token, which pulls
        acme_node = EndpointClient(node.port("inet"), internet_host("acme"),
                                   auth=("alice", PASSWORD))
        r = acme_node.token("repository:team/app:pull")
        assert r.status == 200, r
        r = acme_node.but(auth=None, bearer=r.json()["token"]).get(
            "/v2/team/app/manifests/1", headers={"Accept": OCI_MANIFEST})
        assert r.status == 200 and r.body == acme_body, r
        assert node.admin.call("GET", "/api/v1/instances/gone")[0] == 404

        # Again: nothing new is copied, and nothing changes.
        r = migrate(src.data, node.config_path)
        assert r.returncode == 0, r.stdout + r.stderr
        again = summary(r)
        assert again["blobs"] == (0, len(files_before), 0), r.stdout
        for table, counts in again.items():
            if table != "blobs":
                assert counts[0] == 0, (table, r.stdout)
        assert again["manifests"][1] == got["manifests"][0], r.stdout
        assert "replaced" not in r.stdout, r.stdout
        assert snapshot(node.plain, ["lib/app", "lib/other"], [("lib/app", v1_digest)]) == before

        # Another installation, with a World of its own, is not merged into this cluster.
        other = embedded(tmp_path, "other")
        other.start()
        try:
            other.admin.ok("POST", "/api/v1/instances",
                           {"name": "elsewhere", "region": REGION_A, "edition": "personal"})
            push_image(other.plain, "lib/elsewhere", [os.urandom(2000)], "1")
        finally:
            other.stop()
        r = migrate(other.data, node.config_path)
        assert_refused(r, "other than this installation's")
        assert "blobs:" not in r.stdout, "blobs were copied before the refusal:\n" + r.stdout
        assert node.plain.get("/v2/lib/elsewhere/tags/list").status == 404
    finally:
        node.stop()

    # The source is as it was (its database file and every blob file).
    assert file_digest(db_path) == db_before
    assert blob_files(src.data) == files_before


# ============================================================================ a damaged source

def test_corrupted_blob_is_refused_and_reported(tmp_path, cluster):
    src = embedded(tmp_path, "embedded")
    src.start()
    try:
        good, bad = os.urandom(4000), os.urandom(6000)
        body, digest, blobs = push_image(src.plain, "lib/app", [good, bad], "v1")
    finally:
        src.stop()
    bad_digest = digest_of(bad)
    hexd = bad_digest.split(":")[1]
    path = os.path.join(src.data, "blobs", "sha256", hexd[:2], hexd)
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(3000)
        byte = f.read(1)
        f.seek(3000)
        f.write(bytes([byte[0] ^ 0x5A]))

    node = ClusterNode(tmp_path / "node", cluster)
    r = migrate(src.data, node.config_path)
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr == "", r.stderr
    assert re.search(r"^  refused %s: its bytes hash to sha256:[0-9a-f]{64}, not to the digest "
                     r"it is named by: not copied$" % re.escape(path), r.stdout, re.M), r.stdout
    got = summary(r)
    assert got["blobs"] == (len(blobs) - 1, 0, 1), r.stdout
    assert got["repository_blobs"] == (len(blobs) - 1, 0), r.stdout
    assert "blob links left out: the target lacks 1 blob(s) that repositories name: " + \
        bad_digest in r.stdout, r.stdout

    node.start()
    try:
        reg = node.plain
        assert reg.get("/v2/lib/app/blobs/%s" % bad_digest).status == 404
        for d, data in blobs.items():
            if d != bad_digest:
                b = reg.get("/v2/lib/app/blobs/%s" % d)
                assert b.status == 200 and b.body == data, b
        m = reg.get("/v2/lib/app/manifests/v1", headers={"Accept": OCI_MANIFEST})
        assert m.status == 200 and m.body == body, m

        # The file repaired, a second run copies that blob and its link, and nothing else.
        with open(path, "r+b") as f:
            f.seek(3000)
            f.write(byte)
        r = migrate(src.data, node.config_path)
        assert r.returncode == 0, r.stdout + r.stderr
        got = summary(r)
        assert got["blobs"] == (1, len(blobs) - 1, 0), r.stdout
        assert got["repository_blobs"] == (1, len(blobs) - 1), r.stdout
        assert got["manifests"] == (0, 1), r.stdout
        b = reg.get("/v2/lib/app/blobs/%s" % bad_digest)
        assert b.status == 200 and b.body == bad, b
    finally:
        node.stop()


def test_schema_not_current_is_refused(tmp_path):
    stores = ClusterStores(migrate_schema=False)
    try:
        src = embedded(tmp_path, "embedded")
        src.start()
        src.stop()
        config = tmp_path / "cluster.yaml"
        config.write_text("\n".join(stores.config_lines()) + "\n")
        assert_refused(migrate(src.data, str(config)), "kura db migrate")
    finally:
        stores.close()


# ============================================================================ refusals (no store)

UNREACHABLE_POSTGRES = ["metadata:", "  postgres: \"postgresql://kura@127.0.0.1:1/kura\""]
UNREACHABLE_S3 = ["blobs:", "  s3: {endpoint: \"http://127.0.0.1:1\", bucket: b, "
                  "access_key: K, secret_key: S}"]


def write_config(tmp_path, lines):
    path = tmp_path / "cluster.yaml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def stopped_embedded(tmp_path):
    src = embedded(tmp_path, "embedded")
    src.start()
    src.stop()
    return src.data


def test_config_without_postgres_is_refused(tmp_path):
    data = stopped_embedded(tmp_path)
    r = migrate(data, write_config(tmp_path, UNREACHABLE_S3))
    assert_refused(r, "names no PostgreSQL database", "metadata: {postgres: URL}")
    assert r.stdout == ""


def test_config_without_s3_is_refused(tmp_path):
    data = stopped_embedded(tmp_path)
    r = migrate(data, write_config(tmp_path, UNREACHABLE_POSTGRES))
    assert_refused(r, "names no S3 store")
    assert r.stdout == ""


def test_missing_config_and_bad_config_are_refused(tmp_path):
    data = stopped_embedded(tmp_path)
    assert_refused(migrate(data, str(tmp_path / "nothing.yaml")))
    assert_refused(migrate(data, write_config(tmp_path, ["metadata: [", "blobs"])))


def test_directory_without_kura_db_is_refused(tmp_path):
    config = write_config(tmp_path, UNREACHABLE_POSTGRES + UNREACHABLE_S3)
    (tmp_path / "empty").mkdir()
    assert_refused(migrate(str(tmp_path / "empty"), config), "holds no kura.db")
    assert_refused(migrate(str(tmp_path / "missing"), config), "is no directory")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "kura.db").write_bytes(b"not a database" * 1000)
    assert_refused(migrate(str(tmp_path / "foreign"), config), "cannot read",
                   "not a database")


def test_database_keyed_by_instance_name_is_refused(tmp_path):
    """A kura.db of a kura before incarnation keys (rows under instance names, no store_format
    row) must be re-keyed by kura serve first; kura migrate changes nothing of it."""
    data = tmp_path / "old"
    data.mkdir()
    db_path = str(data / "kura.db")
    db = sqlite3.connect(db_path)
    db.executescript("""
        CREATE TABLE repositories(instance TEXT NOT NULL, name TEXT NOT NULL,
                                  PRIMARY KEY(instance, name)) WITHOUT ROWID;
        CREATE TABLE uploads(id TEXT PRIMARY KEY, instance TEXT NOT NULL, repo TEXT NOT NULL,
                             offset INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO repositories VALUES('default', 'lib/app');
    """)
    db.commit()
    db.close()
    before = file_digest(db_path)
    r = migrate(str(data), write_config(tmp_path, UNREACHABLE_POSTGRES + UNREACHABLE_S3))
    assert_refused(r, "keyed by instance name", "kura serve --data")
    assert file_digest(db_path) == before
    ro = sqlite3.connect("file:%s?immutable=1" % db_path, uri=True)
    tables = {t for (t,) in ro.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    ro.close()
    assert tables == {"repositories", "uploads"}, tables
