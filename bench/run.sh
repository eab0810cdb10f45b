#!/usr/bin/env bash
# Gatehouse HTTP benchmark: ok (ceiling), get-session, sign-in/email, and a
# sign-in storm with resident memory and get-session latency measured alongside.
# See bench/README.md. Loopback only; every load is bounded by DURATION.
#
# Knobs (env): GATEHOUSE_BIN, CARGO_TARGET_DIR, BUILD=1 (force a release build),
#              DURATION (s, 10), THREADS (2), CONNECTIONS (32), SIGNIN_CONNECTIONS (8),
#              STORM_CONNECTIONS (64), PROBE_RATE (get-session requests/s during the storm, 200).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT_DIR="$ROOT/bench/out"

DURATION="${DURATION:-10}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
SIGNIN_CONNECTIONS="${SIGNIN_CONNECTIONS:-8}"
STORM_CONNECTIONS="${STORM_CONNECTIONS:-64}"
PROBE_RATE="${PROBE_RATE:-200}"
EMAIL="bench@example.com"
PASSWORD="bench-password-1"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

check_knobs DURATION THREADS CONNECTIONS SIGNIN_CONNECTIONS STORM_CONNECTIONS PROBE_RATE
# wrk refuses fewer connections than threads.
(( SIGNIN_CONNECTIONS >= THREADS )) || die "SIGNIN_CONNECTIONS ($SIGNIN_CONNECTIONS) must be >= THREADS ($THREADS)"

need_tools
server_binary

# --- temp dir, cleanup ---------------------------------------------------------
TMP="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

server_log() {
    echo "----- server log ($TMP/server.log) -----" >&2
    tail -n 100 "$TMP/server.log" >&2 2>/dev/null || echo "(no log)" >&2
    echo "----------------------------------------" >&2
}

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local p
    for _ in $(seq 1 200); do
        p=$(( 20000 + RANDOM % 40000 ))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
    done
    return 1
}

