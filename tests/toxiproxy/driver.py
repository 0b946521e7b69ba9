#!/usr/bin/env python3
# The driver of tests/toxiproxy/run.sh (Python standard library only): an Entra-like SCIM client
# run through scim-sidecar while Toxiproxy, between the sidecar and the demo platform, injects one
# fault at a time (then all of them mixed); after each fault, with the faults removed, the
# platform's own state is compared with the state the client believes it made.
#
#   driver.py --scim URL --token T --platform URL --platform-key K --toxiproxy URL \
#             --proxy NAME --admin URL --pid PID --request-timeout S [--faults a,b] [--out JSON]
#
# The client behaves as Entra's provisioning service does: every request is retried on a 5xx, a
# timeout or a broken connection (later, with backoff); a create goes through a `userName eq` /
# `displayName eq` match first, and a 409 on create means "look it up"; a 404 on delete means
# done. One check per fault; a fault passes when the final state has no difference from the
# client's, every step converged, no answer was 500 (backend failures are 502/503/504), no request
# outlived server.request_timeout by more than a second, and the sidecar's RSS stayed within
# RSS_GROWTH_KIB of its value after the warm-up. Prints one line per fault and
# `N passed, M failed`; exits 1 on any failure.

import argparse
import http.client
import json
import random
import socket
import threading
import time
import urllib.parse
from collections import Counter

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# Sidecar RSS may grow this much over the whole run (allocator pools, connection buffers).
RSS_GROWTH_KIB = 16 * 1024
# A step (one logical change) gives up after this long; a fault's workload after FAULT_LIMIT.
STEP_LIMIT = 60.0
FAULT_LIMIT = 90.0
# Concurrent client connections (Entra runs a few requests at once per application).
WORKERS = 4


