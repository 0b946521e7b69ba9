#!/usr/bin/env bash
# perf/run.sh — the benchmark harness of scim-sidecar: one command, loopback only, bounded time.
#
#   perf/run.sh             full run (5 s per cell, about 7 minutes)
#   perf/run.sh --quick     smoke check (1 s per cell, one round, under 2 minutes)
#   perf/run.sh --no-build  use target/release/scim-sidecar as it is (or set SCIM_SIDECAR_BIN)
#   perf/run.sh --no-embedded            skip the embedded-membership bench (cargo bench)
#   perf/run.sh --baseline=FILE          compare with an earlier run's results.jsonl (each run
#                                        keeps the one before it as target/bench/results-previous.jsonl)
#
# It measures, with wrk, throughput and p50/p99 latency of five SCIM requests (GET /Users/{id},
# a pushed-down userName filter, POST /Users, Entra's PATCH of `active`, adding a group member)
# against: the demo platform called directly (the equivalent REST call), nginx proxy_pass in front
# of it, scim-sidecar over HTTP and HTTPS, and the Python reference server scim2-server, both as
# its CLI serves it (wsgiref, a connection per request) and under gunicorn (keep-alive, 4 threads). Then
# sidecar memory (idle and at 256 connections), start-to-ready time, the cost of the access log
# (log.level info vs warn), GET through a sidecar whose platform wants OAuth2 client credentials
# (and its token calls), member changes to one group with embedded members (cargo bench --bench
# embedded_members), and how lookups and scans scale from 1k to 100k platform users.
#
# Ratios first: GET /Users/{id} of direct, nginx, sidecar and OAuth2 sidecar at 16 connections,
# the same at 1 connection, and the warn and info sidecars run in BENCH_ROUNDS interleaved
# rounds; each round's ratio comes from that round's own cells, and the median of the rounds is
# the verdict (every round and their spread are shown). Results: a Markdown report on
# stdout and in target/bench/results.md, raw wrk output in target/bench/raw/, logs in
# target/bench/logs/. Exit status 1 when any cell saw an error status (>= 400) or more than 0.1 %
# socket errors: numbers are never taken from failing requests. Missed targets are reported as
# FAIL in the report, not by the exit status.
#
# Environment: BENCH_DURATION (s per cell), BENCH_CONNECTIONS (16), BENCH_THREADS (2),
# BENCH_ROUNDS (interleaved rounds of the ratio cells, 3; 1 with --quick), BENCH_USERS
# (platform users, 10000), BENCH_BIG_USERS (100000), BENCH_SCIM2_USERS (1000),
# BENCH_MANY_CONNECTIONS (256), BENCH_STARTS (10), BENCH_OAUTH_LIFETIME (seconds, 2; 1 with
# --quick: short, so every cell crosses token refreshes), BENCH_BASELINE (as --baseline),
# BENCH_KEEP_TMP=1 keeps the temporary directory.
# Needs: wrk, nginx, openssl, python3 (installed with apt-get when missing and run as root).
# The machine is best left otherwise idle: every process shares its CPUs with the load generator.

set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

