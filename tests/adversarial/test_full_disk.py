"""Defect 7: a full disk leaked. After ENOSPC mid-push the partial upload file stayed, a failed
PATCH was not truncated back, DELETE of the session failed with 500, and only a restart freed the
space. Now the partial bytes go at once, the session stays usable (as it was before the failed
request) or goes, pulls are served throughout, and pushes work again as soon as there is room.

The server's data directory is a small tmpfs of the test's own (root only: CI runs as root)."""

import os
import subprocess

import pytest

from conftest import assert_consistent

from helpers import assert_error, digest_of, dir_size, push_blob, start_upload, unique, with_query

SIZE_MIB = 24

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def small_disk(server_factory):
    s = server_factory(start=False)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % SIZE_MIB, "tmpfs",
                              s.data], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here: %s" % mounted.stderr.strip())
    s.start()
    yield s
    s.stop()
    try:
        assert_consistent(s.data)
    finally:
        subprocess.run(["umount", "-l", s.data], check=False)


def fill(path):
    """Writes zeros to `path` until the disk is full (someone else filling it)."""
    with open(path, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError:
            pass


def uploads_bytes(s):
    return dir_size(os.path.join(s.data, "uploads"))


def free_bytes(s):
    st = os.statvfs(s.data)
    return st.f_bavail * st.f_frsize


def test_a_monolithic_push_too_big_for_the_disk_leaves_nothing(small_disk):
    reg = small_disk.registry
    repo = unique("full")
    kept = push_blob(reg, repo, b"an image already stored")
    before = free_bytes(small_disk)
    big = os.urandom((SIZE_MIB + 8) << 20)
    r = reg.post("/v2/%s/blobs/uploads/?digest=%s" % (repo, digest_of(big)), body=big,
                 headers={"Content-Type": "application/octet-stream"})
    assert_error(r, 507, "UNKNOWN")
    assert "storage is full" in r.body.decode()
    assert uploads_bytes(small_disk) == 0
    assert free_bytes(small_disk) >= before - (1 << 20)
    assert reg.get("/v2/%s/blobs/%s" % (repo, kept)).status == 200  # pulls go on
    assert push_blob(reg, repo, os.urandom(1 << 20))  # and so do pushes that fit


def test_a_failed_patch_is_undone_and_the_session_goes_on(small_disk):
    reg = small_disk.registry
    repo = unique("full")
    loc = start_upload(reg, repo)
    head = os.urandom(1 << 20)
    r = reg.patch(loc, body=head, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 202, r
    loc = r.header("Location")
    r = reg.patch(loc, body=os.urandom((SIZE_MIB + 8) << 20),
                  headers={"Content-Type": "application/octet-stream"})
    assert_error(r, 507, "UNKNOWN")
    # The session is as it was before the failed PATCH, its file truncated back.
    st = reg.get(loc)
    assert st.status == 204 and st.header("Range") == "0-%d" % (len(head) - 1)
    assert uploads_bytes(small_disk) == len(head)
    tail = os.urandom(1000)
    r = reg.patch(loc, body=tail, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 202, r
    r = reg.put(with_query(r.header("Location"), digest=digest_of(head + tail)), body=b"")
    assert r.status == 201, r
    assert reg.get("/v2/%s/blobs/%s" % (repo, digest_of(head + tail))).body == head + tail


def test_a_session_can_be_deleted_on_a_full_disk(small_disk):
    reg = small_disk.registry
    repo = unique("full")
    loc = start_upload(reg, repo)
    r = reg.patch(loc, body=os.urandom(4 << 20), headers={"Content-Type":
                                                          "application/octet-stream"})
    loc = r.header("Location")
    filler = os.path.join(small_disk.data, "filler")
    try:
        fill(filler)
        r = reg.delete(loc)
        assert r.status == 204, r
        assert uploads_bytes(small_disk) == 0
        assert_error(reg.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    finally:
        if os.path.exists(filler):
            os.unlink(filler)


def test_pushes_work_again_as_soon_as_space_is_freed(small_disk):
    reg = small_disk.registry
    repo = unique("full")
    kept = push_blob(reg, repo, os.urandom(1 << 20))
    filler = os.path.join(small_disk.data, "filler")
    try:
        fill(filler)
        data = os.urandom(2 << 20)
        r = reg.post("/v2/%s/blobs/uploads/?digest=%s" % (repo, digest_of(data)), body=data,
                     headers={"Content-Type": "application/octet-stream"})
        assert r.status in (507,), r
        assert reg.get("/v2/%s/blobs/%s" % (repo, kept)).status == 200
        assert reg.head("/v2/%s/blobs/%s" % (repo, kept)).status == 200
    finally:
        os.unlink(filler)
    assert push_blob(reg, repo, os.urandom(2 << 20))
    assert uploads_bytes(small_disk) == 0