class Http:
    """A keep-alive HTTP/1.1 connection to one origin, reopened after any failure."""

    def __init__(self, base, timeout):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.prefix = u.hostname, u.port, u.path.rstrip("/")
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        """(status, headers, bytes); raises OSError / http.client errors on transport failure."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        h = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/scim+json"
        try:
            self.conn.request(method, self.prefix + path, body=data, headers=h)
            r = self.conn.getresponse()
            payload = r.read()
            if r.getheader("connection", "").lower() == "close":
                self.close()
            return r.status, r, payload
        except Exception:
            self.close()
            raise

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None


def api(base, method, path, body=None, headers=None, timeout=10):
    """One request on a fresh connection; returns (status, parsed JSON or None)."""
    c = Http(base, timeout)
    try:
        h = dict(headers or {})
        status, _, payload = c.request(method, path, body, h)
    finally:
        c.close()
    try:
        return status, json.loads(payload) if payload else None
    except ValueError:
        return status, None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.steps = 0
        self.statuses = Counter()
        self.errors = Counter()  # transport failures seen by the client
        self.max_seconds = 0.0
        self.overruns = []
        self.server_errors = []  # 500s
        self.unconverged = []
        self.retry_after = 0

    def record(self, status, seconds, note):
        with self.lock:
            self.requests += 1
            self.max_seconds = max(self.max_seconds, seconds)
            if isinstance(status, int):
                self.statuses[status] += 1
                if status == 500:
                    self.server_errors.append(note)
            else:
                self.errors[status] += 1


class Entra:
    """An Entra-like client on one keep-alive connection (one per worker thread)."""

    def __init__(self, args, stats, deadline):
        self.args = args
        self.stats = stats
        self.deadline = deadline
        self.http = Http(args.scim, args.request_timeout + 5)
        self.auth = {"Authorization": f"Bearer {args.token}"}

    def until(self, method, path, body, done):
        """Retries until the status is in `done`; returns (status, JSON) or None if it gave up."""
        started = time.monotonic()
        backoff = 0.1
        with self.stats.lock:
            self.stats.steps += 1
        while True:
            t0 = time.monotonic()
            try:
                status, resp, payload = self.http.request(method, path, body, self.auth)
            except (OSError, http.client.HTTPException) as e:
                status, resp, payload = type(e).__name__, None, b""
            took = time.monotonic() - t0
            self.stats.record(status, took, f"{method} {path}")
            if took > self.args.request_timeout + 1:
                with self.stats.lock:
                    self.stats.overruns.append(f"{method} {path}: {took:.1f}s ({status})")
            if isinstance(status, int) and status in done:
                try:
                    return status, json.loads(payload) if payload else None
                except ValueError:
                    return status, None
            if isinstance(status, int) and status < 500:
                with self.stats.lock:
                    self.stats.unconverged.append(f"{method} {path}: unexpected {status} {payload[:200]!r}")
                return None
            if resp is not None and resp.getheader("retry-after"):
                with self.stats.lock:
                    self.stats.retry_after += 1
            now = time.monotonic()
            if now - started > STEP_LIMIT or now > self.deadline:
                with self.stats.lock:
                    self.stats.unconverged.append(f"{method} {path}: gave up after {now - started:.0f}s ({status})")
                return None
            # Later: Entra retries on a later cycle; here after a short, growing, jittered wait.
            time.sleep(backoff * (0.5 + random.random()))
            backoff = min(backoff * 2, 1.0)

    def ensure(self, resource, attr, value, body):
        """Match, then create; a 409 means an earlier attempt created it: match again."""
        q = urllib.parse.quote(f'{attr} eq "{value}"')
        for _ in range(5):
            r = self.until("GET", f"/{resource}?filter={q}", None, {200})
            if r is None:
                return None
            found = r[1] or {}
            if found.get("Resources"):
                if found.get("totalResults") != 1:
                    with self.stats.lock:
                        self.stats.unconverged.append(f"{resource} {value}: {found.get('totalResults')} matches")
                return found["Resources"][0]["id"]
            r = self.until("POST", f"/{resource}", body, {201, 409})
            if r is None:
                return None
            if r[0] == 201:
                return r[1]["id"]
        return None

    def patch(self, resource, rid, ops):
        return self.until("PATCH", f"/{resource}/{rid}", {"schemas": [PATCH], "Operations": ops}, {200, 204})

    def delete(self, resource, rid):
        return self.until("DELETE", f"/{resource}/{rid}", None, {204, 404})


def user_body(name, given, family):
    return {
        "schemas": [USER],
        "userName": name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"type": "work", "primary": True, "value": name}],
        "active": True,
    }


def workload(args, fault, seconds, workers, stats, think=0.1):
    """Runs provisioning stories (one user each) over `workers` connections, starting new ones
    for `seconds`, then lets those in progress finish. Returns the state the client believes it
    made: users {username: (given, family, active)} and groups {name: set(usernames)}; steps
    that never converged are noted in stats."""
    stop_starting = time.monotonic() + seconds
    deadline = stop_starting + FAULT_LIMIT
    expect_users = {}
    expect_groups = {}
    lock = threading.Lock()
    counter = iter(range(1_000_000))
    gnames = [f"toxi {fault} group {g}" for g in range(2)]
    gids = {}
    setup = Entra(args, stats, deadline)
    for g in gnames:
        gid = setup.ensure("Groups", "displayName", g, {"schemas": [GROUP], "displayName": g})
        if gid is not None:
            gids[g] = gid
            expect_groups[g] = set()
    setup.http.close()

    def story(e, i):
        name = f"toxi.{fault}.u{i}@example.com"
        uid = e.ensure("Users", "userName", name, user_body(name, f"G{i}", f"F{i}"))
        if uid is None:
            return
        state = [f"G{i}", f"F{i}", True]
        with lock:
            expect_users[name] = tuple(state)
        time.sleep(think)
        # Entra quirk: a path-less Replace with dotted keys.
        if e.patch("Users", uid, [{"op": "Replace", "value": {"name.givenName": f"G{i}b", "name.familyName": f"F{i}b"}}]):
            state[0], state[1] = f"G{i}b", f"F{i}b"
            with lock:
                expect_users[name] = tuple(state)
        time.sleep(think)
        if i % 3 == 1:
            # Entra quirks: a capitalised op, "False" as a string.
            if e.patch("Users", uid, [{"op": "Replace", "path": "active", "value": "False"}]):
                state[2] = False
                with lock:
                    expect_users[name] = tuple(state)
            time.sleep(think)
        g = gnames[i % 2]
        if g in gids and e.patch("Groups", gids[g], [{"op": "Add", "path": "members", "value": [{"value": uid}]}]):
            with lock:
                expect_groups[g].add(name)
            time.sleep(think)
            if i % 4 == 3 and e.patch("Groups", gids[g], [{"op": "Remove", "path": "members", "value": [{"value": uid}]}]):
                with lock:
                    expect_groups[g].discard(name)
                time.sleep(think)
        if i % 5 == 4 and e.delete("Users", uid):
            with lock:
                expect_users.pop(name, None)
                for members in expect_groups.values():
                    members.discard(name)
        time.sleep(think)

    def run():
        e = Entra(args, stats, deadline)
        while time.monotonic() < stop_starting:
            with lock:
                i = next(counter)
            story(e, i)
        e.http.close()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return expect_users, expect_groups


def platform_state(args, fault):
    """The platform's users and group members for this fault, read through its own API."""
    key = {"X-Api-Key": args.platform_key}
    prefix = f"toxi.{fault}."
    users = {}
    by_id = {}
    duplicates = 0
    for page in range(1, 1000):
        status, body = api(args.platform, "GET", f"/api/v1/users?page={page}&per_page=100", headers=key)
        if status != 200:
            raise RuntimeError(f"platform users: {status}")
        data = body["data"]
        if not data:
            break
        for u in data:
            by_id[u["id"]] = u["username"]
            if u["username"].startswith(prefix):
                if u["username"] in users:
                    duplicates += 1
                users[u["username"]] = (u.get("first_name") or "", u.get("last_name") or "", u.get("status") == "active")
    groups = {}
    status, body = api(args.platform, "GET", "/api/v1/groups?per_page=100", headers=key)
    if status != 200:
        raise RuntimeError(f"platform groups: {status}")
    for g in body["data"]:
        if not g["name"].startswith(f"toxi {fault} "):
            continue
        if g["name"] in groups:
            duplicates += 1
        status, m = api(args.platform, "GET", f"/api/v1/groups/{g['id']}/members?per_page=100", headers=key)
        if status != 200:
            raise RuntimeError(f"platform members: {status}")
        groups[g["name"]] = {by_id.get(x["user_id"], f"deleted user {x['user_id']}") for x in m["data"]}
    return users, groups, duplicates