QUICK=0
BUILD=1
EMBEDDED=1
BASELINE=${BENCH_BASELINE:-}
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        --no-build) BUILD=0 ;;
        --no-embedded) EMBEDDED=0 ;;
        --baseline=*) BASELINE=${arg#--baseline=} ;;
        -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown argument $arg (try --help)" ;;
    esac
done

if [[ $QUICK -eq 1 ]]; then
    DURATION=${BENCH_DURATION:-1}
    ROUNDS=${BENCH_ROUNDS:-1}
    STARTS=${BENCH_STARTS:-5}
    OAUTH_LIFETIME=${BENCH_OAUTH_LIFETIME:-1}
else
    DURATION=${BENCH_DURATION:-5}
    ROUNDS=${BENCH_ROUNDS:-3}
    STARTS=${BENCH_STARTS:-10}
    OAUTH_LIFETIME=${BENCH_OAUTH_LIFETIME:-2}
fi
CONNS=${BENCH_CONNECTIONS:-16}
THREADS=${BENCH_THREADS:-2}
USERS=${BENCH_USERS:-10000}
BIG_USERS=${BENCH_BIG_USERS:-100000}
SMALL_USERS=1000
SCIM2_USERS=${BENCH_SCIM2_USERS:-1000}
MANY=${BENCH_MANY_CONNECTIONS:-256}
[[ $USERS -ge 2000 ]] || die "BENCH_USERS must be at least 2000"

mkdir -p "$OUT"
rm -rf "$OUT/raw" "$OUT/logs"
mkdir -p "$OUT/raw" "$OUT/logs"
RESULTS=$OUT/results.jsonl
if [[ -n $BASELINE ]]; then
    [[ -s $BASELINE ]] || die "--baseline: no results at $BASELINE"
    # Copied first: the baseline may be this very file, or the previous run's copy of it.
    cp "$BASELINE" "$OUT/results-baseline.jsonl.tmp"
    mv "$OUT/results-baseline.jsonl.tmp" "$OUT/results-baseline.jsonl"
    BASELINE=$OUT/results-baseline.jsonl
fi
if grep -q '"kind": "meta"' "$RESULTS" 2>/dev/null; then
    cp "$RESULTS" "$OUT/results-previous.jsonl"
fi
: >"$RESULTS"
FAILED=0
trap cleanup EXIT
trap 'exit 130' INT TERM

ensure_tools wrk nginx openssl python3
ensure_binary $BUILD
ensure_venv
if [[ $EMBEDDED -eq 1 ]] && ! command -v cargo >/dev/null; then
    EMBEDDED=0
    EMBEDDED_NOTE="no cargo to run benches/embedded_members.rs"
    log "embedded membership skipped: $EMBEDDED_NOTE"
elif [[ $EMBEDDED -eq 1 ]]; then
    # Built now, before any measurement (a no-op when it is up to date; several minutes with
    # the release profile's fat LTO when it is not, even with --no-build).
    log "cargo bench --bench embedded_members --no-run"
    (cd "$ROOT" && cargo bench --locked --bench embedded_members --no-run) >"$OUT/bench-build.log" 2>&1 ||
        die "cargo bench --no-run failed; see $OUT/bench-build.log"
else
    EMBEDDED_NOTE="--no-embedded given"
fi
make_tmp
LOGS=$OUT/logs

TOKEN=$(openssl rand -hex 32)
PLATFORM_KEY=$(openssl rand -hex 16)
RUN_ID=$(date +%s)

# --- machine description --------------------------------------------------------------------
meta=$(python3 - "$BIN" "$NGINX" "$VENV" "$ROOT" <<'EOF'
import json, os, platform, subprocess, sys, time
binary, nginx, venv, root = sys.argv[1:5]
def run(*cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except Exception as e:
        return f"unavailable ({e})"
cpu = "?"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
mem = "?"
for line in open("/proc/meminfo"):
    if line.startswith("MemTotal"):
        mem = f'{int(line.split()[1]) / 1024 / 1024:.1f} GiB'; break
print(json.dumps({
    "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    "nproc": os.cpu_count(),
    "cpu": cpu,
    "memory": mem,
    "kernel": platform.release(),
    "loadavg_before": open("/proc/loadavg").read().strip(),
    "rustc": run("rustc", "--version"),
    "wrk": run("wrk", "--version").split(" Copyright")[0],
    "nginx": run(nginx, "-v"),
    "python": platform.python_version(),
    "scim2_server": run(f"{venv}/bin/python", "-c", "import importlib.metadata as m; print(m.version('scim2-server'))"),
    "sidecar": run(binary, "--version"),
    "git": run("git", "-C", root, "describe", "--always", "--dirty"),
}))
EOF
)
log "machine: $(echo "$meta" | python3 -c 'import json,sys; m=json.load(sys.stdin); print(m["nproc"], "CPUs,", m["cpu"], "| load", m["loadavg_before"])')"

# --- processes --------------------------------------------------------------------------------
read -r P_PORT S_PORT S_ADMIN T_PORT T_ADMIN N_PORT Q_PORT G_PORT O_PORT OP_PORT O_ADMIN \
    <<<"$(freeports 11)"

log "platform with $USERS users on :$P_PORT"
start_platform "$P_PORT" "$USERS" "$LOGS/platform.log"
PLATFORM_PID=$SPAWNED_PID

log "sidecar (HTTP) on :$S_PORT"
start_sidecar "$BENCH_DIR/sidecar.toml" "$S_PORT" "$S_ADMIN" "$P_PORT" "$LOGS/sidecar-http.log"
SIDECAR_PID=$SPAWNED_PID

log "sidecar (HTTPS, self-signed certificate) on :$T_PORT"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$TMP/tls.key" -out "$TMP/tls.crt" >"$LOGS/openssl.log" 2>&1 ||
    die "openssl could not make a certificate; see $LOGS/openssl.log"
start_sidecar "$BENCH_DIR/sidecar-tls.toml" "$T_PORT" "$T_ADMIN" "$P_PORT" "$LOGS/sidecar-https.log" \
    SCIM_SIDECAR_TLS__CERT_FILE="$TMP/tls.crt" SCIM_SIDECAR_TLS__KEY_FILE="$TMP/tls.key"
TLS_PID=$SPAWNED_PID

log "OAuth2 platform ($OAUTH_LIFETIME-second tokens) on :$OP_PORT, its sidecar on :$O_PORT"
# `demo --platform-only --platform-auth oauth2` writes its client secret (and the demo mapping
# switched to oauth2) into a fresh directory under TMPDIR, named after its pid.
mkdir -p "$TMP/oauth-demo"
TMPDIR="$TMP/oauth-demo" start_platform "$OP_PORT" "$USERS" "$LOGS/platform-oauth.log" \
    --platform-auth oauth2 --token-lifetime "$OAUTH_LIFETIME"
OAUTH_PLATFORM_PID=$SPAWNED_PID
secret=$(find "$TMP/oauth-demo" -path "*/scim-sidecar-demo-$OAUTH_PLATFORM_PID-*/client-secret" | head -n 1)
[[ -n $secret ]] || die "the OAuth2 platform wrote no client-secret under $TMP/oauth-demo"
install -m 600 "$secret" "$TMP/oauth-client-secret"
# The demo mapping with its [platform.auth] block switched to oauth2, as `demo` does it
# (DemoDir::use_oauth); the token URL is this platform's.
python3 - "$ROOT/config/demo/mapping.toml" "$TMP/mapping-oauth.toml" "http://127.0.0.1:$OP_PORT" <<'EOF'
import sys
src, dst, base = sys.argv[1:4]
text = open(src).read()
header = '[platform.auth]\nkind = "header"\nheader = "X-Api-Key"\nvalue_env = "DEMO_PLATFORM_API_KEY"\n'
if header not in text:
    sys.exit("config/demo/mapping.toml: its [platform.auth] block changed; update perf/run.sh")
oauth = ('[platform.auth]\nkind = "oauth2"\n'
         f'token_url = "{base}/oauth/token"\n'
         'client_id = "scim-sidecar-demo"\nclient_secret_file = "oauth-client-secret"\n')
open(dst, "w").write(text.replace(header, oauth, 1))
EOF
start_sidecar "$BENCH_DIR/sidecar.toml" "$O_PORT" "$O_ADMIN" "$OP_PORT" "$LOGS/sidecar-oauth.log" \
    SCIM_SIDECAR_SCIM__MAPPING="$TMP/mapping-oauth.toml"
OAUTH_PID=$SPAWNED_PID
# The sidecar refreshes a token its lifetime less min(30 s, 10 %) after fetching it.
"${TOOLS[@]}" record "$RESULTS" oauth \
    "{\"lifetime_s\": $OAUTH_LIFETIME, \"refresh_s\": $(python3 -c "print($OAUTH_LIFETIME - min(30, $OAUTH_LIFETIME / 10))")}"

log "nginx proxy_pass on :$N_PORT"
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx/nginx.conf" <<EOF
# Generated by perf/run.sh: nginx as a plain reverse proxy in front of the demo platform.
worker_processes auto;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $TMP/nginx/body;
    proxy_temp_path $TMP/nginx/proxy;
    fastcgi_temp_path $TMP/nginx/fastcgi;
    uwsgi_temp_path $TMP/nginx/uwsgi;
    scgi_temp_path $TMP/nginx/scgi;
    # Keep-alive to the platform, as the sidecar's pooled client does.
    upstream platform {
        server 127.0.0.1:$P_PORT;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$N_PORT;
        location / {
            proxy_pass http://platform;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
if [[ $(id -u) -eq 0 ]] && command -v setpriv >/dev/null; then
    # Unprivileged: run the whole nginx (master included) as nobody.
    chown -R nobody "$TMP/nginx"
    chmod 755 "$TMP"
    spawn "$LOGS/nginx.log" setpriv --reuid=nobody --regid=nogroup --clear-groups \
        "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf"
else
    spawn "$LOGS/nginx.log" "$NGINX" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf"
fi
NGINX_PID=$SPAWNED_PID
wait_http "http://127.0.0.1:$N_PORT/api/v1/users?per_page=1" -H "X-Api-Key: $PLATFORM_KEY" --timeout 20 ||
    die "nginx did not start; see $LOGS/nginx.log and $TMP/nginx/error.log"

log "scim2-server on :$Q_PORT (seeding $SCIM2_USERS users)"
spawn "$LOGS/scim2-server.log" "$VENV/bin/python" "$BENCH_DIR/scim2_server_quiet.py" \
    --hostname 127.0.0.1 --port "$Q_PORT" --bearer-token "$TOKEN"
SCIM2_PID=$SPAWNED_PID
wait_http "http://127.0.0.1:$Q_PORT/v2/ServiceProviderConfig" -H "Authorization: Bearer $TOKEN" --timeout 30 ||
    die "scim2-server did not start; see $LOGS/scim2-server.log"
# Member adds: enough (group, user) pairs that none is added twice (at up to 2000 req/s).
SCIM2_GROUPS=$(( (2000 * DURATION * 3 / 2 + SCIM2_USERS - 1) / SCIM2_USERS ))
SCIM2_GROUPS=$(( (SCIM2_GROUPS + THREADS - 1) / THREADS * THREADS ))
"${TOOLS[@]}" scim2-seed "http://127.0.0.1:$Q_PORT/v2" "$TOKEN" "$SCIM2_USERS" "$SCIM2_GROUPS" "$TMP"
SCIM2_ID=$(sed -n 123p "$TMP/scim2-users")

log "scim2-server under gunicorn (1 worker, 4 threads) on :$G_PORT (seeding $SCIM2_USERS users)"
spawn "$LOGS/scim2-gunicorn.log" env SCIM2_BENCH_TOKEN="$TOKEN" "$VENV/bin/gunicorn" \
    --chdir "$BENCH_DIR" scim2_wsgi:app --workers 1 --threads 4 --bind "127.0.0.1:$G_PORT" \
    --log-level warning
GUNICORN_PID=$SPAWNED_PID
wait_http "http://127.0.0.1:$G_PORT/v2/ServiceProviderConfig" -H "Authorization: Bearer $TOKEN" --timeout 30 ||
    die "gunicorn did not start; see $LOGS/scim2-gunicorn.log"
"${TOOLS[@]}" scim2-seed "http://127.0.0.1:$G_PORT/v2" "$TOKEN" "$SCIM2_USERS" "$SCIM2_GROUPS" "$TMP" gunicorn
GUNICORN_ID=$(sed -n 123p "$TMP/gunicorn-users")

# --- the cells --------------------------------------------------------------------------------
declare -A URL=(
    [direct]="http://127.0.0.1:$P_PORT"
    [nginx]="http://127.0.0.1:$N_PORT"
    [sidecar-http]="http://127.0.0.1:$S_PORT"
    [sidecar-oauth]="http://127.0.0.1:$O_PORT"
    [sidecar-https]="https://127.0.0.1:$T_PORT"
    [scim2]="http://127.0.0.1:$Q_PORT"
    [scim2-gunicorn]="http://127.0.0.1:$G_PORT"
)
declare -A STYLE=([direct]=platform [nginx]=platform [sidecar-http]=scim [sidecar-https]=scim [scim2]=scim2
    [scim2-gunicorn]=scim2 [sidecar-oauth]=scim)
declare -A ADMIN=([sidecar-http]="http://127.0.0.1:$S_ADMIN" [sidecar-https]="http://127.0.0.1:$T_ADMIN"
    [sidecar-oauth]="http://127.0.0.1:$O_ADMIN")
CELL_N=0

# cell GROUP SCENARIO TARGET [KEY=VALUE...]: one wrk run, appended to results.jsonl.
# Uses CELL_CONNS/CELL_THREADS/CELL_URL/CELL_ADMIN when set, and ROUND (the round it belongs to).
cell() {
    local group=$1 scenario=$2 target=$3
    shift 3
    local conns=${CELL_CONNS:-$CONNS} threads=${CELL_THREADS:-$THREADS}
    local url=${CELL_URL:-${URL[$target]}} admin=${CELL_ADMIN:-${ADMIN[$target]:-}}
    local style=${CELL_STYLE:-${STYLE[$target]:-scim}}
    CELL_N=$((CELL_N + 1))
    local raw="$OUT/raw/$(printf %02d $CELL_N)-$group-$scenario-$target.txt"
    local common=(apikey="$PLATFORM_KEY" token="$TOKEN" threads="$threads" style="$style" scenario="$scenario")
    local before="" after=""
    [[ -n $admin ]] && before=$("${TOOLS[@]}" metrics "$admin/metrics")
    if ! timeout $((DURATION + 60)) wrk -t"$threads" -c"$conns" -d"${DURATION}s" --timeout 5s --latency \
        -s "$BENCH_DIR/wrk.lua" "$url" -- "${common[@]}" "$@" >"$raw" 2>&1; then
        log "wrk failed for $group/$scenario/$target; see $raw"
        FAILED=1
        return 0
    fi
    [[ -n $admin ]] && after=$("${TOOLS[@]}" metrics "$admin/metrics")
    local margs=()
    [[ -n $admin ]] && margs=(--metrics "$before" "$after")
    if ! "${TOOLS[@]}" cell "$RESULTS" "$raw" group="$group" scenario="$scenario" target="$target" \
        conns="$conns" threads="$threads" round="${ROUND:-1}" "${margs[@]}" "${CELL_EXTRA[@]}"; then
        log "INVALID cell $group/$scenario/$target: see $raw"
        FAILED=1
    fi
}
CELL_EXTRA=()

# Scenario inputs. Users 1..1000 are only read; each PATCH target flips its own range of users.
ID=123
NAME=user123@example.com
seq 1 "$USERS" >"$TMP/all-users"
SPAN=$(( (USERS - 1000) / 4 ))
i=0
for t in direct nginx sidecar-http sidecar-https; do
    seq $((1001 + i * SPAN)) $((1000 + (i + 1) * SPAN)) >"$TMP/patch-$t"
    i=$((i + 1))
done
# Member adds: fresh groups per cell, enough pairs for 200k req/s without adding a pair twice.
MEMBER_GROUPS=$(( (200000 * DURATION * 3 / 2 + USERS - 1) / USERS ))
MEMBER_GROUPS=$(( (MEMBER_GROUPS + THREADS - 1) / THREADS * THREADS ))

args_for() { # args_for SCENARIO TARGET: wrk.lua arguments
    local sc=$1 t=$2
    case $sc in
        get)
            case $t in
                scim2) echo "id=$SCIM2_ID" ;;
                scim2-gunicorn) echo "id=$GUNICORN_ID" ;;
                *) echo "id=$ID" ;;
            esac
            ;;
        filter) echo "username=$NAME" ;;
        post) echo "prefix=b$RUN_ID-$t" ;;
        patch)
            case $t in
                scim2) echo "ids=$TMP/scim2-users" ;;
                scim2-gunicorn) echo "ids=$TMP/gunicorn-users" ;;
                *) echo "ids=$TMP/patch-$t" ;;
            esac
            ;;
        member)
            # The platform's groups are created just before the cell (see below).
            if [[ $t == scim2 ]]; then
                echo "ids=$TMP/scim2-users groups=$TMP/scim2-groups"
            elif [[ $t == scim2-gunicorn ]]; then
                echo "ids=$TMP/gunicorn-users groups=$TMP/gunicorn-groups"
            else
                echo "ids=$TMP/all-users groups=$TMP/groups-$t"
            fi
            ;;
    esac
}

