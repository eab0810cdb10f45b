# Shared by the benchmarks (bench/run.sh, bench/organization.sh, bench/credentials.sh):
# knob checks, tools, the release binary, a scratch database, the server, and
# wrk runs reported against `ok`. Source it after setting ROOT and the knobs.

die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

# check_knobs NAME...: each must be a positive integer; wrk needs CONNECTIONS >= THREADS.
check_knobs() {
    local v
    for v in "$@"; do
        [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
    done
    (( CONNECTIONS >= THREADS )) || die "CONNECTIONS ($CONNECTIONS) must be >= THREADS ($THREADS)"
}

need_tools() {
    local missing=() sudo=""
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    (( ${#missing[@]} )) || return 0
    log "installing ${missing[*]} from Debian"
    if (( EUID != 0 )); then
        command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to install ${missing[*]}"
        sudo="sudo"
    fi
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
        || die "could not install ${missing[*]} (apt-get install -y ${missing[*]})"
    command -v wrk >/dev/null 2>&1 || die "wrk still not on PATH after install"
}

# Sets BIN: GATEHOUSE_BIN, else the release build (made when missing or BUILD=1).
server_binary() {
    if [[ -n "${GATEHOUSE_BIN:-}" ]]; then
        BIN="$GATEHOUSE_BIN"
    else
        local target_dir="${CARGO_TARGET_DIR:-target}"
        [[ "$target_dir" = /* ]] || target_dir="$ROOT/$target_dir"
        BIN="$target_dir/release/gatehouse"
        if [[ "${BUILD:-0}" == 1 || ! -x "$BIN" ]]; then
            log "building the release server (cargo build --release -p gatehouse-server)"
            (cd "$ROOT" && CARGO_TARGET_DIR="$target_dir" cargo build --release -p gatehouse-server) \
                || die "release build failed"
        fi
    fi
    [[ -x "$BIN" ]] || die "no server binary at $BIN"
    BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
}

# scratch NAME: sets TMP, DB_URL and BACKEND (a fresh PostgreSQL schema when
# DATABASE_URL is a postgres:// URL, else a SQLite file) and cleans up on exit.
scratch() {
    TMP="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench-$1.XXXXXX")"
    SERVER_PID=""
    SCHEMA=""
    trap bench_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    case "${DATABASE_URL:-}" in
        postgres://* | postgresql://*)
            SCHEMA="bench_${1//-/_}_$$"
            psql "$DATABASE_URL" -qc "CREATE SCHEMA $SCHEMA" || die "cannot create schema $SCHEMA"
            local sep="?"; [[ "$DATABASE_URL" == *\?* ]] && sep="&"
            DB_URL="$DATABASE_URL${sep}options=-csearch_path%3D$SCHEMA"
            BACKEND=postgres
            ;;
        *) DB_URL="sqlite://$TMP/bench.db"; BACKEND=sqlite ;;
    esac
}

bench_cleanup() {
    stop_server
    if [[ -n "$SCHEMA" ]]; then
        psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
}

# start_server PLUGINS: runs $BIN with $TMP/gatehouse.toml (rate limit off) on a
# free loopback port; sets ORIGIN and BASE once `ok` answers.
start_server() {
    local port secret
    port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
    ORIGIN="http://127.0.0.1:$port"
    BASE="$ORIGIN/api/auth"
    secret="$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
    log "server: $BIN on $ORIGIN ($BACKEND), plugins $1"
    (
        cd "$TMP"
        exec env -i PATH="$PATH" HOME="${HOME:-$TMP}" \
            DATABASE_URL="$DB_URL" \
            GATEHOUSE_CONFIG="$TMP/gatehouse.toml" \
            GATEHOUSE_RATE_LIMIT=off \
            GATEHOUSE_SECRET="$secret" \
            GATEHOUSE_PLUGINS="$1" \
            GATEHOUSE_LISTEN="127.0.0.1:$port" \
            RUST_LOG=warn \
            "$BIN" serve
    ) >"$TMP/server.log" 2>&1 &
    SERVER_PID=$!
    local deadline=$(( SECONDS + 30 ))
    until curl -fsS --max-time 2 -o /dev/null "$BASE/ok" 2>/dev/null; do
        kill -0 "$SERVER_PID" 2>/dev/null || { tail -50 "$TMP/server.log" >&2; die "the server exited"; }
        (( SECONDS < deadline )) || { tail -50 "$TMP/server.log" >&2; die "no answer within 30 s"; }
        sleep 0.2
    done
}

stop_server() {
    if [[ -n "$SERVER_PID" ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=""
    fi
}

run() { # name url [script]: prints req/s; any non-2xx answer fails the run
    local name="$1" url="$2" script="${3:-}"
    local args=(-t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency)
    [[ -n "$script" ]] && args+=(-s "$script")
    wrk "${args[@]}" "$url" >"$TMP/$name.out" 2>&1 || { cat "$TMP/$name.out" >&2; die "wrk failed on $name"; }
    if grep -q "Non-2xx" "$TMP/$name.out"; then cat "$TMP/$name.out" >&2; die "$name had non-2xx answers"; fi
    awk '/Requests\/sec/ {print $2}' "$TMP/$name.out"
}
p99() { awk '/ 99%/ {print $2}' "$TMP/$1.out"; }
pct() { python3 -c "print(f'{100*float(\"$1\")/float(\"$2\"):.0f}%')"; }
