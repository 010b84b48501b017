"""Defect 3: deleting an instance was neither fenced nor atomic. Every store keyed an instance's
data by its name, so a request admitted before `instance delete acme` that completed afterwards
landed in the next instance named acme (even one of another account), and a crash between the
delete's separate commits left repositories, credentials and namespaces that a new acme
inherited.

Now every store keys an instance's data by its incarnation (random, made when the instance is
created); the delete removes the instance from the World, then tombstones and purges the
incarnation in each store; a write for a tombstoned incarnation is refused inside its own
transaction (404 NAME_UNKNOWN "... was deleted"); and start-up purges every incarnation the saved
World does not hold, so a crash at any point leaves nothing a new instance can inherit.

Here: every way an instance can end while one of its requests is in flight (a monolithic blob
POST, a chunk PATCH, the closing PUT of an upload, a manifest PUT, a token issued before the
delete), the next acme made by account A or by account B (in A's region: the same hostname),
and crashes in the middle of deletes.
"""

import http.client
import json
import os
import random
import sqlite3
import threading
import time

import pytest

from conftest import running_instances

from helpers import (OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, assert_error, canon,
                     descriptor, digest_of, push_blob, start_upload, unique, with_query)
from instances_helpers import REGION_A, internet_host

LISTENERS = {"inet": dict(endpoint="internet")}
HOST = internet_host("acme")
OLD_USER, OLD_PASSWORD = "alice", "alice-Pass.word-1"
NEW_USER, NEW_PASSWORD = "bob", "bob-Pass.word-22"
ADMISSION_WAIT = 5.0   # the most we wait for the server to admit a held request
SETTLE = 0.5           # then, for its handler to be reading the body


@pytest.fixture
def srv(tmp_path):
    with running_instances(tmp_path, LISTENERS) as s:
        yield s


def admin_of(srv, owner):
    return srv.admin if owner == "A" else srv.admin_b


def create_acme(srv, owner, user, password):
    """A personal acme (its Internet endpoint is open to all) in Tokyo with one user; whichever
    account makes it, the hostname is the same."""
    admin = admin_of(srv, owner)
    admin.ok("POST", "/api/v1/instances", {"name": "acme", "region": REGION_A,
                                           "edition": "personal"})
    admin.ok("PUT", "/api/v1/instances/acme/credentials/%s" % user, {"password": password})
    return srv.client("inet", HOST, auth=(user, password))


def delete_acme(srv, owner="A"):
    admin_of(srv, owner).ok("DELETE", "/api/v1/instances/acme")


class HeldRequest:
    """A request whose headers and first body bytes are sent while the rest is held back: the
    server admits it and its handler waits for the body."""

    def __init__(self, srv, client, method, path, body, headers=None, first=1):
        self.conn = client.connection(timeout=30)
        self.conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        h = client.default_headers()
        h.update(headers or {})
        h["Content-Length"] = str(len(body))
        for k, v in h.items():
            self.conn.putheader(k, v)
        mark = srv.audit_mark()
        self.conn.endheaders()
        self.conn.send(body[:first])
        self.rest = body[first:]
        # Admitted: the gateway wrote its audit line; then let the handler reach the body.
        deadline = time.monotonic() + ADMISSION_WAIT
        while not srv.audit_since(mark):
            assert time.monotonic() < deadline, "the held request was never admitted"
            time.sleep(0.05)
        time.sleep(SETTLE)

    def finish(self):
        """Sends the rest of the body; returns (status, decoded JSON body or None)."""
        try:
            self.conn.send(self.rest)
            r = self.conn.getresponse()
            data = r.read()
        finally:
            self.conn.close()
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        return r.status, doc


def assert_refused_as_deleted(status, doc):
    assert status == 404, (status, doc)
    codes = [e["code"] for e in doc["errors"]]
    assert codes == ["NAME_UNKNOWN"], doc
    assert "deleted" in doc["errors"][0]["message"], doc


def assert_sees_nothing(new, repo, digests=(), tags=()):
    """The new acme has no repository, blob, tag or manifest of the old one."""
    r = new.get("/v2/_catalog")
    assert r.status == 200 and r.json()["repositories"] == [], r
    for d in digests:
        assert new.head("/v2/%s/blobs/%s" % (repo, d)).status == 404
        assert new.get("/v2/%s/manifests/%s" % (repo, d)).status == 404
    r = new.get("/v2/%s/tags/list" % repo)
    assert_error(r, 404, "NAME_UNKNOWN")
    for t in tags:
        assert new.get("/v2/%s/manifests/%s" % (repo, t)).status == 404


