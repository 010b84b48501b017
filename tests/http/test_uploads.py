"""POST / PATCH / PUT / GET / DELETE /v2/<name>/blobs/uploads/..., mounts, restarts."""

import os
import uuid

import pytest

from helpers import (assert_error, digest_of, fetch_blob, local_path, push_blob,
                     push_blob_monolithic, start_upload, unique, with_query)


def patch_chunk(reg, loc, data, start, content_range=True):
    h = {"Content-Type": "application/octet-stream"}
    if content_range:
        h["Content-Range"] = "%d-%d" % (start, start + len(data) - 1)
    return reg.patch(loc, body=data, headers=h)


def test_start_upload(reg):
    repo = unique("up")
    r = reg.post("/v2/%s/blobs/uploads/" % repo)
    assert r.status == 202, r
    assert r.header("Location"), r
    assert r.header("Docker-Upload-UUID"), r
    assert r.header("Range") == "0-0", r
    # The Location names a live session.
    s = reg.get(r.header("Location"))
    assert s.status == 204, s


def test_absolute_or_relative_location_points_at_this_repo(reg):
    repo = unique("loc")
    loc = start_upload(reg, repo)
    assert local_path(loc).startswith("/v2/%s/blobs/uploads/" % repo), loc


def test_monolithic_post(reg):
    repo = unique("mono")
    data = os.urandom(5000)
    d, r = push_blob_monolithic(reg, repo, data)
    assert r.status == 201, r
    assert r.header("Docker-Content-Digest") == d, r
    loc = r.header("Location")
    assert loc, r
    g = reg.get(loc)
    assert g.status == 200 and g.body == data, g
    g = fetch_blob(reg, repo, d)
    assert g.status == 200 and g.body == data, g


def test_monolithic_post_wrong_digest(reg):
    repo = unique("monobad")
    data = os.urandom(300)
    wrong = digest_of(b"something else")
    r = reg.post("/v2/%s/blobs/uploads/?digest=%s" % (repo, wrong), body=data,
                 headers={"Content-Type": "application/octet-stream"})
    assert_error(r, 400, "DIGEST_INVALID")
    assert fetch_blob(reg, repo, wrong).status == 404
    assert fetch_blob(reg, repo, digest_of(data)).status == 404


