"""Faults of a cluster: a node SIGKILLed in the middle of a big push, PostgreSQL restarted during
a loop of pushes, the S3 gateway killed and started again. After each: what was acknowledged is
still there, byte for byte, on every node, and pushes work again. Each test brings the cluster
back (all nodes ready and UP in haproxy) whether it passed or not.
"""

import http.client
import json
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from helpers import (OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, canon, descriptor, digest_of,
                     push_blob, push_manifest, start_upload, unique, with_query)

MIB = 1024 * 1024
BIG = 40 * MIB              # the PATCH a node dies in the middle of
SENT_BEFORE_KILL = 20 * MIB  # past the first 16 MiB S3 part
PIECE = 256 * 1024
DOWN_LIMIT = 1.5          # seconds from a node's death to haproxy's DOWN (checks: 250 ms, fall 2)


def oci_error(r):
    """The codes of an OCI error body (asserting it is one)."""
    ctype = (r.header("Content-Type") or "").split(";")[0].strip()
    assert ctype == "application/json", "error Content-Type: %r" % r
    doc = json.loads(r.body)
    assert isinstance(doc.get("errors"), list) and doc["errors"], r
    for e in doc["errors"]:
        assert "code" in e and "message" in e, r
    return [e["code"] for e in doc["errors"]]


def image_for(reg, repo, layer, tag):
    """Pushes a config for `layer` (already pushed) and a manifest tagged `tag`."""
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "nonce": unique()}).encode()
    push_blob(reg, repo, cfg)
    body = canon({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                  "config": descriptor(OCI_CONFIG, cfg), "layers": [descriptor(OCI_LAYER, layer)]})
    r = push_manifest(reg, repo, tag, body, OCI_MANIFEST)
    assert r.status == 201, r
    return body, {digest_of(cfg): cfg, digest_of(layer): layer}


def streamed_push(reg, repo, data):
    """What docker does: POST, one PATCH with every byte, PUT ?digest= with no body."""
    loc = start_upload(reg, repo)
    r = reg.patch(loc, data, headers={"Content-Type": "application/octet-stream"}, timeout=120)
    assert r.status == 202, r
    r = reg.put(with_query(r.header("Location"), digest=digest_of(data)), body=b"")
    assert r.status == 201, r


def watch_down(cluster, name, t0, out):
    """Polls haproxy every 50 ms (at most 5 s) until server `name` is DOWN; out[name] = seconds
    after t0."""
    while time.monotonic() - t0 < 5:
        if cluster.server_states().get(name) == 0:
            out[name] = time.monotonic() - t0
            return
        time.sleep(0.05)