def assert_no_old_access(srv, new_owner):
    """The old credentials and namespaces are not the new acme's."""
    old = srv.client("inet", HOST, auth=(OLD_USER, OLD_PASSWORD))
    assert_error(old.get("/v2/"), 401, "UNAUTHORIZED")
    admin = admin_of(srv, new_owner)
    assert admin.ok("GET", "/api/v1/instances/acme/credentials")["users"] == [NEW_USER]
    assert admin.ok("GET", "/api/v1/instances/acme/namespaces") == []
    anon = srv.client("inet", HOST)
    assert anon.get("/v2/pub/app/tags/list").status == 401  # the old public namespace is gone


# ----------------------------------------------------------------------------- in flight

WAYS = ["monolithic-post", "patch", "closing-put", "manifest-put"]


@pytest.mark.parametrize("new_owner", ["A", "B"])
@pytest.mark.parametrize("way", WAYS)
def test_request_in_flight_across_delete_lands_nowhere(srv, way, new_owner):
    old = create_acme(srv, "A", OLD_USER, OLD_PASSWORD)
    srv.admin.ok("POST", "/api/v1/instances/acme/namespaces", {"name": "pub",
                                                                "visibility": "public"})
    repo = "team/" + unique("app")
    data = os.urandom(64 * 1024)
    d = digest_of(data)
    octets = {"Content-Type": "application/octet-stream"}
    index = canon({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []})
    if way == "monolithic-post":
        held = HeldRequest(srv, old, "POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, d), data,
                           octets)
    elif way == "patch":
        loc = start_upload(old, repo)
        held = HeldRequest(srv, old, "PATCH", loc, data, octets)
    elif way == "closing-put":
        loc = start_upload(old, repo)
        held = HeldRequest(srv, old, "PUT", with_query(loc, digest=d), data, octets)
    else:
        # An index without children names nothing the repository must hold.
        held = HeldRequest(srv, old, "PUT", "/v2/%s/manifests/v1" % repo, index,
                           {"Content-Type": OCI_INDEX})

    delete_acme(srv)
    new = create_acme(srv, new_owner, NEW_USER, NEW_PASSWORD)
    status, doc = held.finish()

    if way != "patch":
        assert_refused_as_deleted(status, doc)
    assert_sees_nothing(new, repo, digests=[d, digest_of(index)], tags=["v1"])
    assert_no_old_access(srv, new_owner)
    if way == "patch":
        # The chunk went to a session that no longer exists: closing it fails, for anyone.
        r = old.put(with_query(loc, digest=d))
        assert r.status != 201, r
        assert new.put(with_query(loc, digest=d)).status == 404
        assert new.head("/v2/%s/blobs/%s" % (repo, d)).status == 404
    # The new acme works, and is its owner's alone.
    d2 = push_blob(new, repo, b"new blob " + unique().encode())
    assert new.head("/v2/%s/blobs/%s" % (repo, d2)).status == 200
    assert new.get("/v2/_catalog").json()["repositories"] == [repo]


def test_token_issued_before_the_delete_is_refused_after_it(srv):
    """A registry token is signed with a key derived from the incarnation: even with the same
    user and password on the next acme, the old token opens nothing."""
    old = create_acme(srv, "A", OLD_USER, OLD_PASSWORD)
    repo = "team/app"
    push_blob(old, repo, b"old blob")
    r = old.token("repository:%s:pull,push" % repo)
    assert r.status == 200, r
    token = r.json()["token"]
    assert old.but(auth=None, bearer=token).get("/v2/%s/tags/list" % repo).status in (200, 404)
    delete_acme(srv)
    new = create_acme(srv, "B", OLD_USER, OLD_PASSWORD)  # the same user and password
    stale = new.but(auth=None, bearer=token)
    assert_error(stale.get("/v2/"), 401, "UNAUTHORIZED")
    assert_error(stale.post("/v2/%s/blobs/uploads/" % repo), 401, "UNAUTHORIZED")
    assert_sees_nothing(new, repo)


# ----------------------------------------------------------------------------- crashes

def db_path(srv):
    return os.path.join(srv.data, "kura.db")


