#!/usr/bin/env python3
"""Helpers of the benchmark harness (perf/run.sh, perf/soak.sh); Python standard library only.

Not meant to be run by hand, but each subcommand works alone, e.g.
    python3 perf/tools.py freeport 3
    python3 perf/tools.py rss 1234
Subcommands:
    freeport N                       N free loopback TCP ports (bound to port 0, then released)
    wait-http URL [-H K:V] [--timeout S]      poll until URL answers 200 (exit 1 on timeout)
    platform-groups BASE KEY N OUT   create N groups on the demo platform, ids to OUT
    platform-members BASE KEY GROUP FIRST N   add users FIRST..FIRST+N-1 to a platform group
    scim2-seed BASE TOKEN USERS GROUPS DIR [NAME]  users/groups on scim2-server, ids to DIR/NAME-*
    cpu PID...                       on-CPU ns of the processes, their threads and descendants
    rss PID                          VmRSS/VmHWM of a process, JSON (kB)
    reset-hwm PID                    reset VmHWM to the current RSS (/proc/PID/clear_refs)
    watch-rss PID SECONDS [INTERVAL] sample VmRSS until SECONDS pass or PID exits, JSON
    metrics URL                      SCIM requests and platform calls from /metrics, JSON
    scan BASE TOKEN FILTER RUNS PID METRICS_URL   sequential list requests with a filter: time,
                                     status, totalResults, platform calls, peak RSS, JSON
    start-time RUNS MODE -- CMD...   spawn CMD RUNS times, time to ready (MODE readyz:URL or
                                     scim:URL:TOKEN), JSON
    cell ...                         merge one wrk run into results.jsonl (see run.sh)
    report RESULTS_JSONL OUT_MD      the Markdown report
"""

import http.client
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse


# ---------------------------------------------------------------------------------------------
# small helpers


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def request(method, url, headers=None, body=None, timeout=10.0, conn=None):
    """One request; returns (status, headers dict, body bytes). Reuses conn when given."""
    u = urllib.parse.urlsplit(url)
    own = conn is None
    if own:
        if u.scheme == "https":
            import ssl

            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout, context=ctx)
        else:
            conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    path = u.path + ("?" + u.query if u.query else "")
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    conn.request(method, path, body=data, headers=headers or {})
    r = conn.getresponse()
    payload = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    if own:
        conn.close()
    return r.status, hdrs, payload


def rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                k, v = line.split(":", 1)
                out[k] = int(v.split()[0])
    return {"rss_kb": out.get("VmRSS", 0), "hwm_kb": out.get("VmHWM", 0)}


def descendants(pids):
    """The pids and every process descending from them."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out = set(pids)
    grew = True
    while grew:
        grew = False
        for child, ppid in parent.items():
            if ppid in out and child not in out:
                out.add(child)
                grew = True
    return sorted(out)


def cpu_ns(pids):
    """On-CPU time in ns of the processes and their descendants, all threads (schedstat)."""
    total = 0
    for pid in descendants(pids):
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    return total


def reset_hwm(pid):
    # Writing 5 resets the peak resident set size to the current one (Linux >= 4.0).
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


METRIC_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([0-9.eE+-]+)")


def metrics(url):
    """Counts from the sidecar's /metrics: SCIM requests by status, platform calls by operation."""
    _, _, body = request("GET", url)
    out = {"requests": 0, "requests_by_status": {}, "platform_calls": 0, "platform_by_op": {}}
    for line in body.decode().splitlines():
        m = METRIC_RE.match(line)
        if not m:
            continue
        name, labels, value = m.group(1), m.group(2) or "", float(m.group(3))
        lab = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if name == "scim_sidecar_requests_total":
            out["requests"] += int(value)
            st = lab.get("status", "?")
            out["requests_by_status"][st] = out["requests_by_status"].get(st, 0) + int(value)
        elif name == "scim_sidecar_platform_call_duration_seconds_count":
            out["platform_calls"] += int(value)
            key = f'{lab.get("operation")}:{lab.get("outcome")}'
            out["platform_by_op"][key] = out["platform_by_op"].get(key, 0) + int(value)
    return out