ALL=(direct nginx sidecar-http sidecar-https scim2 scim2-gunicorn)
log "cells: ${DURATION}s each, $CONNS connections, $THREADS threads"
for r in $(seq "$ROUNDS"); do
    ROUND=$r
    for t in direct nginx sidecar-http sidecar-oauth; do
        # shellcheck disable=SC2046
        cell main get "$t" $(args_for get "$t")
    done
    if [[ $r -eq 1 ]]; then
        for t in sidecar-https scim2 scim2-gunicorn; do
            # shellcheck disable=SC2046
            cell main get "$t" $(args_for get "$t")
        done
    fi
done
ROUND=1
stop_pid "$OAUTH_PID"
stop_pid "$OAUTH_PLATFORM_PID"
for sc in filter patch member post; do
    for t in "${ALL[@]}"; do
        if [[ $sc == member && $t != scim2* ]]; then
            "${TOOLS[@]}" platform-groups "${URL[direct]}" "$PLATFORM_KEY" "$MEMBER_GROUPS" "$TMP/groups-$t"
        fi
        # shellcheck disable=SC2046
        cell main "$sc" "$t" $(args_for "$sc" "$t")
    done
done

log "unloaded latency: 1 connection, $ROUNDS interleaved round(s)"
for r in $(seq "$ROUNDS"); do
    ROUND=$r
    for t in direct nginx sidecar-http; do
        CELL_CONNS=1 CELL_THREADS=1 cell c1 get "$t" id=$ID
    done
