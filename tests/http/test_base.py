"""GET /v2/, connection handling, configuration file."""

import os

import pytest

from conftest import free_port, is_peer
from helpers import Registry, assert_error, digest_of, push_blob, unique


def test_v2_base_answers_with_api_version(reg):
    r = reg.get("/v2/")
    assert r.status == 200, r
    assert r.header("Docker-Distribution-API-Version") == "registry/2.0", r


def test_v2_base_without_trailing_slash(reg):
    r = reg.get("/v2")
    # Clients probe /v2/; /v2 must not be an error other than a redirect or the same answer.
    assert r.status in (200, 301, 307, 308), r


def test_head_v2_base(reg):
    r = reg.head("/v2/")
    assert r.status == 200, r
    assert r.body == b"", r


def test_keep_alive_serves_several_requests_on_one_connection(reg):
    repo = unique("ka")
    data = os.urandom(3000)
    d = push_blob(reg, repo, data)
    conn = reg.connection()
    try:
        # HEAD first: if the server wrongly sent a body, the next response would be garbage.
        r1 = reg.head("/v2/%s/blobs/%s" % (repo, d), conn=conn)
        r2 = reg.get("/v2/%s/blobs/%s" % (repo, d), conn=conn)
        r3 = reg.get("/v2/", conn=conn)
        r4 = reg.get("/v2/%s/blobs/%s" % (repo, digest_of(b"nope" + os.urandom(8))), conn=conn)
        r5 = reg.get("/v2/", conn=conn)
    finally:
        conn.close()
    assert r1.status == 200 and r1.body == b"", r1
    assert r2.status == 200 and r2.body == data, r2
    assert r3.status == 200, r3
    assert r4.status == 404, r4
    assert r5.status == 200, r5


def test_unknown_route_is_404(reg):
    r = reg.get("/v2/%s/nosuchthing/x" % unique("r"))
    assert r.status == 404, r


def test_unknown_method_is_unsupported(reg):
    r = reg.request("PROPFIND", "/v2/")
    assert r.status in (404, 405), r
    assert_error(r, r.status, "UNSUPPORTED")
    assert reg.get("/v2/").status == 200


def test_unknown_method_on_a_repository_route(reg):
    r = reg.request("PROPFIND", "/v2/%s/tags/list" % unique("m"))
    assert r.status in (404, 405), r
    assert_error(r, r.status, "UNSUPPORTED")


@pytest.mark.skipif(is_peer(), reason="kura configuration file")
def test_config_file_listen_and_data(tmp_path):
    from conftest import KURA_BIN, Server
    port = free_port()
    data = tmp_path / "var"
    cfg = tmp_path / "kura.yaml"
    cfg.write_text("listen: 127.0.0.1:%d\ndata: %s\n" % (port, data))
    s = Server(tmp_path)
    s.port = port
    s.registry = Registry("127.0.0.1", port)
    s.start(cmd=[KURA_BIN, "serve", "--config", str(cfg)])
    try:
        repo = unique("cfg")
        push_blob(s.registry, repo, b"config-file" + os.urandom(8))
        assert data.is_dir(), "data directory from the config file was not used"
        assert any(data.iterdir()), "nothing written under the configured data directory"
    finally:
        s.stop()


@pytest.mark.skipif(is_peer(), reason="kura configuration file")
def test_flags_override_config_file(tmp_path):
    from conftest import KURA_BIN, Server
    cfg_port, flag_port = free_port(), free_port()
    cfg_data, flag_data = tmp_path / "cfgdata", tmp_path / "flagdata"
    cfg = tmp_path / "kura.yaml"
    cfg.write_text("listen: 127.0.0.1:%d\ndata: %s\n" % (cfg_port, cfg_data))
    s = Server(tmp_path)
    s.port = flag_port
    s.registry = Registry("127.0.0.1", flag_port)
    s.start(cmd=[KURA_BIN, "serve", "--config", str(cfg), "--listen",
                 "127.0.0.1:%d" % flag_port, "--data", str(flag_data)])
    try:
        push_blob(s.registry, unique("flag"), b"flags" + os.urandom(8))
        assert not Registry("127.0.0.1", cfg_port).alive(), "config listen address used despite --listen"
        assert flag_data.is_dir() and any(flag_data.iterdir()), "--data was not used"
        assert not cfg_data.exists() or not any(cfg_data.iterdir()), "config data dir used despite --data"
    finally:
        s.stop()
