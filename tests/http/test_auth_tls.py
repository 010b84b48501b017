"""Basic auth from an htpasswd (bcrypt) file, and TLS with a self-signed certificate."""

import os
import shutil
import socket
import ssl
import subprocess

import pytest

from helpers import Registry, assert_error, digest_of, fetch_blob, make_image, push_blob, unique

USER, PASSWORD = "ciuser", "ci-pass:word"


def htpasswd_file(tmp_path):
    if not shutil.which("htpasswd"):
        pytest.fail("htpasswd (apache2-utils) is needed for the auth tests")
    out = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True,
                         timeout=30).stdout
    assert out.startswith(USER.encode() + b":$2"), out
    path = tmp_path / "htpasswd"
    path.write_bytes(out)
    return str(path)


def self_signed(tmp_path):
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", key, "-out", cert, "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory):
    from conftest import Server
    d = tmp_path_factory.mktemp("auth")
    s = Server(d, auth=(htpasswd_file(d), USER, PASSWORD))
    s.start()
    yield s
    s.stop()


def anon(s):
    return Registry("127.0.0.1", s.port)


def as_user(s, user, password):
    return Registry("127.0.0.1", s.port, auth=(user, password))


def test_no_credentials_401(auth_server):
    r = anon(auth_server).get("/v2/")
    assert_error(r, 401, "UNAUTHORIZED")
    assert r.header("WWW-Authenticate") == 'Basic realm="kura"', r


def test_wrong_password_401(auth_server):
    r = as_user(auth_server, USER, "wrong").get("/v2/")
    assert_error(r, 401, "UNAUTHORIZED")
    assert r.header("WWW-Authenticate", "").startswith("Basic"), r


def test_unknown_user_401(auth_server):
    assert_error(as_user(auth_server, "mallory", PASSWORD).get("/v2/"), 401, "UNAUTHORIZED")


def test_right_password_200(auth_server):
    r = auth_server.registry.get("/v2/")
    assert r.status == 200, r
    assert r.header("Docker-Distribution-API-Version") == "registry/2.0", r


@pytest.mark.parametrize("header", ["Basic", "Basic !!!notbase64", "Basic " + "YQ==",
                                    "Bearer abc.def.ghi", "Digest username=x", "basic"])
def test_malformed_authorization_401(auth_server, header):
    r = anon(auth_server).get("/v2/", headers={"Authorization": header})
    assert r.status == 401, r
    assert anon(auth_server).get("/v2/").status == 401
    assert auth_server.registry.get("/v2/").status == 200


def test_every_route_is_protected(auth_server):
    reg = auth_server.registry
    repo = unique("prot")
    body, mt, d, blobs = make_image(reg, repo, tag="t")
    a = anon(auth_server)
    bd = next(iter(blobs))
    for method, path in [("GET", "/v2/%s/tags/list" % repo), ("GET", "/v2/%s/manifests/t" % repo),
                         ("HEAD", "/v2/%s/manifests/t" % repo), ("GET", "/v2/%s/blobs/%s" % (repo, bd)),
                         ("POST", "/v2/%s/blobs/uploads/" % repo), ("DELETE", "/v2/%s/manifests/t" % repo),
                         ("DELETE", "/v2/%s/blobs/%s" % (repo, bd)), ("GET", "/v2/_catalog"),
                         ("GET", "/v2/%s/referrers/%s" % (repo, d))]:
        body_ = b"" if method == "POST" else None
        r = a.request(method, path, body=body_)
        assert r.status == 401, r
    # Nothing was deleted by the anonymous attempts.
    assert reg.get("/v2/%s/manifests/t" % repo).status == 200
    assert fetch_blob(reg, repo, bd).status == 200


def test_push_and_pull_with_credentials(auth_server):
    reg = auth_server.registry
    repo = unique("authpush")
    data = os.urandom(4000)
    d = push_blob(reg, repo, data)
    assert fetch_blob(reg, repo, d).body == data
    body, mt, md, _ = make_image(reg, repo, tag="v1")
    r = reg.get("/v2/%s/manifests/v1" % repo, headers={"Accept": mt})
    assert r.status == 200 and r.body == body, r


def test_tls(server_factory, tmp_path):
    cert, key = self_signed(tmp_path)
    s = server_factory(tls=(cert, key))
    reg = s.registry
    assert reg.scheme == "https"
    r = reg.get("/v2/")
    assert r.status == 200, r
    assert r.header("Docker-Distribution-API-Version") == "registry/2.0", r
    repo = unique("tls")
    data = os.urandom(70_000)
    d = push_blob(reg, repo, data)
    r = fetch_blob(reg, repo, d)
    assert r.status == 200 and r.body == data, r
    assert digest_of(r.body) == d
    # The certificate served is ours.
    ctx = ssl.create_default_context(cafile=cert)
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as t:
            der = t.getpeercert(binary_form=True)
    with open(cert) as f:
        assert ssl.PEM_cert_to_DER_cert(f.read()) == der
    # Plain HTTP to the TLS port gets no HTTP success.
    with socket.create_connection(("127.0.0.1", s.port), timeout=5) as raw:
        raw.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            ans = raw.recv(1000)
        except (socket.timeout, ConnectionResetError):
            ans = b""
    assert not ans.startswith(b"HTTP/1.1 200"), ans
    assert s.registry.get("/v2/").status == 200


def test_tls_with_auth(server_factory, tmp_path):
    cert, key = self_signed(tmp_path)
    s = server_factory(tls=(cert, key), auth=(htpasswd_file(tmp_path), USER, PASSWORD))
    r = Registry("127.0.0.1", s.port, tls_ca=cert).get("/v2/")
    assert_error(r, 401, "UNAUTHORIZED")
    assert s.registry.get("/v2/").status == 200