done

log "access log cost: log level info vs warn, $ROUNDS interleaved round(s)"
read -r I_PORT I_ADMIN <<<"$(freeports 2)"
start_sidecar "$BENCH_DIR/sidecar.toml" "$I_PORT" "$I_ADMIN" "$P_PORT" "$TMP/sidecar-info.log" \
    SCIM_SIDECAR_LOG__LEVEL=info
INFO_PID=$SPAWNED_PID
loglevel_cell() { # loglevel_cell warn|info
    if [[ $1 == warn ]]; then
        CELL_URL="${URL[sidecar-http]}" CELL_ADMIN="${ADMIN[sidecar-http]}" cell loglevel get sidecar-http-warn id=$ID
    else
        CELL_URL="http://127.0.0.1:$I_PORT" CELL_ADMIN="http://127.0.0.1:$I_ADMIN" cell loglevel get sidecar-http-info id=$ID
    fi
}
for r in $(seq "$ROUNDS"); do
    ROUND=$r
    # Alternate which goes first, so a drift of the machine favours neither.
    if [[ $((r % 2)) -eq 1 ]]; then order=(warn info); else order=(info warn); fi
    for level in "${order[@]}"; do loglevel_cell "$level"; done
done
ROUND=1
INFO_METRICS=$("${TOOLS[@]}" metrics "http://127.0.0.1:$I_ADMIN/metrics")
stop_pid "$INFO_PID"
# Lines counted after the process has stopped, so whatever a log writer still held is flushed.
ACCESS_LINES=$(grep -c '"target":"scim_sidecar::access"' "$TMP/sidecar-info.log" || true)
python3 - "$RESULTS" "$INFO_METRICS" "$ACCESS_LINES" "$(stat -c %s "$TMP/sidecar-info.log")" <<'EOF'
import json, sys
results, m, lines, size = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rec = {"kind": "accesslog", "lines": lines, "bytes": size, "requests": m["requests"],
       "dropped": m.get("log_dropped")}
