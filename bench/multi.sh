#!/usr/bin/env bash
# Several instances: what sharing costs, and what a second instance brings.
#
# 1. The shared rate limiter's cost on `ok`: the same server with the limiter
#    off, counting in memory, in Redis and in the database (limits set so
#    high that nothing is refused: every request is counted, none rejected).
#    Targets: Redis within 15% of the limiter-off `ok`, the database within 30%.
# 2. get-session with Redis configured as secondary storage, against `ok`
#    (target: at least 40%).
# 3. Two instances against one, each instance and each load generator
#    pinned to a core with taskset. This machine has two cores, so the
#    load generators share them with the servers: the ratio is reported
#    as measured, with what it means in bench/README.md.
#
# Every figure is the median of ROUNDS rounds of DURATION seconds. wrk
# comes from one address, so every request of a run hits one counter: the
# worst case for the shared stores (a hot key, a hot row).
#
# Knobs (env): GATEHOUSE_BIN, CARGO_TARGET_DIR, BUILD=1, DURATION (s, 8), ROUNDS (3),
#              THREADS (2), CONNECTIONS (32), DATABASE_URL (default: the local
#              PostgreSQL's `test`, in a fresh schema), REDIS_URL (redis://127.0.0.1:6379/).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-8}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
ROUNDS="${ROUNDS:-3}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
check_knobs DURATION ROUNDS THREADS CONNECTIONS
need_tools
command -v taskset >/dev/null || die "taskset (util-linux) is needed"
server_binary
scratch multi

PREFIX="bench-$$-"
cat >"$TMP/gatehouse.toml" <<TOML
[rate_limit]
window = 60
max = 1000000000

[secondary_storage]
key_prefix = "$PREFIX"
TOML
SECRET="$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
PIDS=()

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# instance CPU VAR=value...: starts one instance pinned to CPU; sets AT to its origin.
instance() {
    local cpu="$1" port pid
    shift
    port="$(free_port)"
    (
        cd "$TMP"
        exec taskset -c "$cpu" env -i PATH="$PATH" HOME="${HOME:-$TMP}" \
            DATABASE_URL="$DB_URL" GATEHOUSE_CONFIG="$TMP/gatehouse.toml" \
            GATEHOUSE_SECRET="$SECRET" GATEHOUSE_LISTEN="127.0.0.1:$port" \
            GATEHOUSE_BASE_URL="http://127.0.0.1:$port" RUST_LOG=warn "$@" "$BIN" serve
    ) >>"$TMP/server.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    local deadline=$(( SECONDS + 30 ))
    until curl -fsS --max-time 2 -o /dev/null "http://127.0.0.1:$port/api/auth/ok" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || { tail -30 "$TMP/server.log" >&2; die "an instance exited"; }
        (( SECONDS < deadline )) || die "no answer within 30 s"
        sleep 0.2
    done
    AT="http://127.0.0.1:$port"
}
stop_all() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    PIDS=()
}
trap 'stop_all; bench_cleanup' EXIT

# wrk_on CPUS NAME URL [SCRIPT]: req/s of one wrk run pinned to CPUS.
wrk_on() {
    local cpus="$1" name="$2" url="$3" script="${4:-}"
    local args=(-t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency)
    [[ -n "$script" ]] && args+=(-s "$script")
    taskset -c "$cpus" wrk "${args[@]}" "$url" >"$TMP/$name.out" 2>&1 || { cat "$TMP/$name.out" >&2; die "wrk failed on $name"; }
    if grep -q "Non-2xx" "$TMP/$name.out"; then cat "$TMP/$name.out" >&2; die "$name had non-2xx answers"; fi
    awk '/Requests\/sec/ {print $2}' "$TMP/$name.out"
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

log "rate limiter on ok: $ROUNDS rounds of $DURATION s, $THREADS threads, $CONNECTIONS connections ($BACKEND)"
declare -A OK
for mode in off memory redis database; do
    case "$mode" in
        off) env_args=(GATEHOUSE_RATE_LIMIT=off) ;;
        memory) env_args=(GATEHOUSE_RATE_LIMIT=on GATEHOUSE_RATE_LIMIT_STORAGE=memory) ;;
        redis) env_args=(GATEHOUSE_RATE_LIMIT=on GATEHOUSE_REDIS_URL="$REDIS_URL" GATEHOUSE_RATE_LIMIT_STORAGE=redis) ;;
        database) env_args=(GATEHOUSE_RATE_LIMIT=on GATEHOUSE_RATE_LIMIT_STORAGE=database) ;;
    esac
    instance 0,1 "${env_args[@]}"; origin="$AT"
    runs=()
    for _ in $(seq "$ROUNDS"); do runs+=("$(wrk_on 0,1 "ok-$mode" "$origin/api/auth/ok")"); done
    OK[$mode]="$(median "${runs[@]}")"
    log "ok, limiter $mode: ${OK[$mode]} req/s (rounds: ${runs[*]})"
    stop_all