def test_sigkill_of_the_node_serving_a_big_patch(cluster):
    """A 40 MiB PATCH streams through haproxy; once 20 MiB are in, the node serving it is
    SIGKILLed. The PATCH is not acknowledged; haproxy marks the node DOWN within 1.5 s; the client
    starts a new upload through haproxy at once and it completes (a connection to the dead node
    is redispatched); everything committed before is intact on every node; the node comes back."""
    reg = cluster.registry
    for _ in range(3):
        cluster.push_small_image(reg)
    data = os.urandom(BIG)
    repo = "cluster/" + unique("big")
    loc = start_upload(reg, repo)

    s = socket.create_connection((reg.host, reg.port), timeout=10)
    victim, answer, sent, down = None, b"", 0, {}
    try:
        s.sendall(("PATCH %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/octet-stream\r\n"
                   "Content-Length: %d\r\n\r\n" % (loc, reg.host, reg.port, len(data))).encode())
        while sent < SENT_BEFORE_KILL:
            s.sendall(data[sent:sent + PIECE])
            sent += PIECE
        deadline = time.monotonic() + 3
        while victim is None and time.monotonic() < deadline:
            victim = cluster.serving_server(s.getsockname()[1])
            time.sleep(0.02)
        assert victim and victim.startswith("node"), "haproxy shows no server for the PATCH"
        node = cluster.node_named(victim)
        t_kill = time.monotonic()
        cluster.kill_node(node)
        watcher = threading.Thread(target=watch_down, args=(cluster, victim, t_kill, down))
        watcher.start()
        try:
            while sent < len(data):
                s.sendall(data[sent:sent + PIECE])
                sent += PIECE
            answer = s.recv(4096)
        except OSError:
            pass
    finally:
        s.close()
    assert not answer.startswith(b"HTTP/1.1 2"), "the interrupted PATCH was acknowledged: %r" % (
        answer[:200],)

    try:
        # The client's retry: a new upload, through haproxy, at once.
        t_retry = time.monotonic()
        attempts, error = 0, None
        while attempts < 3:
            attempts += 1
            try:
                streamed_push(reg, repo, data)
                error = None
                break
            except (OSError, http.client.HTTPException, AssertionError) as e:
                error = e
                time.sleep(1)
        assert error is None, "the retried push failed %d times; last: %r" % (attempts, error)
        cluster.timings["killed node: retried 40 MiB push took (s)"] = round(
            time.monotonic() - t_retry, 2)
        cluster.timings["killed node: push attempts needed"] = attempts
        watcher.join(10)
        cluster.timings["killed node: DOWN in haproxy after (s)"] = down.get(victim)
        assert down.get(victim) is not None, "haproxy never marked %s DOWN" % victim
        assert down[victim] <= DOWN_LIMIT, "%s DOWN only after %.2f s" % (victim, down[victim])

        body, blobs = image_for(reg, repo, data, "1")
        cluster.committed.append((repo, "1", body, digest_of(body), blobs))
        alive = [n.registry for n in cluster.nodes if n.name != victim]
        cluster.check_committed([reg] + alive)
    finally:
        cluster.start_node(node)
        cluster.wait_all_ready()
    cluster.check_committed([node.registry])


def test_fsck_after_the_crash(cluster):
    """kura fsck --config nodeN.yaml on each node: the stores hold together after the kill."""
    tags = len(cluster.committed)
    for node in cluster.nodes:
        r = subprocess.run([cluster.kura_bin, "fsck", "--config", node.config, "--data", node.data],
                           capture_output=True, text=True, timeout=600)
        out = r.stdout + r.stderr
        assert r.returncode == 0, "kura fsck on %s: exit %d\n%s" % (node.name, r.returncode, out)
        checked = re.search(r"(\d+) tags, ", r.stdout)
        assert checked and int(checked.group(1)) >= tags, out


# ----------------------------------------------------------------------------- PostgreSQL

LOOP_SECONDS = 60         # the push loop's bounds
LOOP_ITERATIONS = 2000
OUTAGE_SECONDS = 3.0
RECOVERY_LIMIT = 15.0     # seconds from PostgreSQL's start to the first acknowledged push


class PushLoop:
    """Small pushes through haproxy in a thread, each request recorded with its times."""

    def __init__(self, reg):
        self.reg = reg
        self.repo = "cluster/" + unique("pgloop")
        self.events = []       # (sent, answered, method, path, Response or exception)
        self.acked_tags = {}   # tag: (manifest, digest, answered)
        self.acked_blobs = {}  # digest: bytes
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def request(self, method, path, body=None, headers=None):
        t0 = time.monotonic()
        try:
            r = self.reg.request(method, path, body=body, headers=headers, timeout=20)
        except (OSError, http.client.HTTPException) as e:
            self.events.append((t0, time.monotonic(), method, path, e))
            return None
        self.events.append((t0, time.monotonic(), method, path, r))
        return r

    def blob(self, data):
        r = self.request("POST", "/v2/%s/blobs/uploads/" % self.repo,
                         headers={"Content-Length": "0"})
        if r is None or r.status != 202:
            return False
        r = self.request("PUT", with_query(r.header("Location"), digest=digest_of(data)),
                         body=data, headers={"Content-Type": "application/octet-stream"})
        if r is None or r.status != 201:
            return False
        self.acked_blobs[digest_of(data)] = data
        return True

    def run(self):
        end = time.monotonic() + LOOP_SECONDS
        for i in range(LOOP_ITERATIONS):
            if self.stop.is_set() or time.monotonic() > end:
                return
            cfg = json.dumps({"architecture": "amd64", "os": "linux", "i": i}).encode()
            layer = os.urandom(512)
            if self.blob(cfg) and self.blob(layer):
                body = canon({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                              "config": descriptor(OCI_CONFIG, cfg),
                              "layers": [descriptor(OCI_LAYER, layer)]})
                r = self.request("PUT", "/v2/%s/manifests/i%d" % (self.repo, i), body=body,
                                 headers={"Content-Type": OCI_MANIFEST})
                if r is not None and r.status == 201:
                    self.acked_tags["i%d" % i] = (body, digest_of(body), time.monotonic())
            time.sleep(0.02)


