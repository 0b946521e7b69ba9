#!/usr/bin/env bash
# tests/gallery/run.sh APP: proves config/gallery/APP against the real app. Installs the app
# (cached under target/gallery/), starts it on 127.0.0.1, configures it through its own API,
# checks the gallery config with `scim-sidecar check`, starts target/debug/scim-sidecar with it
# (HTTPS, a generated certificate), then runs Entra's provisioning story (tests/gallery/story.py)
# against the sidecar, checking every step through the app's own API. Prints "N passed, M failed",
# exits non-zero on any failure, and stops everything it started.
set -euo pipefail
APP="${1:-}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
if [ -z "$APP" ] || [ ! -f "tests/gallery/apps/$APP.sh" ] || [ ! -d "config/gallery/$APP" ]; then
  echo "usage: tests/gallery/run.sh APP   (APP: $(cd tests/gallery/apps && ls -- *.sh | sed 's/\.sh$//' | tr '\n' ' '))" >&2
  exit 2
fi
BIN="${SCIM_SIDECAR_BIN:-$ROOT/target/debug/scim-sidecar}"
STORY_TIMEOUT="${GALLERY_STORY_TIMEOUT:-300}"

WORK="$(mktemp -d)"
APP_PIDS=()
SIDECAR_PID=""
cleanup() {
  local pid
  for pid in $SIDECAR_PID "${APP_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in $SIDECAR_PID "${APP_PIDS[@]}"; do
    # Bounded: a process that ignores TERM for 30 s is killed.
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "$1 not found: this test needs $2" >&2; exit 1; }
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# json_get PATH: prints the value at a dotted PATH (list indexes as numbers) of the JSON on stdin.
json_get() {
  python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$1"
}

# wait_for NAME SECONDS URL [curl args...]: until URL answers 2xx, at most SECONDS.
wait_for() {
  local name="$1" limit="$2" url="$3"
  shift 3
  local start=$SECONDS
  while [ $((SECONDS - start)) -lt "$limit" ]; do
    if curl -sf --max-time 2 -o /dev/null "$@" "$url"; then
      echo "$name is up after $((SECONDS - start)) s"
      return 0
    fi
    sleep 1
  done
  echo "$name did not answer $url within $limit s" >&2
  return 1
}

need curl "curl"
need python3 "Python 3"
need openssl "openssl"
# shellcheck source=/dev/null
. "tests/gallery/apps/$APP.sh"

t0=$SECONDS
echo "--- $APP: install"
app_install
echo "--- $APP: start"
app_start
echo "--- $APP: configure through its own API"
mkdir -p "$WORK/config/tls"
app_configure
t_app=$((SECONDS - t0))

if [ ! -x "$BIN" ]; then
  cargo build --locked
fi

# The gallery config as committed, with the app's address in place of the one it names; the TLS
# files it expects are generated (the app's secrets are in the environment, set by app_configure).
cp "config/gallery/$APP/sidecar.toml" "config/gallery/$APP/mapping.toml" "$WORK/config/"
sed -i "s#$APP_CONFIG_URL#$APP_URL#g" "$WORK/config/mapping.toml"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/config/tls/tls.key" -out "$WORK/config/tls/tls.crt" 2>/dev/null
export SCIM_SIDECAR_TLS__CERT_FILE="$WORK/config/tls/tls.crt"
export SCIM_SIDECAR_TLS__KEY_FILE="$WORK/config/tls/tls.key"
SCIM_PORT="$(free_port)"
ADMIN_PORT="$(free_port)"
SCIM_SIDECAR_TOKEN="$(openssl rand -hex 32)"
export SCIM_SIDECAR_TOKEN
export SCIM_SIDECAR_SERVER__LISTEN="127.0.0.1:$SCIM_PORT"
export SCIM_SIDECAR_ADMIN__LISTEN="127.0.0.1:$ADMIN_PORT"
export SCIM_SIDECAR_SCIM__PLATFORM_BASE_URL="$APP_PLATFORM_BASE"
export SCIM_SIDECAR_LOG__FORMAT=text

echo "--- scim-sidecar check (the committed config, then the one run here)"
"$BIN" check --config "config/gallery/$APP/sidecar.toml" >/dev/null 2>"$WORK/check.err" \
  || { cat "$WORK/check.err" >&2; exit 1; }
"$BIN" check --config "$WORK/config/sidecar.toml"

"$BIN" serve --config "$WORK/config/sidecar.toml" > "$WORK/sidecar.log" 2>&1 &
SIDECAR_PID=$!
wait_for "scim-sidecar (ready: it reached $APP with its own token)" 60 "http://127.0.0.1:$ADMIN_PORT/readyz" \
  || { tail -40 "$WORK/sidecar.log" >&2; exit 1; }

echo "--- Entra's provisioning story against the sidecar, checked through $APP's own API"
t1=$SECONDS
status=0
SCIM_URL="https://127.0.0.1:$SCIM_PORT/scim/v2" SCIM_CA="$WORK/config/tls/tls.crt" \
  SIDECAR_ADMIN="http://127.0.0.1:$ADMIN_PORT" \
  timeout "$STORY_TIMEOUT" python3 tests/gallery/story.py "$APP" || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- sidecar log (last 40 lines)" >&2
  tail -40 "$WORK/sidecar.log" >&2
fi
echo "$APP: the app took $t_app s to install, start and configure; the story $((SECONDS - t1)) s; $((SECONDS - t0)) s in all"
exit "$status"
