#!/usr/bin/env bash
# The Toxiproxy suite: real network faults between scim-sidecar and its platform. Starts the demo
# platform (`scim-sidecar demo --platform-only`), Toxiproxy in front of it, and `scim-sidecar
# serve` pointed at the proxy, all on 127.0.0.1; then tests/toxiproxy/driver.py runs an
# Entra-like client through latency with jitter, connection stalls, reset_peer, responses cut
# short, bandwidth limits, a 10-second platform outage, and all of them mixed, and compares the
# platform's state with the client's after each. One line per fault, then `N passed, M failed`;
# exits non-zero on any failure. About 2 minutes on 2 cores (plus the first go install).
#
# Needs: cargo, go (toxiproxy-server is installed with `go install` into target/toxiproxy/bin
# when missing; set TOXIPROXY_SERVER to use another), python3. Environment: SCIM_SIDECAR_BIN
# (the binary; default target/debug/scim-sidecar, brought up to date with cargo build),
# TOXI_FAULTS (a comma-separated subset: latency,stall,reset_peer,cut_short,bandwidth,outage,
# mixed), TOXI_KEEP=1 keeps the working directory (logs, config). Results as JSON in
# target/toxiproxy/results.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
HERE="$ROOT/tests/toxiproxy"
OUT="$ROOT/target/toxiproxy"
TOXIPROXY_VERSION="v2.12.0"
BIN="${SCIM_SIDECAR_BIN:-$ROOT/target/debug/scim-sidecar}"
LIMIT="${TOXI_TIMEOUT:-420}"
mkdir -p "$OUT"

