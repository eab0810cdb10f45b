#!/usr/bin/env bash
# Runs the node:test suite in tests/node (the real `better-auth` npm client)
# against a freshly started Gatehouse server.
#
#   bash tests/node/run.sh [PATH_TO_GATEHOUSE_BINARY]
#
# The binary defaults to ${CARGO_TARGET_DIR:-target}/debug/gatehouse. The
# server gets a throw-away SQLite database in a temp dir, unless DATABASE_URL
# is set to a postgres:// (or postgresql://) URL, which is then used instead.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

bin="${1:-${CARGO_TARGET_DIR:-target}/debug/gatehouse}"
case "$bin" in
  /*) ;;
  *) [[ -e "$bin" ]] || bin="$repo/$bin" ;;
esac
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
if [[ ! -x "$bin" ]]; then
  echo "run.sh: gatehouse binary not found or not executable: $bin" >&2
  exit 2
fi
command -v node >/dev/null || { echo "run.sh: node is not installed" >&2; exit 2; }

if [[ ! -d "$here/node_modules" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/gatehouse-node.XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
    return
  fi
  # Fallback: try ports until one refuses a connection.
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  echo "run.sh: no free port found" >&2
  return 1
}

random_secret() {
  # 48 characters from [A-Za-z0-9].
  local s=""
  while [[ ${#s} -lt 48 ]]; do
    s+="$(head -c 96 /dev/urandom | LC_ALL=C tr -dc 'A-Za-z0-9')"
  done
  printf '%s' "${s:0:48}"
}

case "${DATABASE_URL:-}" in
  postgres://* | postgresql://*) db_url="$DATABASE_URL" ;;
  *) db_url="sqlite://$tmp/node.db" ;;
esac

# The operator account the server creates on its first start (admin suite).
admin_tag="$(random_secret)"
admin_email="operator-$(printf '%s' "${admin_tag:0:10}" | tr 'A-Z' 'a-z')@example.com"
admin_password="$(random_secret)"

port="$(free_port)"
url="http://127.0.0.1:$port"
log="$tmp/server.log"

echo "run.sh: starting $bin on $url (database: ${db_url%%://*})"
(
  cd "$tmp"
  unset GATEHOUSE_CONFIG GATEHOUSE_BASE_URL BETTER_AUTH_URL GATEHOUSE_ENV GATEHOUSE_TRUSTED_ORIGINS
  exec env \
    DATABASE_URL="$db_url" \
    GATEHOUSE_LISTEN="127.0.0.1:$port" \
    GATEHOUSE_PLUGINS=username,bearer,two-factor,admin,jwt,multi-session,anonymous \
    GATEHOUSE_ADMIN_EMAIL="$admin_email" \
    GATEHOUSE_ADMIN_PASSWORD="$admin_password" \
    GATEHOUSE_RATE_LIMIT=off \
    GATEHOUSE_SECRET="$(random_secret)" \
    "$bin" serve
) >"$log" 2>&1 &
server_pid=$!

probe() {
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
  else
    node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1" 2>/dev/null
  fi
}
ready=""
deadline=$((SECONDS + 30))
while ((SECONDS < deadline)); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: the server exited before answering; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  if probe "$url/api/auth/ok"; then
    ready=1
    break
  fi
  sleep 0.1
done
if [[ -z "$ready" ]]; then
  echo "run.sh: the server did not answer GET /api/auth/ok within 30 s; its log:" >&2
  cat "$log" >&2
  exit 1
fi

status=0
(cd "$repo" && GATEHOUSE_URL="$url" GATEHOUSE_ADMIN_EMAIL="$admin_email" GATEHOUSE_ADMIN_PASSWORD="$admin_password" GATEHOUSE_BIN="$bin" GATEHOUSE_DB_URL="$db_url" node --test "${NODE_TEST_DIR:-tests/node/}") || status=$?
if [[ $status -ne 0 ]]; then
  echo "run.sh: node --test failed (exit $status); server log tail:" >&2
  tail -n 50 "$log" >&2 || true
fi
exit "$status"
