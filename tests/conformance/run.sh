#!/usr/bin/env bash
# Runs two independent, third-party SCIM conformance suites against `scim-sidecar demo`, over
# HTTPS (with the demo's generated certificate) and over plain HTTP:
#   scim2-tester (python-scim): discovery, CRUD, attributes/excludedAttributes, PATCH add/remove/
#     replace of every published attribute with read-back;
#   scim-sanity: discovery, User and Group lifecycles with members, search and paging, errors.
# Prints one summary line per suite and mode; exits non-zero if any check fails.
# Versions are pinned in requirements.txt. See docs/conformance.md for the decisions behind the
# one setting below.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
VENV="${CONFORMANCE_VENV:-$ROOT/target/conformance-venv}"
BIN="${SCIM_SIDECAR_BIN:-$ROOT/target/debug/scim-sidecar}"
LIMIT="${CONFORMANCE_TIMEOUT:-600}"

if [ ! -x "$BIN" ]; then
  cargo build --locked
fi
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check -r tests/conformance/requirements.txt

TOKEN="$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(32))')"
WORK="$(mktemp -d)"
DEMO_PID=""
cleanup() {
  if [ -n "$DEMO_PID" ]; then kill "$DEMO_PID" 2>/dev/null || true; wait "$DEMO_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# RFC 7644 §3.5.2 allows a PATCH to answer 200 with the resource or 204. The entra profile
# answers group PATCHes with 204, as Entra asks; scim-sanity expects 200. Both are legitimate, so
# it is a setting: the suites run with the one an RFC client expects.
export SCIM_SIDECAR_SCIM__GROUP_PATCH_RESPONSE=resource

failed=0
summaries=()

run_mode() {
  local mode="$1" tls_flag=() ca_args=() ca=""
  [ "$mode" = https ] && tls_flag=(--tls)
  : > "$WORK/demo.out"
  SCIM_SIDECAR_DEMO_TOKEN="$TOKEN" "$BIN" demo "${tls_flag[@]}" \
    --listen 127.0.0.1:0 --platform-listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    > "$WORK/demo.out" 2> "$WORK/demo-$mode.log" &
  DEMO_PID=$!
  for _ in $(seq 1 300); do
    grep -q '^export ' "$WORK/demo.out" && break
    sleep 0.1
  done
  local url
  url="$(sed -n 's/^export SCIM=\([^ ]*\) .*/\1/p' "$WORK/demo.out")"
  if [ -z "$url" ]; then
    echo "demo ($mode) did not start:" >&2
    cat "$WORK/demo-$mode.log" >&2
    exit 1
  fi
  if [ "$mode" = https ]; then
    ca="$(sed -n 's/^(self-signed certificate: \([^;]*\);.*/\1/p' "$WORK/demo.out")"
    ca_args=(--ca-bundle "$ca")
  fi
  echo "--- $mode: $url"

  if timeout "$LIMIT" "$VENV/bin/python" tests/conformance/scim2_tester_check.py "$url" "$TOKEN" $ca > "$WORK/tester-$mode.txt" 2>&1; then :; else failed=1; grep -v '^SUCCESS' "$WORK/tester-$mode.txt" || true; fi
  summaries+=("$mode: $(tail -n 1 "$WORK/tester-$mode.txt")")

  if timeout "$LIMIT" "$VENV/bin/scim-sanity" probe "$url" --token "$TOKEN" --i-accept-side-effects \
      --json-output "${ca_args[@]}" > "$WORK/sanity-$mode.json" 2> "$WORK/sanity-$mode.err"; then :; else true; fi
  local line
  line="$("$VENV/bin/python" - "$WORK/sanity-$mode.json" <<'PY'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print(f"scim-sanity: no result ({e})"); sys.exit(1)
s = d["summary"]
bad = [r for r in d["results"] if r["status"] not in ("pass", "skip")]
skipped = [r["name"] for r in d["results"] if r["status"] == "skip"]
for r in bad:
    print(f"  {r['status'].upper()} {r['name']}: {r.get('message', '')}", file=sys.stderr)
print(f"scim-sanity: {s['total']} checks, {s['passed']} passed, {s['failed'] + s['errors']} failed, "
      f"{s['warnings']} warnings, {s['skipped']} skipped ({'; '.join(skipped)})")
sys.exit(1 if bad else 0)
PY
)" || failed=1
  summaries+=("$mode: $line")

  kill "$DEMO_PID" 2>/dev/null || true
  wait "$DEMO_PID" 2>/dev/null || true
  DEMO_PID=""
}

run_mode https
run_mode http

echo
echo "=== conformance summary"
printf '%s\n' "${summaries[@]}"
exit "$failed"
