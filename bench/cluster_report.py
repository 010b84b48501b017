#!/usr/bin/env python3
"""Turns a bench/cluster.sh work directory into the Markdown results page (printed on stdout).

Usage: cluster_report.py DIR                 the page of bench/cluster.sh (and DIR/embedded when
                                             bench/embedded.sh ran into it)
       cluster_report.py --embedded DIR      the page of bench/embedded.sh alone
       cluster_report.py DIR --summary NAME  the targets table for bench/README.md

Input files in a directory: results.tsv (metric, target, round, value, p99 µs), cpu.tsv (metric,
target, round, units, process group, CPU seconds), info (key=value), durability (target, what,
fsync-family calls of the server[, of PostgreSQL, of the OSD]). Units are GiB for transfers and
requests sent (warm-up included) for request rates. Every cell is a median over the rounds;
CPU cells are medians of the per-round seconds per unit.
"""
import statistics
import sys
from collections import defaultdict
from pathlib import Path

NAMES = {"kura": "kura, 1 node", "dist": "distribution", "dist_redir": "distribution, redirect",
         "ha1": "1 node behind haproxy", "ha3": "3 nodes behind haproxy",
         }
NODES = ("node1", "node2", "node3")


def load(d):
    d = Path(d)
    info = dict(line.split("=", 1) for line in (d / "info").read_text().splitlines() if "=" in line)
    vals = defaultdict(dict)  # (metric, target) -> {round: value}
    for line in (d / "results.tsv").read_text().splitlines():
        if not line.strip():
            continue
        m, t, r, v, p99 = (line.split("\t") + [""] * 5)[:5]
        vals[(m, t)][r] = float(v)
        if p99:
            vals[(m + ":p99", t)][r] = float(p99)
    # A CI job's push then pull of the same blob: seconds per GiB of the two, round by round.
    for t in {t for (_m, t) in vals}:
        push, pull = vals.get(("push_mono", t), {}), vals.get(("pull_first", t), {})
        for r in push.keys() & pull.keys():
            if push[r] > 0 and pull[r] > 0:
                vals[("cycle", t)][r] = 1024 / push[r] + 1024 / pull[r]
    cpu = defaultdict(dict)  # (metric, target, round) -> {group: seconds}; units under "_units"
    p = d / "cpu.tsv"
    for line in (p.read_text().splitlines() if p.exists() else []):
        if not line.strip():
            continue
        m, t, r, u, g, s = line.split("\t")
        cpu[(m, t, r)][g] = float(s)
        cpu[(m, t, r)]["_units"] = float(u)
    dur = []
    p = d / "durability"
    for line in (p.read_text().splitlines() if p.exists() else []):
        if line.strip():
            dur.append(line.split("\t"))
    return info, vals, cpu, dur


def med(v):
    return statistics.median(v) if v else None


def fmt(v, unit):
    if v is None:
        return "–"
    if unit in ("req/s", "tags/s", "µs", "MiB/s"):
        return f"{v:,.0f}"
    return f"{v:,.2f}"


def cell(vals, m, t, unit):
    v = list(vals.get((m, t), {}).values())
    if not v:
        return "–"
    if len(v) == 1:
        return f"**{fmt(v[0], unit)}**"
    return f"{fmt(min(v), unit)} / **{fmt(med(v), unit)}** / {fmt(max(v), unit)}"


def mv(vals, m, t):
    return med(list(vals.get((m, t), {}).values()))


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(value, goal, higher=True):
    if value is None:
        return "not measured"
    ok = value >= goal if higher else value <= goal
    if ok:
        return "met"
    return "**missed**" + (f" (needs {goal / value:.2f}× more)" if higher else
                           f" ({value / goal:.2f}× over)")


def per_unit(cpu, m, t, groups, scale=1.0):
    """Median over rounds of (sum of the groups' CPU seconds) / units × scale."""
    out = []
    for (mm, tt, _r), g in cpu.items():
        if mm == m and tt == t and g.get("_units"):
            out.append(sum(g.get(x, 0.0) for x in groups) / g["_units"] * scale)
    return med(out)


def all_groups(cpu, m, t):
    gs = set()
    for (mm, tt, _r), g in cpu.items():
        if mm == m and tt == t:
            gs |= {k for k in g if k != "_units"}
    return gs


