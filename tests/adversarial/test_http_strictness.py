"""Defects 10, 11 and 12: HTTP and the spec where they are strict.

- A request whose Transfer-Encoding does not end in chunked has a body of no knowable length
  (RFC 9112, 6.3): 400 and close, never its body run as the next request.
- Invalid UTF-8 in a repository name, tag, digest or Host gets a 400 with the OCI error JSON
  (valid JSON, valid UTF-8), never a dropped connection.
- GET, HEAD and DELETE of a reference that names no manifest answer 404 MANIFEST_UNKNOWN, also
  when it cannot be a tag; only a PUT of such a tag is a 400.
- Every HEAD answer, error or not, carries the headers a GET would (Content-Length included) and
  no content (RFC 9110, 9.3.2): HEAD then GET on one connection, for every route.
"""

import json
import socket

import pytest

from helpers import assert_error, digest_of, make_image, start_upload, unique


def exchange(port, data, timeout=5.0):
    """Sends raw bytes; returns everything the server sends until it closes or goes quiet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def responses(raw):
    """Splits raw bytes into (status, headers dict, body) by Content-Length; what is left over
    (bytes no response accounts for) is returned too."""
    out = []
    while raw.startswith(b"HTTP/1.1 "):
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            break
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            headers[k.strip().lower().decode()] = v.strip().decode("latin-1")
        out.append((status, headers, rest))
        n = int(headers.get("content-length", "0"))
        raw = rest[n:] if not out[-1][1].get("_head") else rest
        out[-1] = (status, headers, rest[:n])
    return out, raw


# ----------------------------------------------------------------------------- Transfer-Encoding

@pytest.mark.parametrize("coding", ["gzip", "identity", "chunked, identity", "chunked, gzip",
                                    "foo"])
def test_transfer_encoding_not_ending_in_chunked_is_400_and_close(server, coding):
    smuggled = b"GET /v2/_catalog HTTP/1.1\r\nHost: x\r\n\r\n"
    req = ("PUT /v2/te/manifests/v1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
           "Transfer-Encoding: %s\r\n\r\n" % (server.port, coding)).encode() + smuggled
    raw = exchange(server.port, req)
    assert raw.startswith(b"HTTP/1.1 400 "), raw[:200]
    assert raw.count(b"HTTP/1.1 ") == 1, "the body ran as a request: %r" % raw
    assert b"Transfer-Encoding" in raw


def test_chunked_transfer_encoding_still_works(server, reg):
    repo = unique("chunked")
    data = b"hello chunked"
    d = digest_of(data)
    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
    req = ("POST /v2/%s/blobs/uploads/?digest=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
           "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           % (repo, d, server.port)).encode() + body
    raw = exchange(server.port, req)
    assert raw.startswith(b"HTTP/1.1 201 "), raw[:300]
    assert reg.get("/v2/%s/blobs/%s" % (repo, d)).body == data


# ----------------------------------------------------------------------------- invalid UTF-8

def error_json(raw):
    (status, headers, body), = responses(raw)[0][:1]
    doc = json.loads(body.decode("utf-8"))  # valid UTF-8 and valid JSON, or this raises
    return status, [e["code"] for e in doc["errors"]]


@pytest.mark.parametrize("path,codes", [
    ("/v2/%ff/tags/list", ["NAME_INVALID"]),
    ("/v2/ok%ff/manifests/latest", ["NAME_INVALID"]),
    ("/v2/a/b%c3%28/blobs/uploads/", ["NAME_INVALID"]),
    ("/v2/utf/manifests/sha256:%ff", ["DIGEST_INVALID"]),
    ("/v2/utf/blobs/sha256:%ff%fe", ["DIGEST_INVALID"]),
    ("/v2/utf/referrers/sha256:%80", ["DIGEST_INVALID"]),
])
def test_invalid_utf8_in_the_path_gets_an_oci_error(server, path, codes):
    raw = exchange(server.port, ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                                 % path).encode())
    status, got = error_json(raw)
    assert status == 400, raw[:300]
    assert set(got) & set(codes), got


def test_invalid_utf8_tag_on_put_is_a_400(server, reg):
    repo = unique("utf")
    body, mt, _d, _ = make_image(reg, repo, push=False)
    raw = exchange(server.port, (b"PUT /v2/%s/manifests/v%%ff1 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                 b"Content-Type: %s\r\nContent-Length: %d\r\nConnection: close"
                                 b"\r\n\r\n" % (repo.encode(), mt.encode(), len(body))) + body)
    status, got = error_json(raw)
    assert status == 400
    assert set(got) & {"MANIFEST_INVALID", "TAG_INVALID"}, got
    assert reg.get("/v2/%s/tags/list" % repo).json()["tags"] == []  # nothing stored


def test_invalid_utf8_in_the_upload_id_and_query(server, reg):
    repo = unique("utf")
    raw = exchange(server.port, ("PATCH /v2/%s/blobs/uploads/%%ff HTTP/1.1\r\nHost: x\r\n"
                                 "Content-Length: 0\r\nConnection: close\r\n\r\n" % repo).encode())
    status, got = error_json(raw)
    assert status == 404 and got == ["BLOB_UPLOAD_UNKNOWN"]
    raw = exchange(server.port, ("GET /v2/%s/tags/list?last=%%ff&n=1 HTTP/1.1\r\nHost: x\r\n"
                                 "Connection: close\r\n\r\n" % repo).encode())
    assert raw.startswith(b"HTTP/1.1 404 "), raw[:200]
    raw = exchange(server.port, (b"GET /v2/_catalog?last=%ff%fe HTTP/1.1\r\nHost: x\r\n"
                                 b"Connection: close\r\n\r\n"))
    assert raw.startswith(b"HTTP/1.1 200 "), raw[:200]
    json.loads(responses(raw)[0][0][2].decode("utf-8"))


def test_raw_non_utf8_bytes_in_the_target_and_host(server):
    raw = exchange(server.port, b"GET /v2/\xff\xfe/tags/list HTTP/1.1\r\nHost: \xff\r\n"
                                b"Connection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 4"), raw[:200]
    json.loads(responses(raw)[0][0][2].decode("utf-8"))


# ----------------------------------------------------------------------------- references

@pytest.mark.parametrize("ref", [".hidden", "-dash", "a" * 129, "tag%20space", "%ff"])
def test_a_reference_that_cannot_be_a_tag_names_no_manifest(reg, ref):
    repo = unique("ref")
    make_image(reg, repo, tag="real")
    for method in ("GET", "HEAD", "DELETE"):
        r = reg.request(method, "/v2/%s/manifests/%s" % (repo, ref))
        assert_error(r, 404, "MANIFEST_UNKNOWN")


@pytest.mark.parametrize("ref", [".hidden", "-dash", "a" * 129])
def test_a_put_of_such_a_tag_is_a_400(reg, ref):
    repo = unique("ref")
    body, mt, _d, _ = make_image(reg, repo, push=False)
    r = reg.put("/v2/%s/manifests/%s" % (repo, ref), body=body, headers={"Content-Type": mt})
    assert_error(r, 400, "MANIFEST_INVALID", "TAG_INVALID")


# ----------------------------------------------------------------------------- HEAD

def head_then_get(port, path):
    req = ("HEAD {p} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
           "GET {p} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").format(p=path)
    raw = exchange(port, req.encode())
    # The HEAD answer ends at its blank line: what follows must be the GET's status line.
    head, sep, rest = raw.partition(b"\r\n\r\n")
    assert sep, raw[:300]
    assert rest.startswith(b"HTTP/1.1 "), "bytes after the HEAD answer: %r" % rest[:120]
    get_head, _, get_body = rest.partition(b"\r\n\r\n")
    return head, get_head, get_body


def header_of(block, name):
    for line in block.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == name.lower().encode():
            return v.strip().decode()
    return None


@pytest.fixture(scope="module")
def content(reg):
    repo = unique("head")
    body, mt, digest, blobs = make_image(reg, repo, tag="v1")
    upload = start_upload(reg, repo)
    return dict(repo=repo, manifest=digest, blob=next(iter(blobs)), upload=upload)


def routes(c):
    repo, missing = c["repo"], "sha256:" + "0" * 64
    return [
        "/v2/", "/v2/_catalog", "/v2/%s/tags/list" % repo, "/v2/nope/tags/list",
        "/v2/%s/manifests/v1" % repo, "/v2/%s/manifests/%s" % (repo, c["manifest"]),
        "/v2/%s/manifests/missing" % repo, "/v2/%s/manifests/%s" % (repo, missing),
        "/v2/%s/manifests/.bad" % repo, "/v2/%s/manifests/sha256:bad" % repo,
        "/v2/%s/blobs/%s" % (repo, c["blob"]), "/v2/%s/blobs/%s" % (repo, missing),
        "/v2/%s/blobs/sha256:bad" % repo, "/v2/%s/referrers/%s" % (repo, c["manifest"]),
        "/v2/%s/referrers/bad" % repo, c["upload"].split("://", 1)[-1].split("/", 1)[-1]
        if "://" in c["upload"] else c["upload"],
        "/v2/%s/blobs/uploads/unknown-id" % repo, "/v2/BAD/tags/list", "/nowhere",
        "/v2/%ff/tags/list",
    ]


def test_every_head_answer_has_the_get_headers_and_no_content(server, content):
    for path in routes(content):
        if not path.startswith("/"):
            path = "/" + path
        head, get_head, get_body = head_then_get(server.port, path)
        hs = int(head.split(b" ")[1])
        gs = int(get_head.split(b" ")[1])
        assert hs == gs, (path, hs, gs)
        assert header_of(head, "content-length") == header_of(get_head, "content-length"), path
        assert header_of(head, "content-type") == header_of(get_head, "content-type"), path
        if gs < 300 and gs != 204:
            assert header_of(head, "content-length") is not None, (path, head)
            assert int(header_of(head, "content-length")) == len(get_body), path


def test_invalid_utf8_host_on_an_endpoint_gets_an_oci_error(tmp_path):
    """The endpoint listeners echo the Host they could not place in their 404: a Host of bytes
    that are not UTF-8 still gets valid JSON (the bytes become U+FFFD)."""
    from instances_helpers import InstanceServer
    from plain_server import KURA_BIN
    s = InstanceServer(KURA_BIN, tmp_path, {"inet": dict(endpoint="internet")})
    s.start()
    try:
        for host in (b"\xff\xfe-registry.ap-northeast-1.kura.test", b"acme%ff", b"\xc3\x28:80"):
            raw = exchange(s.port("inet"), b"GET /v2/ HTTP/1.1\r\nHost: " + host +
                           b"\r\nConnection: close\r\n\r\n")
            status, codes = error_json(raw)
            assert status == 404 and codes == ["NAME_UNKNOWN"], raw[:300]
    finally:
        s.stop()


def test_head_answers_of_the_endpoint_and_admin_listeners_have_no_content(tmp_path):
    """The same rule on the other listeners: the gateway's challenges, refusals and token
    endpoint, and the admin API."""
    from conftest import running_instances
    from instances_helpers import TOKEN_A, internet_host
    with running_instances(tmp_path, {"inet": dict(endpoint="internet")}) as s:
        s.admin.ok("POST", "/api/v1/instances", {"name": "heads", "region": "ap-northeast-1",
                                                 "edition": "personal"})
        host = internet_host("heads")
        for path, extra in [("/v2/", ""), ("/token?service=x", ""), ("/v2/_catalog", ""),
                            ("/v2/a/manifests/v1", ""), ("/v2/", "Authorization: Basic eDp5\r\n")]:
            req = ("HEAD {p} HTTP/1.1\r\nHost: {h}\r\n{e}\r\n"
                   "GET {p} HTTP/1.1\r\nHost: {h}\r\n{e}Connection: close\r\n\r\n").format(
                       p=path, h=host, e=extra)
            raw = exchange(s.port("inet"), req.encode())
            head, _, rest = raw.partition(b"\r\n\r\n")
            assert rest.startswith(b"HTTP/1.1 "), (path, rest[:120])
            get_head = rest.partition(b"\r\n\r\n")[0]
            assert head.split(b" ")[1] == get_head.split(b" ")[1], path
            assert header_of(head, "content-length") == header_of(get_head, "content-length")
        for path in ("/api/v1/whoami", "/api/v1/nowhere"):
            req = ("HEAD {p} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n\r\n"
                   "GET {p} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {t}\r\n"
                   "Connection: close\r\n\r\n").format(p=path, t=TOKEN_A)
            raw = exchange(s.admin_port, req.encode())
            head, _, rest = raw.partition(b"\r\n\r\n")
            assert rest.startswith(b"HTTP/1.1 "), (path, rest[:120])