def differences(expect_users, expect_groups, users, groups):
    diffs = []
    for name in sorted(set(expect_users) | set(users)):
        if expect_users.get(name) != users.get(name):
            diffs.append(f"user {name}: client {expect_users.get(name)}, platform {users.get(name)}")
    for g in sorted(set(expect_groups) | set(groups)):
        a, b = expect_groups.get(g), groups.get(g)
        if a != b:
            diffs.append(f"group {g}: client {sorted(a or [])}, platform {sorted(b or [])}")
    return diffs


class Toxiproxy:
    def __init__(self, base, proxy):
        self.base, self.proxy = base, proxy

    def add(self, name, kind, stream, attributes, toxicity=1.0):
        status, body = api(self.base, "POST", f"/proxies/{self.proxy}/toxics", {
            "name": name, "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes,
        })
        if status != 200:
            raise RuntimeError(f"toxiproxy: adding {kind}: {status} {body}")

    def reroll(self, name, kind, stream, attributes, toxicity):
        """Updates a toxic unchanged: Toxiproxy draws its toxicity again for every open
        connection, so that pooled keep-alive connections meet it too, not only new ones."""
        status, body = api(self.base, "POST", f"/proxies/{self.proxy}/toxics/{name}", {
            "type": kind, "stream": stream, "toxicity": toxicity, "attributes": attributes,
        })
        if status != 200:
            raise RuntimeError(f"toxiproxy: updating {name}: {status} {body}")

    def enable(self, enabled):
        status, body = api(self.base, "POST", f"/proxies/{self.proxy}", {"enabled": enabled})
        if status != 200:
            raise RuntimeError(f"toxiproxy: enabled={enabled}: {status} {body}")

    def reset(self):
        """Enables every proxy and removes every toxic."""
        status, body = api(self.base, "POST", "/reset")
        if status not in (200, 204):
            raise RuntimeError(f"toxiproxy: reset: {status} {body}")