def header(p, info, title):
    p(f"# {title}, {info['date']}" + (" (quick mode: small sizes)" if info.get("quick") == "1"
                                        else ""))
    p("")
    if "cpu" in info:
        p(f"Machine: {info['nproc']} cores ({info['cpu']}), {info['mem']}, Linux "
          f"{info['kernel']}.")
    p(f"Load average (1, 5, 15 min) at the start: {info.get('loadavg_start', '?')}, at the end: "
      f"{info.get('loadavg_end', '?')} (it counts the bench's own processes; other work on the "
      "2 cores makes rates noisy, CPU seconds per unit much less so).")


def cluster_page(d, summary_name=None):
    info, vals, cpu, dur = load(d)
    out = []
    p = out.append
    big_mib = int(info["big_mib"])
    big = f"{big_mib // 1024} GiB" if big_mib >= 1024 else f"{big_mib} MiB"
    header(p, info, "kura scale-out benchmark (issue 11)")
    p(f"Versions: {info['kura']}; distribution {info['distribution']}; haproxy "
      f"{info['haproxy']}; Ceph {info['ceph']} (one monitor, one OSD: bluestore on a sparse file "
      f"on the VM's disk, radosgw/beast); PostgreSQL: {info['postgres']}.")
    p(f"{info['rounds']} round(s), the order of the servers alternating by round; request rates: "
      f"bench/loadgen, 2 threads, 64 connections, {info['duration']} s after a warm-up, closed "
      "loop, keep-alive, on the same 2 cores as everything else. Cells are min / **median** / "
      "max; ratios are of the medians.")
    p("")
    p("## 1. One kura node (PostgreSQL + S3) against distribution (S3 driver), one gateway")
    p("")
    p("| measurement | unit | kura | distribution | kura / distribution | target | verdict |")
    p("|---|---|---|---|---|---|---|")
    targets = []
    rows = [
        ("push_mono", "dist", f"blob push, {big} monolithic (POST + PUT, curl -T)", "MiB/s", 2.0),
        ("pull_first", "dist", f"blob pull, {big}, right after its push (curl)", "MiB/s", 1.0),
        ("cycle", "dist", "push, then the first pull: seconds per GiB of the two (lower is better)", "s/GiB", None),
        ("pull_second", "dist", f"blob pull, {big}, second time", "MiB/s", 1.0),
        ("pull_second", "dist_redir",
         f"blob pull, {big}: distribution redirecting to the gateway (curl -L)", "MiB/s", None),
        ("manifest_get", "dist", "GET manifest by tag", "req/s", 10.0),
        ("manifest_get:p99", "dist", "GET manifest by tag, p99", "µs", None),
        ("blob_head", "dist", "HEAD blob", "req/s", None),
        ("blob_head:p99", "dist", "HEAD blob, p99", "µs", None),
        ("tag_put_seq", "dist", "tag PUT, sequential", "tags/s", 5.0),
        ("tag_put_seq:p99", "dist", "tag PUT, sequential, p99", "µs", None),
        ("tag_put_par", "dist", "tag PUT, 8 at a time", "tags/s", 5.0),
        ("tag_put_par:p99", "dist", "tag PUT, 8 at a time, p99", "µs", None),
    ]
    for m, other, label, unit, goal in rows:
        k, o = mv(vals, m, "kura"), mv(vals, m, other)
        r = ratio(k, o)
        higher = unit not in ("µs", "s/GiB")
        rs = f"{r:.2f}×" if r is not None else "–"
        tg = f"≥ {goal:g}×" if goal else "–"
        vd = verdict(r, goal, higher) if goal else "–"
        if goal:
            targets.append((f"{label} ≥ {goal:g}× distribution", rs, vd))
        p(f"| {label} | {unit} | {cell(vals, m, 'kura', unit)} | {cell(vals, m, other, unit)} | "
          f"{rs} | {tg} | {vd} |")
    p("")
    p(f"Each round pushes a new {big} blob (its first bytes change) to both, in "
      f"{info['part_mib']} MiB parts on the gateway (kura's S3 part size; distribution's "
      "`chunksize` set to the same), pulls it at once to /dev/null, then once more. The blob "
      "the client sends is in /dev/shm. distribution runs with `redirect: disable: true` so that "
      "it streams blobs itself, as kura does (kura never hands out object-store URLs: the "
      "exposure rules decide who reads a blob); a second distribution on the same bucket keeps "
      "the default (a 307 to a presigned gateway URL) for the redirect row. Tag PUTs: "
      f"{int(info['tags']):,} new tags of one manifest in a new repository, stopped after "
      f"{info['tagput_limit']} s (the rate counts those done).")
    p("")

    # Where the time goes.
    p("## Where the time goes: CPU seconds per GiB or per 1,000 requests")
    p("")
    p("User + system seconds of each process during the measurement (/proc/PID/stat before and "
      "after; PostgreSQL: the postmaster and every child), divided by the GiB moved or the "
      "requests sent (warm-up included), median over the rounds. Processes that served nothing "
      "count too, in their own column (the kura nodes during distribution's measurements: their "
      "health checks and polls). *wall* is the elapsed time of the same unit; *total / wall* is "
      "how many of the 2 cores the unit kept busy.")
    p("")
    p("| measurement | server | unit | kura nodes | distribution | haproxy | radosgw | ceph-osd "
      "| ceph-mon | postgres | client | total | wall | total / wall |")
    p("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    cpu_rows = [
        ("push_mono", ("kura", "dist"), "GiB"), ("pull_first", ("kura", "dist"), "GiB"),
        ("pull_second", ("kura", "dist", "dist_redir"), "GiB"),
        ("manifest_get", ("kura", "dist", "ha1", "ha3"), "1k req"),
        ("blob_head", ("kura", "dist", "ha1", "ha3"), "1k req"),
        ("tag_put_seq", ("kura", "dist"), "1k req"), ("tag_put_par", ("kura", "dist"), "1k req"),
    ]
    labels = {"push_mono": "push", "pull_first": "first pull", "pull_second": "second pull",
              "manifest_get": "GET manifest", "blob_head": "HEAD blob",
              "tag_put_seq": "tag PUT, sequential", "tag_put_par": "tag PUT, 8 at a time"}
    for m, ts, unit in cpu_rows:
        scale = 1000.0 if unit == "1k req" else 1.0
        for t in ts:
            gs = all_groups(cpu, m, t)
            if not gs:
                continue
            cols = [per_unit(cpu, m, t, NODES, scale), per_unit(cpu, m, t, ("dist", "dist_redir"), scale),
                    per_unit(cpu, m, t, ("haproxy",), scale), per_unit(cpu, m, t, ("radosgw",), scale),
                    per_unit(cpu, m, t, ("osd",), scale), per_unit(cpu, m, t, ("mon",), scale),
                    per_unit(cpu, m, t, ("pg",), scale), per_unit(cpu, m, t, ("client",), scale)]
            total = per_unit(cpu, m, t, tuple(gs), scale)
            rate = mv(vals, m, t)
            if rate:
                wall = (1024.0 / rate) if unit == "GiB" else (1000.0 / rate)
                # quick runs move less than a GiB: per GiB all the same
            else:
                wall = None
            busy = f"{total / wall:.2f}" if total is not None and wall else "–"
            p(f"| {labels[m]} | {NAMES.get(t, t)} | s/{unit} | " +
              " | ".join(fmt(c, "s") for c in cols) +
              f" | **{fmt(total, 's')}** | {fmt(wall, 's')} | {busy} |")
    p("")

    # Scale-out.
    p("## 2. Three kura nodes behind haproxy against one (the same PostgreSQL and gateway)")
    p("")
    p("The same 64 connections to haproxy in TCP mode with PROXY v2 (scripts/cluster.sh's "
      "balancer), in front of node 1 alone or of nodes 1-3 (round robin, about 21 connections "
      "each), and straight to node 1. Each node runs 2 I/O threads. On 2 cores, three nodes, "
      "haproxy, PostgreSQL and the load generator cannot each have a core, so the rate cannot "
      "grow with the nodes; what must not drop is the work per CPU second: requests per CPU "
      "second of the kura processes (all three for 3 nodes), and of every server process.")
    p("")
    p("| request | configuration | req/s | kura CPU s / 1k req | req per kura CPU s | haproxy "
      "s / 1k | postgres s / 1k | all servers s / 1k | req per server CPU s |")
    p("|---|---|---|---|---|---|---|---|---|")
    servers = NODES + ("haproxy", "pg", "radosgw", "osd", "mon")
    eff = {}
    for m, label in (("manifest_get", "GET manifest"), ("blob_head", "HEAD blob")):
        for t in ("kura", "ha1", "ha3"):
            k = per_unit(cpu, m, t, NODES, 1000.0)
            s = per_unit(cpu, m, t, servers, 1000.0)
            per_k = med([g["_units"] / sum(g.get(x, 0.0) for x in NODES)
                         for (mm, tt, _r), g in cpu.items()
                         if mm == m and tt == t and sum(g.get(x, 0.0) for x in NODES) > 0])
            per_s = med([g["_units"] / sum(g.get(x, 0.0) for x in servers)
                         for (mm, tt, _r), g in cpu.items()
                         if mm == m and tt == t and sum(g.get(x, 0.0) for x in servers) > 0])
            eff[(m, t)] = (per_k, per_s)
            name = {"kura": "1 node, direct", "ha1": "1 node behind haproxy",
                    "ha3": "3 nodes behind haproxy"}[t]
            p(f"| {label} | {name} | {cell(vals, m, t, 'req/s')} | {fmt(k, 's')} | "
              f"{fmt(per_k, 'req/s')} | {fmt(per_unit(cpu, m, t, ('haproxy',), 1000.0), 's')} | "
              f"{fmt(per_unit(cpu, m, t, ('pg',), 1000.0), 's')} | {fmt(s, 's')} | "
              f"{fmt(per_s, 'req/s')} |")
    p("")
    p("| request | requests per kura CPU second, 3 nodes over 1 (both behind haproxy) | drop | "
      "target (drop ≤ 20%) | every server process's, 3 over 1 |")
    p("|---|---|---|---|---|")
    for m, label in (("manifest_get", "GET manifest"), ("blob_head", "HEAD blob")):
        a, b = eff.get((m, "ha3"), (None, None)), eff.get((m, "ha1"), (None, None))
        r = ratio(a[0], b[0])
        rs = ratio(a[1], b[1])
        drop = (f"{(1 - r) * 100:.1f}%" if r is not None and r <= 1 else
                f"none (3 nodes {(r - 1) * 100:.1f}% more)" if r is not None else "–")
        vd = verdict(1 - r, 0.20, higher=False) if r is not None else "not measured"
        if r is not None and 1 - r <= 0:
            vd = "met"
        targets.append((f"{label}: requests per kura CPU second, 3 nodes over 1, drop ≤ 20%",
                        drop, vd))
        p(f"| {label} | {r:.2f}× | {drop} | {vd} | {rs:.2f}× |" if r is not None and rs is not None
          else f"| {label} | – | – | not measured | – |")
    p("")
    idle = [sum(g.get(x, 0.0) for x in ("node2", "node3"))
            for (mm, tt, _r), g in cpu.items() if tt == "ha1"]
    p("The idle nodes 2 and 3 (their /readyz answered every 250 ms, their 200 ms poll of the "
      f"World's revision) used {fmt(med(idle), 's')} CPU seconds (median) during each 1-node "
      "measurement: not counted there, as they served nothing; during the 3-node measurements "
      "all three nodes count.")
    p("")

    if dur:
        p("## What one operation costs: syncs and S3 requests")
        p("")
        p("Counted once, before the rounds: the fsync-family calls (fsync, fdatasync, "
          "sync_file_range, syncfs) of the server, of every PostgreSQL process and of the OSD, "
          "with strace attached to each for the window shown, and the S3 requests radosgw "
          "received (its `req` counter). The first row is the same window with nothing sent: "
          "the OSD also syncs on its own (its background work), so only what "
          "goes beyond that row is the operation's.")
        p("")
        p("| server | operation | server's syncs | PostgreSQL's | ceph-osd's | S3 requests | "
          "window s |")
        p("|---|---|---|---|---|---|---|")
        for row in dur:
            row = row + ["–"] * (7 - len(row))
            who = "–" if row[0] == "idle" else NAMES.get(row[0], row[0])
            p(f"| {who} | {row[1]} | {row[2]} | {row[3]} | {row[4]} | {row[5]} | {row[6]} |")
        p("")
        p(f"PostgreSQL: {info['postgres']}; kura also sets `synchronous_commit` back to `on` per "
          "session if a database has it off. A tag PUT on kura is acknowledged after its "
          "transaction's WAL record is flushed (fdatasync) by PostgreSQL. distribution keeps no "
          "database: every manifest, link and tag file is an S3 object, and radosgw acknowledges "
          "a PUT once the OSD has committed it (bluestore: data and its RocksDB metadata on the "
          "device, flushed before the reply), in one copy (a single OSD, pool size 1). Both are "
          "durable on this disk; distribution's durability is the gateway's writes, not calls "
          "distribution makes (it makes none).")
        p("")

    emb = Path(d) / "embedded"
    if (emb / "info").exists():
        out.extend(embedded_section(emb, targets))

    if summary_name is not None:
        s = [f"From [{summary_name}](results/{summary_name}) ({info['date']}, {info['rounds']} "
             f"rounds, {info['nproc']} cores, load average at the start "
             f"{info.get('loadavg_start', '?')}); ratios of medians:", "",
             "| target | measured | verdict |", "|---|---|---|"]
        s += [f"| {a} | {b} | {c} |" for a, b, c in targets]
        return "\n".join(s)
    p("## Targets (issue 11)")
    p("")
    p("| target | measured | verdict |")
    p("|---|---|---|")
    for a, b, c in targets:
        p(f"| {a} | {b} | {c} |")
    return "\n".join(out)


