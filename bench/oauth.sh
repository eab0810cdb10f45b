#!/usr/bin/env bash
# OAuth provider benchmark: `POST /oauth2/introspect` of an opaque access
# token with confidential client authentication (client_secret_basic),
# against the same server's `ok` in one run, and `client_credentials` token
# issuance (each request authenticates the client, hashes its secret and
# writes an access token). See bench/README.md ("OAuth provider").
#
# Targets (issue "Gatehouse as an identity provider"): introspection at
# least 30% of `ok`; client_credentials at 300 requests/s or more on SQLite.
# `ok` shares the two cores with wrk, so each round measures `ok` right
# before the load; the table gives the median round.
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
scratch oauth

cat >"$TMP/gatehouse.toml" <<'TOML'
[oauth_provider]
scopes = ["openid", "profile", "email", "offline_access", "read:reports"]
TOML
start_server jwt,oauth-provider

log "setup: a user, a confidential client, an access token"
python3 - "$BASE" "$ORIGIN" "$TMP" <<'PY'
import base64, http.cookiejar, json, sys, urllib.parse, urllib.request

base, origin, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
jar = http.cookiejar.CookieJar()
op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

def call(method, path, body=None, headers=None, form=False):
    if body is None:
        data, ct = None, "application/json"
    elif form:
        data, ct = urllib.parse.urlencode(body).encode(), "application/x-www-form-urlencoded"
    else:
        data, ct = json.dumps(body).encode(), "application/json"
    h = {"content-type": ct, "origin": origin, **(headers or {})}
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with op.open(req) as r:
            return json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: HTTP {e.code} {e.read()[:300]!r}")

call("POST", "/sign-up/email", {"name": "Bench", "email": "bench@bench.example", "password": "bench-password-1"})
client = call("POST", "/oauth2/create-client", {"grant_types": ["client_credentials"], "scope": "read:reports"})
jar.clear()
basic = "Basic " + base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
token = call("POST", "/oauth2/token", {"grant_type": "client_credentials"}, {"authorization": basic}, form=True)
assert token["scope"] == "read:reports", token
info = call("POST", "/oauth2/introspect", {"token": token["access_token"]}, {"authorization": basic}, form=True)
assert info["active"] is True and info["sub"] == client["client_id"], info
json.dump({"basic": basic, "token": token["access_token"]}, open(f"{tmp}/setup.json", "w"))
PY

read -r BASIC TOKEN < <(python3 -c '
import json,sys; d=json.load(open(sys.argv[1])); print(d["basic"].split()[1], d["token"])' "$TMP/setup.json")

cat >"$TMP/introspect.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Basic $BASIC"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "token=$TOKEN"
LUA
cat >"$TMP/client-credentials.lua" <<LUA
wrk.method = "POST"
wrk.headers["Authorization"] = "Basic $BASIC"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=client_credentials&scope=read%3Areports"
LUA

log "loads: $DURATION s each, $THREADS threads, $CONNECTIONS connections, $ROUNDS rounds"
ROWS=()
measure() { # label target url script: one round of `ok` then the load
    local ok load
    ok="$(run ok "$BASE/ok")"
    load="$(run load "$3" "$4")"
    log "$1: ok $ok, load $load"
    ROWS+=("$2 $ok $load $(p99 ok) $(p99 load) $1")
}
for _ in $(seq "$ROUNDS"); do
    measure "introspect (opaque, basic auth)" 30% "$BASE/oauth2/introspect" "$TMP/introspect.lua"
    measure "token: client_credentials" 300/s "$BASE/oauth2/token" "$TMP/client-credentials.lua"
done

echo "# oauth-provider bench ($BACKEND): $DURATION s per load, $THREADS threads, $CONNECTIONS connections, median of $ROUNDS rounds"
cat >"$TMP/report.py" <<'PY'
import statistics, sys

def ms(v):  # wrk prints 892.00us, 4.79ms or 1.02s
    for unit, scale in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(unit):
            return float(v[: -len(unit)]) * scale
    return float("nan")

loads = {}
for line in sys.stdin:
    if line.strip():
        target, ok, load, ok_p99, load_p99, label = line.strip().split(maxsplit=5)
        loads.setdefault(label, []).append((target, float(ok), float(load), ms(ok_p99), ms(load_p99)))

row = "{:<34} {:>9} {:>9} {:>9} {:>7} {:>18} {:>8}"
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
        rounds[0][0],
    ))
PY
printf '%s\n' "${ROWS[@]}" | python3 "$TMP/report.py"