def metrics_delta(before, after):
    d = {
        "requests": after["requests"] - before["requests"],
        "platform_calls": after["platform_calls"] - before["platform_calls"],
        "platform_by_op": {},
    }
    for k, v in after["platform_by_op"].items():
        dv = v - before["platform_by_op"].get(k, 0)
        if dv:
            d["platform_by_op"][k] = dv
    return d


# ---------------------------------------------------------------------------------------------
# subcommands


def cmd_freeport(argv):
    print(" ".join(str(p) for p in free_ports(int(argv[0]))))


def cmd_wait_http(argv):
    url = argv[0]
    headers, timeout = {}, 20.0
    i = 1
    while i < len(argv):
        if argv[i] == "-H":
            k, v = argv[i + 1].split(":", 1)
            headers[k.strip()] = v.strip()
            i += 2
        elif argv[i] == "--timeout":
            timeout = float(argv[i + 1])
            i += 2
        else:
            raise SystemExit(f"wait-http: unknown argument {argv[i]}")
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            status, _, _ = request("GET", url, headers, timeout=2.0)
            if status == 200:
                return 0
            last = f"status {status}"
        except OSError as e:
            last = str(e)
        time.sleep(0.05)
    print(f"wait-http: {url} not ready after {timeout}s ({last})", file=sys.stderr)
    return 1


def cmd_platform_groups(argv):
    base, key, n, out = argv[0], argv[1], int(argv[2]), argv[3]
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    tag = f"{os.getpid()}-{time.monotonic_ns()}"
    ids = []
    for i in range(n):
        status, _, body = request(
            "POST", base + "/api/v1/groups",
            {"X-Api-Key": key, "Content-Type": "application/json"},
            {"name": f"bench-{tag}-{i}"}, conn=conn)
        if status != 201:
            raise SystemExit(f"platform-groups: POST /api/v1/groups answered {status}: {body[:200]!r}")
        ids.append(json.loads(body)["data"]["id"])
    with open(out, "w") as f:
        f.write("\n".join(str(i) for i in ids) + "\n")


def cmd_platform_members(argv):
    base, key, group, first, n = argv[0], argv[1], argv[2], int(argv[3]), int(argv[4])
    u = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    for uid in range(first, first + n):
        status, _, body = request(
            "POST", f"{base}/api/v1/groups/{group}/members",
            {"X-Api-Key": key, "Content-Type": "application/json"}, {"user_id": uid}, conn=conn)
        if status != 201:
            raise SystemExit(f"platform-members: answered {status}: {body[:200]!r}")


def cmd_scim2_seed(argv):
    base, token, nusers, ngroups, outdir = argv[0], argv[1], int(argv[2]), int(argv[3]), argv[4]
    name = argv[5] if len(argv) > 5 else "scim2"
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    users = []
    for i in range(1, nusers + 1):
        email = f"user{i}@example.com"
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": email,
            "active": True,
            "displayName": f"User {i}",
            "name": {"givenName": "User", "familyName": str(i)},
            "emails": [{"value": email, "type": "work", "primary": True}],
        }
        status, _, payload = request("POST", base + "/Users", h, body)
        if status != 201:
            raise SystemExit(f"scim2-seed: POST /Users answered {status}: {payload[:200]!r}")
        users.append(json.loads(payload)["id"])
    groups = []
    for i in range(ngroups):
        body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": f"bench-{i}"}
        status, _, payload = request("POST", base + "/Groups", h, body)
        if status != 201:
            raise SystemExit(f"scim2-seed: POST /Groups answered {status}: {payload[:200]!r}")
        groups.append(json.loads(payload)["id"])
    with open(os.path.join(outdir, f"{name}-users"), "w") as f:
        f.write("\n".join(users) + "\n")
    with open(os.path.join(outdir, f"{name}-groups"), "w") as f:
        f.write("\n".join(groups) + "\n")


def cmd_rss(argv):
    print(json.dumps(rss(int(argv[0]))))


def cmd_reset_hwm(argv):
    reset_hwm(int(argv[0]))


