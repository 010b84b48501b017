"""Several kura nodes over one PostgreSQL and one S3 store behave as one registry: what goes in
through haproxy comes out of every node, an upload may hop between nodes, the client's address
survives haproxy (PROXY v2), and an admin change on one node holds on every node within 1 s.
"""

import os
import socket
import subprocess
import tempfile
import time

import pytest

from cluster_helpers import oci_layout, sha256_hex
from helpers import (OCI_MANIFEST, assert_error, digest_of, raw_exchange, raw_status,
                     start_upload, unique, with_query)
from instances_helpers import (REGION_A, EndpointClient, denied_message, internet_host,
                               proxy_v2)

MIB = 1024 * 1024
SKOPEO_TIMEOUT = 180


def skopeo(*args, tmp):
    env = dict(os.environ, TMPDIR=tmp)
    auth = os.path.join(tmp, "auth.json")
    if not os.path.exists(auth):
        with open(auth, "w") as f:
            f.write("{}")
    env["REGISTRY_AUTH_FILE"] = auth
    r = subprocess.run(["skopeo"] + list(args), capture_output=True, text=True, env=env,
                       timeout=SKOPEO_TIMEOUT)
    assert r.returncode == 0, "skopeo %s: exit %d\n%s%s" % (" ".join(args), r.returncode,
                                                           r.stdout, r.stderr)
    return r.stdout


def test_push_through_haproxy_pull_from_each_node(cluster):
    """skopeo pushes an image with a 20 MiB layer (more than one 16 MiB S3 part) through haproxy;
    every node then serves the same manifest bytes and blobs (digests checked), to curl-like GETs
    and to skopeo pulling from that node alone."""
    with tempfile.TemporaryDirectory(prefix="kura-cluster-oci-") as tmp:
        layout = os.path.join(tmp, "src")
        manifest, blobs = oci_layout(layout, 20 * MIB)
        repo = "cluster/" + unique("skopeo")
        skopeo("copy", "--dest-tls-verify=false", "oci:%s:1" % layout,
               "docker://%s:%d/%s:1" % (cluster.registry.host, cluster.registry.port, repo),
               tmp=tmp)
        digest = digest_of(manifest)
        for node in cluster.nodes:
            reg = node.registry
            r = reg.get("/v2/%s/manifests/1" % repo, headers={"Accept": OCI_MANIFEST})
            assert r.status == 200, (node.name, r)
            assert r.body == manifest, "%s serves other manifest bytes" % node.name
            assert r.header("Docker-Content-Digest") == digest, (node.name, r)
            for d, data in blobs.items():
                r = reg.get("/v2/%s/blobs/%s" % (repo, d))
                assert r.status == 200, (node.name, d, r)
                assert "sha256:" + sha256_hex(r.body) == d and r.body == data, (node.name, d)
                assert r.header("Docker-Content-Digest") == d, (node.name, r)
            back = os.path.join(tmp, "back-" + node.name)
            skopeo("copy", "--src-tls-verify=false",
                   "docker://%s:%d/%s:1" % (reg.host, reg.port, repo), "oci:%s:1" % back, tmp=tmp)
            for d in list(blobs) + [digest]:
                with open(os.path.join(back, "blobs", "sha256", d.split(":", 1)[1]), "rb") as f:
                    got = f.read()
                assert digest_of(got) == d, "%s: skopeo pulled %s with other bytes" % (
                    node.name, d)
        cluster.committed.append((repo, "1", manifest, digest, blobs))