def embedded_section(d, targets, standalone=False):
    info, vals, cpu, dur = load(d)
    out = []
    p = out.append
    big_mib = int(info["big_mib"])
    big = f"{big_mib // 1024} GiB" if big_mib >= 1024 else f"{big_mib} MiB"
    if standalone:
        header(p, info, "kura's default stores against distribution's filesystem driver")
        p("")
    p("## The default stores: SQLite and files (bench/embedded.sh)")
    p("")
    p(f"kura `serve --data` (SQLite `synchronous=FULL`, blobs in files, uploads written "
      f"through the page cache) against distribution {info['distribution']} with its filesystem driver, both on "
      f"{info.get('filesystem', 'the disk')}, {info['rounds']} round(s), alternating order. Tag "
      f"PUT as bench/run.sh measures it ({int(info['tags']):,} new tags, at most "
      f"{info['tagput_limit']} s); each round pushes a new {big} blob (POST + PUT) and pulls it "
      "at once (the page cache is shared with other work and cannot be dropped: the pull simply "
      "follows the push, as in a CI pipeline), then a second time.")
    p("")
    p("| measurement | unit | kura | distribution | kura / distribution | kura CPU s / unit | "
      "distribution CPU s / unit |")
    p("|---|---|---|---|---|---|---|")
    rows = [("push_mono", f"blob push, {big} monolithic (POST + PUT)", "MiB/s", "GiB"),
            ("pull_first", f"blob pull, {big}, right after its push", "MiB/s", "GiB"),
            ("cycle", "push, then the first pull: seconds per GiB of the two (lower is better)", "s/GiB", None),
            ("pull_second", f"blob pull, {big}, second time", "MiB/s", "GiB"),
            ("tag_put_seq", "tag PUT, sequential", "tags/s", "1k req"),
            ("tag_put_seq:p99", "tag PUT, sequential, p99", "µs", None),
            ("tag_put_par", "tag PUT, 8 at a time", "tags/s", "1k req"),
            ("tag_put_par:p99", "tag PUT, 8 at a time, p99", "µs", None)]
    for m, label, unit, cu in rows:
        k, o = mv(vals, m, "kura"), mv(vals, m, "dist")
        r = ratio(k, o)
        rs = f"{r:.2f}×" if r is not None else "–"
        scale = 1000.0 if cu == "1k req" else 1.0
        kc = per_unit(cpu, m, "kura", ("kura",), scale) if cu else None
        dc = per_unit(cpu, m, "dist", ("dist",), scale) if cu else None
        su = f" /{cu}" if cu else ""
        p(f"| {label} | {unit} | {cell(vals, m, 'kura', unit)} | {cell(vals, m, 'dist', unit)} | "
          f"{rs} | {fmt(kc, 's')}{su if kc is not None else ''} | "
          f"{fmt(dc, 's')}{su if dc is not None else ''} |")
        if m in ("tag_put_seq", "tag_put_par"):
            targets.append((f"default stores: {label} ≥ 10× distribution (issue 5's target)", rs,
                            verdict(r, 10.0)))
        elif m == "pull_first":
            targets.append((f"default stores: {label}, kura / distribution (no target)", rs, "–"))
    p("")
    if dur:
        p("fsync-family calls of the server (strace):")
        p("")
        for row in dur:
            p(f"- {NAMES.get(row[0], row[0]).replace(', 1 node', '')}: {row[2]} for {row[1]}")
        p("")
    return out


def main():
    if sys.argv[1] == "--embedded":
        targets = []
        print("\n".join(embedded_section(Path(sys.argv[2]), targets, standalone=True)))
        return
    name = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--summary" else None
    print(cluster_page(sys.argv[1], name))


if __name__ == "__main__":
    main()