def cmd_watch_rss(argv):
    pid, seconds = int(argv[0]), float(argv[1])
    interval = float(argv[2]) if len(argv) > 2 else 0.1
    deadline = time.monotonic() + seconds
    samples = []
    while time.monotonic() < deadline:
        try:
            samples.append(rss(pid)["rss_kb"])
        except OSError:
            break
        time.sleep(interval)
    final = rss(pid) if os.path.exists(f"/proc/{pid}") else {"rss_kb": 0, "hwm_kb": 0}
    print(json.dumps({
        "samples": len(samples),
        "first_kb": samples[0] if samples else 0,
        "max_kb": max(samples) if samples else 0,
        "last_kb": samples[-1] if samples else 0,
        "hwm_kb": final["hwm_kb"],
        "series_kb": samples,
    }))


def cmd_cpu(argv):
    print(cpu_ns([int(p) for p in argv if p]))


def cmd_metrics(argv):
    print(json.dumps(metrics(argv[0])))


def cmd_scan(argv):
    base, token, flt, runs, pid, murl = argv[0], argv[1], argv[2], int(argv[3]), int(argv[4]), argv[5]
    h = {"Authorization": f"Bearer {token}"}
    url = base + "/Users?" + urllib.parse.urlencode({"filter": flt})
    reset_hwm(pid)
    before_rss = rss(pid)
    results = []
    for _ in range(runs):
        m0 = metrics(murl)
        t0 = time.perf_counter()
        status, _, payload = request("GET", url, h, timeout=120)
        took = time.perf_counter() - t0
        m1 = metrics(murl)
        doc = json.loads(payload) if payload else {}
        results.append({
            "status": status,
            "seconds": took,
            "total": doc.get("totalResults"),
            "returned": len(doc.get("Resources", []) or []),
            "scim_type": doc.get("scimType"),
            "detail": doc.get("detail"),
            "platform_calls": metrics_delta(m0, m1)["platform_calls"],
        })
    after = rss(pid)
    print(json.dumps({
        "filter": flt,
        "runs": results,
        "rss_before_kb": before_rss["rss_kb"],
        "peak_kb": after["hwm_kb"],
        "rss_after_kb": after["rss_kb"],
        "median_seconds": statistics.median(r["seconds"] for r in results),
    }))


def probe_once(mode):
    """One readiness probe: True when it got a 200."""
    kind, rest = mode.split(":", 1)
    if kind == "readyz":
        url, headers = rest, {}
    else:
        url, token = rest.rsplit(":", 1)
        headers = {"Authorization": f"Bearer {token}"}
    try:
        status, _, _ = request("GET", url, headers, timeout=1.0)
        return status == 200
    except OSError:
        return False


def cmd_start_time(argv):
    runs, mode = int(argv[0]), argv[1]
    assert argv[2] == "--"
    cmd = argv[3:]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok = False
        try:
            deadline = t0 + 10.0
            while time.perf_counter() < deadline and p.poll() is None:
                if probe_once(mode):
                    ok = True
                    break
                time.sleep(0.0005)
            took = time.perf_counter() - t0
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if not ok:
            print(f"start-time: not ready within 10 s (exit {p.returncode})", file=sys.stderr)
            return 1
        times.append(took * 1000)
    print(json.dumps({
        "runs": runs,
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "max_ms": max(times),
        "all_ms": [round(t, 2) for t in times],
    }))
    return 0