def test_post_then_put_with_body(reg):
    repo = unique("putbody")
    data = os.urandom(12345)
    d = digest_of(data)
    loc = start_upload(reg, repo)
    r = reg.put(with_query(loc, digest=d), body=data,
                headers={"Content-Type": "application/octet-stream"})
    assert r.status == 201, r
    assert r.header("Docker-Content-Digest") == d, r
    assert r.header("Location"), r
    g = reg.get(r.header("Location"))
    assert g.status == 200 and g.body == data, g
    # The session is gone once closed.
    assert_error(reg.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")


def test_chunked_upload(reg):
    repo = unique("chunk")
    data = os.urandom(30_000)
    chunks = [data[0:10_000], data[10_000:25_000], data[25_000:29_000]]
    loc = start_upload(reg, repo)
    off = 0
    for c in chunks:
        r = patch_chunk(reg, loc, c, off)
        assert r.status == 202, r
        off += len(c)
        assert r.header("Range") == "0-%d" % (off - 1), r
        assert r.header("Location"), r
        loc = r.header("Location")
    st = reg.get(loc)
    assert st.status == 204, st
    assert st.header("Range") == "0-%d" % (off - 1), st
    assert st.header("Location"), st
    # The last chunk rides on the closing PUT.
    d = digest_of(data)
    r = reg.put(with_query(loc, digest=d), body=data[off:],
                headers={"Content-Type": "application/octet-stream"})
    assert r.status == 201, r
    assert r.header("Docker-Content-Digest") == d, r
    g = fetch_blob(reg, repo, d)
    assert g.status == 200 and g.body == data, g


def test_chunked_upload_closing_put_without_body(reg):
    repo = unique("chunk0")
    data = os.urandom(8000)
    loc = start_upload(reg, repo)
    r = patch_chunk(reg, loc, data[:3000], 0)
    assert r.status == 202, r
    r = patch_chunk(reg, r.header("Location"), data[3000:], 3000)
    assert r.status == 202 and r.header("Range") == "0-7999", r
    d = digest_of(data)
    r = reg.put(with_query(r.header("Location"), digest=d), body=b"")
    assert r.status == 201, r
    g = fetch_blob(reg, repo, d)
    assert g.status == 200 and g.body == data, g


def test_streamed_patch_without_content_range(reg):
    # Docker and containerd stream a whole layer in one PATCH without Content-Range.
    repo = unique("stream")
    data = os.urandom(20_000)
    loc = start_upload(reg, repo)
    r = patch_chunk(reg, loc, data[:12_000], 0, content_range=False)
    assert r.status == 202, r
    assert r.header("Range") == "0-11999", r
    r = patch_chunk(reg, r.header("Location"), data[12_000:], 12_000, content_range=False)
    assert r.status == 202 and r.header("Range") == "0-19999", r
    d = digest_of(data)
    r = reg.put(with_query(r.header("Location"), digest=d), body=b"")
    assert r.status == 201, r
    assert fetch_blob(reg, repo, d).body == data


@pytest.mark.parametrize("bad_start", [15, 5, 0])
def test_out_of_order_chunk_416(reg, bad_start):
    repo = unique("ooo")
    data = os.urandom(10)
    loc = start_upload(reg, repo)
    r = patch_chunk(reg, loc, data, 0)
    assert r.status == 202, r
    loc = r.header("Location")
    # A gap (15), an overlap (5), a repeat of the first chunk (0): all out of order.
    r = patch_chunk(reg, loc, os.urandom(10), bad_start)
    assert r.status == 416, r
    # The session survives and still holds exactly the first chunk.
    st = reg.get(loc)
    assert st.status == 204 and st.header("Range") == "0-9", st
    tail = os.urandom(6)
    r = patch_chunk(reg, loc, tail, 10)
    assert r.status == 202 and r.header("Range") == "0-15", r
    d = digest_of(data + tail)
    r = reg.put(with_query(r.header("Location"), digest=d), body=b"")
    assert r.status == 201, r
    assert fetch_blob(reg, repo, d).body == data + tail


def test_first_chunk_not_at_zero_416(reg):
    repo = unique("ooo0")
    loc = start_upload(reg, repo)
    r = patch_chunk(reg, loc, os.urandom(10), 10)
    assert r.status == 416, r
    st = reg.get(loc)
    assert st.status == 204 and st.header("Range") == "0-0", st


def test_content_range_disagrees_with_length(reg):
    repo = unique("crlen")
    loc = start_upload(reg, repo)
    r = reg.patch(loc, body=os.urandom(5), headers={"Content-Range": "0-9",
                                                     "Content-Type": "application/octet-stream"})
    assert r.status in (400, 416), r
    st = reg.get(loc)
    assert st.status == 204 and st.header("Range") == "0-0", st


@pytest.mark.parametrize("cr", ["abc", "9-0", "-1-8", "0-9-9"])
def test_malformed_content_range(reg, cr):
    repo = unique("crbad")
    loc = start_upload(reg, repo)
    r = reg.patch(loc, body=os.urandom(10), headers={"Content-Range": cr,
                                                      "Content-Type": "application/octet-stream"})
    assert r.status in (400, 416), r
    assert reg.get("/v2/").status == 200


def test_upload_status(reg):
    repo = unique("status")
    loc = start_upload(reg, repo)
    st = reg.get(loc)
    assert st.status == 204, st
    assert st.header("Range") == "0-0", st
    assert st.header("Location"), st
    assert st.header("Docker-Upload-UUID"), st
    r = patch_chunk(reg, loc, os.urandom(4096), 0)
    assert r.status == 202, r
    st = reg.get(r.header("Location"))
    assert st.status == 204, st
    assert st.header("Range") == "0-4095", st
    assert st.body == b""


def test_put_wrong_digest_400(reg):
    repo = unique("wrongd")
    data = os.urandom(1000)
    wrong = digest_of(data + b"x")
    loc = start_upload(reg, repo)
    r = reg.put(with_query(loc, digest=wrong), body=data,
                headers={"Content-Type": "application/octet-stream"})
    assert_error(r, 400, "DIGEST_INVALID")
    assert fetch_blob(reg, repo, wrong).status == 404
    assert fetch_blob(reg, repo, digest_of(data)).status == 404


def test_put_without_digest_400(reg):
    repo = unique("nodig")
    loc = start_upload(reg, repo)
    r = reg.put(loc, body=os.urandom(10))
    assert r.status == 400, r
    assert_error(r, 400, "DIGEST_INVALID", "BLOB_UPLOAD_INVALID")


def test_put_malformed_digest_400(reg):
    repo = unique("baddig")
    loc = start_upload(reg, repo)
    r = reg.put(with_query(loc, digest="sha256:xyz"), body=b"abc")
    assert_error(r, 400, "DIGEST_INVALID")


def test_cancel_upload(reg):
    repo = unique("cancel")
    loc = start_upload(reg, repo)
    r = patch_chunk(reg, loc, os.urandom(100), 0)
    assert r.status == 202, r
    loc = r.header("Location")
    r = reg.delete(loc)
    assert r.status == 204, r
    assert_error(reg.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(patch_chunk(reg, loc, b"z", 100), 404, "BLOB_UPLOAD_UNKNOWN")
    assert_error(reg.delete(loc), 404, "BLOB_UPLOAD_UNKNOWN")


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_unknown_upload_uuid_404(reg, method):
    repo = unique("nouuid")
    push_blob(reg, repo, b"make the repo exist")
    path = "/v2/%s/blobs/uploads/%s" % (repo, uuid.uuid4())
    if method == "PUT":
        path += "?digest=" + digest_of(b"q")
    body = b"q" if method in ("PATCH", "PUT") else None
    r = reg.request(method, path, body=body)
    assert_error(r, 404, "BLOB_UPLOAD_UNKNOWN")


def test_upload_session_bound_to_its_repository(reg):
    a, b = unique("sa"), unique("sb")
    loc = start_upload(reg, a)
    other = local_path(loc).replace("/v2/%s/" % a, "/v2/%s/" % b, 1)
    assert other != local_path(loc)
    r = reg.get(other)
    assert_error(r, 404, "BLOB_UPLOAD_UNKNOWN")


def test_cross_repo_mount_existing(reg):
    src, dst = unique("from"), unique("to")
    data = os.urandom(3333)
    d = push_blob(reg, src, data)
    r = reg.post("/v2/%s/blobs/uploads/?mount=%s&from=%s" % (dst, d, src))
    assert r.status == 201, r
    assert r.header("Docker-Content-Digest") == d, r
    assert r.header("Location"), r
    g = fetch_blob(reg, dst, d)
    assert g.status == 200 and g.body == data, g
    # The source keeps it.
    assert fetch_blob(reg, src, d).status == 200


def test_cross_repo_mount_missing_starts_session(reg):
    src, dst = unique("from"), unique("to")
    push_blob(reg, src, os.urandom(10))
    data = os.urandom(444)
    d = digest_of(data)
    r = reg.post("/v2/%s/blobs/uploads/?mount=%s&from=%s" % (dst, d, src))
    assert r.status == 202, r
    loc = r.header("Location")
    assert loc, r
    assert fetch_blob(reg, dst, d).status == 404
    # It is a real session.
    r = reg.put(with_query(loc, digest=d), body=data)
    assert r.status == 201, r
    assert fetch_blob(reg, dst, d).body == data


def test_cross_repo_mount_from_repo_without_the_blob(reg):
    holder, src, dst = unique("holder"), unique("from"), unique("to")
    data = os.urandom(555)
    d = push_blob(reg, holder, data)
    push_blob(reg, src, os.urandom(10))
    r = reg.post("/v2/%s/blobs/uploads/?mount=%s&from=%s" % (dst, d, src))
    # `from` does not hold it (only an unrelated repository does): no mount, a session instead.
    assert r.status == 202, r
    assert fetch_blob(reg, dst, d).status == 404


def test_mount_malformed_digest(reg):
    src, dst = unique("from"), unique("to")
    push_blob(reg, src, os.urandom(10))
    r = reg.post("/v2/%s/blobs/uploads/?mount=sha256:xyz&from=%s" % (dst, src))
    # Either rejected or treated as a plain upload start; never a mount.
    assert r.status in (400, 202), r
    if r.status == 400:
        assert_error(r, 400, "DIGEST_INVALID")


def test_upload_survives_restart(server_factory):
    s = server_factory()
    reg = s.registry
    repo = unique("restart")
    data = os.urandom(50_000)
    loc = start_upload(reg, repo)
    r = patch_chunk(reg, loc, data[:20_000], 0)
    assert r.status == 202 and r.header("Range") == "0-19999", r
    loc = r.header("Location")
    s.restart()
    st = reg.get(loc)
    assert st.status == 204 and st.header("Range") == "0-19999", st
    r = patch_chunk(reg, loc, data[20_000:40_000], 20_000)
    assert r.status == 202 and r.header("Range") == "0-39999", r
    d = digest_of(data)
    r = reg.put(with_query(r.header("Location"), digest=d), body=data[40_000:])
    assert r.status == 201, r
    g = fetch_blob(reg, repo, d)
    assert g.status == 200 and g.body == data, g


def test_acknowledged_chunk_survives_sigkill(server_factory):
    s = server_factory()
    reg = s.registry
    repo = unique("crashup")
    data = os.urandom(64_000)
    loc = start_upload(reg, repo)
    r = patch_chunk(reg, loc, data[:32_000], 0)
    assert r.status == 202, r
    loc = r.header("Location")
    s.restart(crash=True)
    st = reg.get(loc)
    assert st.status == 204 and st.header("Range") == "0-31999", st
    r = patch_chunk(reg, loc, data[32_000:], 32_000)
    assert r.status == 202, r
    d = digest_of(data)
    r = reg.put(with_query(r.header("Location"), digest=d), body=b"")
    assert r.status == 201, r
    assert fetch_blob(reg, repo, d).body == data


def test_concurrent_uploads_same_repo(reg):
    repo = unique("conc")
    a, b = os.urandom(5000), os.urandom(7000)
    la, lb = start_upload(reg, repo), start_upload(reg, repo)
    assert local_path(la) != local_path(lb)
    ra = patch_chunk(reg, la, a[:2000], 0)
    rb = patch_chunk(reg, lb, b[:4000], 0)
    assert ra.status == 202 and rb.status == 202
    ra = patch_chunk(reg, ra.header("Location"), a[2000:], 2000)
    rb = patch_chunk(reg, rb.header("Location"), b[4000:], 4000)
    assert ra.header("Range") == "0-4999" and rb.header("Range") == "0-6999", (ra, rb)
    assert reg.put(with_query(ra.header("Location"), digest=digest_of(a)), body=b"").status == 201
    assert reg.put(with_query(rb.header("Location"), digest=digest_of(b)), body=b"").status == 201
    assert fetch_blob(reg, repo, digest_of(a)).body == a
    assert fetch_blob(reg, repo, digest_of(b)).body == b


def test_same_blob_pushed_twice(reg):
    repo = unique("twice")
    data = os.urandom(900)
    assert push_blob(reg, repo, data) == push_blob(reg, repo, data)
    assert fetch_blob(reg, repo, digest_of(data)).body == data
