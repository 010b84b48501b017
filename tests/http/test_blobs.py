"""GET / HEAD / DELETE /v2/<name>/blobs/<digest>, with ranges."""

import hashlib
import os

import pytest

from helpers import assert_error, digest_of, fetch_blob, push_blob, unique


@pytest.fixture(scope="module")
def stored(reg):
    repo = unique("blobs")
    data = os.urandom(100_000)
    d = push_blob(reg, repo, data)
    return repo, d, data


def test_get_blob(reg, stored):
    repo, d, data = stored
    r = fetch_blob(reg, repo, d)
    assert r.status == 200, r
    assert r.body == data
    assert "sha256:" + hashlib.sha256(r.body).hexdigest() == d
    assert r.header("Docker-Content-Digest") == d, r
    assert int(r.header("Content-Length")) == len(data), r
    assert r.header("Content-Type", "").split(";")[0] == "application/octet-stream", r


def test_head_blob(reg, stored):
    repo, d, data = stored
    r = reg.head("/v2/%s/blobs/%s" % (repo, d))
    assert r.status == 200, r
    assert r.body == b""
    assert r.header("Docker-Content-Digest") == d, r
    assert int(r.header("Content-Length")) == len(data), r
    assert r.header("Content-Type", "").split(";")[0] == "application/octet-stream", r


def test_empty_blob(reg):
    repo = unique("empty")
    d = push_blob(reg, repo, b"")
    assert d == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    r = fetch_blob(reg, repo, d)
    assert r.status == 200 and r.body == b"", r
    assert int(r.header("Content-Length")) == 0, r


@pytest.mark.parametrize("first,last", [(0, 0), (0, 99), (1000, 1999), (99_990, 99_999)])
def test_range_206(reg, stored, first, last):
    repo, d, data = stored
    r = reg.get("/v2/%s/blobs/%s" % (repo, d), headers={"Range": "bytes=%d-%d" % (first, last)})
    assert r.status == 206, r
    assert r.body == data[first:last + 1]
    assert r.header("Content-Range") == "bytes %d-%d/%d" % (first, last, len(data)), r
    assert int(r.header("Content-Length")) == last - first + 1, r


def test_range_open_ended(reg, stored):
    repo, d, data = stored
    r = reg.get("/v2/%s/blobs/%s" % (repo, d), headers={"Range": "bytes=99000-"})
    assert r.status == 206, r
    assert r.body == data[99000:]
    assert r.header("Content-Range") == "bytes 99000-99999/100000", r


def test_range_last_beyond_end_is_clamped(reg, stored):
    repo, d, data = stored
    r = reg.get("/v2/%s/blobs/%s" % (repo, d), headers={"Range": "bytes=99990-200000"})
    assert r.status == 206, r
    assert r.body == data[99990:]
    assert r.header("Content-Range") == "bytes 99990-99999/100000", r


@pytest.mark.parametrize("rng", ["bytes=100000-100010", "bytes=200000-", "bytes=5-2"])
def test_range_unsatisfiable_416(reg, stored, rng):
    repo, d, data = stored
    r = reg.get("/v2/%s/blobs/%s" % (repo, d), headers={"Range": rng})
    assert r.status == 416, r
    # Nothing of the blob leaks in a 416 answer.
    assert data[:64] not in r.body


def test_unknown_blob_404(reg, stored):
    repo, _, _ = stored
    d = digest_of(os.urandom(32))
    r = fetch_blob(reg, repo, d)
    assert_error(r, 404, "BLOB_UNKNOWN")
    assert reg.head("/v2/%s/blobs/%s" % (repo, d)).status == 404


def test_blob_is_scoped_to_its_repository(reg, stored):
    _, d, _ = stored
    other = unique("other")
    push_blob(reg, other, os.urandom(100))
    r = fetch_blob(reg, other, d)
    assert_error(r, 404, "BLOB_UNKNOWN")


def test_delete_blob(reg):
    repo = unique("delblob")
    keep = os.urandom(500)
    data = os.urandom(2000)
    dk = push_blob(reg, repo, keep)
    d = push_blob(reg, repo, data)
    r = reg.delete("/v2/%s/blobs/%s" % (repo, d))
    assert r.status == 202, r
    assert_error(fetch_blob(reg, repo, d), 404, "BLOB_UNKNOWN")
    assert reg.head("/v2/%s/blobs/%s" % (repo, d)).status == 404
    # Deleting again is an unknown blob.
    assert_error(reg.delete("/v2/%s/blobs/%s" % (repo, d)), 404, "BLOB_UNKNOWN")
    # The neighbour is untouched.
    r = fetch_blob(reg, repo, dk)
    assert r.status == 200 and r.body == keep, r


def test_delete_blob_in_one_repo_keeps_it_in_another(reg):
    data = os.urandom(1500)
    a, b = unique("da"), unique("db")
    d = push_blob(reg, a, data)
    push_blob(reg, b, data)
    assert reg.delete("/v2/%s/blobs/%s" % (a, d)).status == 202
    assert fetch_blob(reg, a, d).status == 404
    r = fetch_blob(reg, b, d)
    assert r.status == 200 and r.body == data, r


def test_blob_repush_after_delete(reg):
    repo = unique("repush")
    data = os.urandom(700)
    d = push_blob(reg, repo, data)
    assert reg.delete("/v2/%s/blobs/%s" % (repo, d)).status == 202
    assert push_blob(reg, repo, data) == d
    r = fetch_blob(reg, repo, d)
    assert r.status == 200 and r.body == data, r


def test_pull_right_after_push_is_byte_correct(reg):
    # A blob pulled as soon as its push ends, whole or from odd offsets, while its pages may still
    # be under writeback (the upload started it chunk by chunk).
    repo = unique("fresh")
    data = os.urandom(9 * 1024 * 1024 + 4097)
    d = push_blob(reg, repo, data)
    r = fetch_blob(reg, repo, d)
    assert r.status == 200, r
    assert len(r.body) == len(data) and r.body == data
    for first, last in [(4095, 4 * 1024 * 1024 + 1), (5_000_001, len(data) - 1), (1, 2)]:
        r = reg.get("/v2/%s/blobs/%s" % (repo, d), headers={"Range": "bytes=%d-%d" % (first, last)})
        assert r.status == 206, r
        assert r.body == data[first:last + 1], (first, last)
    d2 = push_blob(reg, repo, data[::-1])
    r = reg.get("/v2/%s/blobs/%s" % (repo, d2), headers={"Range": "bytes=4097-"})
    assert r.status == 206 and r.body == data[::-1][4097:], r
