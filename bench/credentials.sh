#!/usr/bin/env bash
# Machine-credentials benchmark: `get-session` with the jwt plugin on (every
# answer carries a freshly signed `set-auth-jwt`), `get-session` authenticated
# by `x-api-key`, and `GET /jwks`, each against the same server's `ok` in one
# run. See bench/README.md ("Machine credentials"). Loopback only.
#
# Knobs (env): GATEHOUSE_BIN, CARGO_TARGET_DIR, BUILD=1, DURATION (s, 10), THREADS (2),
#              CONNECTIONS (32), DATABASE_URL (a postgres:// URL: that
#              database, in a fresh schema dropped afterwards; default a SQLite file).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-10}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"

die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

for v in DURATION THREADS CONNECTIONS; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
(( CONNECTIONS >= THREADS )) || die "CONNECTIONS ($CONNECTIONS) must be >= THREADS ($THREADS)"

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if (( ${#missing[@]} )); then
    log "installing ${missing[*]} from Debian"
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null \
        || die "could not install ${missing[*]}"
fi

if [[ -n "${GATEHOUSE_BIN:-}" ]]; then
    BIN="$GATEHOUSE_BIN"
else
    TARGET_DIR="${CARGO_TARGET_DIR:-target}"
    [[ "$TARGET_DIR" = /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
    BIN="$TARGET_DIR/release/gatehouse"
    if [[ "${BUILD:-0}" == 1 || ! -x "$BIN" ]]; then
        log "building the release server (cargo build --release -p gatehouse-server)"
        (cd "$ROOT" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release -p gatehouse-server) \
            || die "release build failed"
    fi
fi
[[ -x "$BIN" ]] || die "no server binary at $BIN"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench-credentials.XXXXXX")"
SERVER_PID=""
SCHEMA=""
cleanup() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ -n "$SCHEMA" ]]; then
        psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

case "${DATABASE_URL:-}" in
    postgres://* | postgresql://*)
        SCHEMA="bench_credentials_$$"
        psql "$DATABASE_URL" -qc "CREATE SCHEMA $SCHEMA" || die "cannot create schema $SCHEMA"
        sep="?"; [[ "$DATABASE_URL" == *\?* ]] && sep="&"
        DB_URL="$DATABASE_URL${sep}options=-csearch_path%3D$SCHEMA"
        BACKEND=postgres
        ;;
    *) DB_URL="sqlite://$TMP/bench.db"; BACKEND=sqlite ;;
esac

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
ORIGIN="http://127.0.0.1:$PORT"
BASE="$ORIGIN/api/auth"
SECRET="$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
# The per-key rate limit is off so that wrk measures verification, not 429s.
cat >"$TMP/gatehouse.toml" <<'TOML'
[api_key]
enable_session_for_api_keys = true
rate_limit = { enabled = false }
TOML

log "server: $BIN on $ORIGIN ($BACKEND), plugins jwt and api-key"
(
    cd "$TMP"
    exec env -i PATH="$PATH" HOME="${HOME:-$TMP}" \
        DATABASE_URL="$DB_URL" \
        GATEHOUSE_CONFIG="$TMP/gatehouse.toml" \
        GATEHOUSE_RATE_LIMIT=off \
        GATEHOUSE_SECRET="$SECRET" \
        GATEHOUSE_PLUGINS=jwt,api-key \
        GATEHOUSE_LISTEN="127.0.0.1:$PORT" \
        RUST_LOG=warn \
        "$BIN" serve
) >"$TMP/server.log" 2>&1 &
SERVER_PID=$!
deadline=$(( SECONDS + 30 ))
until curl -fsS --max-time 2 -o /dev/null "$BASE/ok" 2>/dev/null; do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -50 "$TMP/server.log" >&2; die "the server exited"; }
    (( SECONDS < deadline )) || { tail -50 "$TMP/server.log" >&2; die "no answer within 30 s"; }
    sleep 0.2
done

# Setup over HTTP: a user with a session cookie and an API key; checks that
# each load answers what it should before it is measured.
log "setup: a user, a session and an API key"
python3 - "$BASE" "$ORIGIN" "$TMP" <<'PY'
import http.cookiejar, json, sys, urllib.request

base, origin, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
jar = http.cookiejar.CookieJar()
op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

def call(method, path, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    h = {"content-type": "application/json", "origin": origin, **(headers or {})}
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with op.open(req) as r:
            return json.loads(r.read() or b"null"), r.headers
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: HTTP {e.code} {e.read()[:300]!r}")

call("POST", "/sign-up/email", {"name": "Bench", "email": "bench@bench.example", "password": "bench-password-1"})
key, _ = call("POST", "/api-key/create", {"name": "bench"})
cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
session, headers = call("GET", "/get-session")
assert session["user"]["email"] == "bench@bench.example", session
assert headers.get("set-auth-jwt", "").count(".") == 2, "get-session carries no set-auth-jwt"
jar.clear()
by_key, _ = call("GET", "/get-session", headers={"x-api-key": key["key"]})
assert by_key and by_key["user"]["email"] == "bench@bench.example", by_key
jwks, _ = call("GET", "/jwks")
assert jwks["keys"], jwks
json.dump({"cookie": cookie, "key": key["key"]}, open(f"{tmp}/setup.json", "w"))
PY

read -r COOKIE KEY < <(python3 -c '
import json,sys; d=json.load(open(sys.argv[1])); print(d["cookie"].replace(" ",""), d["key"])' "$TMP/setup.json")

cat >"$TMP/session.lua" <<LUA
wrk.headers["Cookie"] = "$COOKIE"
LUA
cat >"$TMP/api-key.lua" <<LUA
wrk.headers["x-api-key"] = "$KEY"
LUA

run() { # name url [script]
    local name="$1" url="$2" script="${3:-}"
    local args=(-t "$THREADS" -c "$CONNECTIONS" -d "${DURATION}s" --latency)
    [[ -n "$script" ]] && args+=(-s "$script")
    wrk "${args[@]}" "$url" >"$TMP/$name.out" 2>&1 || { cat "$TMP/$name.out" >&2; die "wrk failed on $name"; }
    if grep -q "Non-2xx" "$TMP/$name.out"; then cat "$TMP/$name.out" >&2; die "$name had non-2xx answers"; fi
    awk '/Requests\/sec/ {print $2}' "$TMP/$name.out"
}
p99() { awk '/ 99%/ {print $2}' "$TMP/$1.out"; }

log "loads: $DURATION s each, $THREADS threads, $CONNECTIONS connections"
OK="$(run ok "$BASE/ok")"
JWT="$(run session "$BASE/get-session" "$TMP/session.lua")"
APIKEY="$(run api-key "$BASE/get-session" "$TMP/api-key.lua")"
JWKS="$(run jwks "$BASE/jwks")"

pct() { python3 -c "print(f'{100*float(\"$1\")/float(\"$2\"):.0f}%')"; }
echo "# machine-credentials bench ($BACKEND): $DURATION s per load, $THREADS threads, $CONNECTIONS connections"
printf '%-36s %12s %10s %10s %8s\n' load "req/s" "p99" "of ok" target
printf '%-36s %12s %10s %10s %8s\n' "ok" "$OK" "$(p99 ok)" "100%" ""
printf '%-36s %12s %10s %10s %8s\n' "get-session, jwt on (signs a JWT)" "$JWT" "$(p99 session)" "$(pct "$JWT" "$OK")" ">=35%"
printf '%-36s %12s %10s %10s %8s\n' "get-session by x-api-key" "$APIKEY" "$(p99 api-key)" "$(pct "$APIKEY" "$OK")" ">=35%"
printf '%-36s %12s %10s %10s %8s\n' "GET /jwks" "$JWKS" "$(p99 jwks)" "$(pct "$JWKS" "$OK")" ">=60%"