done

log "get-session with Redis as secondary storage"
instance 0,1 GATEHOUSE_RATE_LIMIT=off GATEHOUSE_REDIS_URL="$REDIS_URL"; origin="$AT"
cookie="$(curl -fsS -D - -o /dev/null -H 'content-type: application/json' -H "origin: $origin" \
    -d '{"name":"Bench","email":"bench-multi@bench.example","password":"bench-password-1"}' \
    "$origin/api/auth/sign-up/email" | awk -F': ' 'tolower($1)=="set-cookie" {split($2,a,";"); print a[1]; exit}')"
[[ -n "$cookie" ]] || die "no session cookie from sign-up"
cat >"$TMP/session.lua" <<LUA
wrk.headers["Cookie"] = "$cookie"
LUA
gs=(); oks=()
for _ in $(seq "$ROUNDS"); do
    oks+=("$(wrk_on 0,1 ok-redis-gs "$origin/api/auth/ok")")
    gs+=("$(wrk_on 0,1 get-session "$origin/api/auth/get-session" "$TMP/session.lua")")
done
GS_OK="$(median "${oks[@]}")"; GS="$(median "${gs[@]}")"
stop_all

log "scaling: one instance (cpu 0, wrk on cpu 1) against two (cpus 0 and 1, a wrk on each)"
one=(); two=()
for _ in $(seq "$ROUNDS"); do
    instance 0 GATEHOUSE_RATE_LIMIT=off GATEHOUSE_REDIS_URL="$REDIS_URL"; a="$AT"
    one+=("$(wrk_on 1 one "$a/api/auth/ok")")
    instance 1 GATEHOUSE_RATE_LIMIT=off GATEHOUSE_REDIS_URL="$REDIS_URL"; b="$AT"
    wrk_on 1 two-a "$a/api/auth/ok" >"$TMP/two-a.rps" &
    wa=$!
    wrk_on 0 two-b "$b/api/auth/ok" >"$TMP/two-b.rps"
    wait "$wa"
    two+=("$(python3 -c "print(float('$(cat "$TMP/two-a.rps")') + float('$(cat "$TMP/two-b.rps")'))")")
    stop_all
done
ONE="$(median "${one[@]}")"; TWO="$(median "${two[@]}")"

echo "# several instances ($BACKEND, Redis at $REDIS_URL): $DURATION s per load, $THREADS threads, $CONNECTIONS connections, median of $ROUNDS rounds"
printf '%-44s %10s %8s %8s\n' "load" "req/s" "of base" "target"
printf '%-44s %10.0f %8s %8s\n' "ok, rate limiter off (base)" "${OK[off]}" "100%" ""
printf '%-44s %10.0f %8s %8s\n' "ok, rate limiter in memory" "${OK[memory]}" "$(pct "${OK[memory]}" "${OK[off]}")" ""
printf '%-44s %10.0f %8s %8s\n' "ok, rate limiter in Redis" "${OK[redis]}" "$(pct "${OK[redis]}" "${OK[off]}")" ">=85%"
printf '%-44s %10.0f %8s %8s\n' "ok, rate limiter in the database" "${OK[database]}" "$(pct "${OK[database]}" "${OK[off]}")" ">=70%"
printf '%-44s %10.0f %8s %8s\n' "ok (Redis configured)" "$GS_OK" "100%" ""
printf '%-44s %10.0f %8s %8s\n' "get-session (Redis configured)" "$GS" "$(pct "$GS" "$GS_OK")" ">=40%"
printf '%-44s %10.0f %8s %8s\n' "ok, one instance (cpu 0; wrk on cpu 1)" "$ONE" "100%" ""
printf '%-44s %10.0f %8s %8s\n' "ok, two instances (cpus 0, 1; wrk on each)" "$TWO" "$(pct "$TWO" "$ONE")" ""