def call_outcomes(args):
    """Platform calls the sidecar finished, by outcome (after its own retries), from /metrics."""
    c = Http(args.admin, 5)
    try:
        _, _, payload = c.request("GET", "/metrics")
    finally:
        c.close()
    out = Counter()
    for line in payload.decode().splitlines():
        if line.startswith("scim_sidecar_platform_call_duration_seconds_count{"):
            labels, value = line.rsplit(" ", 1)
            outcome = labels.split('outcome="', 1)[1].split('"', 1)[0]
            out[outcome] += int(float(value))
    return out


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def reroller(tp, toxics, stop):
    """Redraws the toxicity of partial toxics every 0.3 s until `stop` is set."""
    partial = [t for t in toxics if t[4] < 1.0]
    while partial and not stop.wait(0.3):
        for name, kind, stream, attrs, toxicity in partial:
            try:
                tp.reroll(name, kind, stream, attrs, toxicity)
            except (OSError, RuntimeError, http.client.HTTPException):
                pass


def outage(tp, args, seconds, start_after, probes):
    """Disables the proxy for `seconds` after `start_after`, probing /readyz meanwhile."""
    time.sleep(start_after)
    tp.enable(False)
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            status, _ = api(args.admin, "GET", "/readyz", timeout=5)
        except (OSError, http.client.HTTPException) as e:
            status = type(e).__name__
        probes.append((status, time.monotonic() - t0))
        time.sleep(max(0.0, min(0.5, end - time.monotonic())))
    tp.enable(True)


# fault name -> (description, toxics [(name, type, stream, attributes, toxicity)],
#                (outage start, outage seconds) or None, seconds of new stories)
FAULTS = {
    "latency": ("latency 150 ms ± 120 ms down, 20 ± 15 ms up", [
        ("lat_down", "latency", "downstream", {"latency": 150, "jitter": 120}, 1.0),
        ("lat_up", "latency", "upstream", {"latency": 20, "jitter": 15}, 1.0),
    ], None, 12),
    "stall": ("stalls: `timeout` toxic (data dropped, connection held) on 10 % of connections", [
        ("stall_down", "timeout", "downstream", {"timeout": 0}, 0.1),
    ], None, 15),
    "reset_peer": ("`reset_peer` on the first answer bytes, 30 % of connections", [
        ("reset", "reset_peer", "downstream", {"timeout": 0}, 0.3),
    ], None, 12),
    "cut_short": ("answers cut short: `limit_data` 2 KiB on 30 % of connections, `slicer` 64 ± 48 B", [
        ("limit", "limit_data", "downstream", {"bytes": 2048}, 0.3),
        ("slicer", "slicer", "downstream", {"average_size": 64, "size_variation": 48, "delay": 200}, 1.0),
    ], None, 12),
    "bandwidth": ("`bandwidth` 4 KB/s per connection, downstream", [
        ("bw", "bandwidth", "downstream", {"rate": 4}, 1.0),
    ], None, 12),
    "outage": ("platform outage: the proxy disabled for 10 s", [], (2.0, 10), 14),
    "mixed": ("all mixed: latency, stalls, resets, cut answers, slicer, bandwidth, a 10 s outage", [
        ("lat_down", "latency", "downstream", {"latency": 80, "jitter": 60}, 1.0),
        ("stall_down", "timeout", "downstream", {"timeout": 0}, 0.05),
        ("reset", "reset_peer", "downstream", {"timeout": 20}, 0.1),
        ("limit", "limit_data", "downstream", {"bytes": 2048}, 0.15),
        ("slicer", "slicer", "upstream", {"average_size": 64, "size_variation": 48, "delay": 200}, 1.0),
        ("bw", "bandwidth", "downstream", {"rate": 16}, 1.0),
    ], (5.0, 10), 20),
}


