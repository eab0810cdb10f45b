#!/usr/bin/env bash
# Organization benchmark: `has-permission` for a member holding a role stored
# by the organization (dynamic access control), and `get-full-organization`
# with 100 members, each against the same server's `ok` in one run.
# See bench/README.md ("Organizations"). Loopback only.
#
# Knobs (env): GATEHOUSE_BIN, CARGO_TARGET_DIR, BUILD=1, DURATION (s, 10), THREADS (2),
#              CONNECTIONS (32), MEMBERS (100), DATABASE_URL (a postgres:// URL: that
#              database, in a fresh schema dropped afterwards; default a SQLite file).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${DURATION:-10}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-32}"
MEMBERS="${MEMBERS:-100}"

die() { echo "bench: error: $*" >&2; exit 1; }
log() { echo "bench: $*" >&2; }

for v in DURATION THREADS CONNECTIONS MEMBERS; do
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

TMP="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-bench-org.XXXXXX")"
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
        SCHEMA="bench_org_$$"
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
printf '[organization]\ndynamic_access_control = true\nmembership_limit = %d\n' $(( MEMBERS + 10 )) >"$TMP/gatehouse.toml"

log "server: $BIN on $ORIGIN ($BACKEND)"
(
    cd "$TMP"
    exec env -i PATH="$PATH" HOME="${HOME:-$TMP}" \
        DATABASE_URL="$DB_URL" \
        GATEHOUSE_CONFIG="$TMP/gatehouse.toml" \
        GATEHOUSE_RATE_LIMIT=off \
        GATEHOUSE_SECRET="$SECRET" \
        GATEHOUSE_PLUGINS=organization \
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

# Setup over HTTP: an owner, an organization, a stored role, MEMBERS members who
# joined by invitation, one of them holding the stored role.
log "setup: an owner and $(( MEMBERS - 1 )) members who joined by invitation"
python3 - "$BASE" "$ORIGIN" "$MEMBERS" "$TMP" <<'PY'
import http.cookiejar, json, sys, urllib.request

base, origin, members, tmp = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

class Client:
    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.op = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"content-type": "application/json", "origin": origin})
        try:
            with self.op.open(req) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            sys.exit(f"{method} {path}: HTTP {e.code} {e.read()[:300]!r}")
    def cookie(self):
        return "; ".join(f"{c.name}={c.value}" for c in self.jar)

def user(tag):
    c = Client()
    c.call("POST", "/sign-up/email", {"name": tag, "email": f"{tag}@bench.example", "password": "bench-password-1"})
    return c

owner = user("owner")
org = owner.call("POST", "/organization/create", {"name": "Bench", "slug": "bench"})
org_id = org["id"]
owner.call("POST", "/organization/create-role",
           {"role": "reviewer", "permission": {"invitation": ["create"], "member": ["create"]}, "organizationId": org_id})
member_ids = {}
first = None
for i in range(members - 1):  # the owner is a member too
    tag = f"member-{i}"
    c = user(tag)
    inv = owner.call("POST", "/organization/invite-member",
                     {"email": f"{tag}@bench.example", "role": "member", "organizationId": org_id})
    joined = c.call("POST", "/organization/accept-invitation", {"invitationId": inv["id"]})
    if first is None:
        first = (c, joined["member"]["id"])
c, mid = first
owner.call("POST", "/organization/update-member-role", {"memberId": mid, "role": "reviewer", "organizationId": org_id})
check = c.call("POST", "/organization/has-permission",
               {"permissions": {"invitation": ["create"]}, "organizationId": org_id})
assert check.get("success") is True, check
full = owner.call("GET", f"/organization/get-full-organization?organizationId={org_id}&membersLimit={members}")
assert len(full["members"]) == members, len(full["members"])
json.dump({"org": org_id, "owner": owner.cookie(), "member": c.cookie()}, open(f"{tmp}/setup.json", "w"))
PY

read -r ORG OWNER_COOKIE MEMBER_COOKIE < <(python3 -c '
import json,sys; d=json.load(open(sys.argv[1])); print(d["org"], d["owner"].replace(" ",""), d["member"].replace(" ",""))' "$TMP/setup.json")

cat >"$TMP/has-permission.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"permissions":{"invitation":["create"]},"organizationId":"$ORG"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = "$ORIGIN"
wrk.headers["Cookie"] = "$MEMBER_COOKIE"
LUA
cat >"$TMP/full.lua" <<LUA
wrk.headers["Cookie"] = "$OWNER_COOKIE"
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
HP="$(run has-permission "$BASE/organization/has-permission" "$TMP/has-permission.lua")"
FULL="$(run full "$BASE/organization/get-full-organization?organizationId=$ORG&membersLimit=$MEMBERS" "$TMP/full.lua")"

pct() { python3 -c "print(f'{100*float(\"$1\")/float(\"$2\"):.0f}%')"; }
echo "# organization bench ($BACKEND): $DURATION s per load, $THREADS threads, $CONNECTIONS connections, $MEMBERS members"
printf '%-32s %12s %10s %12s\n' load "req/s" "p99" "of ok"
printf '%-32s %12s %10s %12s\n' "ok" "$OK" "$(p99 ok)" "100%"
printf '%-32s %12s %10s %12s\n' "has-permission (stored role)" "$HP" "$(p99 has-permission)" "$(pct "$HP" "$OK")"
printf '%-32s %12s %10s %12s\n' "get-full-organization ($MEMBERS)" "$FULL" "$(p99 full)" "$(pct "$FULL" "$OK")"
echo "target: both >= 30% of ok"
