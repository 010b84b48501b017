"""SIGKILL in the middle of writes: nothing committed is lost, nothing half-written is visible."""

import hashlib
import http.client
import json
import os
import random
import socket
import threading
import time

import pytest

from helpers import (ALL_MANIFEST_TYPES, canon, descriptor, dir_size, digest_of, fetch_blob,
                     large_files, make_image, push_blob, push_manifest, start_upload, unique,
                     wait_until, with_query)

MIB = 1024 * 1024
BIG = 200 * MIB


class BigBody:
    """200 MiB generated on the fly from one random MiB and a block counter."""

    def __init__(self, size=BIG):
        self.size = size
        self.base = os.urandom(MIB)

    def block(self, i):
        return i.to_bytes(8, "big") + self.base[8:]

    def blocks(self):
        for i in range(self.size // MIB):
            yield self.block(i)

    def digest(self):
        h = hashlib.sha256()
        for b in self.blocks():
            h.update(b)
        return "sha256:" + h.hexdigest()


def committed_state(reg, n_blobs=3):
    """Push a few blobs and tagged manifests; return what must survive."""
    repo = unique("kept")
    blobs = {}
    for i in range(n_blobs):
        data = os.urandom(10_000 + i)
        blobs[push_blob(reg, repo, data)] = data
    tags = {}
    for t in ("a", "b"):
        body, mt, d, more = make_image(reg, repo, tag=t)
        blobs.update(more)
        tags[t] = (body, mt, d)
    return repo, blobs, tags


def verify_committed(reg, repo, blobs, tags):
    for d, data in blobs.items():
        r = fetch_blob(reg, repo, d)
        assert r.status == 200, r
        assert "sha256:" + hashlib.sha256(r.body).hexdigest() == d, "blob %s corrupted" % d
    for t, (body, mt, d) in tags.items():
        r = reg.get("/v2/%s/manifests/%s" % (repo, t), headers={"Accept": ALL_MANIFEST_TYPES})
        assert r.status == 200 and r.body == body, r
        assert digest_of(r.body) == d
    r = reg.get("/v2/%s/tags/list" % repo)
    assert r.status == 200 and sorted(tags) == r.json()["tags"], r


def still_works(reg):
    repo = unique("after")
    data = os.urandom(50_000)
    d = push_blob(reg, repo, data)
    assert fetch_blob(reg, repo, d).body == data
    body, mt, md, _ = make_image(reg, repo, tag="new")
    r = reg.get("/v2/%s/manifests/new" % repo, headers={"Accept": mt})
    assert r.status == 200 and r.body == body, r


def stream_and_kill(s, path, big, kill_after):
    """Send headers and about `kill_after` bytes of the body, SIGKILL the server, close."""
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    try:
        sock.sendall(("PUT %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: "
                      "application/octet-stream\r\nContent-Length: %d\r\n\r\n"
                      % (path, s.port, big.size)).encode())
        sent = 0
        for b in big.blocks():
            sock.sendall(b)
            sent += len(b)
            if sent >= kill_after:
                break
        s.kill()
        return sent
    finally:
        sock.close()


def test_sigkill_during_large_upload(server_factory):
    s = server_factory()
    reg = s.registry
    repo, blobs, tags = committed_state(reg)
    baseline = dir_size(s.data)
    big = BigBody()
    d = big.digest()
    kill_repo = unique("killed")
    push_blob(reg, kill_repo, b"repo exists")
    # Monolithic upload: one POST carrying the whole body (so no session should outlive it).
    path = "/v2/%s/blobs/uploads/?digest=%s" % (kill_repo, d)
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    try:
        sock.sendall(("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: "
                      "application/octet-stream\r\nContent-Length: %d\r\n\r\n"
                      % (path, s.port, big.size)).encode())
        sent = 0
        for b in big.blocks():
            sock.sendall(b)
            sent += len(b)
            if sent >= 120 * MIB:
                break
        # Let the server write what it has received.
        wait_until(lambda: dir_size(s.data) - baseline > 60 * MIB, 10)
        grown = dir_size(s.data) - baseline
        s.kill()
    finally:
        sock.close()
    assert sent >= 120 * MIB
    s.start()
    verify_committed(reg, repo, blobs, tags)
    assert fetch_blob(reg, kill_repo, d).status == 404
    assert reg.head("/v2/%s/blobs/%s" % (kill_repo, d)).status == 404
    still_works(reg)
    # The partial body is cleaned up: the data directory shrinks back near its old size.
    limit = baseline + 16 * MIB
    ok = wait_until(lambda: dir_size(s.data) < limit, 10, interval=0.25)
    assert ok, ("stale files after restart (grew %d MiB before the kill): %r"
                % (grown // MIB, large_files(s.data, 4 * MIB)))


def test_sigkill_during_closing_put_of_session(server_factory):
    s = server_factory()
    reg = s.registry
    repo, blobs, tags = committed_state(reg)
    big = BigBody()
    d = big.digest()
    kill_repo = unique("killput")
    loc = start_upload(reg, kill_repo)
    sent = stream_and_kill(s, with_query(loc, digest=d), big, 80 * MIB)
    assert sent >= 80 * MIB
    s.start()
    verify_committed(reg, repo, blobs, tags)
    assert fetch_blob(reg, kill_repo, d).status == 404
    # The session is either gone or still consistent (offset within what was sent).
    st = reg.get(loc)
    assert st.status in (204, 404), st
    if st.status == 204:
        end = int(st.header("Range").split("-")[1])
        assert end < big.size - 1, st
    still_works(reg)
    # Nothing larger than the committed blobs remains, apart from at most that one session.
    allowed = 1 if st.status == 204 else 0
    ok = wait_until(lambda: len(large_files(s.data, 4 * MIB)) <= allowed, 10, interval=0.25)
    assert ok, large_files(s.data, 4 * MIB)


def test_sigkill_during_manifest_puts(server_factory):
    s = server_factory()
    reg = s.registry
    repo, blobs, tags = committed_state(reg)
    mrepo = unique("mloop")
    base, mt, _, mblobs = make_image(reg, mrepo, tag="base")
    doc0 = json.loads(base)
    acked = {}
    maybe = {}  # sent but unanswered when the server died
    rng = random.Random(7)
    for round_ in range(3):
        inflight = {}
        stop_at = time.monotonic() + 0.3 + rng.random() * 1.2
        timer = threading.Timer(stop_at - time.monotonic(), s.kill)
        timer.start()
        try:
            for i in range(5000):
                doc = dict(doc0)
                tag = "r%d-%d" % (round_, i)
                doc["annotations"] = {"i": tag}
                body = canon(doc)
                inflight = {tag: body}
                try:
                    r = push_manifest(reg, mrepo, tag, body, mt)
                except (OSError, http.client.HTTPException):
                    break
                assert r.status == 201, r
                acked[tag] = body
                inflight = {}
                if time.monotonic() > stop_at + 10:
                    break
        finally:
            timer.join(15)
        assert s.proc is None, "the kill timer did not fire"
        s.start()
        # Every acknowledged manifest is there, byte for byte, by tag and by digest.
        for tag, body in acked.items():
            r = reg.get("/v2/%s/manifests/%s" % (mrepo, tag), headers={"Accept": mt})
            assert r.status == 200 and r.body == body, (tag, r)
        for tag, body in list(acked.items())[-5:]:
            r = reg.get("/v2/%s/manifests/%s" % (mrepo, digest_of(body)), headers={"Accept": mt})
            assert r.status == 200 and r.body == body, (tag, r)
        # The ones in flight at each kill are all or nothing.
        maybe.update(inflight)
        for tag, body in maybe.items():
            r = reg.get("/v2/%s/manifests/%s" % (mrepo, tag), headers={"Accept": mt})
            assert r.status == 404 or (r.status == 200 and r.body == body), r
        listed = reg.get("/v2/%s/tags/list" % mrepo).json()["tags"]
        expected = set(acked) | {"base"}
        assert expected <= set(listed), expected - set(listed)
        assert set(listed) - expected <= set(maybe), set(listed) - expected
    assert len(acked) > 0, "no manifest PUT succeeded before the kills"
    verify_committed(reg, repo, blobs, tags)
    still_works(reg)


def test_sigkill_between_blob_and_manifest(server_factory):
    """Blobs pushed but no manifest yet: after a crash they are still there and usable."""
    s = server_factory()
    reg = s.registry
    repo = unique("half")
    body, mt, d, blobs = make_image(reg, repo, push=False)
    s.restart(crash=True)
    for bd, data in blobs.items():
        assert fetch_blob(reg, repo, bd).body == data
    r = push_manifest(reg, repo, "t", body, mt)
    assert r.status == 201, r


def test_graceful_restart_keeps_everything(server_factory):
    s = server_factory()
    reg = s.registry
    repo, blobs, tags = committed_state(reg)
    code = s.stop()
    assert code in (0, -15, 143), "SIGTERM exit status %r" % code
    s.start()
    verify_committed(reg, repo, blobs, tags)
    still_works(reg)