open(results, "a").write(json.dumps(rec) + "\n")
print(f'  access log: {lines} lines ({size / 1e6:.1f} MB) for {m["requests"]} requests served, '
      f'dropped: {"no such metric" if rec["dropped"] is None else rec["dropped"]}')
EOF

# --- memory -----------------------------------------------------------------------------------
MAIN_RSS=$("${TOOLS[@]}" rss "$SIDECAR_PID")
log "memory: fresh sidecar, idle then $MANY connections"
read -r M_PORT M_ADMIN <<<"$(freeports 2)"
start_sidecar "$BENCH_DIR/sidecar.toml" "$M_PORT" "$M_ADMIN" "$P_PORT" "$LOGS/sidecar-memory.log"
MEM_PID=$SPAWNED_PID
sleep 1
IDLE=$("${TOOLS[@]}" rss "$MEM_PID")
"${TOOLS[@]}" watch-rss "$MEM_PID" $((DURATION + 2)) 0.1 >"$TMP/watch.json" &
WATCH_PID=$!
PIDS+=("$WATCH_PID")
CELL_CONNS=$MANY CELL_URL="http://127.0.0.1:$M_PORT" CELL_ADMIN="http://127.0.0.1:$M_ADMIN" \
    cell memory get "sidecar-c$MANY" id=$ID
