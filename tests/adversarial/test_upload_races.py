"""Defect 1: a committed blob could change. A PATCH whose body was still arriving kept writing into
the upload's file after a zero-length `PUT ?digest=` on the same session had committed it: the
bytes landed in the content-addressed blob every instance shares. Two first PATCHes on one session
could both pass the "busy" check.

Now one request at a time changes a session (its lease, in the metadata store): a second
PATCH/PUT/DELETE while one is running gets 416 BLOB_UPLOAD_INVALID "upload is busy" and changes
nothing, and a committed blob file is read-only with no descriptor of kura's still writing it.
Every combination of two of PATCH/PUT/DELETE/GET on one session is tried with the first one's body
held half-sent."""

import hashlib
import os
import select
import socket
import stat

import pytest

from helpers import (assert_error, digest_of, local_path, start_upload, unique, wait_until,
                     with_query)

HALF = 64 * 1024


class HeldRequest:
    """A request whose headers and first `sent` body bytes are on the wire, the rest held back."""

    def __init__(self, port, method, path, body, sent):
        self.port, self.method, self.path, self.body, self.sent = port, method, path, body, sent
        self.send()

    def send(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        head = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/octet-stream"
                "\r\nContent-Length: %d\r\n\r\n"
                % (self.method, self.path, self.port, len(self.body))).encode()
        self.sock.sendall(head + self.body[:self.sent])

    def answered(self):
        """True when the server has already answered (or closed) without the rest of the body."""
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def resend(self):
        self.sock.close()
        self.send()

    def finish(self):
        """Sends the rest; returns (status, raw answer)."""
        try:
            self.sock.sendall(self.body[self.sent:])
        except OSError:
            pass
        return self.answer()

    def answer(self):
        data = b""
        self.sock.settimeout(10)
        try:
            while b"\r\n\r\n" not in data:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        self.sock.close()
        if not data.startswith(b"HTTP/1.1 "):
            return None, data
        return int(data.split(b" ", 2)[1]), data


def blob_path(server, digest):
    hexd = digest.split(":", 1)[1]
    return os.path.join(server.data, "blobs", "sha256", hexd[:2], hexd)


def assert_blob_intact(reg, repo, digest):
    r = reg.get("/v2/%s/blobs/%s" % (repo, digest))
    assert r.status == 200, r
    assert "sha256:" + hashlib.sha256(r.body).hexdigest() == digest, "blob bytes changed"


def wait_busy(reg, loc, held, timeout=10):
    """Waits until the held request has taken the session. The probe is a PATCH that can change
    nothing (its Content-Range does not continue the upload): while the session is free it is
    refused for its range, once it is taken for being busy. The probe holds the session for the
    moment it takes to refuse it, so the held request can arrive in that moment and be refused
    as busy itself: then it is sent again."""
    def busy():
        r = reg.patch(loc, body=b"x", headers={"Content-Range": "999999-999999",
                                              "Content-Type": "application/octet-stream"})
        assert r.status == 416, r
        if b"busy" in r.body:
            return True
        if held.answered():
            status, answer = held.answer()
            assert status == 416 and b"busy" in answer, answer
            held.resend()
        return False
    assert wait_until(busy, timeout, interval=0.02), "the held request never took the session"


def test_zero_length_put_during_a_patch_is_refused_and_the_blob_cannot_change(server, reg):
    repo = unique("race")
    first = os.urandom(HALF)
    loc = start_upload(reg, repo)
    # The first chunk is committed honestly.
    r = reg.patch(loc, body=first, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 202, r
    loc = r.header("Location")
    d = digest_of(first)
    # A second PATCH starts and holds its body half-sent...
    evil = os.urandom(2 * HALF)
    held = HeldRequest(server.port, "PATCH", local_path(loc), evil, HALF)
    wait_busy(reg, loc, held)
    # ... while a zero-length PUT tries to commit the session.
    r = reg.put(with_query(loc, digest=d), body=b"")
    assert_error(r, 416, "BLOB_UPLOAD_INVALID")
    assert "busy" in r.body.decode()
    status, _ = held.finish()
    assert status == 202
    # The session now holds first + evil; a commit with the old digest fails, as it must.
    r = reg.put(with_query(loc, digest=d), body=b"")
    assert_error(r, 400, "DIGEST_INVALID")
    assert reg.head("/v2/%s/blobs/%s" % (repo, d)).status == 404


def test_a_committed_blob_file_is_read_only(server, reg):
    repo = unique("ro")
    data = os.urandom(1000)
    loc = start_upload(reg, repo)
    d = digest_of(data)
    r = reg.put(with_query(loc, digest=d), body=data)
    assert r.status == 201, r
    mode = os.stat(blob_path(server, d)).st_mode
    assert not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH), oct(mode)