def main():
    p = argparse.ArgumentParser()
    for a in ("scim", "token", "platform", "platform-key", "toxiproxy", "proxy", "admin"):
        p.add_argument(f"--{a}", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--request-timeout", type=float, required=True)
    p.add_argument("--faults", default=",".join(FAULTS))
    p.add_argument("--out")
    args = p.parse_args()
    random.seed(1)
    tp = Toxiproxy(args.toxiproxy, args.proxy)
    tp.reset()

    # Warm-up, without faults: the RSS baseline is taken after it.
    warm = Stats()
    workload(args, "warmup", 5, WORKERS, warm)
    baseline = rss_kib(args.pid)
    print(f"warm-up: {warm.requests} requests, statuses {dict(sorted(warm.statuses.items()))}, "
          f"sidecar RSS {baseline / 1024:.1f} MiB", flush=True)

    results = []
    passed = failed = 0
    for fault in args.faults.split(","):
        desc, toxics, down, seconds = FAULTS[fault]
        stats = Stats()
        calls_before = call_outcomes(args)
        started = time.monotonic()
        for name, kind, stream, attrs, toxicity in toxics:
            tp.add(name, kind, stream, attrs, toxicity)
        stop = threading.Event()
        helpers = [threading.Thread(target=reroller, args=(tp, toxics, stop))]
        probes = []
        if down:
            helpers.append(threading.Thread(target=outage, args=(tp, args, down[1], down[0], probes)))
        for t in helpers:
            t.start()
        expect_users, expect_groups = workload(args, fault, seconds, WORKERS, stats)
        stop.set()
        for t in helpers:
            t.join()
        tp.reset()
        seconds = time.monotonic() - started
        users_now, groups_now, duplicates = platform_state(args, fault)
        diffs = differences(expect_users, expect_groups, users_now, groups_now)
        rss = rss_kib(args.pid)
        calls = call_outcomes(args)
        calls.subtract(calls_before)
        failed_calls = {k: v for k, v in sorted(calls.items()) if v and k != "2xx"}
        problems = []
        if diffs:
            problems.append(f"{len(diffs)} state differences: " + "; ".join(diffs[:5]))
        if duplicates:
            problems.append(f"{duplicates} duplicates")
        if stats.unconverged:
            problems.append(f"{len(stats.unconverged)} steps did not converge: " + "; ".join(stats.unconverged[:3]))
        if stats.server_errors:
            problems.append(f"{len(stats.server_errors)} answers 500: " + "; ".join(stats.server_errors[:3]))
        if stats.overruns:
            problems.append(f"{len(stats.overruns)} requests outlived server.request_timeout + 1 s: " + "; ".join(stats.overruns[:3]))
        if rss - baseline > RSS_GROWTH_KIB:
            problems.append(f"RSS grew {(rss - baseline) / 1024:.1f} MiB (limit {RSS_GROWTH_KIB / 1024:.0f})")
        readyz = ""
        if down:
            slow = [s for s in probes if s[1] > 1.0]
            unready = [s for s in probes if s[0] == 503]
            readyz = f", /readyz during the outage: {len(unready)}/{len(probes)} 503, slowest {max((s[1] for s in probes), default=0) * 1000:.0f} ms"
            if slow or not unready:
                problems.append(f"/readyz during the outage: {len(slow)} probes over 1 s, {len(unready)} answered 503")
        ok = not problems
        passed += ok
        failed += not ok
        statuses = dict(sorted(stats.statuses.items()))
        statuses.update({k: v for k, v in sorted(stats.errors.items())})
        retries = stats.requests - stats.steps
        print(f"{'PASS' if ok else 'FAIL'} {fault}: {stats.requests} requests in {seconds:.0f} s, "
              f"statuses {statuses}, retries {retries} ({stats.retry_after} with Retry-After), "
              f"slowest {stats.max_seconds:.2f} s, platform calls {calls['2xx']} 2xx + {failed_calls}, state differences {len(diffs) + duplicates}, "
              f"RSS {baseline / 1024:.1f} -> {rss / 1024:.1f} MiB{readyz}", flush=True)
        for pr in problems:
            print(f"    {pr}", flush=True)
        results.append({
            "fault": fault, "description": desc, "requests": stats.requests, "steps": stats.steps,
            "statuses": {str(k): v for k, v in statuses.items()}, "retries": retries,
            "retry_after": stats.retry_after, "platform_calls_2xx": calls["2xx"],
            "platform_calls_failed": failed_calls, "slowest_s": round(stats.max_seconds, 2),
            "differences": len(diffs) + duplicates, "seconds": round(seconds, 1),
            "rss_before_kib": baseline, "rss_after_kib": rss, "readyz": readyz.lstrip(", "),
            "passed": ok, "problems": problems,
        })
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
