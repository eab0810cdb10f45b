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

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
check_knobs DURATION THREADS CONNECTIONS MEMBERS
need_tools
server_binary
scratch organization

printf '[organization]\ndynamic_access_control = true\nmembership_limit = %d\n' $(( MEMBERS + 10 )) >"$TMP/gatehouse.toml"
start_server organization

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


log "loads: $DURATION s each, $THREADS threads, $CONNECTIONS connections"
OK="$(run ok "$BASE/ok")"
HP="$(run has-permission "$BASE/organization/has-permission" "$TMP/has-permission.lua")"
FULL="$(run full "$BASE/organization/get-full-organization?organizationId=$ORG&membersLimit=$MEMBERS" "$TMP/full.lua")"

echo "# organization bench ($BACKEND): $DURATION s per load, $THREADS threads, $CONNECTIONS connections, $MEMBERS members"
printf '%-32s %12s %10s %12s\n' load "req/s" "p99" "of ok"
printf '%-32s %12s %10s %12s\n' "ok" "$OK" "$(p99 ok)" "100%"
printf '%-32s %12s %10s %12s\n' "has-permission (stored role)" "$HP" "$(p99 has-permission)" "$(pct "$HP" "$OK")"
printf '%-32s %12s %10s %12s\n' "get-full-organization ($MEMBERS)" "$FULL" "$(p99 full)" "$(pct "$FULL" "$OK")"
echo "target: both >= 30% of ok"
