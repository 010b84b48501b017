"""A kura plain registry (or, for a sanity check, CNCF distribution) as a child process, for the
black-box suites (tests/http, tests/adversarial).

Environment:
  KURA_BIN   path of the kura binary (default: build/kura under the repository root)
  KURA_PEER  set to "distribution" to run the suite against /usr/bin/docker-registry instead;
             distribution deviates from kura in places, so that is only a sanity check.
  KURA_TEST_STORES  the shared stores every server uses instead of SQLite and files under its
             data directory: a file of `export NAME=value` lines (the cluster.env that
             scripts/cluster.sh up writes will do) with KURA_S3_ENV (an s3.env of
             scripts/ceph-up.sh: blobs in S3, under a prefix of each server's own) and/or
             KURA_POSTGRES (a libpq URL, postgresql://USER@HOST:PORT/DB, of a server on which each
             kura server gets a database of its own: CREATE DATABASE, then `kura db migrate`).
             A server keeps its prefix and database across restarts; they are not dropped
             afterwards (the stores are throwaway ones).
"""

import os
import re
import subprocess
import urllib.parse

import pytest

from helpers import Registry, ServerProcess, free_port

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
KURA_BIN = os.environ.get("KURA_BIN", os.path.join(REPO_ROOT, "build", "kura"))
PEER = os.environ.get("KURA_PEER", "")
PEER_BIN = os.environ.get("KURA_PEER_BIN", "/usr/bin/docker-registry")


def read_env_file(path):
    """The NAME=value pairs of a file of `export NAME=value` lines."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("export "):
                line = line[7:]
            if not line or line.startswith("#") or "=" not in line:
                continue
            name, value = line.split("=", 1)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            out[name] = value
    return out


STORES = read_env_file(os.environ["KURA_TEST_STORES"]) if os.environ.get("KURA_TEST_STORES") else {}
S3_ENV = read_env_file(STORES["KURA_S3_ENV"]) if STORES.get("KURA_S3_ENV") else {}
POSTGRES = STORES.get("KURA_POSTGRES", "")


def database_url(url, name):
    """`url` (a postgresql:// URL) naming database `name` instead of its own."""
    u = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((u.scheme, u.netloc, "/" + name, u.query, u.fragment))


def create_database(name):
    """A new, migrated database `name` on the PostgreSQL server of KURA_POSTGRES; its URL."""
    assert re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name), name
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", POSTGRES,
                        "-c", 'CREATE DATABASE "%s"' % name],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.fail("CREATE DATABASE %s on %s failed:\n%s%s" % (name, POSTGRES, r.stdout, r.stderr))
    url = database_url(POSTGRES, name)
    r = subprocess.run([KURA_BIN, "db", "migrate", "--database", url], capture_output=True,
                       text=True, timeout=120)
    if r.returncode != 0:
        pytest.fail("kura db migrate --database %s failed:\n%s%s" % (url, r.stdout, r.stderr))
    return url


def store_name(workdir, port):
    """A name for one server's share of the stores (S3 prefix, database), unlike any other
    server's, of this run or of an earlier one on the same stores."""
    base = re.sub(r"[^a-z0-9]+", "_", os.path.basename(str(workdir)).lower()).strip("_")
    return "t_%s_%d_%s" % (base[:30], port, os.urandom(3).hex())


def shared_store_config(name, database=None):
    """The kura configuration lines that put a server's data in the shared stores of
    KURA_TEST_STORES, `name` telling this server's data from every other's, `database` the URL
    of its own database (create_database); [] without shared stores."""
    lines = []
    if database:
        lines += ["metadata:", "  postgres: \"%s\"" % database]
    if S3_ENV:
        lines += ["blobs:", "  s3:",
                  "    endpoint: %s" % S3_ENV["AWS_ENDPOINT_URL"],
                  "    bucket: kura-http-tests",
                  "    prefix: %s/" % name,
                  "    region: %s" % S3_ENV.get("AWS_REGION", "us-east-1"),
                  "    access_key: %s" % S3_ENV["AWS_ACCESS_KEY_ID"],
                  "    secret_key: %s" % S3_ENV["AWS_SECRET_ACCESS_KEY"]]
    return lines



def is_peer():
    return PEER == "distribution"


