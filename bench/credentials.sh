#!/usr/bin/env bash
# Machine-credentials benchmark: `get-session` with the jwt plugin on (every
# answer carries a freshly signed `set-auth-jwt`), `get-session` authenticated
# by `x-api-key`, and `GET /jwks`, each against the same server's `ok` in one
# run. See bench/README.md ("Machine credentials"). Loopback only.
#
# Two servers on the same database, one after the other: `jwt,api-key` for
# the signed get-session and /jwks, then `api-key` alone for x-api-key (the
# target for that load is about key verification, not signing). `ok` shares
# the two cores with wrk and swings by a fifth between runs on a shared VM, so
# each round measures `ok` on the same server right before the load it is
# compared with, and the table gives the median round.
#
# Knobs (env): GATEHOUSE_BIN, CARGO_TARGET_DIR, BUILD=1, DURATION (s, 10), ROUNDS (3),
#              THREADS (2), CONNECTIONS (32), DATABASE_URL (a postgres:// URL: that
#              database, in a fresh schema dropped afterwards; default a SQLite file).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-10}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
ROUNDS="${ROUNDS:-3}"

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
check_knobs DURATION ROUNDS THREADS CONNECTIONS
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


log "loads: $DURATION s each, $THREADS threads, $CONNECTIONS connections, $ROUNDS rounds"
ROWS=()
measure() { # label target url [script]: one round of `ok` then the load
    local ok load
    ok="$(run ok "$BASE/ok")"
    load="$(run load "$3" "${4:-}")"
    log "$1: ok $ok, load $load"
    ROWS+=("$2 $ok $load $(p99 ok) $(p99 load) $1")
}
for _ in $(seq "$ROUNDS"); do
    measure "get-session, jwt on (signs a JWT)" 35 "$BASE/get-session" "$TMP/session.lua"
    measure "GET /jwks" 60 "$BASE/jwks"
done
stop_server
start_server api-key
for _ in $(seq "$ROUNDS"); do
    measure "get-session by x-api-key (no jwt)" 35 "$BASE/get-session" "$TMP/api-key.lua"
done

echo "# machine-credentials bench ($BACKEND): $DURATION s per load, $THREADS threads, $CONNECTIONS connections, median of $ROUNDS rounds"
cat >"$TMP/report.py" <<'PY'
import statistics, sys

def ms(v):  # wrk prints 892.00us, 4.79ms or 1.02s
    for unit, scale in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * scale
    return float("nan")

loads = {}  # label -> [(target, ok, load, ok p99, load p99)], in order
for line in sys.stdin:
    if line.strip():
        target, ok, load, ok_p99, load_p99, label = line.strip().split(maxsplit=5)
        loads.setdefault(label, []).append((int(target), float(ok), float(load), ms(ok_p99), ms(load_p99)))

row = "{:<36} {:>9} {:>9} {:>9} {:>7} {:>18} {:>7}"
print(row.format("load", "ok req/s", "req/s", "p99", "of ok", "rounds (of ok)", "target"))
for label, rounds in loads.items():
    shares = [100 * r[2] / r[1] for r in rounds]
    print(row.format(
        label,
        f"{statistics.median(r[1] for r in rounds):.0f}",
        f"{statistics.median(r[2] for r in rounds):.0f}",
        f"{statistics.median(r[4] for r in rounds):.2f}ms",
        f"{statistics.median(shares):.0f}%",
        " ".join(f"{s:.0f}%" for s in shares),
        f">={rounds[0][0]}%",
    ))
PY
printf '%s\n' "${ROWS[@]}" | python3 "$TMP/report.py"
