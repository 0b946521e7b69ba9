#!/usr/bin/env python3
"""The token endpoint under a flood (docs/performance.md): a good client's token latency, idle and
while 4 connections send 1,000 bad-secret attempts for its client id.

Run the sidecar with [auth.oauth] and a client `entra` (see docs/entra.md), then:
    TOKEN_URL_HOST=127.0.0.1 TOKEN_URL_PORT=8080 SECRET_FILE=entra-secret python3 perf/token_flood.py
"""
import base64, http.client, os, threading, time
HOST = os.environ.get("TOKEN_URL_HOST", "127.0.0.1")
PORT = int(os.environ.get("TOKEN_URL_PORT", "8080"))
PATH = os.environ.get("TOKEN_PATH", "/scim/v2/oauth/token")
secret = open(os.environ["SECRET_FILE"]).read().strip()
def req(conn, user, pw):
    auth = base64.b64encode(f"{user}:{pw}".encode()).decode()
    conn.request("POST", PATH, "grant_type=client_credentials",
                 {"Authorization": "Basic " + auth, "Content-Type": "application/x-www-form-urlencoded"})
    r = conn.getresponse(); r.read(); return r.status
def good(n):
    c = http.client.HTTPConnection(HOST, PORT); out = []
    for _ in range(n):
        t = time.perf_counter(); s = req(c, "entra", secret); out.append((time.perf_counter() - t) * 1000)
        assert s == 200, s
    return out
def pct(xs, p): xs = sorted(xs); return xs[int(len(xs) * p / 100) - 1]
good(50)
idle = good(500)
codes = {}
def flood(k):
    c = http.client.HTTPConnection(HOST, PORT)
    for _ in range(k):
        s = req(c, "entra", "wrong-secret-wrong-secret-wrong-secret"); codes[s] = codes.get(s, 0) + 1
threads = [threading.Thread(target=flood, args=(250,)) for _ in range(4)]
t0 = time.perf_counter()
for t in threads: t.start()
during = []
while any(t.is_alive() for t in threads):
    during += good(10)
for t in threads: t.join()
dt = time.perf_counter() - t0
print(f"idle:   n={len(idle)} p50={pct(idle,50):.2f} ms p99={pct(idle,99):.2f} ms")
print(f"flood:  1000 bad attempts in {dt:.2f} s over 4 connections, statuses {codes}")
print(f"during: n={len(during)} good token requests, all 200, p50={pct(during,50):.2f} ms p99={pct(during,99):.2f} ms")