wait "$WATCH_PID" || true
sleep 1
AFTER=$("${TOOLS[@]}" rss "$MEM_PID")
stop_pid "$MEM_PID"
python3 - "$RESULTS" "$IDLE" "$TMP/watch.json" "$AFTER" "$MAIN_RSS" "$MANY" <<'EOF'
import json, sys
results, idle, watch, after, main, many = sys.argv[1:7]
cells = [json.loads(l) for l in open(results) if l.strip()]
wrk = [c for c in cells if c.get("kind") == "cell" and c.get("group") == "memory"][-1]
rec = {"kind": "memory", "conns": int(many), "idle_kb": json.loads(idle)["rss_kb"],
       "c256": json.load(open(watch)), "after_kb": json.loads(after)["rss_kb"],
       "main_after_kb": json.loads(main)["rss_kb"], "main_hwm_kb": json.loads(main)["hwm_kb"], "wrk": wrk}
rec["c256"].pop("series_kb", None)
open(results, "a").write(json.dumps(rec) + "\n")
print(f'  idle {rec["idle_kb"]/1024:.1f} MiB, {many} conns: max {rec["c256"]["max_kb"]/1024:.1f} MiB, '
      f'VmHWM {rec["c256"]["hwm_kb"]/1024:.1f} MiB, after {rec["after_kb"]/1024:.1f} MiB')
EOF

