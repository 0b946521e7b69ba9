# Shared functions of perf/run.sh and perf/soak.sh (sourced, not run).
#
# Process handling: every process is started with `spawn`, which records its pid; `cleanup`
# (installed as the EXIT trap by the scripts) stops them all, by pid, TERM then KILL after 5 s.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
OUT=${BENCH_OUT:-$ROOT/target/bench}
VENV=$OUT/venv
TOOLS=("python3" "$BENCH_DIR/tools.py")
PIDS=()
TMP=""

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# spawn LOGFILE CMD... : start CMD in the background, output to LOGFILE; pid in SPAWNED_PID.
spawn() {
    local logfile=$1
    shift
    "$@" >"$logfile" 2>&1 &
    SPAWNED_PID=$!
    PIDS+=("$SPAWNED_PID")
}

# stop_pid PID: TERM, wait up to 5 s, then KILL. Only ever pids this script started.
stop_pid() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "pid $pid did not stop after TERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${PIDS[$i]}"
    done
    PIDS=()
    if [[ -n "$TMP" && -d "$TMP" && -z "${BENCH_KEEP_TMP:-}" ]]; then
        rm -rf "$TMP"
    fi
    return $rc
}

make_tmp() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/scim-bench.XXXXXX")
}

freeports() { "${TOOLS[@]}" freeport "$1"; }

wait_http() { "${TOOLS[@]}" wait-http "$@"; }

# ensure_tools wrk nginx ...: install missing Debian packages (as root) or fail naming them.
ensure_tools() {
    local missing=() t
    for t in "$@"; do
        case $t in
            nginx) command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || missing+=(nginx) ;;
            *) command -v "$t" >/dev/null || missing+=("$t") ;;
        esac
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    [[ $(id -u) -eq 0 ]] || die "missing tools: ${missing[*]} (install them: apt-get install -y ${missing[*]})"
    log "installing ${missing[*]} with apt-get"
    local pkgs=() p
    for p in "${missing[@]}"; do
        case $p in
            nginx) pkgs+=(nginx-light) ;;
            python3) pkgs+=(python3 python3-venv) ;;
            *) pkgs+=("$p") ;;
        esac
    done
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" >"$OUT/apt.log" 2>&1; then
        DEBIAN_FRONTEND=noninteractive apt-get update >>"$OUT/apt.log" 2>&1 || true
        # nginx-light is gone from newer Debian releases: fall back to nginx.
        pkgs=("${pkgs[@]/nginx-light/nginx}")
        DEBIAN_FRONTEND=noninteractive apt-get install -y "${pkgs[@]}" >>"$OUT/apt.log" 2>&1 ||
            die "apt-get install ${pkgs[*]} failed; see $OUT/apt.log"
    fi
}

NGINX=$(command -v nginx 2>/dev/null || echo /usr/sbin/nginx)

# ensure_venv: target/bench/venv with perf/requirements.txt (reinstalled when that changes).
ensure_venv() {
    local stamp=$VENV/.requirements
    if [[ -x $VENV/bin/python && -f $stamp ]] && cmp -s "$stamp" "$BENCH_DIR/requirements.txt"; then
        return 0
    fi
    log "creating $VENV (pip install -r perf/requirements.txt)"
    rm -rf "$VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed (apt-get install -y python3-venv?)"
    "$VENV/bin/pip" install -q -r "$BENCH_DIR/requirements.txt" >"$OUT/pip.log" 2>&1 ||
        die "pip install failed; see $OUT/pip.log"
    cp "$BENCH_DIR/requirements.txt" "$stamp"
}

# ensure_binary: target/release/scim-sidecar, built unless SCIM_SIDECAR_BIN or --no-build.
ensure_binary() {
    local build=$1
    if [[ -n "${SCIM_SIDECAR_BIN:-}" ]]; then
        BIN=$SCIM_SIDECAR_BIN
    else
        BIN=$ROOT/target/release/scim-sidecar
        if [[ $build -eq 1 ]]; then
            log "cargo build --release --locked"
            (cd "$ROOT" && cargo build --release --locked) >"$OUT/build.log" 2>&1 ||
                die "cargo build failed; see $OUT/build.log"
        fi
    fi
    [[ -x $BIN ]] || die "no binary at $BIN (run cargo build --release --locked, or set SCIM_SIDECAR_BIN)"
}

# start_platform PORT USERS LOGFILE [DEMO_ARGS...]: the demo platform alone (more arguments go
# to `scim-sidecar demo`, e.g. --platform-auth oauth2); pid in SPAWNED_PID.
start_platform() {
    local port=$1 users=$2 logfile=$3
    shift 3
    spawn "$logfile" env DEMO_PLATFORM_API_KEY="$PLATFORM_KEY" \
        "$BIN" demo --platform-only --platform-listen "127.0.0.1:$port" --seed-users "$users" "$@"
    local pid=$SPAWNED_PID
    wait_http "http://127.0.0.1:$port/api/v1/users?per_page=1" -H "X-Api-Key: $PLATFORM_KEY" \
        --timeout 60 || die "platform on port $port did not start; see $logfile"
    SPAWNED_PID=$pid
}

# start_sidecar CONFIG PORT ADMIN_PORT PLATFORM_PORT LOGFILE [VAR=VALUE...]: pid in SPAWNED_PID.
start_sidecar() {
    local config=$1 port=$2 admin=$3 pport=$4 logfile=$5
    shift 5
    spawn "$logfile" env \
        SCIM_SIDECAR_BENCH_TOKEN="$TOKEN" DEMO_PLATFORM_API_KEY="$PLATFORM_KEY" \
        SCIM_SIDECAR_SCIM__PLATFORM_BASE_URL="http://127.0.0.1:$pport" \
        SCIM_SIDECAR_SERVER__LISTEN="127.0.0.1:$port" SCIM_SIDECAR_ADMIN__LISTEN="127.0.0.1:$admin" \
        "$@" "$BIN" serve --config "$config"
    local pid=$SPAWNED_PID
    wait_http "http://127.0.0.1:$admin/readyz" --timeout 30 ||
        die "sidecar on port $port did not become ready; see $logfile"
    SPAWNED_PID=$pid
}
