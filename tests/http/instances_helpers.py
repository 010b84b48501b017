"""Helpers for the live tests of instances and endpoints (stdlib only).

- a tiny PROXY protocol v1/v2 sender (HAProxy's proxy-protocol.txt; the same bytes as
  server::BuildProxyV1/BuildProxyV2), with the cloud TLVs that name the arrival VPC;
- EndpointClient: a helpers.Registry that talks to one endpoint listener under an instance
  hostname, from a chosen loopback source address and optionally through a PROXY header;
- AdminClient: the admin REST API; InstanceServer: `kura serve` with endpoint listeners, its
  audit log and the `kura` CLI verbs;
- registry tokens: fetching them, and forging JWTs (HS256) for the negative cases.
"""

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import time
import urllib.parse

import pytest

from helpers import READY_TIMEOUT, STOP_TIMEOUT, Registry, ServerProcess, free_port  # noqa: F401

DOMAIN = "kura.test"
REGION_A = "ap-northeast-1"    # Tokyo: account A, the instances
REGION_B = "ap-southeast-1"    # Singapore: account B
TOKEN_A = "token-of-account-A-0123456789"
TOKEN_B = "token-of-account-B-9876543210"

# Hosts of the report. On loopback, ECS-A and ECS-B are distinct source addresses; through a
# PROXY sender they are their public IPs.
ECS_A_LOCAL, ECS_B_LOCAL = "127.0.0.11", "127.0.0.12"
ECS_A_PUBLIC, ECS_B_PUBLIC = "198.51.100.10", "203.0.113.20"
PROXY_SENDER = "127.0.0.9"          # trusted by the listeners that speak PROXY protocol

CLI_TIMEOUT = 30.0



def internet_host(instance, region=REGION_A):
    return "%s-registry.%s.%s" % (instance, region, DOMAIN)


def vpc_host(instance, region=REGION_A):
    return "%s-registry-vpc.%s.%s" % (instance, region, DOMAIN)


# ----------------------------------------------------------------------------- PROXY protocol

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
TLV_ALIBABA = 0xE1
TLV_AWS = 0xEA


def proxy_v1(src, dst="192.0.2.1", sport=40000, dport=443):
    """'PROXY TCP4|TCP6 src dst sport dport\\r\\n' (or 'PROXY UNKNOWN\\r\\n' when src is None)."""
    if src is None:
        return b"PROXY UNKNOWN\r\n"
    fam = "TCP6" if ipaddress.ip_address(src).version == 6 else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)).encode()


def vpc_tlv(vpc_id, tlv_type=TLV_ALIBABA):
    """The TLV a cloud relay sends to name the arrival network: type, then 0x01 + id."""
    return (tlv_type, b"\x01" + vpc_id.encode())


def proxy_v2(src, dst="192.0.2.1", sport=40000, dport=443, tlvs=(), command=0x1):
    """A v2 header: PROXY (command 1) over TCP, or LOCAL (command 0, AF_UNSPEC, no payload)."""
    if command == 0:
        return V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0)
    s, d = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    fam = 0x11 if s.version == 4 else 0x21  # AF_INET/AF_INET6, STREAM
    payload = s.packed + d.packed + struct.pack("!HH", sport, dport)
    for t, v in tlvs:
        payload += struct.pack("!BH", t, len(v)) + v
    return V2_SIGNATURE + bytes([0x20 | command, fam]) + struct.pack("!H", len(payload)) + payload


class ProxiedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection that writes a PROXY header first, from a chosen source address."""

    def __init__(self, host, port, proxy_header, source, timeout):
        super().__init__(host, port, timeout=timeout, source_address=(source, 0))
        self.proxy_header = proxy_header

    def connect(self):
        super().connect()
        self.sock.sendall(self.proxy_header)


# ----------------------------------------------------------------------------- endpoint clients

class EndpointClient(Registry):
    """A client of one endpoint listener (127.0.0.1:port) under one Host name.

    source: the loopback address to connect from (default 127.0.0.1, or PROXY_SENDER with proxy);
    proxy:  PROXY header bytes written at the start of every connection;
    auth:   (user, password) for Basic; bearer: a registry token.
    """

    def __init__(self, port, hostname, source=None, proxy=None, auth=None, bearer=None):
        super().__init__("127.0.0.1", port, auth=auth)
        self.hostname = hostname
        self.source = source or (PROXY_SENDER if proxy else "127.0.0.1")
        self.proxy = proxy
        self.bearer = bearer

    @property
    def host_header(self):
        return "%s:%d" % (self.hostname, self.port)

    @property
    def service(self):
        return self.hostname

    def connection(self, timeout=30.0):
        if self.proxy is not None:
            return ProxiedHTTPConnection(self.host, self.port, self.proxy, self.source, timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout,
                                          source_address=(self.source, 0))

    def default_headers(self):
        h = super().default_headers()
        h["Host"] = self.host_header
        if self.bearer:
            h["Authorization"] = "Bearer " + self.bearer
        return h

    def but(self, **kw):
        """A copy with some attributes changed (auth=None for anonymous, bearer=..., ...)."""
        args = dict(port=self.port, hostname=self.hostname, source=self.source, proxy=self.proxy,
                    auth=self.auth, bearer=self.bearer)
        args.update(kw)
        return EndpointClient(**args)

    def token(self, *scopes, **kw):
        """GET /token?service=...&scope=... with this client's credentials."""
        q = [("service", self.service)] + [("scope", s) for s in scopes]
        return self.get("/token?" + urllib.parse.urlencode(q), **kw)


def denied_message(resp):
    """The message of a 403 DENIED answer (asserting it is one)."""
    assert resp.status == 403, "expected 403 DENIED, got %r" % resp
    doc = resp.json()
    assert [e["code"] for e in doc["errors"]] == ["DENIED"], resp
    return doc["errors"][0]["message"]


def error_message(resp, code):
    doc = resp.json()
    for e in doc.get("errors", []):
        if e.get("code") == code:
            return e.get("message", "")
    raise AssertionError("no %s error in %r" % (code, resp))


def parse_challenge(value):
    """'Bearer realm="x",service="y",...' -> ("Bearer", {"realm": "x", ...})."""
    scheme, _, rest = value.partition(" ")
    params = {}
    while rest:
        key, _, rest = rest.partition("=")
        assert rest.startswith('"'), value
        end = 1
        val = ""
        while rest[end] != '"':
            if rest[end] == "\\":
                end += 1
            val += rest[end]
            end += 1
        params[key.strip()] = val
        rest = rest[end + 1:].lstrip(",").strip()
    return scheme, params


