"""Small HTTP client helpers for the kura black-box tests (stdlib only).

Every request opens its own connection unless a connection is passed in, so a
server that breaks one connection does not poison the next test.
"""

import base64
import hashlib
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse

import pytest


READY_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


def free_port():
    """A port nothing listens on now (the kernel's choice)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ServerProcess:
    """A server process started by a test: its log file, start-up wait, stop, crash.
    Subclasses give the command (start) and say when it answers (answers)."""

    def __init__(self, workdir):
        self.workdir = str(workdir)
        self.log_path = os.path.join(self.workdir, "server.log")
        self.proc = None
        self.starts = 0

    def answers(self):
        raise NotImplementedError

    def launch(self, cmd, env=None):
        """Starts `cmd` (output appended to the log) and waits until answers()."""
        assert self.proc is None, "server already running"
        log = open(self.log_path, "ab")
        log.write(("\n=== start %d: %s\n" % (self.starts, " ".join(cmd))).encode())
        log.flush()
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                     cwd=self.workdir)
        log.close()
        self.starts += 1
        self.wait_ready()
        return self

    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail("server exited with %s during start-up; log:\n%s"
                            % (self.proc.returncode, self.log_tail()))
            if self.answers():
                return
            time.sleep(0.1)
        pytest.fail("server did not answer within %.0f s; log:\n%s" % (timeout, self.log_tail()))

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT. Returns the exit code."""
        if self.proc is None:
            return None
        p, self.proc = self.proc, None
        if p.poll() is None:
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(STOP_TIMEOUT)
        return p.returncode

    def kill(self):
        """SIGKILL, as a crash would."""
        if self.proc is None:
            return
        p, self.proc = self.proc, None
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
        p.wait(STOP_TIMEOUT)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return "(no log)"

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

EMPTY_JSON = b"{}"
ALL_MANIFEST_TYPES = ", ".join([OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST])

REQUEST_TIMEOUT = 30.0


def digest_of(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def unique(prefix="t"):
    """A short lower-case token usable in repository names and tags."""
    return prefix + os.urandom(5).hex()


class Response:
    def __init__(self, status, headers, body, method, path):
        self.status = status
        self._headers = headers  # list of (name, value)
        self.body = body
        self.method = method
        self.path = path

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self._headers:
            if k.lower() == name:
                return v
        return default

    def headers_all(self, name):
        name = name.lower()
        return [v for k, v in self._headers if k.lower() == name]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def error_codes(self):
        try:
            doc = self.json()
            return [e.get("code") for e in doc.get("errors", [])]
        except Exception:
            return []

    def __repr__(self):
        body = self.body[:300]
        return "<%s %s -> %d %r %r>" % (self.method, self.path, self.status,
                                        self._headers, body)


class Registry:
    """Where a server listens and how to talk to it."""

    def __init__(self, host, port, tls_ca=None, auth=None):
        self.host = host
        self.port = port
        self.tls_ca = tls_ca
        self.auth = auth  # (user, password) or None

    @property
    def scheme(self):
        return "https" if self.tls_ca else "http"

    def connection(self, timeout=REQUEST_TIMEOUT):
        if self.tls_ca:
            ctx = ssl.create_default_context(cafile=self.tls_ca)
            return http.client.HTTPSConnection(self.host, self.port, timeout=timeout, context=ctx)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def default_headers(self):
        h = {}
        if self.auth:
            tok = base64.b64encode(("%s:%s" % self.auth).encode()).decode()
            h["Authorization"] = "Basic " + tok
        return h

    def request(self, method, path, body=None, headers=None, conn=None, auth=True,
                timeout=REQUEST_TIMEOUT):
        """Send one request; return a Response. `path` may be an absolute URL."""
        path = local_path(path)
        h = self.default_headers() if auth else {}
        if headers:
            h.update(headers)
        if body is not None and not any(k.lower() == "content-length" for k in h):
            h["Content-Length"] = str(len(body))
        own = conn is None
        if own:
            conn = self.connection(timeout)
        try:
            try:
                conn.request(method, path, body=body, headers=h)
            except (BrokenPipeError, ConnectionResetError):
                # The server may answer (e.g. 413) and close before reading the whole body; but
                # when the connection is gone altogether (the server died) there is no answer.
                if conn.sock is None:
                    raise
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.getheaders(), data, method, path)
        finally:
            if own:
                conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    def put(self, path, body=b"", **kw):
        return self.request("PUT", path, body=body, **kw)

    def post(self, path, body=None, **kw):
        if body is None:
            kw.setdefault("headers", {})
            kw["headers"].setdefault("Content-Length", "0")
        return self.request("POST", path, body=body, **kw)

    def patch(self, path, body, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def alive(self):
        """True when GET /v2/ answers 200 (or 401 for an auth-only caller)."""
        try:
            r = self.get("/v2/", timeout=5)
            return r.status in (200, 401)
        except (OSError, http.client.HTTPException):
            return False


def local_path(location):
    """Turn a Location header (relative or absolute URL) into path?query."""
    if location.startswith("http://") or location.startswith("https://"):
        u = urllib.parse.urlsplit(location)
        return u.path + ("?" + u.query if u.query else "")
    return location


def with_query(location, **params):
    """Append query parameters to a Location that may already carry a query."""
    path = local_path(location)
    sep = "&" if "?" in path else "?"
    return path + sep + urllib.parse.urlencode(params)


def assert_error(resp, status, *codes):
    """Assert an OCI error response: status, JSON content type and one of `codes`."""
    assert resp.status == status, "expected %d, got %r" % (status, resp)
    if resp.method == "HEAD" or not codes:
        return
    ctype = resp.header("Content-Type", "")
    assert ctype.split(";")[0].strip() == "application/json", "error Content-Type: %r" % resp
    doc = resp.json()
    assert isinstance(doc.get("errors"), list) and doc["errors"], "no errors list: %r" % resp
    for e in doc["errors"]:
        assert "code" in e and "message" in e, "error entry lacks code/message: %r" % resp
    got = [e["code"] for e in doc["errors"]]
    assert any(c in codes for c in got), "expected one of %s, got %s: %r" % (codes, got, resp)


# ----------------------------------------------------------------------------- blobs

def start_upload(reg, repo):
    r = reg.post("/v2/%s/blobs/uploads/" % repo)
    assert r.status == 202, r
    loc = r.header("Location")
    assert loc, r
    return loc


def push_blob(reg, repo, data):
    """POST a session, then PUT ?digest= with the whole body. Returns the digest."""
    d = digest_of(data)
    loc = start_upload(reg, repo)
    r = reg.put(with_query(loc, digest=d), body=data,
                headers={"Content-Type": "application/octet-stream"})
    assert r.status == 201, r
    return d


def push_blob_monolithic(reg, repo, data):
    d = digest_of(data)
    r = reg.post("/v2/%s/blobs/uploads/?digest=%s" % (repo, d), body=data,
                 headers={"Content-Type": "application/octet-stream"})
    return d, r


def fetch_blob(reg, repo, digest):
    return reg.get("/v2/%s/blobs/%s" % (repo, digest))


# ----------------------------------------------------------------------------- manifests

def canon(doc):
    return json.dumps(doc, separators=(",", ":"), sort_keys=False).encode()


def push_manifest(reg, repo, ref, body, media_type):
    if isinstance(body, dict):
        body = canon(body)
    return reg.put("/v2/%s/manifests/%s" % (repo, ref), body=body,
                   headers={"Content-Type": media_type})


def descriptor(media_type, data, **extra):
    d = {"mediaType": media_type, "digest": digest_of(data), "size": len(data)}
    d.update(extra)
    return d


def make_image(reg, repo, docker=False, layers=1, tag=None, extra=None, push=True):
    """Push a config and `layers` random layers; build (and optionally push) a manifest.

    Returns (manifest_bytes, media_type, digest, blobs) where blobs maps digest -> bytes.
    """
    blobs = {}
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": []},
                      "nonce": unique()}).encode()
    blobs[push_blob(reg, repo, cfg)] = cfg
    layer_descs = []
    for _ in range(layers):
        data = os.urandom(1024 + int.from_bytes(os.urandom(2), "big") % 4096)
        blobs[push_blob(reg, repo, data)] = data
        layer_descs.append(descriptor(DOCKER_LAYER if docker else OCI_LAYER, data))
    mt = DOCKER_MANIFEST if docker else OCI_MANIFEST
    doc = {"schemaVersion": 2, "mediaType": mt,
           "config": descriptor(DOCKER_CONFIG if docker else OCI_CONFIG, cfg),
           "layers": layer_descs}
    if extra:
        doc.update(extra)
    body = canon(doc)
    d = digest_of(body)
    if push:
        r = push_manifest(reg, repo, tag or d, body, mt)
        assert r.status == 201, r
    return body, mt, d, blobs