class Server(ServerProcess):
    """One registry process on 127.0.0.1:<port> with its data directory.

    `auth` is (htpasswd_path, user, password) or None; `tls` is (cert, key) or None.
    The same data directory and port are reused by restart(), so tests can check durability.
    """

    def __init__(self, workdir, auth=None, tls=None, extra_config=None):
        super().__init__(workdir)
        self.data = os.path.join(self.workdir, "data")
        os.makedirs(self.data, exist_ok=True)
        self.port = free_port()
        self.auth = auth
        self.tls = tls
        self.extra_config = extra_config
        self.config_path = None
        self.store_name = store_name(self.workdir, self.port)
        self.database = None  # its database's URL, made at the first start with KURA_POSTGRES
        self.registry = Registry("127.0.0.1", self.port,
                                 tls_ca=tls[0] if tls else None,
                                 auth=(auth[1], auth[2]) if auth else None)

    # ------------------------------------------------------------------ config

    def _write_kura_config(self):
        if POSTGRES and not self.database:
            self.database = create_database(self.store_name)
        shared = shared_store_config(self.store_name, self.database)
        if not (self.auth or self.tls or self.extra_config or shared):
            return None
        lines = list(shared)
        if self.auth:
            lines += ["auth:", "  htpasswd: %s" % self.auth[0], "  realm: kura"]
        if self.tls:
            lines += ["tls:", "  certificate: %s" % self.tls[0], "  key: %s" % self.tls[1]]
        if self.extra_config:
            lines.append(self.extra_config)
        path = os.path.join(self.workdir, "kura.yaml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def _write_peer_config(self):
        lines = ["version: 0.1", "log:", "  level: warn", "storage:", "  filesystem:",
                 "    rootdirectory: %s" % self.data, "  delete:", "    enabled: true",
                 "http:", "  addr: 127.0.0.1:%d" % self.port]
        if self.tls:
            lines += ["  tls:", "    certificate: %s" % self.tls[0], "    key: %s" % self.tls[1]]
        if self.auth:
            lines += ["auth:", "  htpasswd:", "    realm: kura", "    path: %s" % self.auth[0]]
        path = os.path.join(self.workdir, "distribution.yml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def command(self):
        if is_peer():
            return [PEER_BIN, "serve", self._write_peer_config()]
        if not os.path.exists(KURA_BIN):
            pytest.fail("kura binary not found at %s (build it or set KURA_BIN)" % KURA_BIN)
        cmd = [KURA_BIN, "serve", "--listen", "127.0.0.1:%d" % self.port, "--data", self.data]
        self.config_path = self._write_kura_config()
        if self.config_path:
            cmd += ["--config", self.config_path]
        return cmd

    # ------------------------------------------------------------------ lifecycle

    def start(self, cmd=None):
        env = dict(os.environ)
        env.pop("REGISTRY_AUTH_FILE", None)  # distribution reads REGISTRY_* as config overrides
        return self.launch(cmd or self.command(), env=env)

    def answers(self):
        return self.registry.alive()

    def restart(self, crash=False):
        if crash:
            self.kill()
        else:
            self.stop()
        return self.start()


def assert_consistent(data_dir, config_path=None):
    """`kura fsck` on a stopped server's data: tags, manifests, blobs and uploads still hold
    together, and no row outlived its instance. Nothing to check when the server stored nothing
    (or is the peer, which has no fsck)."""
    in_postgres = bool(config_path and STORES.get("KURA_POSTGRES"))
    if is_peer() or not (in_postgres or os.path.exists(os.path.join(data_dir, "kura.db"))):
        return
    cmd = [KURA_BIN, "fsck", "--data", data_dir]
    if config_path:
        cmd += ["--config", config_path]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, "kura fsck found problems in %s:\n%s%s" % (data_dir, r.stdout,
                                                                          r.stderr)


# ----------------------------------------------------------------------------- fixtures
# Imported by the conftest.py of each suite that runs plain registries (tests/http,
# tests/adversarial). Every server's data is checked with `kura fsck` when it stops.

@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A plain-HTTP server shared by the tests of one module."""
    s = Server(tmp_path_factory.mktemp("kura"))
    s.start()
    yield s
    s.stop()
    assert_consistent(s.data, s.config_path)


@pytest.fixture(scope="module")
def reg(server):
    return server.registry


@pytest.fixture
def server_factory(tmp_path_factory):
    """Start servers of one's own (auth, TLS, a config, restart, crash, a small disk); all are
    stopped at the end."""
    made = []

    def make(start=True, **kw):
        s = Server(tmp_path_factory.mktemp("kura-own"), **kw)
        made.append(s)
        if start:
            s.start()
        return s

    yield make
    for s in made:
        try:
            s.stop()
        except Exception:
            pass
    for s in made:  # crashes and restarts included: what is stored must hold together
        assert_consistent(s.data, s.config_path)