def test_a_blob_committed_while_a_patch_is_held_keeps_its_bytes(server, reg):
    """The attack of the report, end to end: the honest content must stay what its digest says,
    and a later honest push of the same content is not spoiled."""
    repo = unique("race")
    honest = os.urandom(HALF)
    d = digest_of(honest)
    loc = start_upload(reg, repo)
    r = reg.patch(loc, body=honest, headers={"Content-Type": "application/octet-stream"})
    loc = r.header("Location")
    held = HeldRequest(server.port, "PATCH", local_path(loc), os.urandom(4 * HALF), HALF)
    wait_busy(reg, loc, held)
    reg.put(with_query(loc, digest=d), body=b"")  # refused (busy), or it would commit
    held.finish()
    other = unique("honest")
    loc2 = start_upload(reg, other)
    r = reg.put(with_query(loc2, digest=d), body=honest)
    assert r.status == 201, r
    assert_blob_intact(reg, other, d)


@pytest.mark.parametrize("second", ["PATCH", "PUT", "DELETE"])
@pytest.mark.parametrize("first", ["PATCH", "PUT"])
def test_a_second_writer_while_one_is_running_is_busy_and_changes_nothing(server, reg, first,
                                                                           second):
    repo = unique("pair")
    loc = start_upload(reg, repo)
    body = os.urandom(2 * HALF)
    path = local_path(loc)
    if first == "PUT":
        path = with_query(loc, digest=digest_of(body))
    held = HeldRequest(server.port, first, path, body, HALF)
    wait_busy(reg, loc, held)
    if second == "PATCH":
        r = reg.patch(loc, body=b"x" * 10, headers={"Content-Type": "application/octet-stream"})
    elif second == "PUT":
        r = reg.put(with_query(loc, digest=digest_of(b"")), body=b"")
    else:
        r = reg.delete(loc)
    assert_error(r, 416, "BLOB_UPLOAD_INVALID")
    # Status reads are not writes: they answer, with what was stored before the held request.
    st = reg.get(loc)
    assert st.status == 204, st
    assert st.header("Range") == "0-0"
    status, _ = held.finish()
    if first == "PATCH":
        assert status == 202
        st = reg.get(loc)
        assert st.header("Range") == "0-%d" % (len(body) - 1)
    else:
        assert status == 201
        assert_blob_intact(reg, repo, digest_of(body))


def test_two_first_patches_never_both_write(server, reg):
    """Both PATCHes are sent at once on a fresh session, many times: at most one is accepted per
    session, and the session holds exactly that one's bytes."""
    for _ in range(10):
        repo = unique("first")
        loc = start_upload(reg, repo)
        a, b = os.urandom(HALF), os.urandom(HALF)
        ha = HeldRequest(server.port, "PATCH", local_path(loc), a, HALF - 1)
        hb = HeldRequest(server.port, "PATCH", local_path(loc), b, HALF - 1)
        sa, _ = ha.finish()
        sb, _ = hb.finish()
        statuses = sorted([sa, sb])
        assert statuses in ([202, 416], [202, 202]), statuses
        st = reg.get(loc)
        if statuses == [202, 202]:  # one after the other, never interleaved
            assert st.header("Range") == "0-%d" % (2 * HALF - 1)
        else:
            won = a if sa == 202 else b
            assert st.header("Range") == "0-%d" % (HALF - 1)
            r = reg.put(with_query(loc, digest=digest_of(won)), body=b"")
            assert r.status == 201, r


def test_a_patch_after_the_commit_finds_no_session(server, reg):
    repo = unique("after")
    data = os.urandom(1000)
    loc = start_upload(reg, repo)
    r = reg.put(with_query(loc, digest=digest_of(data)), body=data)
    assert r.status == 201
    r = reg.patch(loc, body=b"more", headers={"Content-Type": "application/octet-stream"})
    assert_error(r, 404, "BLOB_UPLOAD_UNKNOWN")
    assert_blob_intact(reg, repo, digest_of(data))


def test_a_dropped_patch_frees_the_session(server, reg):
    """A client that goes away mid-body must not keep the session busy."""
    repo = unique("drop")
    loc = start_upload(reg, repo)
    held = HeldRequest(server.port, "PATCH", local_path(loc), os.urandom(2 * HALF), HALF)
    wait_busy(reg, loc, held)
    held.sock.close()
    data = os.urandom(100)

    def patch_ok():
        r = reg.patch(loc, body=data, headers={"Content-Type": "application/octet-stream"})
        return r.status == 202
    assert wait_until(patch_ok, 10)
    r = reg.put(with_query(loc, digest=digest_of(data)), body=b"")
    assert r.status == 201, r