def world_instances(srv):
    """The instances of the World saved in the data directory (one row each), by name."""
    db = sqlite3.connect(db_path(srv), timeout=10)
    try:
        rows = db.execute("SELECT key, body FROM world_rows WHERE kind = 'instance' "
                          "AND body IS NOT NULL").fetchall()
    finally:
        db.close()
    return {key: dict(json.loads(body), name=key) for key, body in rows}


def row_counts(srv):
    db = sqlite3.connect(db_path(srv), timeout=10)
    try:
        return {t: db.execute("SELECT count(*) FROM %s" % t).fetchone()[0]
                for t in ("repositories", "repository_blobs", "manifests", "tags", "uploads",
                          "credentials", "namespaces")}
    finally:
        db.close()


def fill_acme(srv, owner="A"):
    """acme with a pushed, tagged image, an open upload session, a user and two namespaces."""
    old = create_acme(srv, owner, OLD_USER, OLD_PASSWORD)
    admin_of(srv, owner).ok("POST", "/api/v1/instances/acme/namespaces",
                            {"name": "pub", "visibility": "public"})
    repo = "pub/app"
    cfg, layer = b'{"old":"config"}', os.urandom(2048)
    push_blob(old, repo, cfg)
    push_blob(old, repo, layer)
    body = canon({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                  "config": descriptor(OCI_CONFIG, cfg), "layers": [descriptor(OCI_LAYER, layer)]})
    r = old.put("/v2/%s/manifests/v1" % repo, body=body, headers={"Content-Type": OCI_MANIFEST})
    assert r.status == 201, r
    start_upload(old, "team/open")
    return repo, [digest_of(cfg), digest_of(layer), digest_of(body)]


def test_crash_after_the_world_commit_of_a_delete_leaves_nothing_to_inherit(srv):
    """The state a crash leaves right after the delete's first commit (the World no longer
    holds acme, no store has purged it yet), made by editing the database of a killed server:
    the next start purges what no instance of the World owns, and a new acme (of account B)
    sees nothing."""
    repo, digests = fill_acme(srv)
    srv.kill()
    db = sqlite3.connect(db_path(srv), timeout=10)
    try:
        # What the delete's World commit writes: acme's rows removed, the revision moved.
        db.execute("UPDATE world_rows SET body = NULL, revision = revision + 1 "
                   "WHERE (kind = 'instance' AND key = 'acme') OR "
                   "(kind IN ('allow', 'binding') AND key LIKE 'acme %')")
        db.execute("UPDATE world_state SET revision = revision + 1")
        db.commit()
    finally:
        db.close()
    srv.start()
    assert all(n == 0 for n in row_counts(srv).values()), row_counts(srv)
    new = create_acme(srv, "B", NEW_USER, NEW_PASSWORD)
    assert_sees_nothing(new, repo, digests, tags=["v1"])
    assert_no_old_access(srv, "B")


def delete_ignoring_the_crash(srv):
    try:
        srv.admin.call("DELETE", "/api/v1/instances/acme", timeout=5)
    except (OSError, http.client.HTTPException):
        pass  # the server was killed under it


def test_sigkill_during_deletes_never_hands_data_to_the_next_instance(srv):
    """SIGKILL at a random moment of a delete, a few times: after the restart acme is either
    whole (the delete never committed) or gone with everything it had; a new acme then sees
    nothing of it."""
    rng = random.Random(1234)
    for round_ in range(5):
        repo, digests = fill_acme(srv)
        deleter = threading.Thread(target=delete_ignoring_the_crash, args=(srv,))
        deleter.start()
        time.sleep(rng.uniform(0, 0.02))
        srv.kill()
        deleter.join(10)
        srv.start()
        old = srv.client("inet", HOST, auth=(OLD_USER, OLD_PASSWORD))
        if "acme" in world_instances(srv):
            # Not deleted: everything is still there.
            r = old.get("/v2/%s/tags/list" % repo)
            assert r.status == 200 and r.json()["tags"] == ["v1"], (round_, r)
            delete_acme(srv)
        counts = row_counts(srv)
        assert all(n == 0 for n in counts.values()), (round_, counts)
        new = create_acme(srv, "B", NEW_USER, NEW_PASSWORD)
        assert_sees_nothing(new, repo, digests, tags=["v1"])
        assert_no_old_access(srv, "B")
        delete_acme(srv, "B")