def expected_success(method, r):
    return not isinstance(r, Exception) and r.status == {"POST": 202, "PUT": 201}[method]


def test_postgres_restart_during_pushes(cluster):
    """PostgreSQL stopped (fast shutdown) for 3 s and started again on the same data while small
    pushes run through haproxy: every failed request is a 503 with Retry-After and an OCI error
    body (no reset connection, no 500); every request of the outage fails; /readyz says 503 on
    every node; pushes are acknowledged again soon after; every acknowledged tag and blob reads
    back from haproxy and from each node."""
    loop = PushLoop(cluster.registry)
    loop.thread.start()
    ready_during = {}
    try:
        time.sleep(1.5)
        t_stopping = time.monotonic()
        cluster.pg_stop()
        t_down = time.monotonic()
        time.sleep(OUTAGE_SECONDS / 2)
        ready_during = {n.name: n.readyz()[0] for n in cluster.nodes}
        time.sleep(OUTAGE_SECONDS / 2)
        t_starting = time.monotonic()
        cluster.pg_start()
        t_up = time.monotonic()
        deadline = t_up + RECOVERY_LIMIT
        while time.monotonic() < deadline and not any(
                answered > t_up for _, _, answered in list(loop.acked_tags.values())):
            time.sleep(0.1)
        time.sleep(1.0)
    finally:
        loop.stop.set()
        loop.thread.join(60)
        if not os.path.exists(os.path.join(cluster.env["CLUSTER_PG_DIR"], "postmaster.pid")):
            cluster.pg_start()
    cluster.wait_all_ready()
    cluster.timings["postgres: stop took (s)"] = round(t_down - t_stopping, 2)
    cluster.timings["postgres: start took (s)"] = round(t_up - t_starting, 2)

    failures = [e for e in loop.events if not expected_success(e[2], e[4])]
    for sent, answered, method, path, r in failures:
        assert not isinstance(r, Exception), "%s %s at +%.2f s: no answer: %r" % (
            method, path, sent - t_stopping, r)
        assert r.status == 503, "%s %s at +%.2f s: %r" % (method, path, sent - t_stopping, r)
        assert re.fullmatch(r"\d+", r.header("Retry-After") or ""), "no Retry-After: %r" % r
        oci_error(r)
    outage = [e for e in loop.events if e[0] >= t_down and e[1] <= t_starting]
    assert outage, "no request was made while PostgreSQL was down"
    assert all(not expected_success(e[2], e[4]) for e in outage), \
        "a request succeeded while PostgreSQL was down: %r" % [
            e for e in outage if expected_success(e[2], e[4])][:3]
    assert ready_during and all(v == 503 for v in ready_during.values()), \
        "/readyz during the outage: %r" % ready_during
    after = sorted(answered for _, _, answered in loop.acked_tags.values() if answered > t_up)
    assert after, "no push acknowledged within %.0f s of PostgreSQL's start" % RECOVERY_LIMIT
    cluster.timings["postgres: first push acknowledged after start (s)"] = round(after[0] - t_up, 2)
    cluster.timings["postgres: requests / 503s in the loop"] = "%d / %d" % (len(loop.events),
                                                                           len(failures))

    for reg in [cluster.registry] + [n.registry for n in cluster.nodes]:
        for tag, (body, digest, _) in loop.acked_tags.items():
            r = reg.get("/v2/%s/manifests/%s" % (loop.repo, tag), headers={"Accept": OCI_MANIFEST})
            assert r.status == 200 and r.body == body, "acknowledged %s lost on %d: %r" % (
                tag, reg.port, r)
            assert r.header("Docker-Content-Digest") == digest, r
        for digest, data in loop.acked_blobs.items():
            r = reg.get("/v2/%s/blobs/%s" % (loop.repo, digest))
            assert r.status == 200 and r.body == data, "acknowledged blob %s lost on %d: %r" % (
                digest, reg.port, r)
    cluster.check_committed([cluster.registry])