def cmd_cell(argv):
    """cell RESULTS_JSONL WRK_OUTPUT KEY=VALUE... [--metrics BEFORE AFTER]: one results line."""
    results, wrk_out = argv[0], argv[1]
    rest = argv[2:]
    rec = {"kind": "cell"}
    before = after = None
    i = 0
    while i < len(rest):
        if rest[i] == "--metrics":
            before, after = json.loads(rest[i + 1]), json.loads(rest[i + 2])
            i += 3
            continue
        if rest[i] == "--cpu":
            # --cpu NAME BEFORE_NS AFTER_NS: on-CPU ns of a process group during the run.
            rec[f"{rest[i + 1]}_cpu_ns"] = int(rest[i + 3]) - int(rest[i + 2])
            i += 4
            continue
        k, v = rest[i].split("=", 1)
        rec[k] = int(v) if re.fullmatch(r"-?\d+", v) else v
        i += 1
    with open(wrk_out) as f:
        text = f.read()
    m = re.search(r"^BENCHJSON (\{.*\})$", text, re.M)
    if not m:
        print(f"cell: no BENCHJSON line in {wrk_out}:\n{text[-2000:]}", file=sys.stderr)
        return 2
    w = json.loads(m.group(1))
    rec.update(w)
    rec["rps"] = w["requests"] / (w["duration_us"] / 1e6) if w["duration_us"] else 0.0
    e = w["errors"]
    rec["socket_errors"] = e["connect"] + e["read"] + e["write"] + e["timeout"]
    rec["bad_status"] = e["status"]
    if before is not None:
        d = metrics_delta(before, after)
        rec["scim_requests"] = d["requests"]
        rec["platform_calls"] = d["platform_calls"]
        rec["platform_by_op"] = d["platform_by_op"]
        rec["calls_per_request"] = d["platform_calls"] / d["requests"] if d["requests"] else None
    # A cell is valid when at most 0.1 % of its requests failed at the socket level and none
    # got an error status: numbers from error responses are never reported as results.
    limit = max(1, rec["requests"] // 1000)
    rec["valid"] = rec["bad_status"] == 0 and rec["socket_errors"] <= limit and rec["requests"] > 0
    for k in ("server", "platform"):
        if f"{k}_cpu_ns" in rec and rec["requests"]:
            rec[f"{k}_cpu_us_per_req"] = rec[f"{k}_cpu_ns"] / rec["requests"] / 1000
    with open(results, "a") as f:
        f.write(json.dumps(rec) + "\n")
    state = "ok" if rec["valid"] else "INVALID"
    print(
        f'  {rec.get("scenario", "?"):>7} {rec.get("target", "?"):<14} c={rec.get("conns")}'
        f' {rec["rps"]:>9.0f} req/s  p50 {w["latency_us"]["p50"] / 1000:7.2f} ms'
        f'  p99 {w["latency_us"]["p99"] / 1000:7.2f} ms  status>=400 {rec["bad_status"]}'
        f'  sock.err {rec["socket_errors"]}'
        + (f'  calls/req {rec["calls_per_request"]:.2f}' if rec.get("calls_per_request") is not None else "")
        + (f'  cpu/req {rec["server_cpu_us_per_req"]:.1f} µs' if "server_cpu_us_per_req" in rec else "")
        + f"  [{state}]"
    )
    return 0 if rec["valid"] else 3


def cmd_record(argv):
    """record RESULTS_JSONL KIND JSON: append a free-form record."""
    rec = json.loads(argv[2])
    rec["kind"] = argv[1]
    with open(argv[0], "a") as f:
        f.write(json.dumps(rec) + "\n")


# ---------------------------------------------------------------------------------------------
# report

SCENARIOS = [
    ("get", "GET /Users/{id}", "GET /api/v1/users/{id}"),
    ("filter", 'GET /Users?filter=userName eq "…"', "GET /api/v1/users?username=…"),
    ("post", "POST /Users", "POST /api/v1/users"),
    ("patch", "PATCH /Users/{id} (Entra, active flip)", "PATCH /api/v1/users/{id}"),
    ("member", "PATCH /Groups/{id} (add member)", "POST /api/v1/groups/{id}/members"),
]
TARGETS = [
    ("direct", "platform direct"),
    ("nginx", "nginx → platform"),
    ("sidecar-http", "sidecar HTTP"),
    ("sidecar-https", "sidecar HTTPS"),
    ("scim2", "scim2-server"),
    ("scim2-gunicorn", "scim2-server (gunicorn)"),
]


def verdict(ok):
    return "**PASS**" if ok else "**FAIL**"


def ms(us):
    return f"{us / 1000:.2f}"


def median_cell(cells):
    """The cell with the median throughput among repeated rounds."""
    cells = sorted(cells, key=lambda c: c["rps"])
    return cells[len(cells) // 2]


def cmd_report(argv):
    results, out = argv[0], argv[1]
    recs = [json.loads(line) for line in open(results) if line.strip()]
    meta = next((r for r in recs if r["kind"] == "meta"), {})
    cells = [r for r in recs if r["kind"] == "cell"]
    main = [c for c in cells if c.get("group") == "main"]

    def pick(scenario, target, group="main"):
        cs = [c for c in cells if c.get("group") == group and c["scenario"] == scenario and c["target"] == target]
        return median_cell(cs) if cs else None

    L = []
    w = L.append
    w("# scim-sidecar benchmark results")
    w("")
    w(f'Run {meta.get("date", "?")} with `{meta.get("command", "perf/run.sh")}`; '
      f'{meta.get("duration", "?")} s per cell, {meta.get("conns", "?")} connections, '
      f'{meta.get("threads", "?")} wrk threads, loopback only. All figures come from this one run; '
      f'compare them as ratios.')
    w("")
    w("## Machine")
    w("")
    for k in ["nproc", "cpu", "memory", "kernel", "loadavg_before", "loadavg_after", "rustc",
              "wrk", "nginx", "python", "scim2_server", "sidecar", "git"]:
        if k in meta:
            w(f"- {k}: {meta[k]}")
    w("")
    invalid = [c for c in cells if not c.get("valid")]
    if invalid:
        w(f"**{len(invalid)} cell(s) had error responses or socket errors: the run FAILED.**")
        w("")

    # --- main table
    w("## Throughput and latency")
    w("")
    w(f'{meta.get("conns", "?")} connections, {meta.get("threads", "?")} threads, '
      f'{meta.get("duration", "?")} s per cell; GET /Users/{{id}} is the median of '
      f'{meta.get("rounds", 1)} interleaved rounds. "calls/req" is platform calls per SCIM '
      f"request from the sidecar's /metrics. \"vs direct\" is throughput relative to calling the "
      f"platform directly.")
    w("")
    w("| scenario | target | req/s | p50 ms | p99 ms | vs direct | calls/req | errors |")
    w("|---|---|---:|---:|---:|---:|---:|---:|")
    for sc, title, ptitle in SCENARIOS:
        d = pick(sc, "direct")
        for tg, tname in TARGETS:
            c = pick(sc, tg)
            if not c:
                continue
            label = title if tg not in ("direct", "nginx") else ptitle
            rel = f'{c["rps"] / d["rps"]:.2f}×' if d and d["rps"] else "–"
            cpr = f'{c["calls_per_request"]:.2f}' if c.get("calls_per_request") is not None else "–"
            err = c["bad_status"] + c["socket_errors"]
            w(f'| {label} | {tname} | {c["rps"]:,.0f} | {ms(c["latency_us"]["p50"])} | '
              f'{ms(c["latency_us"]["p99"])} | {rel} | {cpr} | {err} |')
    w("")

    # --- targets
    checks = []
    w("## Targets (architecture.md §6)")
    w("")
    d, n, s = pick("get", "direct"), pick("get", "nginx"), pick("get", "sidecar-http")
    if d and n and s:
        w("### Overhead over the platform, GET /Users/{id}: sidecar vs nginx `proxy_pass`")
        w("")
        w("overhead = cost through the proxy − cost of the direct call; target: "
          "sidecar overhead ≤ 1.5 × nginx overhead.")
        w("")
        w("| measure | direct | nginx | sidecar | nginx overhead | sidecar overhead | ratio | target ≤ 1.5 |")
        w("|---|---:|---:|---:|---:|---:|---:|---|")

        def row(name, dv, nv, sv, unit, primary=False):
            no, so = nv - dv, sv - dv
            ratio = so / no if no > 0 else float("inf")
            ok = ratio <= 1.5
            w(f"| {name} | {dv:.1f} {unit} | {nv:.1f} {unit} | {sv:.1f} {unit} | {no:.1f} {unit} | "
              f"{so:.1f} {unit} | {ratio:.2f} | {verdict(ok)} |")
            return ratio, ok

        r_tp, ok_tp = row("per-request cost from throughput (1/req·s⁻¹), 16 conns",
                          1e6 / d["rps"], 1e6 / n["rps"], 1e6 / s["rps"], "µs", True)
        r50, ok50 = row("p50 latency, 16 conns", d["latency_us"]["p50"], n["latency_us"]["p50"],
                        s["latency_us"]["p50"], "µs")
        r99, ok99 = row("p99 latency, 16 conns", d["latency_us"]["p99"], n["latency_us"]["p99"],
                        s["latency_us"]["p99"], "µs")
        d1, n1, s1 = pick("get", "direct", "c1"), pick("get", "nginx", "c1"), pick("get", "sidecar-http", "c1")
        if d1 and n1 and s1:
            r1, ok1 = row("p50 latency, 1 connection (unloaded)", d1["latency_us"]["p50"],
                          n1["latency_us"]["p50"], s1["latency_us"]["p50"], "µs")
            row("per-request cost from throughput, 1 connection", 1e6 / d1["rps"], 1e6 / n1["rps"],
                1e6 / s1["rps"], "µs")
        w("")
        w("The throughput-derived cost is the headline figure: under a closed loop with all CPUs busy, "
          "1/throughput is the CPU time the whole system spends per request, and it is the least "
          "noisy of these measures on a shared machine.")
        w("")
        checks.append(("Sidecar overhead ≤ 1.5 × nginx overhead (GET /Users/{id}, throughput-derived)",
                       f"{r_tp:.2f}×", ok_tp))
        checks.append(("Sidecar overhead ≤ 1.5 × nginx overhead (GET /Users/{id}, p50 at 16 conns)",
                       f"{r50:.2f}×", ok50))

    w("### Throughput vs the Python reference server (scim2-server)")
    w("")
    w("scim2-server runs twice: as its CLI serves it (wsgiref, a connection per request) and under "
      "gunicorn (keep-alive, 1 worker, 4 threads). Ratios are taken against the faster of the two.")
    w("")
    w("| scenario | sidecar HTTP req/s | sidecar HTTPS req/s | scim2-server CLI req/s | scim2-server gunicorn req/s | HTTP ratio | HTTPS ratio | target ≥ 20× |")
    w("|---|---:|---:|---:|---:|---:|---:|---|")
    for sc, title, _ in SCENARIOS:
        s, t = pick(sc, "sidecar-http"), pick(sc, "sidecar-https")
        cli, gun = pick(sc, "scim2"), pick(sc, "scim2-gunicorn")
        peers = [c for c in (cli, gun) if c]
        if not (s and peers):
            continue
        p = max(peers, key=lambda c: c["rps"])
        ratio = s["rps"] / p["rps"] if p["rps"] else float("inf")
        tratio = t["rps"] / p["rps"] if (t and p["rps"]) else float("nan")
        ok = ratio >= 20
        w(f'| {title} | {s["rps"]:,.0f} | {t["rps"] if t else 0:,.0f} | {cli["rps"] if cli else 0:,.0f} | '
          f'{gun["rps"] if gun else 0:,.0f} | {ratio:.1f}× | {tratio:.1f}× | {verdict(ok)} |')
        if sc in ("get", "post"):
            checks.append((f"≥ 20× scim2-server throughput, {title} (HTTP)", f"{ratio:.1f}×", ok))
    w("")

    mem = next((r for r in recs if r["kind"] == "memory"), None)
    if mem:
        w("### Memory (VmRSS / VmHWM of the sidecar process)")
        w("")
        idle = mem["idle_kb"] / 1024
        peak = max(mem["c256"]["max_kb"], mem["c256"]["hwm_kb"]) / 1024
        w("| state | RSS MiB |")
        w("|---|---:|")
        w(f"| idle, just started and ready | {idle:.1f} |")
        w(f'| during {mem["conns"]} connections of GET /Users/{{id}} (max of samples every 100 ms) | {mem["c256"]["max_kb"] / 1024:.1f} |')
        w(f'| peak (VmHWM) over that run | {mem["c256"]["hwm_kb"] / 1024:.1f} |')
        w(f'| idle after it | {mem["after_kb"] / 1024:.1f} |')
        if "main_after_kb" in mem:
            w(f'| the benchmark sidecar after every scenario (idle / VmHWM) | {mem["main_after_kb"] / 1024:.1f} / {mem["main_hwm_kb"] / 1024:.1f} |')
        w("")
        c256 = mem.get("wrk")
        if c256:
            w(f'The {mem["conns"]}-connection run served {c256["rps"]:,.0f} req/s, p50 {ms(c256["latency_us"]["p50"])} ms, '
              f'p99 {ms(c256["latency_us"]["p99"])} ms, errors {c256["bad_status"] + c256["socket_errors"]}.')
            w("")
        checks.append(("≤ 20 MiB RSS idle", f"{idle:.1f} MiB", idle <= 20))
        checks.append((f'≤ 64 MiB RSS at {mem["conns"]} connections', f"{peak:.1f} MiB", peak <= 64))

    st = next((r for r in recs if r["kind"] == "start"), None)
    if st:
        w("### Start to ready")
        w("")
        w("From spawning `scim-sidecar serve` to the first 200 (polled every 0.5 ms); /readyz includes "
          "the platform readiness call.")
        w("")
        w("| until | runs | median ms | min ms | max ms |")
        w("|---|---:|---:|---:|---:|")
        for key, name in [("readyz", "first 200 of /readyz"), ("scim", "first 200 of GET /Users/{id}")]:
            if key in st:
                x = st[key]
                w(f'| {name} | {x["runs"]} | {x["median_ms"]:.1f} | {x["min_ms"]:.1f} | {x["max_ms"]:.1f} |')
        w("")
        checks.append(("start to ready ≤ 100 ms (median, /readyz)", f'{st["readyz"]["median_ms"]:.1f} ms',
                       st["readyz"]["median_ms"] <= 100))

    info = [c for c in cells if c.get("group") == "loglevel"]
    if info:
        warn = next((c for c in info if c["target"] == "sidecar-http-warn"), None)
        inf = next((c for c in info if c["target"] == "sidecar-http-info"), None)
        if warn and inf:
            w("### Cost of the access log (log level info vs warn)")
            w("")
            w("| log level | req/s | p50 ms | p99 ms |")
            w("|---|---:|---:|---:|")
            for c, name in [(warn, "warn"), (inf, "info (one JSON access line per request, to a file)")]:
                w(f'| {name} | {c["rps"]:,.0f} | {ms(c["latency_us"]["p50"])} | {ms(c["latency_us"]["p99"])} |')
            w("")
            w(f'info serves {inf["rps"] / warn["rps"]:.2f}× the throughput of warn '
              f'({(1e6 / inf["rps"] - 1e6 / warn["rps"]):.1f} µs more per request).')
            w("")

    # --- scaling
    sc_cells = [c for c in cells if c.get("group") == "scaling"]
    scans = [r for r in recs if r["kind"] == "scan"]
    if sc_cells or scans:
        w("## Scaling with the platform's size")
        w("")
    if sc_cells:
        w("### Pushed-down lookup (`userName eq`) at 1k and 100k platform users")
        w("")
        w("| platform users | req/s | p50 ms | p99 ms | platform calls/request | calls by operation |")
        w("|---:|---:|---:|---:|---:|---|")
        by = {}
        for c in sorted(sc_cells, key=lambda c: c["users"]):
            by[c["users"]] = c
            ops = ", ".join(f"{k} {v}" for k, v in sorted(c.get("platform_by_op", {}).items()))
            w(f'| {c["users"]:,} | {c["rps"]:,.0f} | {ms(c["latency_us"]["p50"])} | '
              f'{ms(c["latency_us"]["p99"])} | {c["calls_per_request"]:.3f} | {ops} |')
        w("")
        if len(by) == 2:
            a, b = by[min(by)], by[max(by)]
            w(f'Throughput at {max(by):,} users is {b["rps"] / a["rps"]:.2f}× that at {min(by):,}.')
            w("")
            one = all(abs(c["calls_per_request"] - 1.0) < 1e-9 for c in by.values())
            checks.append(("exactly 1 platform call per pushed-down userName lookup, 1k and 100k users",
                           ", ".join(f'{c["calls_per_request"]:.3f}' for c in by.values()), one))
            flat = 0.8 <= b["rps"] / a["rps"] <= 1.25
            checks.append(("lookup throughput flat from 1k to 100k users (within ±20 %)",
                           f'{b["rps"] / a["rps"]:.2f}×', flat))
    mem10k = next((r for r in recs if r["kind"] == "member10k"), None)
    if mem10k:
        w("### Adding one member to a 10,000-member group")
        w("")
        ops = ", ".join(f"{k} {v}" for k, v in sorted(mem10k["platform_by_op"].items()))
        w(f'SCIM PATCH add of one member to a group with {mem10k["members"]:,} members: status '
          f'{mem10k["status"]}, {mem10k["platform_calls"]} platform call(s): {ops}.')
        w("")
        lists = sum(v for k, v in mem10k["platform_by_op"].items() if "members.list" in k)
        ok = mem10k["platform_calls"] == 1 and lists == 0 and mem10k["status"] == 204
        checks.append(("add one member to a 10,000-member group: 1 call, 0 member-list reads",
                       f'{mem10k["platform_calls"]} call(s), {lists} list reads', ok))
    if scans:
        w("### A filter the platform cannot evaluate (scanned by the sidecar)")
        w("")
        w("`GET /Users?filter=name.givenName eq \"User\"` matches every seeded user; the sidecar reads "
          "the platform's pages and keeps only the requested window (count=100 by default). Peak RSS "
          "is VmHWM after resetting it before the scans.")
        w("")
        w("| platform users | scan_limit | status | totalResults | platform calls | median time s | RSS before MiB | peak RSS MiB |")
        w("|---:|---:|---|---:|---:|---:|---:|---:|")
        for r in scans:
            run = r["runs"][0]
            status = str(run["status"]) + (f' {run["scim_type"]}' if run.get("scim_type") else "")
            w(f'| {r["users"]:,} | {r["scan_limit"]:,} | {status} | {run["total"] if run["total"] is not None else "–"} | '
              f'{run["platform_calls"]} | {r["median_seconds"]:.3f} | {r["rss_before_kb"] / 1024:.1f} | '
              f'{r["peak_kb"] / 1024:.1f} |')
        w("")
        refused = [r for r in scans if r["runs"][0]["status"] == 400]
        for r in refused:
            w(f'At {r["users"]:,} users with the demo mapping\'s scan_limit = {r["scan_limit"]:,} the sidecar '
              f'answers 400 `{r["runs"][0]["scim_type"]}` after reading {r["runs"][0]["platform_calls"]} pages: '
              f'"{r["runs"][0]["detail"]}"')
            w("")
        big = [r for r in scans if r["runs"][0]["status"] == 200]
        if len(big) >= 2:
            lo = min(big, key=lambda r: r["users"])
            hi = max(big, key=lambda r: r["users"])
            growth = (hi["peak_kb"] - lo["peak_kb"]) / 1024
            ok = growth <= 4
            checks.append((f'scan memory flat: peak RSS at {hi["users"]:,} vs {lo["users"]:,} users (≤ 4 MiB growth)',
                           f'{lo["peak_kb"] / 1024:.1f} → {hi["peak_kb"] / 1024:.1f} MiB', ok))

    w("## Verdicts")
    w("")
    w("| target | measured | verdict |")
    w("|---|---|---|")
    for name, val, ok in checks:
        w(f"| {name} | {val} | {verdict(ok)} |")
    if invalid:
        w(f"| every cell free of error responses | {len(invalid)} invalid | **FAIL** |")
    else:
        w(f"| every cell free of error responses | {len(cells)} cells | **PASS** |")
    w("")
    text = "\n".join(L) + "\n"
    with open(out, "w") as f:
        f.write(text)
    print(text)
    return 0


COMMANDS = {
    "freeport": cmd_freeport,
    "wait-http": cmd_wait_http,
    "platform-groups": cmd_platform_groups,
    "platform-members": cmd_platform_members,
    "scim2-seed": cmd_scim2_seed,
    "rss": cmd_rss,
    "reset-hwm": cmd_reset_hwm,
    "watch-rss": cmd_watch_rss,
    "metrics": cmd_metrics,
    "cpu": cmd_cpu,
    "scan": cmd_scan,
    "start-time": cmd_start_time,
    "cell": cmd_cell,
    "record": cmd_record,
    "report": cmd_report,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]) or 0)