# --- start to ready ---------------------------------------------------------------------------
log "start to ready: $STARTS starts each"
read -r R_PORT R_ADMIN <<<"$(freeports 2)"
start_env=(env SCIM_SIDECAR_BENCH_TOKEN="$TOKEN" DEMO_PLATFORM_API_KEY="$PLATFORM_KEY"
    SCIM_SIDECAR_SCIM__PLATFORM_BASE_URL="http://127.0.0.1:$P_PORT"
    SCIM_SIDECAR_SERVER__LISTEN="127.0.0.1:$R_PORT" SCIM_SIDECAR_ADMIN__LISTEN="127.0.0.1:$R_ADMIN")
READY=$("${start_env[@]}" "${TOOLS[@]}" start-time "$STARTS" "readyz:http://127.0.0.1:$R_ADMIN/readyz" -- \
    "$BIN" serve --config "$BENCH_DIR/sidecar.toml") || die "start-time (readyz) failed"
FIRST=$("${start_env[@]}" "${TOOLS[@]}" start-time "$STARTS" "scim:http://127.0.0.1:$R_PORT/scim/v2/Users/$ID:$TOKEN" -- \
    "$BIN" serve --config "$BENCH_DIR/sidecar.toml") || die "start-time (first request) failed"
"${TOOLS[@]}" record "$RESULTS" start "{\"readyz\": $READY, \"scim\": $FIRST}"
log "  readyz median $(echo "$READY" | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["median_ms"],1))') ms"

# The comparison targets are no longer needed: free their CPU and memory for the scaling part.
for pid in "$SCIM2_PID" "$GUNICORN_PID" "$NGINX_PID" "$TLS_PID"; do stop_pid "$pid"; done

# --- scaling ----------------------------------------------------------------------------------
log "scaling: platforms with $SMALL_USERS and $BIG_USERS users"
read -r P1 P2 S1 A1 S2 A2 <<<"$(freeports 6)"
start_platform "$P1" "$SMALL_USERS" "$LOGS/platform-small.log"
start_platform "$P2" "$BIG_USERS" "$LOGS/platform-big.log"
start_sidecar "$BENCH_DIR/sidecar.toml" "$S1" "$A1" "$P1" "$LOGS/sidecar-small.log"
SMALL_PID=$SPAWNED_PID
start_sidecar "$BENCH_DIR/sidecar.toml" "$S2" "$A2" "$P2" "$LOGS/sidecar-big.log"
BIG_PID=$SPAWNED_PID
CELL_EXTRA=(users=$SMALL_USERS)
CELL_URL="http://127.0.0.1:$S1" CELL_ADMIN="http://127.0.0.1:$A1" cell scaling filter sidecar-1k username=$NAME
CELL_EXTRA=(users=$BIG_USERS)
CELL_URL="http://127.0.0.1:$S2" CELL_ADMIN="http://127.0.0.1:$A2" cell scaling filter sidecar-100k username=$NAME
CELL_EXTRA=()

log "scaling: one member added to a 10,000-member group"
"${TOOLS[@]}" platform-groups "http://127.0.0.1:$P2" "$PLATFORM_KEY" 1 "$TMP/big-group"
BIG_GROUP=$(cat "$TMP/big-group")
"${TOOLS[@]}" platform-members "http://127.0.0.1:$P2" "$PLATFORM_KEY" "$BIG_GROUP" 1 10000
python3 - "$RESULTS" "http://127.0.0.1:$S2/scim/v2" "$TOKEN" "$BIG_GROUP" "http://127.0.0.1:$A2/metrics" <<EOF
import json, sys
sys.path.insert(0, "$BENCH_DIR")
import tools
results, base, token, group, murl = sys.argv[1:6]
m0 = tools.metrics(murl)
body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "members", "value": [{"value": "10001"}]}]}
status, _, _ = tools.request("PATCH", f"{base}/Groups/{group}",
                          {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}, body)
d = tools.metrics_delta(m0, tools.metrics(murl))
rec = {"kind": "member10k", "members": 10000, "status": status, "platform_calls": d["platform_calls"],
       "platform_by_op": d["platform_by_op"]}
open(results, "a").write(json.dumps(rec) + "\n")
print(f"  status {status}, platform calls {d['platform_by_op']}")
EOF

log "scaling: a filter the platform cannot evaluate (scan)"
SCAN_FILTER='name.givenName eq "User"'
RUNS=$([[ $QUICK -eq 1 ]] && echo 1 || echo 3)
scan() { # scan USERS SCAN_LIMIT SIDECAR_PORT ADMIN_PORT PID
    local out
    out=$("${TOOLS[@]}" scan "http://127.0.0.1:$3/scim/v2" "$TOKEN" "$SCAN_FILTER" "$RUNS" "$5" "http://127.0.0.1:$4/metrics") ||
        { log "scan failed"; FAILED=1; return 0; }
    "${TOOLS[@]}" record "$RESULTS" scan "$(echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); d.update(users=$1, scan_limit=$2); print(json.dumps(d))")"
    echo "$out" | python3 -c '
