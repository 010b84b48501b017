"""Hostile or broken input: the server answers with the right error, stays up, and loses nothing."""

import os
import socket
import time

import pytest

from helpers import (ALL_MANIFEST_TYPES, assert_error, digest_of, fetch_blob, local_path,
                     make_image, raw_exchange, raw_status, start_upload, unique, with_query)


@pytest.fixture(scope="module")
def reference(reg):
    """Content stored before the abuse; checked after every test of this module."""
    repo = unique("ref")
    body, mt, d, blobs = make_image(reg, repo, tag="keep", layers=2)
    return repo, body, mt, d, blobs


@pytest.fixture(autouse=True)
def still_intact(reg, reference):
    yield
    assert reg.get("/v2/").status == 200, "server stopped answering /v2/"
    repo, body, mt, d, blobs = reference
    r = reg.get("/v2/%s/manifests/keep" % repo, headers={"Accept": ALL_MANIFEST_TYPES})
    assert r.status == 200 and r.body == body, r
    for bd, data in blobs.items():
        r = fetch_blob(reg, repo, bd)
        assert r.status == 200 and r.body == data, r


LONG_NAME = "/".join(["a" * 60] * 4) + "/bbbbbbbbbbbbbbbbbb"  # 258 characters

BAD_NAMES = ["Foo", "foo/Bar", "a..b", "foo/../bar", "..", "foo/./bar", "foo-", "-foo", "foo//bar",
             "foo_", "foo/.bar", LONG_NAME]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_invalid_name_on_upload(reg, name):
    if name == LONG_NAME:
        assert len(name) > 255
    r = reg.post("/v2/%s/blobs/uploads/" % name, headers={"Content-Length": "0"})
    assert_error(r, 400, "NAME_INVALID")


@pytest.mark.parametrize("name", ["Foo", "a..b", "foo/../bar", LONG_NAME])
def test_invalid_name_on_reads(reg, name):
    for path in ("/v2/%s/tags/list" % name, "/v2/%s/manifests/latest" % name,
                 "/v2/%s/blobs/%s" % (name, digest_of(b"x"))):
        r = reg.get(path)
        assert_error(r, 400, "NAME_INVALID")


def test_name_of_255_characters_is_valid(reg):
    name = "/".join(["a" * 63] * 4)  # 255 characters
    assert len(name) == 255
    loc = start_upload(reg, name)
    r = reg.put(with_query(loc, digest=digest_of(b"ok")), body=b"ok")
    assert r.status == 201, r


@pytest.mark.parametrize("bad", ["sha256:xyz", "sha256:" + "A" * 64, "sha256:" + "a" * 63,
                                 "sha256" + "a" * 64, "sha256:", ":abc"])
def test_malformed_blob_digest(reg, reference, bad):
    repo = reference[0]
    assert_error(reg.get("/v2/%s/blobs/%s" % (repo, bad)), 400, "DIGEST_INVALID")


def test_malformed_digest_on_delete_and_monolithic_post(reg, reference):
    repo = reference[0]
    assert_error(reg.delete("/v2/%s/blobs/sha256:xyz" % repo), 400, "DIGEST_INVALID")
    r = reg.post("/v2/%s/blobs/uploads/?digest=sha256:xyz" % repo, body=b"abc")
    assert_error(r, 400, "DIGEST_INVALID")


def test_malformed_manifest_digest(reg, reference):
    repo = reference[0]
    r = reg.get("/v2/%s/manifests/sha256:xyz" % repo)
    assert_error(r, 400, "DIGEST_INVALID")


def test_unsupported_digest_algorithm(reg, reference):
    repo = reference[0]
    r = reg.get("/v2/%s/blobs/md5:%s" % (repo, "a" * 32))
    assert r.status in (400, 404), r
    assert_error(r, r.status, "DIGEST_INVALID", "UNSUPPORTED", "BLOB_UNKNOWN")


def test_body_cut_short_creates_no_blob(reg, server):
    repo = unique("cut")
    full = os.urandom(1000)
    d = digest_of(full)
    req = ("POST /v2/%s/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
           "Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n"
           % (repo, d, server.port)).encode() + full[:10]
    raw_exchange("127.0.0.1", server.port, req, timeout=0.5, read=False)
    time.sleep(0.5)
    assert fetch_blob(reg, repo, d).status == 404
    assert reg.head("/v2/%s/blobs/%s" % (repo, d)).status == 404


