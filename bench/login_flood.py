#!/usr/bin/env python3
"""A flood of wrong passwords for bench/login_flood.sh: THREADS threads send GET /v2/ with Basic
credentials that never match, each request from a new loopback source (127.2.x.y) and spread over
the users PREFIX0..PREFIX{USERS-1} of one instance, so that neither the per-source nor (for a
while) the per-user limit stops it: every guess costs the server a bcrypt check until the limits
or the password checks' queue refuse it. Bounded: --seconds and --max-requests, whichever first.
Prints one JSON line: requests, seconds, and a count per status (or error name)."""

import argparse
import base64
import http.client
import json
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", required=True, help="Host header: the instance's endpoint name")
    ap.add_argument("--user-prefix", required=True)
    ap.add_argument("--users", type=int, default=40)
    ap.add_argument("--threads", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--max-requests", type=int, default=100000)
    a = ap.parse_args()

    lock = threading.Lock()
    sent = [0]
    counts = {}
    deadline = time.monotonic() + a.seconds

    def run():
        while time.monotonic() < deadline:
            with lock:
                k = sent[0]
                if k >= a.max_requests:
                    return
                sent[0] += 1
            source = "127.2.%d.%d" % (k // 250 % 250, k % 250 + 1)
            cred = base64.b64encode(("%s%d:wrong-%d" % (a.user_prefix, k % a.users, k)).encode())
            c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=30,
                                           source_address=(source, 0))
            try:
                c.request("GET", "/v2/", headers={"Host": "%s:%d" % (a.host, a.port),
                                                  "Authorization": "Basic " + cred.decode()})
                r = c.getresponse()
                r.read()
                key = str(r.status)
            except (OSError, http.client.HTTPException) as e:
                key = type(e).__name__
            finally:
                c.close()
            with lock:
                counts[key] = counts.get(key, 0) + 1

    start = time.monotonic()
    threads = [threading.Thread(target=run, daemon=True) for _ in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(a.seconds + 60)
    print(json.dumps({"requests": sum(counts.values()), "seconds": round(time.monotonic() - start, 3),
                      "status": counts}))


if __name__ == "__main__":
    main()
