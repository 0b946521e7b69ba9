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
    metrics URL                      SCIM requests, platform calls, OAuth2 token fetches and
                                     dropped access-log lines (when counted) from /metrics, JSON
    scan BASE TOKEN FILTER RUNS PID METRICS_URL   sequential list requests with a filter: time,
                                     status, totalResults, platform calls, peak RSS, JSON
    start-time RUNS MODE -- CMD...   spawn CMD RUNS times, time to ready (MODE readyz:URL or
                                     scim:URL:TOKEN), JSON
    cell ...                         merge one wrk run into results.jsonl (see run.sh)
    report RESULTS_JSONL OUT_MD [--baseline EARLIER_JSONL]   the Markdown report (perf/report.py)
    embedded RESULTS_JSONL BENCH_OUTPUT   record the adds/s printed by benches/embedded_members.rs
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
    out = {"requests": 0, "requests_by_status": {}, "platform_calls": 0, "platform_by_op": {},
           "token_fetches": 0, "token_by_outcome": {}, "log_dropped": None}
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
        elif name == "scim_sidecar_platform_token_fetches_total":
            out["token_fetches"] += int(value)
            o = lab.get("outcome", "?")
            out["token_by_outcome"][o] = out["token_by_outcome"].get(o, 0) + int(value)
        elif name == "scim_sidecar_log_dropped_lines_total":
            # Only in builds whose access log has a bounded queue; None when the metric is absent.
            out["log_dropped"] = (out["log_dropped"] or 0) + int(value)
    return out


def metrics_delta(before, after):
    d = {
        "requests": after["requests"] - before["requests"],
        "platform_calls": after["platform_calls"] - before["platform_calls"],
        "platform_by_op": {},
        "token_fetches": after.get("token_fetches", 0) - before.get("token_fetches", 0),
        "log_dropped": None,
    }
    if after.get("log_dropped") is not None:
        d["log_dropped"] = after["log_dropped"] - (before.get("log_dropped") or 0)
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
        rec["token_fetches"] = d["token_fetches"]
        rec["log_dropped"] = d["log_dropped"]
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


def cmd_embedded(argv):
    """embedded RESULTS_JSONL BENCH_OUTPUT [NOTE]: the member changes per second that
    benches/embedded_members.rs printed, as an `embedded` record (changes_per_s null and the note
    when the bench did not run or printed no figure)."""
    rec = {"kind": "embedded", "changes_per_s": None, "note": argv[2] if len(argv) > 2 else ""}
    try:
        with open(argv[1]) as f:
            text = f.read()
    except OSError as e:
        text = ""
        rec["note"] = rec["note"] or f"no bench output ({e})"
    m = re.search(r"^embedded_members: ([0-9.]+) member changes per second", text, re.M)
    if m:
        rec["changes_per_s"] = float(m.group(1))
    elif not rec["note"]:
        rec["note"] = f"no figure in {argv[1]}"
    with open(argv[0], "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(f'  embedded membership: {rec["changes_per_s"]} changes/s {rec["note"]}'.rstrip())


def cmd_report(argv):
    """report RESULTS_JSONL OUT_MD [--baseline EARLIER_RESULTS_JSONL]: the Markdown report."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import report

    baseline = None
    if len(argv) >= 4 and argv[2] == "--baseline":
        baseline = argv[3]
    elif len(argv) != 2:
        raise SystemExit("report: RESULTS_JSONL OUT_MD [--baseline EARLIER_RESULTS_JSONL]")
    return report.report(argv[0], argv[1], baseline)


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
    "embedded": cmd_embedded,
    "report": cmd_report,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]) or 0)