def test_chunked_upload_across_three_nodes(cluster):
    """POST on node 1, PATCHes on nodes 2, 3 and 1, the upload's status asked of node 3, the
    closing PUT (with a last chunk) on node 2: the blob completes, and every node serves it."""
    n1, n2, n3 = cluster.nodes[:3]
    repo = "cluster/" + unique("chunked")
    chunks = [os.urandom(9 * MIB), os.urandom(MIB + 17), os.urandom(6 * MIB), os.urandom(1000)]
    data = b"".join(chunks)
    digest = digest_of(data)

    loc = start_upload(n1.registry, repo)
    offset = 0
    for reg, chunk in ((n2.registry, chunks[0]), (n3.registry, chunks[1]),
                       (n1.registry, chunks[2])):
        r = reg.patch(loc, chunk, headers={
            "Content-Type": "application/octet-stream",
            "Content-Range": "%d-%d" % (offset, offset + len(chunk) - 1)})
        assert r.status == 202, (reg.port, r)
        offset += len(chunk)
        assert r.header("Range") == "0-%d" % (offset - 1), r
        loc = r.header("Location")
        assert loc, r
    r = n3.registry.get(loc)
    assert r.status == 204 and r.header("Range") == "0-%d" % (offset - 1), r
    r = n2.registry.put(with_query(loc, digest=digest), body=chunks[3], headers={
        "Content-Type": "application/octet-stream",
        "Content-Range": "%d-%d" % (offset, offset + len(chunks[3]) - 1)})
    assert r.status == 201, r
    assert r.header("Docker-Content-Digest") == digest, r

    for node in cluster.nodes + [None]:
        reg = node.registry if node else cluster.registry
        r = reg.get("/v2/%s/blobs/%s" % (repo, digest))
        assert r.status == 200, (reg.port, r)
        assert len(r.body) == len(data) and r.body == data, "blob differs on port %d" % reg.port
        r = reg.head("/v2/%s/blobs/%s" % (repo, digest))
        assert r.status == 200 and r.header("Content-Length") == str(len(data)), r
    # The session is gone on every node once the blob is complete.
    for node in cluster.nodes:
        assert_error(node.registry.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")


def log_lines_with(node, marker):
    return [line for line in node.log_text().splitlines() if marker in line]


def test_client_address_reaches_the_nodes_through_haproxy(cluster):
    """curl from 127.0.0.5 through haproxy: each node's access log names 127.0.0.5 as the peer
    (PROXY v2 from haproxy), not haproxy's own address; nobody else can claim an address."""
    marker = unique("proxied")
    count = 2 * len(cluster.nodes)
    for i in range(count):
        code = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
             "--interface", "127.0.0.5",
             "http://%s:%d/v2/%s/tags/list?i=%d" % (cluster.registry.host, cluster.registry.port,
                                                   marker, i)],
            capture_output=True, text=True, timeout=20).stdout
        assert code == "404", "GET of an unknown repository through haproxy: %s" % code
    deadline = time.monotonic() + 3
    while True:
        lines = {n.name: log_lines_with(n, marker) for n in cluster.nodes}
        if sum(len(v) for v in lines.values()) >= count or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sum(len(v) for v in lines.values()) == count, lines
    for name, got in lines.items():
        assert got, "round robin sent none of %d connections to %s: %r" % (count, name, lines)
        for line in got:
            assert '"peer":"127.0.0.5"' in line, "%s logged %s" % (name, line)

    # A direct client from 127.0.0.1 (not haproxy's source) cannot claim another address with a
    # PROXY header of its own: the node reads it as a broken request.
    node = cluster.nodes[0]
    spoof = unique("spoof")
    answer = raw_exchange("127.0.0.1", node.registry.port,
                          proxy_v2("10.9.8.7") + ("GET /v2/%s/tags/list HTTP/1.1\r\nHost: x\r\n"
                                                  "Connection: close\r\n\r\n" % spoof).encode(),
                          timeout=5)
    assert raw_status(answer) in (None, 400), answer[:200]
    time.sleep(0.3)
    assert not any("10.9.8.7" in line for line in log_lines_with(node, spoof))
    # haproxy's source must send the header: a connection from it without one is not served.
    s = socket.socket()
    s.settimeout(5)
    s.bind((cluster.env["CLUSTER_LB_SOURCE"], 0))
    s.connect(("127.0.0.1", node.registry.port))
    try:
        s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        got = b""
        while True:
            try:
                chunk = s.recv(4096)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            got += chunk
    finally:
        s.close()
    assert raw_status(got) != 200, got[:200]


PROPAGATION_LIMIT = 1.0   # seconds for a change made on one node to hold on every node
POLL_INTERVAL = 0.05
POLL_LIMIT = 5.0
CLIENT_SOURCE = "127.0.0.11"


def rounded(took):
    return ", ".join("%s %s" % (k, "never" if v is None else "%.3f" % v)
                     for k, v in sorted(took.items()))


def poll_nodes(clients, done):
    """Polls every client every 50 ms (at most 5 s) until done(response); returns {name: seconds
    after the start until done, or None} and the last responses."""
    t0 = time.monotonic()
    took = {name: None for name in clients}
    last = {}
    while time.monotonic() - t0 < POLL_LIMIT and any(v is None for v in took.values()):
        for name, client in clients.items():
            if took[name] is not None:
                continue
            r = client.get("/v2/", timeout=2)
            last[name] = r
            if done(r):
                took[name] = time.monotonic() - t0
        time.sleep(POLL_INTERVAL)
    return took, last