def raw_proxy_exchange(port, data, source=PROXY_SENDER, timeout=5.0):
    """Send raw bytes from `source`; return (answer bytes, closed_by_server)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    out, closed = b"", False
    try:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            out += chunk
    finally:
        s.close()
    return out, closed


# ----------------------------------------------------------------------------- tokens (JWT)

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_claims(token):
    return json.loads(b64url_decode(token.split(".")[1]))


def forge_jwt(claims, key, alg="HS256"):
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64url(json.dumps(claims).encode())
    signing_input = (header + "." + payload).encode()
    if alg == "none":
        return header + "." + payload + "."
    sig = hmac.new(key, signing_input, hashlib.sha256).digest()
    return header + "." + payload + "." + b64url(sig)


# ----------------------------------------------------------------------------- admin API

class AdminClient:
    def __init__(self, port, token):
        self.port = port
        self.token = token

    def call(self, method, path, body=None, raw=None, token=None, timeout=30.0):
        """Returns (status, decoded JSON or None, raw body)."""
        h = {}
        tok = self.token if token is None else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            h["Content-Type"] = "application/json"
            h["Content-Length"] = str(len(data))
        elif method in ("POST", "PUT"):
            h["Content-Length"] = "0"
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            out = r.read()
        finally:
            c.close()
        try:
            doc = json.loads(out.decode()) if out else None
        except ValueError:
            doc = None
        return r.status, doc, out

    def ok(self, method, path, body=None, want=(200, 201)):
        status, doc, raw = self.call(method, path, body)
        assert status in want, "%s %s %r -> %d %r" % (method, path, body, status, raw)
        return doc

    # The endpoint states of the tables.
    def internet(self, instance, enabled, entries=None):
        """Set the Internet endpoint: enabled or not, and (if given) the whole allowlist."""
        if entries is not None:
            self.ok("PUT", "/api/v1/instances/%s/internet/allowlist" % instance,
                    {"entries": [{"cidr": c, "description": d} for c, d in entries]})
        return self.ok("POST", "/api/v1/instances/%s/internet/%s"
                       % (instance, "enable" if enabled else "disable"))

    def bindings(self, instance):
        doc = self.ok("GET", "/api/v1/instances/%s" % instance)
        return {b["network"]: b for b in doc["vpc"]["bindings"]}

    def ensure_bound(self, instance, network, subnet=None):
        if network not in self.bindings(instance):
            body = {"network": network}
            if subnet:
                body["subnet"] = subnet
            self.ok("POST", "/api/v1/instances/%s/vpc/bindings" % instance, body)

    def ensure_unbound(self, instance, network):
        if network in self.bindings(instance):
            self.ok("DELETE", "/api/v1/instances/%s/vpc/bindings/%s" % (instance, network))


# ----------------------------------------------------------------------------- the server

class InstanceServer(ServerProcess):
    """`kura serve` with endpoint listeners on 127.0.0.1, an admin listener, accounts A and B and
    an audit file; no plain registry unless `plain` (then `self.plain` is a Registry client of it,
    without auth). Ports and data survive restart().

    listeners: {name: dict(endpoint=internet|vpc, network=..., network_account=..., proxy=[CIDR...])}
    (network_account: the account owning `network` and the bare network ids a PROXY relay names)
    """

    def __init__(self, kura_bin, workdir, listeners, token_ttl=None, threads=2, plain=False):
        super().__init__(workdir)
        self.kura_bin = kura_bin
        self.data = os.path.join(self.workdir, "data")
        os.makedirs(self.data, exist_ok=True)
        self.audit_path = os.path.join(self.workdir, "audit.log")
        self.config_path = os.path.join(self.workdir, "kura.yaml")
        self.admin_port = free_port()
        self.listeners = {}
        for name, spec in listeners.items():
            self.listeners[name] = dict(spec, port=free_port())
        self.token_ttl = token_ttl
        self.threads = threads
        self.admin = AdminClient(self.admin_port, TOKEN_A)
        self.admin_b = AdminClient(self.admin_port, TOKEN_B)
        self.plain_port = free_port() if plain else None
        self.plain = Registry("127.0.0.1", self.plain_port) if plain else None
        self._write_config()

    def port(self, listener):
        return self.listeners[listener]["port"]

    def _write_config(self):
        listen = '127.0.0.1:%d' % self.plain_port if self.plain_port else '""'
        lines = ["listen: %s" % listen, "data: %s" % self.data, "threads: %d" % self.threads,
                 "domain: %s" % DOMAIN, "log:", "  audit: %s" % self.audit_path]
        if self.token_ttl is not None:
            lines.append("token_ttl: %d" % self.token_ttl)
        lines.append("endpoints:")
        for spec in self.listeners.values():
            lines += ["  - listen: 127.0.0.1:%d" % spec["port"],
                      "    endpoint: %s" % spec["endpoint"]]
            if spec.get("network"):
                lines.append("    network: %s" % spec["network"])
            if spec.get("network_account"):
                lines.append("    network_account: %s" % spec["network_account"])
            if spec.get("proxy"):
                lines.append("    proxy_protocol: [%s]" % ", ".join(spec["proxy"]))
        lines += ["admin:", "  listen: 127.0.0.1:%d" % self.admin_port, "  accounts:",
                  "    A: {token: %s}" % TOKEN_A, "    B: {token: %s}" % TOKEN_B]
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self):
        if not os.path.exists(self.kura_bin):
            pytest.fail("kura binary not found at %s (build it or set KURA_BIN)" % self.kura_bin)
        return self.launch([self.kura_bin, "serve", "--config", self.config_path])

    def answers(self):
        try:
            status, _, _ = self.admin.call("GET", "/api/v1/whoami", timeout=2)
        except (OSError, http.client.HTTPException):
            return False
        if status != 200:
            return False
        ports = [spec["port"] for spec in self.listeners.values()]
        if self.plain_port:
            ports.append(self.plain_port)
        for port in ports:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=2).close()
            except OSError:
                return False
        return True

    def restart(self):
        self.stop()
        return self.start()

    # -- clients

    def client(self, listener, hostname, **kw):
        return EndpointClient(self.port(listener), hostname, **kw)

    def cli(self, *args, token=TOKEN_A, stdin=None, json_output=False):
        """Runs `kura [--output json] ARGS` against the admin API; returns CompletedProcess."""
        cmd = [self.kura_bin, "--server", "http://127.0.0.1:%d" % self.admin_port]
        if token is not None:
            cmd += ["--token", token]
        if json_output:
            cmd += ["--output", "json"]
        cmd += list(args)
        env = {k: v for k, v in os.environ.items() if k not in ("KURA_SERVER", "KURA_TOKEN")}
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, env=env,
                              timeout=CLI_TIMEOUT)

    def cli_json(self, *args, token=TOKEN_A):
        r = self.cli(*args, token=token, json_output=True)
        assert r.returncode == 0, "kura %s: exit %d\n%s%s" % (" ".join(args), r.returncode,
                                                             r.stdout, r.stderr)
        return json.loads(r.stdout)

    # -- audit

    def audit_size(self):
        try:
            return os.path.getsize(self.audit_path)
        except FileNotFoundError:
            return 0

    def audit_settled_size(self):
        """The audit log's size once it has stopped growing (at most 2 s): the server writes the
        log from a thread of its own, a few milliseconds after each decision."""
        deadline = time.monotonic() + 2
        size = -1
        while time.monotonic() < deadline:
            time.sleep(0.03)
            now = self.audit_size()
            if now == size:
                break
            size = now
        return size

    def audit_mark(self):
        """Where the lines of the requests about to be sent will start."""
        return self.audit_settled_size()

    def audit_since(self, mark, expect=0):
        """The audit lines written after `mark`, decoded: once the log has settled and, when
        `expect` is given, once that many lines are there (at most 10 s: on a loaded machine
        the writer thread may lag more than a settling pause)."""
        deadline = time.monotonic() + 10
        while True:
            self.audit_settled_size()
            with open(self.audit_path, "rb") as f:
                f.seek(mark)
                data = f.read()
            lines = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
            if len(lines) >= expect or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)

    def token_secret(self, instance):
        """The HMAC key that signs registry tokens of `instance`: the server's master key
        (stored in the data directory) keyed with the instance's incarnation."""
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.data, "kura.db"), uri=True,
                             timeout=10)
        try:
            row = db.execute("SELECT value FROM secrets WHERE name = ?",
                             ("registry-token-hmac",)).fetchone()
            world = db.execute("SELECT body FROM world_rows WHERE kind = 'instance' AND key = ? "
                               "AND body IS NOT NULL", (instance,)).fetchone()
        finally:
            db.close()
        assert row, "no registry-token-hmac secret in kura.db"
        assert world, "no instance %s in the World saved in kura.db" % instance
        master = row[0].encode("latin-1") if isinstance(row[0], str) else bytes(row[0])
        incarnation = json.loads(world[0])["incarnation"]
        if not incarnation:
            return master
        return hmac.new(master, incarnation.encode(), hashlib.sha256).digest()
