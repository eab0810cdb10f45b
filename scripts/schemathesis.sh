#!/usr/bin/env bash
# Property-based API testing of a running Gatehouse with Schemathesis.
#
# Usage: bash scripts/schemathesis.sh <path-to-gatehouse-binary>
#
# What it does: starts the given binary with every plugin enabled on a fresh
# temp SQLite database, then points Schemathesis at the OpenAPI document the
# server itself serves (/api/auth/open-api/generate-schema; the same document
# as openapi/openapi.json, but with the right `servers` URL) and runs it twice:
#   1. signed out;
#   2. signed in, as a user this script signs up with curl beforehand (its
#      session cookie goes on every request).
# Why: the spec is generated from the server's own route and type
# definitions, and unit tests only check what their authors thought of. This
# sends schema-derived (and deliberately invalid) requests to every operation
# and fails if the server answers with a 5xx, or with a response whose content
# type or body does not match what the spec declares for its status code.
#
# scripts/schemathesis_hooks.py makes the positive fuzzing cases pass the
# server's input validation (valid e-mails, passwords, usernames, relative
# callback URLs), so success responses get checked too; see that file.
#
# Only these checks run: not_a_server_error, response_schema_conformance and
# content_type_conformance. Each run is bounded by a number of examples per
# operation and a fixed seed; a hard wall-clock cap (`timeout`) guards CI.
# (Schemathesis' own --max-time is not used: with it, fuzzing repeats until
# the whole budget is spent, so every run would last exactly that long.)
#
# Exit status: non-zero if either run finds a failure (the tail of the server
# log is printed then). The server is always stopped.
#
# Knobs (environment): ST_MAX_EXAMPLES (default 25), ST_TIME_CAP seconds per
# run (default 300), ST_SEED (default 20240601), ST_REPORT_DIR (if set, an
# NDJSON and a JUnit report of each run are written there).
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${1:?usage: $0 <path-to-gatehouse-binary>}"
[ -x "$bin" ] || { echo "not an executable: $bin" >&2; exit 2; }

SCHEMATHESIS_VERSION=4.32.5
PLUGINS="open-api,username,bearer,magic-link,email-otp,two-factor,passkey"
MAX_EXAMPLES="${ST_MAX_EXAMPLES:-25}"
TIME_CAP="${ST_TIME_CAP:-300}"
SEED="${ST_SEED:-20240601}"

# The venv .ci/run already creates for openapi-spec-validator; reused here.
venv="$HOME/.cache/gatehouse-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
st="$venv/bin/st"

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- start the server --------------------------------------------------------
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
secret="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
# The passkey plugin refuses an IP address as the base URL's host (WebAuthn
# needs a domain), so the server listens on 127.0.0.1 but calls itself
# localhost, and every request below goes to localhost.
base="http://localhost:$port"
env -i PATH="$PATH" DATABASE_URL="sqlite://$work/gatehouse.db" GATEHOUSE_LISTEN="127.0.0.1:$port" \
  GATEHOUSE_BASE_URL="$base" GATEHOUSE_SECRET="$secret" GATEHOUSE_RATE_LIMIT=off \
  GATEHOUSE_PLUGINS="$PLUGINS" RUST_LOG=warn \
  "$bin" serve >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -sf "$base/api/auth/ok" >/dev/null && break
  sleep 0.1
done
curl -sf "$base/api/auth/ok" >/dev/null || { cat "$work/server.log" >&2; echo "server did not start" >&2; exit 1; }

server_log_tail() {
  echo "--- last 80 lines of the server log ---" >&2
  tail -n 80 "$work/server.log" >&2 || true
}

# --- a signed-in user ----------------------------------------------------------
# The session cookie is taken verbatim (still URL-encoded) from Set-Cookie.
password="schemathesis-pw-1"
curl -sf -o /dev/null -D "$work/signup.headers" -X POST "$base/api/auth/sign-up/email" \
  -H 'Content-Type: application/json' -H "Origin: $base" \
  -d '{"name":"Schemathesis","email":"schemathesis@example.com","password":"'"$password"'"}' \
  || { server_log_tail; echo "sign-up failed" >&2; exit 1; }
