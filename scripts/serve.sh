# Sourced by test scripts: start_server PLUGINS [HOST] prints the base URL of a
# fresh Gatehouse (temp SQLite, rate limits off) and records its pid for
# stop_servers. HOST (e.g. localhost, which passkeys need) names the base URL.
# Needs $GATEHOUSE_BIN and $SERVE_DIR (a scratch folder).
SERVE_PIDS=()
start_server() {
  local port secret host="${2:-127.0.0.1}"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
  secret="$(python3 -c 'import secrets; print(secrets.token_hex(24))')"
  env -i PATH="$PATH" DATABASE_URL="sqlite://$SERVE_DIR/$port.db" GATEHOUSE_LISTEN="127.0.0.1:$port" \
    GATEHOUSE_SECRET="$secret" GATEHOUSE_RATE_LIMIT=off GATEHOUSE_PLUGINS="$1" RUST_LOG=warn \
    GATEHOUSE_BASE_URL="http://$host:$port" \
    "$GATEHOUSE_BIN" serve >"$SERVE_DIR/$port.log" 2>&1 &
  SERVE_PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/api/auth/ok" >/dev/null && { echo "http://$host:$port"; return 0; }
    sleep 0.1
  done
  cat "$SERVE_DIR/$port.log" >&2
  echo "server did not start" >&2
  return 1
}
stop_servers() {
  for p in "${SERVE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}