log() { printf '[toxiproxy %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

PIDS=()
WORK="$(mktemp -d "${TMPDIR:-/tmp}/scim-toxi.XXXXXX")"
cleanup() {
  local rc=$? i pid
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[$i]}
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  if [ "$rc" -ne 0 ]; then
    for f in "$WORK"/*.log; do
      [ -f "$f" ] || continue
      echo "--- last lines of $(basename "$f")" >&2
      tail -n 15 "$f" >&2
    done
  fi
  if [ -z "${TOXI_KEEP:-}" ]; then rm -rf "$WORK"; else log "kept $WORK"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# spawn LOG CMD...: starts CMD in the background; its pid in SPAWNED.
spawn() {
  local logfile=$1
  shift
  "$@" >"$logfile" 2>&1 &
  SPAWNED=$!
  PIDS+=("$SPAWNED")
}

# wait_http URL [HEADER]: until URL answers 200, for at most 30 s.
wait_http() {
  local url=$1 header=${2:-X-None: none}
  python3 - "$url" "$header" <<'PY' || return 1
import sys, time, urllib.request
url, header = sys.argv[1], sys.argv[2].split(": ", 1)
end = time.monotonic() + 30
while time.monotonic() < end:
    try:
        req = urllib.request.Request(url, headers={header[0]: header[1]})
        if urllib.request.urlopen(req, timeout=2).status == 200:
            sys.exit(0)
    except Exception:
        pass
    time.sleep(0.1)
sys.exit(1)
PY
}

# --- what it needs -------------------------------------------------------------------------
command -v python3 >/dev/null || die "python3 not found"
if [ -z "${SCIM_SIDECAR_BIN:-}" ]; then
  # Up to date with the sources (a no-op after cargo test).
  cargo build --locked >"$OUT/build.log" 2>&1 || die "cargo build failed; see $OUT/build.log"
fi
[ -x "$BIN" ] || die "no binary at $BIN"
TOXI="${TOXIPROXY_SERVER:-$OUT/bin/toxiproxy-server}"
if [ ! -x "$TOXI" ]; then
  command -v go >/dev/null || die "toxiproxy-server not found and no go to install it"
  log "installing toxiproxy-server $TOXIPROXY_VERSION with go install (into $OUT/bin)"
  mkdir -p "$OUT/gobin"
  GOBIN="$OUT/gobin" timeout 600 go install "github.com/Shopify/toxiproxy/v2/cmd/server@$TOXIPROXY_VERSION" \
    >"$OUT/install.log" 2>&1 || die "go install failed; see $OUT/install.log"
  mkdir -p "$OUT/bin"
  mv "$OUT/gobin/server" "$TOXI"
fi
log "$("$TOXI" -version 2>&1 | head -n 1)"

read -r P_PORT X_PORT T_PORT S_PORT A_PORT <<<"$(python3 -c '
import socket
socks = [socket.socket() for _ in range(5)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')"
TOKEN="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
PLATFORM_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
REQUEST_TIMEOUT=8

# --- the demo platform, Toxiproxy in front of it, the sidecar in front of that ---------------
spawn "$WORK/platform.log" env DEMO_PLATFORM_API_KEY="$PLATFORM_KEY" \
  "$BIN" demo --platform-only --platform-listen "127.0.0.1:$P_PORT" --seed-users 10
wait_http "http://127.0.0.1:$P_PORT/api/v1/users?per_page=1" "X-Api-Key: $PLATFORM_KEY" ||
  die "the demo platform did not start"

spawn "$WORK/toxiproxy.log" "$TOXI" -host 127.0.0.1 -port "$T_PORT" -seed 1
wait_http "http://127.0.0.1:$T_PORT/version" || die "toxiproxy-server did not start"
python3 - "$T_PORT" "$X_PORT" "$P_PORT" <<'PY' || die "could not create the proxy"
import json, sys, urllib.request
t, x, p = sys.argv[1:4]
body = json.dumps({"name": "platform", "listen": f"127.0.0.1:{x}", "upstream": f"127.0.0.1:{p}", "enabled": True})
req = urllib.request.Request(f"http://127.0.0.1:{t}/proxies", data=body.encode(), method="POST",
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=5)
PY

# The demo mapping with deadlines sized for the suite: 2 s per platform attempt, 6 s per request.
sed -e 's/^timeout = "10s"/timeout = "2s"/' -e 's/^request_budget = "20s"/request_budget = "6s"/' \
  config/demo/mapping.toml >"$WORK/mapping.toml"
grep -q '^request_budget = "6s"' "$WORK/mapping.toml" || die "the demo mapping changed: no request_budget line"
cat >"$WORK/sidecar.toml" <<EOF
# Generated by tests/toxiproxy/run.sh: the sidecar in front of Toxiproxy, plain HTTP.
[server]
listen = "127.0.0.1:$S_PORT"
plain_http = true
request_timeout = "${REQUEST_TIMEOUT}s"

[admin]
listen = "127.0.0.1:$A_PORT"

[[auth.tokens]]
name = "toxi"
env = "TOXI_TOKEN"

[scim]
mapping = "mapping.toml"
platform_base_url = "http://127.0.0.1:$X_PORT"

[log]
format = "json"
level = "warn"

[reload]
enabled = false
EOF
spawn "$WORK/sidecar.log" env TOXI_TOKEN="$TOKEN" DEMO_PLATFORM_API_KEY="$PLATFORM_KEY" \
  "$BIN" serve --config "$WORK/sidecar.toml"
SIDECAR_PID=$SPAWNED
wait_http "http://127.0.0.1:$A_PORT/readyz" || die "the sidecar did not become ready"

# --- the faults ----------------------------------------------------------------------------
log "platform :$P_PORT, toxiproxy :$T_PORT (proxy :$X_PORT), sidecar :$S_PORT (pid $SIDECAR_PID)"
started=$(date +%s)
rc=0
timeout "$LIMIT" python3 "$HERE/driver.py" \
  --scim "http://127.0.0.1:$S_PORT/scim/v2" --token "$TOKEN" \
  --platform "http://127.0.0.1:$P_PORT" --platform-key "$PLATFORM_KEY" \
  --toxiproxy "http://127.0.0.1:$T_PORT" --proxy platform \
  --admin "http://127.0.0.1:$A_PORT" --pid "$SIDECAR_PID" --request-timeout "$REQUEST_TIMEOUT" \
  --faults "${TOXI_FAULTS:-latency,stall,reset_peer,cut_short,bandwidth,outage,mixed}" \
  --out "$OUT/results.json" || rc=$?
kill -0 "$SIDECAR_PID" 2>/dev/null || { log "the sidecar died"; rc=1; }
log "done in $(($(date +%s) - started)) s (driver exit $rc)"
exit "$rc"