# --- start the server ------------------------------------------------------------
PORT="$(free_port)" || die "found no free loopback port"
BASE="http://127.0.0.1:$PORT/api/auth"
SECRET="$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"   # 48 hex chars
[[ ${#SECRET} -eq 48 ]] || die "could not generate a secret"

log "server: $BIN on 127.0.0.1:$PORT (temp dir $TMP)"
(
    cd "$TMP"
    # A clean environment, so a GATEHOUSE_CONFIG or BASE_URL in the caller's
    # shell cannot change what is measured.
    exec env -i PATH="$PATH" HOME="${HOME:-$TMP}" \
        DATABASE_URL="sqlite://$TMP/bench.db" \
        GATEHOUSE_RATE_LIMIT=off \
        GATEHOUSE_SECRET="$SECRET" \
        GATEHOUSE_PLUGINS=username,bearer \
        GATEHOUSE_LISTEN="127.0.0.1:$PORT" \
        RUST_LOG=warn \
        "$BIN" serve
) >"$TMP/server.log" 2>&1 &
SERVER_PID=$!

deadline=$(( SECONDS + 30 ))
until curl -fsS --max-time 2 -o /dev/null "$BASE/ok" 2>/dev/null; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        server_log; die "the server exited before answering GET /api/auth/ok"
    fi
    if (( SECONDS >= deadline )); then
        server_log; die "the server did not answer GET /api/auth/ok within 30 s"
    fi
    sleep 0.2
done
log "server is up"

# --- one user, one session ----------------------------------------------------------
status="$(curl -sS --max-time 30 -o "$TMP/signup.body" -D "$TMP/signup.headers" -w '%{http_code}' \
    -H 'content-type: application/json' \
    --data "{\"name\":\"Bench\",\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" \
    "$BASE/sign-up/email")" || { server_log; die "sign-up request failed"; }
if [[ "$status" != 2* ]]; then
    echo "response body: $(cat "$TMP/signup.body")" >&2
    server_log; die "sign-up answered HTTP $status"
fi
COOKIE="$(tr -d '\r' <"$TMP/signup.headers" \
    | sed -n 's/^[Ss][Ee][Tt]-[Cc][Oo][Oo][Kk][Ii][Ee]: *\(better-auth\.session_token=[^;]*\).*/\1/p' \
    | head -n 1)"
[[ -n "$COOKIE" ]] || { cat "$TMP/signup.headers" >&2; die "sign-up set no better-auth.session_token cookie"; }

# Sanity: the cookie really resolves to a session before we load it.
curl -fsS --max-time 10 -H "Cookie: $COOKIE" "$BASE/get-session?disableRefresh=true" >"$TMP/session.json" \
    || { server_log; die "get-session with the sign-up cookie failed"; }
grep -q '"session"' "$TMP/session.json" || die "get-session returned no session: $(cat "$TMP/session.json")"

cat >"$TMP/signin.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"email":"$EMAIL","password":"$PASSWORD"}'
wrk.headers["Content-Type"] = "application/json"
EOF

# --- loads -------------------------------------------------------------------------------
run_wrk() {  # name connections wrk-args...
    local name="$1" conns="$2"; shift 2
    log "wrk $name: ${DURATION}s, $THREADS threads, $conns connections"
    if ! wrk -t "$THREADS" -c "$conns" -d "${DURATION}s" --timeout 10s --latency "$@" \
            >"$TMP/wrk-$name.txt" 2>&1; then
        cat "$TMP/wrk-$name.txt" >&2
        server_log; die "wrk failed for $name"
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { server_log; die "the server died during the $name load"; }
}

run_wrk ok "$CONNECTIONS" "$BASE/ok"
run_wrk get-session "$CONNECTIONS" -H "Cookie: $COOKIE" "$BASE/get-session?disableRefresh=true"
run_wrk sign-in "$SIGNIN_CONNECTIONS" -s "$TMP/signin.lua" "$BASE/sign-in/email"

# --- parse ---------------------------------------------------------------------------------
# wrk latency -> milliseconds ("850.00us", "1.23ms", "1.05s", "2.00m").
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (match(v, /^[0-9.]+/)) { n = substr(v, 1, RLENGTH); u = substr(v, RLENGTH + 1) } else { print "n/a"; exit }
        if (u == "us") n /= 1000; else if (u == "ms") n += 0; else if (u == "s") n *= 1000;
        else if (u == "m") n *= 60000; else if (u == "h") n *= 3600000; else { print "n/a"; exit }
        printf "%.2f", n }'
}
field() {  # file pattern -> second field of the first matching line
    awk -v pat="$2" '$0 ~ pat { print $2; exit }' "$1"
}

declare -A RPS P50 P99
WARNINGS=()
for name in ok get-session sign-in; do
    f="$TMP/wrk-$name.txt"
    RPS[$name]="$(field "$f" '^Requests/sec:')"
    P50[$name]="$(to_ms "$(field "$f" '^ +50%')")"
    P99[$name]="$(to_ms "$(field "$f" '^ +99%')")"
    if [[ -z "${RPS[$name]}" ]]; then
        cat "$f" >&2; die "could not parse wrk output for $name"
    fi
    non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $NF; exit }' "$f")"
    if [[ -n "$non2xx" && "$non2xx" != 0 ]]; then
        WARNINGS+=("WARNING: $name saw $non2xx non-2xx/3xx responses; its figures are not valid")
    fi
    sockerr="$(awk '/Socket errors:/ { sub(/.*Socket errors: */, ""); print; exit }' "$f")"
    if [[ -n "$sockerr" ]]; then
        WARNINGS+=("WARNING: $name had socket errors ($sockerr)")
    fi
    total="$(awk '/requests in/ { print $1; exit }' "$f")"
    if [[ "${total:-0}" == 0 ]]; then
        WARNINGS+=("WARNING: $name completed no requests")
    fi
done

# --- sign-in storm: memory and the request path under hashing load -------------------
# STORM_CONNECTIONS sign-ins hammer argon2id while a light get-session probe
# measures what every other request sees; resident memory is sampled every
# 100 ms from /proc, during the storm and for 10 s after it.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0; }
sample_rss() {  # file: "<epoch ms> <kib>" lines until killed
    while true; do echo "$(date +%s%3N) $(rss_kib)" >>"$1"; sleep 0.1; done
}
RSS_QUIET_KIB="$(rss_kib)"
sample_rss "$TMP/rss.txt" & SAMPLER_PID=$!
log "storm: ${DURATION}s, $STORM_CONNECTIONS sign-in connections + a get-session probe at $PROBE_RATE/s"
python3 "$ROOT/bench/probe.py" "$BASE/get-session?disableRefresh=true" "$DURATION" "$PROBE_RATE" \
    "Cookie: $COOKIE" >"$TMP/probe.txt" 2>&1 & PROBE_PID=$!
wrk -t 1 -c "$STORM_CONNECTIONS" -d "${DURATION}s" --timeout 10s --latency \
    -s "$TMP/signin.lua" "$BASE/sign-in/email" >"$TMP/wrk-storm.txt" 2>&1 \
    || { cat "$TMP/wrk-storm.txt" >&2; server_log; die "wrk failed for the storm"; }
