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

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
check_knobs DURATION THREADS CONNECTIONS
need_tools
server_binary
scratch credentials

# The per-key rate limit is off so that wrk measures verification, not 429s.
cat >"$TMP/gatehouse.toml" <<'TOML'
[api_key]
enable_session_for_api_keys = true
rate_limit = { enabled = false }
TOML
start_server jwt,api-key

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


log "loads: $DURATION s each, $THREADS threads, $CONNECTIONS connections"
OK="$(run ok "$BASE/ok")"
JWT="$(run session "$BASE/get-session" "$TMP/session.lua")"
APIKEY="$(run api-key "$BASE/get-session" "$TMP/api-key.lua")"
JWKS="$(run jwks "$BASE/jwks")"

echo "# machine-credentials bench ($BACKEND): $DURATION s per load, $THREADS threads, $CONNECTIONS connections"
printf '%-36s %12s %10s %10s %8s\n' load "req/s" "p99" "of ok" target
printf '%-36s %12s %10s %10s %8s\n' "ok" "$OK" "$(p99 ok)" "100%" ""
printf '%-36s %12s %10s %10s %8s\n' "get-session, jwt on (signs a JWT)" "$JWT" "$(p99 session)" "$(pct "$JWT" "$OK")" ">=35%"
printf '%-36s %12s %10s %10s %8s\n' "get-session by x-api-key" "$APIKEY" "$(p99 api-key)" "$(pct "$APIKEY" "$OK")" ">=35%"
printf '%-36s %12s %10s %10s %8s\n' "GET /jwks" "$JWKS" "$(p99 jwks)" "$(pct "$JWKS" "$OK")" ">=60%"
