"""Defect 8: slow bodies pinned memory and threads. 300 uploads that sent 3.5 MiB and then a byte
every 30 s held 1 GiB and 300 threads for as long as they liked. Now a body must come at 32 KiB per
10 s at least, uploads received at once are capped overall and per instance (429 TOOMANYREQUESTS
naming the cap, before any body is read), an upload holds at most four 1 MiB buffers (one once its
body comes slowly), and uploads share a few writer threads (none per upload).

Every load here is bounded: at most 40 connections, each test under a minute."""

import os
import socket
import time

from helpers import assert_error, digest_of, local_path, push_blob, start_upload, unique


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def rss_kib(server):
    return proc_status(server.proc.pid, "VmRSS")


def threads(server):
    return proc_status(server.proc.pid, "Threads")


class Trickle:
    """A PATCH of `total` bytes that sends `first` bytes at once and then one byte per call of
    drip(). The socket is non-blocking once started: a closed connection shows in alive()."""

    def __init__(self, port, path, total, first):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(("PATCH %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                           "application/octet-stream\r\nContent-Length: %d\r\n\r\n"
                           % (path, total)).encode())
        self.sock.sendall(os.urandom(first))
        self.sock.setblocking(False)
        self.answer = b""
        self.closed = False

    def drip(self):
        if self.closed:
            return
        try:
            self.sock.send(b"x")
        except OSError:
            self.closed = True
        self.poll()

    def poll(self):
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    self.closed = True
                    return
                self.answer += chunk
        except BlockingIOError:
            return
        except OSError:
            self.closed = True

    def done(self):
        self.poll()
        return self.closed or self.answer.startswith(b"HTTP/1.1 ")

    def close(self):
        self.sock.close()


def test_a_trickling_body_is_cut_off_and_frees_its_session(server, reg):
    repo = unique("slow")
    loc = start_upload(reg, repo)
    t = Trickle(server.port, local_path(loc), 1 << 20, 40 * 1024)
    deadline = time.monotonic() + 40
    while not t.done() and time.monotonic() < deadline:
        time.sleep(1)
        t.drip()
    assert t.done(), "a body of a byte a second was still being read after 40 s"
    assert t.answer.startswith(b"HTTP/1.1 400 ") or t.closed, t.answer[:200]
    if t.answer:
        assert b"slower than" in t.answer
    t.close()
    # The session is free again and as it was: empty.
    data = os.urandom(1000)
    r = reg.patch(loc, body=data, headers={"Content-Type": "application/octet-stream"})
    assert r.status == 202, r
    assert r.header("Range") == "0-999"


def test_uploads_over_the_per_instance_cap_are_refused(server_factory):
    s = server_factory(extra_config="limits: {uploads: 100, uploads_per_instance: 5}")
    reg = s.registry
    repo = unique("cap")
    held = []
    try:
        for _ in range(5):
            held.append(Trickle(s.port, local_path(start_upload(reg, repo)), 1 << 20, 64 * 1024))
        time.sleep(0.3)
        r = reg.patch(start_upload(reg, repo), body=b"y" * 100,
                      headers={"Content-Type": "application/octet-stream"})
        assert_error(r, 429, "TOOMANYREQUESTS")
        assert "for this registry instance (5)" in r.body.decode()
        d, r = digest_of(b"z" * 10), None
        r = reg.post("/v2/%s/blobs/uploads/?digest=%s" % (repo, d), body=b"z" * 10)
        assert_error(r, 429, "TOOMANYREQUESTS")
        # Manifests, pulls and session starts are not uploads: they go on.
        assert_error(reg.get("/v2/%s/tags/list" % repo), 404, "NAME_UNKNOWN")  # nothing linked
    finally:
        for t in held:
            t.close()
    time.sleep(0.3)
    assert push_blob(reg, repo, b"after the cap")


def test_uploads_over_the_server_cap_are_refused(server_factory):
    s = server_factory(extra_config="limits: {uploads: 3, uploads_per_instance: 10}")
    reg = s.registry
    held = [Trickle(s.port, local_path(start_upload(reg, unique("cap"))), 1 << 20, 64 * 1024)
            for _ in range(3)]
    try:
        time.sleep(0.3)
        r = reg.patch(start_upload(reg, unique("cap")), body=b"y",
                      headers={"Content-Type": "application/octet-stream"})
        assert_error(r, 429, "TOOMANYREQUESTS")
        assert "on this server (3)" in r.body.decode()
    finally:
        for t in held:
            t.close()


def test_many_stalled_uploads_hold_bounded_memory_and_no_thread_each(server_factory):
    """30 uploads send 3.5 MiB each and then a byte now and then (the report's attack, scaled to
    stay under the cap): memory grows by less than 4.5 MiB an upload (its four buffers at most),
    and by less than 1.5 MiB once the bodies come slowly (the buffer each is filling); the thread
    count grows by at most the writer pool (it was a thread per upload); a bystander's pull
    answers throughout, and every stalled upload is cut off within 40 s."""
    s = server_factory()
    reg = s.registry
    bystander = unique("bystander")
    kept = push_blob(reg, bystander, os.urandom(1 << 20))
    time.sleep(0.2)
    rss0, threads0 = rss_kib(s), threads(s)
    n = 30
    stalled = [Trickle(s.port, local_path(start_upload(reg, unique("stall"))), 8 << 20,
                       3584 * 1024) for _ in range(n)]
    try:
        time.sleep(1.5)
        rss1, threads1 = rss_kib(s), threads(s)
        assert threads1 - threads0 <= 8, (threads0, threads1)
        assert (rss1 - rss0) / n < 4.5 * 1024, "RSS %d -> %d KiB for %d uploads" % (rss0, rss1, n)
        assert reg.get("/v2/%s/blobs/%s" % (bystander, kept)).status == 200
        # Once their bodies come slowly, the uploads give back every buffer but the one each is
        # filling.
        for t in stalled:
            t.drip()
        time.sleep(1)
        rss2 = rss_kib(s)
        assert (rss2 - rss0) / n < 1.5 * 1024, "RSS %d -> %d KiB for %d slow uploads" % (
            rss0, rss2, n)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not all(t.done() for t in stalled):
            for t in stalled:
                t.drip()
            assert reg.get("/v2/%s/blobs/%s" % (bystander, kept)).status == 200
            time.sleep(1)
        assert all(t.done() for t in stalled), "stalled uploads still read after 40 s"
    finally:
        for t in stalled:
            t.close()