wait "$PROBE_PID" || { cat "$TMP/probe.txt" >&2; die "the get-session probe failed"; }
STORM_END_MS="$(date +%s%3N)"
sleep 10.3
kill "$SAMPLER_PID" 2>/dev/null; wait "$SAMPLER_PID" 2>/dev/null || true
kill -0 "$SERVER_PID" 2>/dev/null || { server_log; die "the server died during the storm"; }
PEAK_KIB="$(awk -v end="$STORM_END_MS" '$1 <= end && $2 > m { m = $2 } END { print m + 0 }' "$TMP/rss.txt")"
AFTER_KIB="$(awk -v t="$(( STORM_END_MS + 10000 ))" '$1 >= t { print $2; exit }' "$TMP/rss.txt")"
AFTER_KIB="${AFTER_KIB:-$(rss_kib)}"
storm_total="$(awk '/requests in/ { print $1; exit }' "$TMP/wrk-storm.txt")"
storm_busy="$(awk '/Non-2xx or 3xx responses:/ { print $NF; exit }' "$TMP/wrk-storm.txt")"
STORM_OK_RPS="$(awk -v t="${storm_total:-0}" -v b="${storm_busy:-0}" -v d="$DURATION" 'BEGIN { printf "%.1f", (t - b) / d }')"
STORM_BUSY_RPS="$(awk -v b="${storm_busy:-0}" -v d="$DURATION" 'BEGIN { printf "%.1f", b / d }')"
STORM_P99="$(to_ms "$(field "$TMP/wrk-storm.txt" '^ +99%')")"
read -r PROBE_COUNT probe_bad PROBE_P50 PROBE_P99 PROBE_MAX <"$TMP/probe.txt" \
    || die "unreadable probe output: $(cat "$TMP/probe.txt")"

# The same binary and cost, hashing with nothing else running: the ceiling.
log "hash-only ceiling (gatehouse hash-bench, 5 s per measurement)"
CEILING="$(cd "$TMP" && env -i PATH="$PATH" "$BIN" hash-bench --seconds 5 2>/dev/null | awk '/caller\(s\):/ { v = $(NF-1) } END { print v }')"

RATIO="$(awk -v a="${RPS[get-session]}" -v b="${RPS[ok]}" 'BEGIN { if (b > 0) printf "%.1f", 100 * a / b; else print "n/a" }')"
COMMIT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
DIRTY=""
if [[ "$COMMIT" != unknown ]] && [[ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    DIRTY="+dirty"
fi

report() {
    echo "# gatehouse bench  $(date -u +%Y-%m-%dT%H:%M:%SZ)  commit $COMMIT$DIRTY"
    echo "# binary $BIN"
    echo "# ${DURATION}s per load, $THREADS threads, $CONNECTIONS connections (sign-in: $SIGNIN_CONNECTIONS), $(nproc 2>/dev/null || echo '?') cores"
    printf '%-14s %12s %10s %10s\n' endpoint req/s "p50(ms)" "p99(ms)"
    printf '%-14s %12s %10s %10s\n' ok "${RPS[ok]}" "${P50[ok]}" "${P99[ok]}"
    printf '%-14s %12s %10s %10s\n' get-session "${RPS[get-session]}" "${P50[get-session]}" "${P99[get-session]}"
    printf '%-14s %12s %10s %10s\n' sign-in "${RPS[sign-in]}" "${P50[sign-in]}" "${P99[sign-in]}"
    echo "get-session / ok = $RATIO%"
    echo "# storm: ${DURATION}s, $STORM_CONNECTIONS sign-in connections, get-session probed at $PROBE_RATE/s alongside ($PROBE_COUNT requests)"
    printf '%-22s %10s   %s\n' "sign-in ok/s" "$STORM_OK_RPS" "hash-only ceiling ${CEILING:-n/a}/s; 503 SERVER_BUSY: $STORM_BUSY_RPS/s; p99 ${STORM_P99} ms"
    printf '%-22s %10s   %s\n' "get-session p99 (ms)" "$PROBE_P99" "p50 $PROBE_P50 ms, max $PROBE_MAX ms during the storm (target <= 5)"
    printf '%-22s %10s   %s\n' "peak RSS (MiB)" "$(( PEAK_KIB / 1024 ))" "during the storm; $(( RSS_QUIET_KIB / 1024 )) MiB before (target <= 256)"
    printf '%-22s %10s   %s\n' "RSS +10 s (MiB)" "$(( AFTER_KIB / 1024 ))" "10 s after the storm (target < 64)"
    if [[ -n "$probe_bad" && "$probe_bad" != 0 ]]; then
        echo "WARNING: the get-session probe saw $probe_bad non-2xx responses"
    fi
    local w
    for w in "${WARNINGS[@]+"${WARNINGS[@]}"}"; do echo "$w"; done
}

mkdir -p "$OUT_DIR"
report | tee "$OUT_DIR/latest.txt"