def ensure_empty_config(reg, repo):
    return push_blob(reg, repo, EMPTY_JSON)


def make_artifact(reg, repo, subject_body, subject_mt, artifact_type=None, config_mt=None,
                  annotations=None, tag=None):
    """Push an OCI manifest whose subject is the given manifest. Returns (body, digest)."""
    if config_mt is None:
        ensure_empty_config(reg, repo)
        config = descriptor(OCI_EMPTY, EMPTY_JSON)
    else:
        cfg = json.dumps({"kind": config_mt, "nonce": unique()}).encode()
        push_blob(reg, repo, cfg)
        config = descriptor(config_mt, cfg)
    layer = os.urandom(64)
    push_blob(reg, repo, layer)
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST}
    if artifact_type:
        doc["artifactType"] = artifact_type
    doc["config"] = config
    doc["layers"] = [descriptor("application/octet-stream", layer)]
    doc["subject"] = descriptor(subject_mt, subject_body)
    if annotations:
        doc["annotations"] = annotations
    body = canon(doc)
    d = digest_of(body)
    r = push_manifest(reg, repo, tag or d, body, OCI_MANIFEST)
    assert r.status == 201, r
    return body, d, r


# ----------------------------------------------------------------------------- links

def next_link(resp):
    """The target of a Link: <...>; rel="next" header, as path?query, or None."""
    for v in resp.headers_all("Link"):
        for part in v.split(","):
            part = part.strip()
            if 'rel="next"' in part or "rel=next" in part:
                start, end = part.find("<"), part.find(">")
                assert start >= 0 and end > start, "malformed Link header %r" % v
                return local_path(part[start + 1:end])
    return None


# ----------------------------------------------------------------------------- raw sockets

def raw_exchange(host, port, data, timeout=10.0, read=True):
    """Send raw bytes; return what the server answers before closing (or timeout)."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(data)
        if not read:
            return b""
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                cl = None
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        cl = int(v.strip())
                if cl is not None and len(rest) >= cl:
                    break
        return out
    finally:
        s.close()


def raw_status(answer):
    """Status code of a raw HTTP answer, or None when there was none."""
    if not answer.startswith(b"HTTP/1."):
        return None
    return int(answer.split(b" ", 2)[1])


def dir_size(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except FileNotFoundError:
                pass
    return total


def large_files(path, threshold):
    out = []
    for root, _dirs, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            try:
                sz = os.lstat(p).st_size
            except FileNotFoundError:
                continue
            if sz > threshold:
                out.append((p, sz))
    return out


def wait_until(pred, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