import json, sys
d = json.load(sys.stdin)
r = d["runs"][0]
print("  %s users: status %s total=%s platform calls=%s median %.3f s, peak RSS %.1f MiB"
      % (sys.argv[1], r["status"], r["total"], r["platform_calls"], d["median_seconds"], d["peak_kb"] / 1024))' "$1"
}
# The demo mapping as is (scan_limit 10000): 1k users are scanned, 100k are refused.
scan $SMALL_USERS 10000 "$S1" "$A1" "$SMALL_PID"
scan $BIG_USERS 10000 "$S2" "$A2" "$BIG_PID"
stop_pid "$SMALL_PID"
stop_pid "$BIG_PID"
# The same mapping with scan_limit raised, to show that memory stays flat over a 100k scan.
sed 's/^scan_limit = 10000$/scan_limit = 1000000/' "$ROOT/config/demo/mapping.toml" >"$TMP/mapping-big-scan.toml"
grep -q '^scan_limit = 1000000$' "$TMP/mapping-big-scan.toml" || die "could not raise scan_limit in a copy of the mapping"
read -r S3 A3 S4 A4 <<<"$(freeports 4)"
start_sidecar "$BENCH_DIR/sidecar.toml" "$S3" "$A3" "$P1" "$LOGS/sidecar-small-scan.log" \
    SCIM_SIDECAR_SCIM__MAPPING="$TMP/mapping-big-scan.toml"
SMALL_PID=$SPAWNED_PID
start_sidecar "$BENCH_DIR/sidecar.toml" "$S4" "$A4" "$P2" "$LOGS/sidecar-big-scan.log" \
    SCIM_SIDECAR_SCIM__MAPPING="$TMP/mapping-big-scan.toml"
BIG_PID=$SPAWNED_PID
scan $SMALL_USERS 1000000 "$S3" "$A3" "$SMALL_PID"
scan $BIG_USERS 1000000 "$S4" "$A4" "$BIG_PID"
for pid in "$SMALL_PID" "$BIG_PID" "$SIDECAR_PID" "$PLATFORM_PID"; do stop_pid "$pid"; done

# --- embedded membership --------------------------------------------------------------------
# The demo platform keeps members in a sub-resource, so member changes to a group that embeds
# its members run in the criterion bench against tests/support/third.rs (in-process, loopback).
if [[ $EMBEDDED -eq 1 ]]; then
    log "embedded membership: cargo bench --bench embedded_members"
    bench_args=()
    [[ $QUICK -eq 1 ]] && bench_args=(-- --warm-up-time 1 --measurement-time 2)
    if (cd "$ROOT" && timeout 600 cargo bench --locked --bench embedded_members "${bench_args[@]}") \
        >"$OUT/raw/embedded_members.txt" 2>&1; then
        "${TOOLS[@]}" embedded "$RESULTS" "$OUT/raw/embedded_members.txt"
    else
        log "cargo bench --bench embedded_members failed; see $OUT/raw/embedded_members.txt"
        "${TOOLS[@]}" embedded "$RESULTS" "$OUT/raw/embedded_members.txt" "the bench failed"
        FAILED=1
    fi
else
    "${TOOLS[@]}" embedded "$RESULTS" /dev/null "$EMBEDDED_NOTE"
fi

# --- report -----------------------------------------------------------------------------------
meta=$(echo "$meta" | python3 -c "
import json, sys
m = json.load(sys.stdin)
m.update(loadavg_after=open('/proc/loadavg').read().strip(), duration=$DURATION, conns=$CONNS,
         threads=$THREADS, rounds=$ROUNDS, command='perf/run.sh $*'.strip(), users=$USERS)
print(json.dumps(m))")
"${TOOLS[@]}" record "$RESULTS" meta "$meta"
report_args=()
[[ -n $BASELINE ]] && report_args=(--baseline "$BASELINE")
"${TOOLS[@]}" report "$RESULTS" "$OUT/results.md" "${report_args[@]}"
log "report: $OUT/results.md; raw wrk output: $OUT/raw/"
if [[ $FAILED -ne 0 ]]; then
    log "FAILED: some cells had error responses or socket errors (see above)"
    exit 1
fi
