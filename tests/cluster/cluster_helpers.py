"""A cluster of scripts/cluster.sh (PostgreSQL, Ceph RGW, kura nodes, haproxy), driven from the
tests of tests/cluster: its addresses from DIR/cluster.env, its nodes killed and started again,
PostgreSQL and the S3 gateway stopped and started, haproxy's view of the nodes (stats socket).

Clients reach haproxy on CLUSTER_REGISTRY and each node directly on NODEn_REGISTRY from
127.0.0.1: the nodes trust PROXY headers only from haproxy's source address (CLUSTER_LB_SOURCE),
so a direct client sends none.
"""

import gzip
import hashlib
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import tarfile
import time

from helpers import (OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, Registry, canon, descriptor,
                     digest_of, push_blob, push_manifest, unique)
from instances_helpers import AdminClient
from plain_server import read_env_file

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CLUSTER_SH = os.path.join(REPO_ROOT, "scripts", "cluster.sh")
SCRIPT_TIMEOUT = 120


def address(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


class Node:
    def __init__(self, env, n):
        self.n = n
        self.name = "node%d" % n
        self.registry = Registry(*address(env["NODE%d_REGISTRY" % n]))
        self.health = address(env["NODE%d_HEALTH" % n])
        self.admin = AdminClient(address(env["NODE%d_ADMIN" % n])[1], env["CLUSTER_ADMIN_TOKEN"])
        self.endpoint_port = address(env["NODE%d_ENDPOINT" % n])[1]
        self.config = env["NODE%d_CONFIG" % n]
        self.data = env["NODE%d_DATA" % n]
        self.log = env["NODE%d_LOG" % n]

    def readyz(self, timeout=5):
        """(status, body) of GET /readyz, or (None, reason) when it does not answer."""
        c = http.client.HTTPConnection(*self.health, timeout=timeout)
        try:
            c.request("GET", "/readyz")
            r = c.getresponse()
            return r.status, r.read().decode(errors="replace")
        except (OSError, http.client.HTTPException) as e:
            return None, repr(e)
        finally:
            c.close()

    def log_text(self):
        with open(self.log, "rb") as f:
            return f.read().decode(errors="replace")


class Cluster:
    def __init__(self, env_path):
        self.env_path = env_path
        self.env = read_env_file(env_path)
        self.dir = self.env["CLUSTER_DIR"]
        self.kura_bin = self.env["KURA_BIN"]
        self.registry = Registry(*address(self.env["CLUSTER_REGISTRY"]))
        self.nodes = [Node(self.env, n) for n in range(1, int(self.env["CLUSTER_NODES"]) + 1)]
        self.s3_env = read_env_file(self.env["KURA_S3_ENV"])
        self.up_seconds = None
        self.timings = {}  # name: seconds (or text), printed at the end of the session
        # What the tests pushed and were told was stored: (repo, tag, manifest, digest, blobs)
        # with blobs {digest: bytes}. Re-read after every fault.
        self.committed = []

    # ------------------------------------------------------------------ scripts/cluster.sh

    def script(self, *args, check=True):
        r = subprocess.run([CLUSTER_SH, args[0], self.dir] + list(args[1:]), capture_output=True,
                           text=True, timeout=SCRIPT_TIMEOUT)
        if check:
            assert r.returncode == 0, "cluster.sh %s: exit %d\n%s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr)
        return r

    def kill_node(self, node):
        self.script("kill-node", str(node.n))

    def start_node(self, node):
        self.script("start-node", str(node.n))

    # ------------------------------------------------------------------ haproxy

    def haproxy(self, command):
        """The answer of haproxy's stats socket to one command."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect(self.env["CLUSTER_HAPROXY_SOCKET"])
            s.sendall(command.encode() + b"\n")
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
            return out.decode(errors="replace")
        finally:
            s.close()

    def server_states(self):
        """{server name: srv_op_state} of backend kura: 2 UP, 0 DOWN (backups included)."""
        states = {}
        for line in self.haproxy("show servers state kura").splitlines():
            f = line.split()
            if len(f) > 5 and f[0].isdigit() and f[1] == "kura":
                states[f[3]] = int(f[5])
        return states

    def wait_states(self, want, names, timeout):
        """Waits until every server of `names` has state `want`; the seconds it took, or None."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            states = self.server_states()
            if all(states.get(n) == want for n in names):
                return time.monotonic() - t0
            time.sleep(0.05)
        return None

    def serving_server(self, client_port):
        """The server (node name) haproxy connected the client's connection from `client_port`
        to, from `show sess`; None if it has none (yet)."""
        for line in self.haproxy("show sess").splitlines():
            if " src=127.0.0.1:%d " % client_port in line + " ":
                for field in line.split():
                    if field.startswith("srv="):
                        return field[4:]
        return None

    def node_named(self, name):
        return next(n for n in self.nodes if n.name == name)

    # ------------------------------------------------------------------ PostgreSQL

    def pg_stop(self):
        r = subprocess.run([os.path.join(REPO_ROOT, "scripts", "pg-down.sh"),
                            self.env["CLUSTER_PG_DIR"]], capture_output=True, text=True,
                           timeout=SCRIPT_TIMEOUT)
        assert r.returncode == 0, r.stdout + r.stderr

    def pg_start(self):
        r = subprocess.run([os.path.join(REPO_ROOT, "scripts", "pg-up.sh"),
                            self.env["CLUSTER_PG_DIR"], self.env["CLUSTER_PG_PORT"]],
                           capture_output=True, text=True, timeout=SCRIPT_TIMEOUT)
        assert r.returncode == 0, r.stdout + r.stderr

    # ------------------------------------------------------------------ the S3 gateway

    def rgw_pid_file(self):
        return os.path.join(self.env["CLUSTER_CEPH_DIR"], "run", "client.rgw.a.pid")

    def rgw_pid(self):
        try:
            pid = int(open(self.rgw_pid_file()).read().strip())
            comm = open("/proc/%d/comm" % pid).read().strip()
        except (OSError, ValueError):
            return None
        return pid if comm == "radosgw" else None

    def rgw_kill(self):
        """SIGKILL radosgw (the monitor and the OSD go on); returns once it is gone."""
        pid = self.rgw_pid()
        assert pid, "radosgw is not running"
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while os.path.exists("/proc/%d" % pid) and time.monotonic() < deadline:
            try:
                if "\nState:\tZ" in open("/proc/%d/status" % pid).read():
                    break
            except OSError:
                break
            time.sleep(0.05)

    def rgw_start(self, timeout=60):
        """Starts radosgw again (it daemonizes) and waits until it answers; the seconds taken."""
        t0 = time.monotonic()
        env = dict(os.environ, CEPH_CONF=self.s3_env["CEPH_CONF"])
        log = os.path.join(self.env["CLUSTER_CEPH_DIR"], "log", "radosgw-restart.log")
        with open(log, "ab") as out:
            subprocess.run(["radosgw", "-n", "client.rgw.a"], env=env, stdin=subprocess.DEVNULL,
                           stdout=out, stderr=subprocess.STDOUT, timeout=60, check=True)
        host, port = address(self.s3_env["AWS_ENDPOINT_URL"].split("//", 1)[1])
        while time.monotonic() - t0 < timeout:
            try:
                c = http.client.HTTPConnection(host, port, timeout=2)
                c.request("GET", "/")
                c.getresponse().read()
                c.close()
                return time.monotonic() - t0
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
        raise AssertionError("radosgw did not answer within %d s after its restart" % timeout)

    # ------------------------------------------------------------------ content

    def wait_all_ready(self, timeout=30):
        """Every node's /readyz 200 and haproxy sees every node UP; the seconds it took."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if all(n.readyz()[0] == 200 for n in self.nodes):
                break
            time.sleep(0.1)
        left = max(0.0, timeout - (time.monotonic() - t0))
        assert self.wait_states(2, [n.name for n in self.nodes], left) is not None, \
            "haproxy does not see every node UP: %r" % self.server_states()
        return time.monotonic() - t0

    def push_small_image(self, reg, repo=None, tag="1"):
        """A config, one small layer and a manifest through `reg`; recorded as committed."""
        repo = repo or "cluster/" + unique("img")
        blobs = {}
        cfg = json.dumps({"architecture": "amd64", "os": "linux", "nonce": unique()}).encode()
        layer = os.urandom(2048)
        for b in (cfg, layer):
            blobs[push_blob(reg, repo, b)] = b
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
               "config": descriptor(OCI_CONFIG, cfg), "layers": [descriptor(OCI_LAYER, layer)]}
        body = canon(doc)
        r = push_manifest(reg, repo, tag, body, OCI_MANIFEST)
        assert r.status == 201, r
        self.committed.append((repo, tag, body, digest_of(body), blobs))
        return repo

    def check_committed(self, registries):
        """Every committed manifest and blob reads back, byte for byte, from each registry."""
        for reg in registries:
            for repo, tag, body, digest, blobs in self.committed:
                r = reg.get("/v2/%s/manifests/%s" % (repo, tag),
                            headers={"Accept": OCI_MANIFEST})
                assert r.status == 200 and r.body == body, "%s:%s on %s:%d: %r" % (
                    repo, tag, reg.host, reg.port, r)
                assert r.header("Docker-Content-Digest") == digest, r
                for d, data in blobs.items():
                    r = reg.get("/v2/%s/blobs/%s" % (repo, d))
                    assert r.status == 200 and r.body == data, "blob %s of %s on %s:%d: %r" % (
                        d, repo, reg.host, reg.port, r)


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def oci_layout(path, layer_size, tag="1"):
    """An OCI image layout at `path` with one image: a gzip tar layer of `layer_size` random
    bytes and its config. Returns (manifest bytes, {digest: bytes} of config and layer)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        payload = os.urandom(layer_size)
        info = tarfile.TarInfo("data.bin")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    layer = gzip.compress(raw.getvalue(), compresslevel=1, mtime=0)
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers",
                                 "diff_ids": ["sha256:" + sha256_hex(raw.getvalue())]},
                      "config": {}}).encode()
    manifest = canon({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                      "config": descriptor(OCI_CONFIG, cfg),
                      "layers": [descriptor(OCI_LAYER, layer)]})
    blobs_dir = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs_dir, exist_ok=True)
    for data in (layer, cfg, manifest):
        with open(os.path.join(blobs_dir, sha256_hex(data)), "wb") as f:
            f.write(data)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [dict(
            descriptor(OCI_MANIFEST, manifest),
            annotations={"org.opencontainers.image.ref.name": tag})]}, f)
    return manifest, {digest_of(cfg): cfg, digest_of(layer): layer}

