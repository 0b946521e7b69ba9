#!/usr/bin/env bash
# perf/soak.sh — a soak run of scim-sidecar: Entra-shaped mixed load for N minutes, reporting
# memory growth and error counts minute by minute. Loopback only.
#
#   perf/soak.sh               10 minutes
#   perf/soak.sh 60            60 minutes
#   perf/soak.sh 2 --no-build 2 minutes with target/release/scim-sidecar as it is
#
# The load is wrk.lua's `mix` scenario: a fixed cycle of GET /Users/{id}, a pushed-down
# userName filter, Entra's PATCH of `active`, a group member add/remove, POST /Users and DELETE
# of the user just created, so the platform's size stays flat and any growth is the sidecar's.
# Every response must be 2xx. Each minute is one wrk run; between runs the sidecar's RSS and
# its /metrics are read.
#
# Verdict (exit status 1 when any fails): no non-2xx response, no socket error, and RSS at the
# end within 4 MiB (or 10 %) of RSS after the first minute (the warm-up: pools and caches fill).
#
# Environment: BENCH_CONNECTIONS (32), BENCH_THREADS (2), BENCH_DELAY_MS (pause before each
# request per connection, 2 ms: a steady load rather than a saturating one), BENCH_USERS (5000),
# BENCH_SOAK_SLICE (seconds per slice, 60: a "minute" is a slice).
# Output: a Markdown report on stdout and in target/bench/soak.md; logs in target/bench/logs/.

set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MINUTES=10
BUILD=1
for arg in "$@"; do
    case $arg in
        --no-build) BUILD=0 ;;
        -h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *[!0-9]* | "") die "unknown argument $arg (try --help)" ;;
        *) MINUTES=$arg ;;
    esac
done
[[ $MINUTES -ge 2 ]] || die "a soak needs at least 2 minutes (the first one is the warm-up)"
CONNS=${BENCH_CONNECTIONS:-32}
THREADS=${BENCH_THREADS:-2}
DELAY_MS=${BENCH_DELAY_MS:-2}
USERS=${BENCH_USERS:-5000}
SLICE=${BENCH_SOAK_SLICE:-60}

mkdir -p "$OUT/logs"
trap cleanup EXIT
trap 'exit 130' INT TERM
ensure_tools wrk openssl python3
ensure_binary $BUILD
make_tmp
LOGS=$OUT/logs
TOKEN=$(openssl rand -hex 32)
PLATFORM_KEY=$(openssl rand -hex 16)

read -r P_PORT S_PORT S_ADMIN <<<"$(freeports 3)"
log "platform with $USERS users on :$P_PORT"
start_platform "$P_PORT" "$USERS" "$LOGS/soak-platform.log"
log "sidecar on :$S_PORT"
start_sidecar "$BENCH_DIR/sidecar.toml" "$S_PORT" "$S_ADMIN" "$P_PORT" "$LOGS/soak-sidecar.log"
SIDECAR_PID=$SPAWNED_PID

seq 1001 "$USERS" >"$TMP/ids"
"${TOOLS[@]}" platform-groups "http://127.0.0.1:$P_PORT" "$PLATFORM_KEY" "$THREADS" "$TMP/groups"
RESULTS=$TMP/soak.jsonl
: >"$RESULTS"

log "soak: $MINUTES x ${SLICE}s, $CONNS connections, ${DELAY_MS} ms pacing"
for m in $(seq "$MINUTES"); do
    before=$("${TOOLS[@]}" metrics "http://127.0.0.1:$S_ADMIN/metrics")
    raw=$TMP/wrk-$m.txt
    BENCH_TRACK_RESPONSES=1 BENCH_DELAY_MS=$DELAY_MS timeout $((SLICE + 60)) \
        wrk -t"$THREADS" -c"$CONNS" -d"${SLICE}s" --timeout 5s --latency -s "$BENCH_DIR/wrk.lua" \
        "http://127.0.0.1:$S_PORT" -- scenario=mix style=scim token="$TOKEN" threads="$THREADS" \
        id=123 username=user123@example.com prefix="soak$(date +%s)-$m" ids="$TMP/ids" \
        groups="$TMP/groups" >"$raw" 2>&1 || die "wrk failed in minute $m; see $raw"
    after=$("${TOOLS[@]}" metrics "http://127.0.0.1:$S_ADMIN/metrics")
    rss=$("${TOOLS[@]}" rss "$SIDECAR_PID")
    python3 - "$RESULTS" "$raw" "$m" "$rss" "$before" "$after" "$BENCH_DIR" <<'EOF'