# ----------------------------------------------------------------------------- the S3 gateway

S3_ANSWER_LIMIT = 20.0    # seconds a request may take to fail while the gateway is down


def timed(fn, *args, **kw):
    t0 = time.monotonic()
    r = fn(*args, **kw)
    return r, time.monotonic() - t0


def test_s3_gateway_outage(cluster):
    """radosgw SIGKILLed, then started again: meanwhile a blob GET and a blob PUT on each node
    fail with a 5xx OCI error within 20 s, each node's /readyz says 503, haproxy marks every node
    DOWN (and still forwards, to the unready nodes as backups: a GET through it is a 5xx too);
    afterwards every node is ready and UP again, pushes work and nothing is lost."""
    reg = cluster.registry
    cluster.push_small_image(reg)
    repo, _, _, _, blobs = cluster.committed[-1]
    digest = next(iter(blobs))
    names = [n.name for n in cluster.nodes]
    slowest, statuses = 0.0, set()
    try:
        t_kill = time.monotonic()
        cluster.rgw_kill()
        for node in cluster.nodes:
            deadline = time.monotonic() + 5
            while node.readyz()[0] != 503 and time.monotonic() < deadline:
                time.sleep(0.05)
            status, body = node.readyz()
            assert status == 503, "%s /readyz during the outage: %s %s" % (node.name, status, body)
        took = cluster.wait_states(0, names, 5)
        assert took is not None, "haproxy did not mark every node DOWN: %r" % (
            cluster.server_states(),)
        cluster.timings["s3 outage: every node DOWN in haproxy after (s)"] = round(
            time.monotonic() - t_kill, 2)

        for node in cluster.nodes:
            r, t = timed(node.registry.get, "/v2/%s/blobs/%s" % (repo, digest), timeout=60)
            slowest = max(slowest, t)
            statuses.add(r.status)
            assert 500 <= r.status < 600, "%s GET blob during the outage: %r" % (node.name, r)
            oci_error(r)
            assert t <= S3_ANSWER_LIMIT, "%s took %.1f s to fail a GET" % (node.name, t)

            data = os.urandom(4096)
            r, t = timed(node.registry.post, "/v2/%s/blobs/uploads/" % repo, timeout=60)
            slowest = max(slowest, t)
            if r.status == 202:
                r, t = timed(node.registry.put, with_query(r.header("Location"),
                                                           digest=digest_of(data)),
                             body=data, headers={"Content-Type": "application/octet-stream"},
                             timeout=60)
                slowest = max(slowest, t)
            statuses.add(r.status)
            assert 500 <= r.status < 600, "%s blob upload during the outage: %r" % (node.name, r)
            oci_error(r)
            assert t <= S3_ANSWER_LIMIT, "%s took %.1f s to fail an upload" % (node.name, t)

        r = reg.get("/v2/%s/blobs/%s" % (repo, digest), timeout=60)
        assert 500 <= r.status < 600, "GET through haproxy during the outage: %r" % r
        oci_error(r)
        cluster.timings["s3 outage: slowest failing request (s)"] = round(slowest, 2)
        cluster.timings["s3 outage: statuses of the failing requests"] = sorted(statuses)
    finally:
        if not cluster.rgw_pid():
            cluster.timings["s3 outage: radosgw restart took (s)"] = round(cluster.rgw_start(), 2)
        cluster.timings["s3 outage: all ready and UP after the restart (s)"] = round(
            cluster.wait_all_ready(60), 2)
    cluster.push_small_image(reg)
    cluster.check_committed([reg] + [n.registry for n in cluster.nodes])
