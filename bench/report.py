#!/usr/bin/env python3
"""Turns a bench/run.sh work directory into the Markdown results page (printed on stdout).

Usage: report.py DIR            the whole page
       report.py DIR --summary NAME.md   the targets table for bench/README.md

Input files in DIR: results.tsv (metric, target, round, value, p99 µs), info (key=value),
durability, toolcheck (url, loadgen rate, wrk rate). Targets are the ones of issue 5.
To add a server (e.g. the enterprise instance with token + allowlist), record its rows under a
new target name in run.sh and add it to TARGETS and to the `exposure` check below.
"""
import statistics
import sys
from collections import defaultdict
from pathlib import Path

TARGETS = ["kura", "dist", "nginx", "kura_hdr", "kura_ent", "flood_quiet", "flood_login"]
NAMES = {"kura": "kura", "dist": "distribution", "nginx": "nginx",
         "kura_hdr": "kura (plain, sent the enterprise headers)",
         "kura_ent": "kura (enterprise instance)"}

# metric id, label, unit, higher is better, the nginx metric shown as the ceiling (or None)
ROWS = [
    ("push_mono", "blob push, {big} monolithic (curl -T)", "MiB/s", True, None),
    ("push_chunked", "blob push, {big} in 8 MiB PATCHes", "MiB/s", True, None),
    ("push_small_seq", "blob push, {small_n} × 1 MiB, sequential", "blobs/s", True, None),
    ("push_small_par", "blob push, {small_n} × 1 MiB, 8 at a time", "blobs/s", True, None),
    ("pull_big", "blob pull, {big}, warm cache (curl)", "MiB/s", True, "pull_big"),
    ("manifest_get", "GET manifest by tag", "req/s", True, "small_file"),
    ("manifest_get:p99", "GET manifest by tag, p99", "µs", False, "small_file:p99"),
    ("manifest_head", "HEAD manifest by digest", "req/s", True, "small_file"),
    ("manifest_head:p99", "HEAD manifest by digest, p99", "µs", False, "small_file:p99"),
    ("blob_head", "HEAD blob", "req/s", True, "small_file"),
    ("blob_head:p99", "HEAD blob, p99", "µs", False, "small_file:p99"),
    ("base_get", "GET /v2/", "req/s", True, "small_file"),
    ("base_get:p99", "GET /v2/, p99", "µs", False, "small_file:p99"),
    ("tags_list", "tags list, {tags} tags (8 conns)", "req/s", True, None),
    ("tags_list:p99", "tags list, p99", "µs", False, None),
    ("catalog_page", "catalog, {repos} repos, pages of {page} (8 conns)", "pages/s", True, None),
    ("catalog_page:p99", "catalog page, p99", "µs", False, None),
    ("tag_put_seq", "tag PUT, {tags} tags, sequential", "tags/s", True, None),
    ("tag_put_par", "tag PUT, {tags} tags, 8 at a time", "tags/s", True, None),
    ("rss_idle", "RSS idle (seeded, before each round)", "MiB", False, None),
    ("rss_idle_anon", "  of which anonymous (RssAnon)", "MiB", False, None),
    ("rss_idle_file", "  of which file-backed (RssFile)", "MiB", False, None),
    ("rss_load", "RSS right after the 64-conn GET load", "MiB", False, None),
    ("rss_peak", "peak RSS of the whole run (VmHWM)", "MiB", False, None),
]


def fmt(v, unit):
    if v is None:
        return "–"
    if unit in ("req/s", "tags/s", "pages/s", "µs", "n"):
        return f"{v:,.0f}"
    if unit in ("MiB/s",):
        return f"{v:,.0f}"
    return f"{v:,.1f}"