import json, sys
results, raw, minute, rss, before, after, bench = sys.argv[1:8]
sys.path.insert(0, bench)
import tools
line = next((l for l in open(raw) if l.startswith("BENCHJSON ")), None)
if line is None:
    raise SystemExit(f"no BENCHJSON line in {raw}")
w = json.loads(line[len("BENCHJSON "):])
d = tools.metrics_delta(json.loads(before), json.loads(after))
e = w["errors"]
rec = {"minute": int(minute), "requests": w["requests"], "seconds": w["duration_us"] / 1e6,
       "p50_ms": w["latency_us"]["p50"] / 1000, "p99_ms": w["latency_us"]["p99"] / 1000,
       "non2xx": w["non2xx"], "socket_errors": e["connect"] + e["read"] + e["write"] + e["timeout"],
       "rss_kb": json.loads(rss)["rss_kb"], "hwm_kb": json.loads(rss)["hwm_kb"],
       "platform_calls": d["platform_calls"]}
open(results, "a").write(json.dumps(rec) + "\n")
print(f'  slice {rec["minute"]:>3}: {rec["requests"] / rec["seconds"]:>8,.0f} req/s  p99 {rec["p99_ms"]:6.2f} ms  '
      f'non-2xx {rec["non2xx"]}  socket errors {rec["socket_errors"]}  RSS {rec["rss_kb"] / 1024:.1f} MiB',
      file=sys.stderr)
EOF
done

python3 - "$RESULTS" "$OUT/soak.md" "$MINUTES" "$CONNS" "$DELAY_MS" "$USERS" "$SLICE" <<'EOF'
import json, sys
results, out, minutes, conns, delay, users, slice_s = sys.argv[1:8]
rows = [json.loads(l) for l in open(results) if l.strip()]
warm, last = rows[0], rows[-1]
growth_kb = last["rss_kb"] - warm["rss_kb"]
allowed_kb = max(4 * 1024, warm["rss_kb"] // 10)
total = sum(r["requests"] for r in rows)
non2xx = sum(r["non2xx"] for r in rows)
sock = sum(r["socket_errors"] for r in rows)
lines = [
    "# scim-sidecar soak", "",
    f"`perf/soak.sh {minutes}`: {minutes} slices of {slice_s} s of the Entra-shaped mix, {conns} connections, "
    f"{delay} ms pacing, {users} platform users, loopback.", "",
    f"| slice ({slice_s} s) | req/s | p50 ms | p99 ms | non-2xx | socket errors | RSS MiB | platform calls |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|",
]
for r in rows:
    lines.append(f'| {r["minute"]} | {r["requests"] / r["seconds"]:,.0f} | {r["p50_ms"]:.2f} | {r["p99_ms"]:.2f} '
                 f'| {r["non2xx"]} | {r["socket_errors"]} | {r["rss_kb"] / 1024:.1f} | {r["platform_calls"]:,} |')
ok_rss = growth_kb <= allowed_kb
lines += ["",
    f"{total:,} requests; non-2xx {non2xx}; socket errors {sock}.",
    f"RSS after the warm-up slice {warm['rss_kb'] / 1024:.1f} MiB, at the end {last['rss_kb'] / 1024:.1f} MiB "
    f"(growth {growth_kb / 1024:+.1f} MiB, allowed {allowed_kb / 1024:.1f} MiB); peak (VmHWM) {last['hwm_kb'] / 1024:.1f} MiB.",
    "", f"Verdict: **{'PASS' if ok_rss and non2xx == 0 and sock == 0 else 'FAIL'}**", ""]
text = "\n".join(lines)
open(out, "w").write(text)
print(text)
sys.exit(0 if ok_rss and non2xx == 0 and sock == 0 else 1)
EOF