def test_body_cut_short_on_chunk(reg, server):
    repo = unique("cutchunk")
    loc = start_upload(reg, repo)
    path = local_path(loc)
    req = ("PATCH %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
           "Content-Range: 0-999\r\nContent-Length: 1000\r\n\r\n" % path).encode() + os.urandom(10)
    raw_exchange("127.0.0.1", server.port, req, timeout=0.5, read=False)
    time.sleep(0.5)
    st = reg.get(loc)
    # Either the half chunk was dropped or the session was abandoned; never a 1000-byte claim.
    assert st.status in (204, 404), st
    if st.status == 204:
        assert st.header("Range") in ("0-0", "0-9"), st


def test_content_length_shorter_than_body(reg, server):
    repo = unique("shortcl")
    full = os.urandom(20)
    d = digest_of(full)
    req = ("POST /v2/%s/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
           "Content-Type: application/octet-stream\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"
           % (repo, d)).encode() + full
    ans = raw_exchange("127.0.0.1", server.port, req, timeout=5)
    # The server read 10 bytes, whose digest is not `d`.
    assert raw_status(ans) == 400, ans[:500]
    assert b"DIGEST_INVALID" in ans, ans[:500]
    assert fetch_blob(reg, repo, d).status == 404
    assert fetch_blob(reg, repo, digest_of(full[:10])).status == 404


@pytest.mark.parametrize("junk", [b"GARBAGE\r\n\r\n", b"GET /v2/ HTTP/9.9\r\n\r\n",
                                  b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 100,
                                  b"GET /v2/ HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                                  b"POST /v2/x/blobs/uploads/ HTTP/1.1\r\nHost: x\r\n"
                                  b"Transfer-Encoding: chunked\r\n\r\nzz\r\n"],
                         ids=["garbage-line", "http-9.9", "tls-hello", "negative-length",
                              "bad-chunked-body"])
def test_garbage_requests(reg, server, junk):
    ans = raw_exchange("127.0.0.1", server.port, junk, timeout=3)
    status = raw_status(ans)
    # An error status, or a closed connection; never a success.
    assert status is None or status >= 400, ans[:300]


def test_huge_header(reg, server):
    req = (b"GET /v2/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (2 * 1024 * 1024) + b"\r\n\r\n")
    try:
        ans = raw_exchange("127.0.0.1", server.port, req, timeout=3)
    except (BrokenPipeError, ConnectionResetError):
        ans = b""
    status = raw_status(ans)
    assert status is None or status in (400, 413, 431), ans[:300]


def test_many_idle_connections_do_not_block(reg, server):
    socks = []
    try:
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")  # never finished
            socks.append(s)
        t0 = time.monotonic()
        r = reg.get("/v2/", timeout=5)
        assert r.status == 200, r
        assert time.monotonic() - t0 < 3
    finally:
        for s in socks:
            s.close()


def test_missing_content_length_on_put_manifest(reg, server, reference):
    repo = reference[0]
    req = ("PUT /v2/%s/manifests/nolen HTTP/1.1\r\nHost: x\r\nContent-Type: "
           "application/vnd.oci.image.manifest.v1+json\r\nConnection: close\r\n\r\n{}" % repo).encode()
    ans = raw_exchange("127.0.0.1", server.port, req, timeout=3)
    status = raw_status(ans)
    assert status is None or status >= 400, ans[:300]
    assert reg.get("/v2/%s/manifests/nolen" % repo).status == 404


def test_path_traversal_in_digest(reg, reference):
    repo = reference[0]
    for p in ("/v2/%s/blobs/sha256:..%%2F..%%2F..%%2Fetc%%2Fpasswd" % repo,
              "/v2/%s/blobs/sha256:../../../../etc/passwd" % repo,
              "/v2/%s/manifests/..%%2F..%%2Fetc" % repo):
        r = reg.get(p)
        # Rejected, unknown, or redirected to a cleaned path; never a file from outside.
        assert r.status in (301, 308, 400, 404), r
        assert b"root:" not in r.body


def test_unknown_upload_uuid_with_traversal(reg, reference):
    repo = reference[0]
    r = reg.get("/v2/%s/blobs/uploads/..%%2F..%%2F..%%2Fetc%%2Fpasswd" % repo)
    assert r.status in (400, 404), r
    assert b"root:" not in r.body