def main():
    d = Path(sys.argv[1])
    info = dict(
        line.split("=", 1) for line in (d / "info").read_text().splitlines() if "=" in line)
    vals = defaultdict(list)  # (metric, target) -> values
    for line in (d / "results.tsv").read_text().splitlines():
        if not line.strip():
            continue
        m, t, _r, v, p99 = (line.split("\t") + [""] * 5)[:5]
        vals[(m, t)].append(float(v))
        if p99:
            vals[(m + ":p99", t)].append(float(p99))
    med = {k: statistics.median(v) for k, v in vals.items()}

    big_mib = int(info["big_mib"])
    big = f"{big_mib // 1024} GiB" if big_mib >= 1024 else f"{big_mib} MiB"
    sub = dict(big=big, small_n=info["small_n"], tags=f"{int(info['tags']):,}",
               repos=f"{int(info['repos']):,}", page=info["page"])
    sha_mib = float(info["sha256_kbps"]) * 1000 / 2**20 if info.get("sha256_kbps") else None

    out = []
    p = out.append
    quick = info.get("quick") == "1"
    p(f"# kura benchmark, {info['date']}" + (" (quick mode: smaller sizes)" if quick else ""))
    p("")
    p(f"Machine: {info['nproc']} cores ({info['cpu']}), {info['mem']}, Linux {info['kernel']}; "
      f"`openssl speed -evp sha256` single core, 1 MiB blocks: "
      f"**{sha_mib:,.0f} MiB/s**." if sha_mib else "")
    p(f"Load average (1, 5, 15 min) at the start: {info.get('loadavg_start', '?')}, at the end: "
      f"{info.get('loadavg_end', '?')} (other work on the machine makes the numbers noisier).")
    p(f"Versions: {info['kura']}; distribution {info['distribution']}; nginx {info['nginx']}; "
      f"wrk {info['wrk']}; curl {info['curl']}.")
    p(f"Each measurement ran {info['rounds']} round(s), on kura and distribution in turn (the order "
      f"alternating by round), with nginx in the same round where it is the ceiling. Request "
      f"rates: bench/loadgen, 2 threads, 64 connections (8 for lists), {info['duration']} s after "
      f"a warm-up, closed loop, keep-alive; the load generator shares the 2 cores with the server. "
      f"Cells are min / **median** / max; the ratio is kura's median over distribution's.")
    p("")
    p("| measurement | unit | kura | distribution | nginx (ceiling) | kura / distribution |")
    p("|---|---|---|---|---|---|")

    def cell(m, t, unit):
        v = vals.get((m, t))
        if not v:
            return "–"
        if len(v) == 1:
            return f"**{fmt(v[0], unit)}**"
        return f"{fmt(min(v), unit)} / **{fmt(statistics.median(v), unit)}** / {fmt(max(v), unit)}"

    for m, label, unit, _hib, ng in ROWS:
        k = med.get((m, "kura"))
        dd = med.get((m, "dist"))
        ratio = f"{k / dd:.2f}×" if k is not None and dd else "–"
        p(f"| {label.format(**sub)} | {unit} | {cell(m, 'kura', unit)} | {cell(m, 'dist', unit)} | "
          f"{cell(ng, 'nginx', unit) if ng else '–'} | {ratio} |")
    p(f"| RSS at start (fresh process) | MiB | **{int(info['rss_start_kura']) / 1024:.1f}** | "
      f"**{int(info['rss_start_dist']) / 1024:.1f}** | – | – |")
    p("")
    p(f"Tag PUT runs stop after {info['tagput_limit']} s; the rate counts the tags done by then. "
      "Pushes send new blobs every round (the big blob's first bytes change). Pulls use curl "
      "to /dev/null after one warm-up pull.")
    p("")
    p("## What the exposure checks cost")
    p("")
    p("The same kura binary serving an enterprise instance on its Internet endpoint: the Host "
      "header picks the instance, `Admit` looks the source up in a 10,000-entry allowlist, the "
      "request carries a registry token (HS256; its signature is checked once, then the "
      "verified claims are remembered per thread until the token expires) and every decision is "
      "queued as one JSON audit line. The baseline is the plain registry sent the very same "
      "request bytes (Host and Authorization headers, which it ignores), measured in "
      f"{info.get('expo_slices', '?')} alternating 1 s slices per round so that a change in the "
      "machine's load does not count as a cost. The rates of the bare plain registry (first table) "
      "are shown for comparison.")
    p("")
    p("| request | plain kura req/s (bare) | plain kura, same headers | enterprise instance | "
      "cost (median of paired slices) |")
    p("|---|---|---|---|---|")
    ent_costs = []
    expo = (("manifest_get", "GET manifest by tag"), ("manifest_head", "HEAD manifest"),
            ("blob_head", "HEAD blob"), ("base_get", "GET /v2/"))
    for m, label in expo:
        # Slice k of the enterprise instance ran right after or before slice k of the plain
        # registry: the median of the paired ratios cancels what the machine's load did between
        # slices (the medians of the two columns, taken apart, do not).
        hdr, ent = vals.get((m, "kura_hdr"), []), vals.get((m, "kura_ent"), [])
        pairs = [e / h for h, e in zip(hdr, ent) if h > 0]
        cost = 1 - statistics.median(pairs) if pairs and len(hdr) == len(ent) else None
        if cost is not None:
            ent_costs.append(cost)
        p(f"| {label} | {cell(m, 'kura', 'req/s')} | {cell(m, 'kura_hdr', 'req/s')} | "
          f"{cell(m, 'kura_ent', 'req/s')} | {'–' if cost is None else f'{cost * 100:.1f}%'} |")
    p("")
    if any(("ir_" + m, "kura_ent") in med for m, _ in expo):
        p("Instructions kura executes per request (valgrind's callgrind, user space only, "
          f"{info.get('ir_requests', '?')} requests each, 8 connections): unlike the rates "
          "above, these do not move with the load of the machine.")
        p("")
        p("| request | plain (bare) | plain, same headers | enterprise instance | "
          "enterprise over same headers |")
        p("|---|---|---|---|---|")
        for m, label in expo:
            a, h, e = (med.get(("ir_" + m, t)) for t in ("kura", "kura_hdr", "kura_ent"))
            extra = f"{(e / h - 1) * 100:+.1f}%" if h and e else "–"
            p(f"| {label} | {fmt(a, 'n')} | {fmt(h, 'n')} | {fmt(e, 'n')} | {extra} |")
        p("")

    if ("bystander_pull", "flood_quiet") in med:
        p("## A bystander under a login flood")
        p("")
        p("bench/login_flood.sh: one tenant pulls a manifest with its registry token over 2 "
          "connections while another tenant's endpoint takes a flood of wrong passwords (32 "
          "threads, every guess from a new loopback source, spread over 40 users, so that each "
          "costs a bcrypt check until the per-user limits or the password checks' queue refuse "
          "it). Passwords are checked on a pool of their own, at a lower priority than the I/O "
          "threads.")
        p("")
        p("| bystander pull | p50 µs | p99 µs |")
        p("|---|---|---|")
        for t, label in (("flood_quiet", "alone"), ("flood_login", "under the login flood")):
            p(f"| {label} | {cell('bystander_pull', t, 'µs')} | "
              f"{cell('bystander_pull:p99', t, 'µs')} |")
        q50, f50 = med.get(("bystander_pull", "flood_quiet")), med.get(("bystander_pull",
                                                                         "flood_login"))
        q99, f99 = (med.get(("bystander_pull:p99", t)) for t in ("flood_quiet", "flood_login"))
        if q50 and f50 and q99 and f99:
            p(f"| flood over alone | {f50 / q50:.2f}× | {f99 / q99:.2f}× |")
        p("")
        p(f"Flood requests per round: {cell('flood_requests', 'flood_login', 'n')}; answered 401 "
          f"(checked): {cell('flood_checked', 'flood_login', 'n')}; 429 (refused): "
          f"{cell('flood_refused', 'flood_login', 'n')}.")
        p("")

    # Targets of issue 5.
    targets_at = len(out)
    p("## Targets (issue 5)")
    p("")
    p("| target | measured | verdict |")
    p("|---|---|---|")

    def ratio(a, b):
        return a / b if a is not None and b else None

    def row(name, value, goal, higher, fmt_v):
        if value is None:
            p(f"| {name} | – | not measured |")
            return
        ok = value >= goal if higher else value <= goal
        miss = "" if ok else (f" (needs {goal / value:.2f}× more)" if higher else
                              f" ({value / goal:.2f}× over)")
        p(f"| {name} | {fmt_v(value)} | {'met' if ok else '**missed**' + miss} |")

    x = lambda v: f"{v:.2f}×"  # noqa: E731
    for m, label in (("manifest_get", "GET manifest"), ("manifest_head", "HEAD manifest"),
                     ("blob_head", "HEAD blob")):
        row(f"{label} rate ≥ 20× distribution", ratio(med.get((m, "kura")), med.get((m, "dist"))),
            20, True, x)
        row(f"{label} p99 ≤ 0.1× distribution's",
            ratio(med.get((m + ":p99", "kura")), med.get((m + ":p99", "dist"))), 0.1, False, x)
    row("GET /v2/ ≥ 0.5× nginx small file",
        ratio(med.get(("base_get", "kura")), med.get(("small_file", "nginx"))), 0.5, True, x)
    row("blob pull ≥ 0.9× nginx sendfile",
        ratio(med.get(("pull_big", "kura")), med.get(("pull_big", "nginx"))), 0.9, True, x)
    row("monolithic push ≥ 3× distribution",
        ratio(med.get(("push_mono", "kura")), med.get(("push_mono", "dist"))), 3, True, x)
    if sha_mib:
        row(f"monolithic push ≥ 0.5× openssl SHA-256 ({sha_mib / 2:,.0f} MiB/s)",
            ratio(med.get(("push_mono", "kura")), sha_mib), 0.5, True, x)
    row("chunked push ≥ 4× distribution",
        ratio(med.get(("push_chunked", "kura")), med.get(("push_chunked", "dist"))), 4, True, x)
    for m, label in (("tag_put_seq", "sequential"), ("tag_put_par", "8 at a time")):
        row(f"tag PUT {label} ≥ 10× distribution",
            ratio(med.get((m, "kura")), med.get((m, "dist"))), 10, True, x)
    row("idle RSS ≤ 10 MiB", med.get(("rss_idle", "kura")), 10, False, lambda v: f"{v:.1f} MiB")
    row("exposure checks cost < 5% of the rate (worst request)",
        max(ent_costs) if ent_costs else None, 0.05, False, lambda v: f"{v * 100:.1f}%")
    if ("bystander_pull:p99", "flood_quiet") in med:
        row("bystander pull p99 under a login flood ≤ 2× alone (issue 10)",
            ratio(med.get(("bystander_pull:p99", "flood_login")),
                  med.get(("bystander_pull:p99", "flood_quiet"))), 2, False, x)
    p("")
    targets = out[targets_at + 2:]

    p("## Load generator check (GET, 2 threads, 64 connections)")
    p("")
    p("| server, path | bench/loadgen req/s | wrk req/s |")
    p("|---|---|---|")
    for line in (d / "toolcheck").read_text().splitlines():
        parts = line.split("\t")
        if len(parts) == 4:
            who, path, a, b = parts
            p(f"| {NAMES.get(who, who)} {path} | {float(a or 0):,.0f} | {float(b or 0):,.0f} |")
    p("")
    p("## Durability")
    p("")
    p("Both registries fsync every blob before it becomes visible (kura: the upload file, then "
      "rename and an fsync of the directory; distribution 2.8.2: its filesystem driver fsyncs each "
      "file it commits). Metadata differs: kura keeps manifests and tags in SQLite (WAL, "
      "`synchronous=NORMAL`: a committed transaction survives a crash of the process; the WAL is "
      "fsynced at checkpoints, so a power cut may lose the last transactions but never corrupts); "
      "distribution writes tag and link files and fsyncs each. Counted with strace on this run "
      "(fsync, fdatasync, sync_file_range, syncfs):")
    p("")
    for line in (d / "durability").read_text().splitlines():
        if line.strip():
            p(f"- {line.replace('dist:', 'distribution:')}")
    p("")
    p("Distribution runs with Debian's default `blobdescriptor: inmemory` cache, filesystem "
      "storage, no auth, log level warn and the access log off; kura with its defaults (no auth, "
      "no access log, one thread per core); nginx with 2 workers, `sendfile on`, access log off.")
    if len(sys.argv) > 2 and sys.argv[2] == "--summary":
        # The short form for bench/README.md: the run's one-line context and the targets.
        name = sys.argv[3] if len(sys.argv) > 3 else ""
        print(f"From [{name}](results/{name}) ({info['date']}, {info['rounds']} rounds, "
              f"{info['nproc']} cores, load average at the start {info.get('loadavg_start', '?')}); "
              "ratios of medians:")
        print()
        print("\n".join(targets).rstrip())
        return
    print("\n".join(out))


if __name__ == "__main__":
    main()