def test_an_instance_change_on_one_node_holds_on_every_node_within_1s(cluster):
    """An enterprise instance created and opened to one address on node 1's admin API; closed
    on node 1, nodes 2 and 3 refuse within 1 s (polled every 50 ms, at most 5 s)."""
    n1, others = cluster.nodes[0], cluster.nodes[1:]
    name = unique("cl")
    host = internet_host(name)
    clients = {n.name: EndpointClient(n.endpoint_port, host, source=CLIENT_SOURCE)
               for n in cluster.nodes}
    n1.admin.ok("POST", "/api/v1/instances",
                {"name": name, "region": REGION_A, "edition": "enterprise"})
    try:
        n1.admin.internet(name, True, [("%s/32" % CLIENT_SOURCE, "the test's client")])
        # Admitted: an anonymous /v2/ gets the Bearer challenge, on node 1 at once.
        r = clients[n1.name].get("/v2/")
        assert r.status == 401, r
        took, last = poll_nodes({n.name: clients[n.name] for n in others},
                                lambda r: r.status == 401)
        cluster.timings["instance opened: seen by the other nodes after (s)"] = rounded(took)
        for node in others:
            assert took[node.name] is not None, "%s never admitted: %r" % (node.name,
                                                                          last[node.name])

        n1.admin.internet(name, False)
        reason = "internet endpoint of instance %s is disabled" % name
        assert denied_message(clients[n1.name].get("/v2/")) == reason
        took, last = poll_nodes({n.name: clients[n.name] for n in others},
                                lambda r: r.status == 403)
        cluster.timings["instance closed: refused by the other nodes after (s)"] = rounded(took)
        for node in others:
            assert took[node.name] is not None, "%s still admits after %.0f s: %r" % (
                node.name, POLL_LIMIT, last[node.name])
            assert denied_message(last[node.name]) == reason
            assert took[node.name] <= PROPAGATION_LIMIT, "%s refused only after %.2f s" % (
                node.name, took[node.name])
    finally:
        n1.admin.call("DELETE", "/api/v1/instances/" + name)


LOGIN_LIMIT = 10  # server/login_throttle.h kMaxFailures


def test_failed_logins_are_counted_across_the_nodes(cluster):
    """Wrong passwords sent from one source to the three nodes in turn: the source is refused
    (429) after LOGIN_LIMIT failures in all, not after LOGIN_LIMIT on each node; and the user,
    guessed at from many sources over the nodes, is refused on every node even with the right
    password until the window ends."""
    n1 = cluster.nodes[0]
    name = unique("lg")
    host = internet_host(name)
    n1.admin.ok("POST", "/api/v1/instances",
                {"name": name, "region": REGION_A, "edition": "personal"})
    try:
        n1.admin.ok("PUT", "/api/v1/instances/%s/credentials/alice" % name,
                    {"password": "right-password-1"})
        anon = {n.name: EndpointClient(n.endpoint_port, host) for n in cluster.nodes}
        took, last = poll_nodes(anon, lambda r: r.status == 401)
        assert all(v is not None for v in took.values()), last

        source = "127.0.4.%d" % (os.getpid() % 200 + 20)
        checked, refused = 0, None
        for i in range(3 * LOGIN_LIMIT + 3):
            node = cluster.nodes[i % 3]
            r = EndpointClient(node.endpoint_port, host, source=source,
                               auth=("alice", "guess-%d" % i)).get("/v2/")
            if r.status == 429:
                refused = r
                break
            assert r.status == 401, r
            checked += 1
        assert refused is not None, "%d guesses over three nodes, none refused" % checked
        assert checked <= LOGIN_LIMIT, "%d guesses checked before the first 429" % checked
        assert refused.header("Retry-After", "").isdigit(), refused
        # alice's own count is at the limit too: the right password, from another source, on any
        # node, is refused.
        for node in cluster.nodes:
            r = EndpointClient(node.endpoint_port, host, source="127.0.4.250",
                               auth=("alice", "right-password-1")).get("/v2/")
            assert r.status == 429, (node.name, r)
    finally:
        n1.admin.call("DELETE", "/api/v1/instances/" + name)