cookie="$(tr -d '\r' <"$work/signup.headers" | sed -n 's/^[Ss]et-[Cc]ookie: *\(better-auth\.session_token=[^;]*\).*/\1/p' | head -n1)"
[ -n "$cookie" ] || { cat "$work/signup.headers" >&2; echo "no session cookie in the sign-up response" >&2; exit 1; }

# --- the runs ------------------------------------------------------------------
spec="$base/api/auth/open-api/generate-schema"
export SCHEMATHESIS_HOOKS="$PWD/scripts/schemathesis_hooks.py"
common=(
  --url "$base/api/auth"
  --checks not_a_server_error,response_schema_conformance,content_type_conformance
  # No stateful phase: the spec has no links, and chains would only add time.
  --phases examples,coverage,fuzzing
  --max-examples "$MAX_EXAMPLES"
  --seed "$SEED"
  --continue-on-failure
  # Nothing is kept between runs (and no .hypothesis/ folder in the clone).
  --generation-database none
  --request-timeout 10
  # Check Gatehouse's own redirects (verify-email, magic-link/verify, ...),
  # not whatever page their callbackURL points at.
  --max-redirects 0
  --workers 2
  --no-color
  # Whole response bodies in failure reports (secrets are still masked).
  --output-truncate false
  # A trusted Origin, as a browser sends: without it the server refuses any
  # state-changing request that carries a cookie (CSRF guard) before the
  # handler runs, which would hide most of the API from the signed-in run.
  -H "Origin: $base"
)

run_st() { # name, extra args...
  local name="$1"; shift
  local report=()
  if [ -n "${ST_REPORT_DIR:-}" ]; then
    mkdir -p "$ST_REPORT_DIR"
    ST_REPORT_DIR="$(cd "$ST_REPORT_DIR" && pwd)"
    report=(--report ndjson,junit --report-dir "$ST_REPORT_DIR"
      --report-ndjson-path "$ST_REPORT_DIR/$name.ndjson" --report-junit-path "$ST_REPORT_DIR/$name.xml")
  fi
  printf '\n==> schemathesis: %s\n' "$name"
  local start=$SECONDS rc=0
  # From the temp dir: Schemathesis keeps a .schemathesis/ cache in its cwd.
  (cd "$work" && timeout --kill-after=10 "$TIME_CAP" "$st" run "$spec" "${common[@]}" "${report[@]}" "$@") || rc=$?
  printf '==> schemathesis: %s finished in %ss (exit %s)\n' "$name" "$((SECONDS - start))" "$rc"
  [ "$rc" -ne 124 ] || echo "schemathesis: $name hit the ${TIME_CAP}s cap" >&2
  return "$rc"
}

failed=0
run_st signed-out || failed=1

# Signed in: the session cookie on every request. Random security parameters
# (a made-up bearer token would take precedence over the cookie) are not
# generated. Excluded, in this run only, because they end the very session
# the run relies on, after which every later request is just signed out:
# sign-out, revoke-sessions, delete-user, and revoke-session (Schemathesis
# reuses values seen in responses, so it sends the session's own token, read
# from list-sessions, to revoke-session); and two-factor enable and disable,
# which move the caller to a new session (as Better Auth does) when they
# succeed, as they do here with the user's password.
ST_USER_PASSWORD="$password" run_st signed-in \
  -H "Cookie: $cookie" \
  --generation-with-security-parameters false \
  --exclude-path /sign-out --exclude-path /revoke-sessions --exclude-path /delete-user \
  --exclude-path /revoke-session \
  --exclude-path /two-factor/enable --exclude-path /two-factor/disable \
  || failed=1

# The session must have survived the run, or the signed-in results mean little.
if ! curl -sf "$base/api/auth/get-session" -H "Cookie: $cookie" | grep -q '"session"'; then
  echo "the signed-in session did not survive the signed-in run: its results are not signed in" >&2
  failed=1
fi

if [ "$failed" -ne 0 ]; then
  server_log_tail
  echo "schemathesis found failures (see above)" >&2
  exit 1
fi
echo "schemathesis: no failures"
