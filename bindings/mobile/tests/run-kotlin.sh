#!/usr/bin/env bash
# Compiles the generated Kotlin binding with the Kotlin test using a real
# kotlinc, then runs it on the JVM (JNA loads the native library) against two
# live servers: one with username+bearer, one without username.
#   bash bindings/mobile/tests/run-kotlin.sh <gatehouse binary> <dir of libgatehouse_mobile.so>
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
bin="$1"; libdir="$2"
K="$(bash "$repo/scripts/install-kotlin.sh")"
CP="$K/lib/kotlinx-coroutines-core-jvm.jar:/usr/share/java/jna.jar"
work="$(mktemp -d)"; pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

"$K/bin/kotlinc" -nowarn -cp "$CP" -d "$work/classes" \
  "$repo/bindings/mobile/generated/kotlin/dev/gatehouse/gatehouse_mobile.kt" \
  "$repo/bindings/mobile/generated/kotlin/dev/gatehouse/Routes.kt" \
  "$repo/bindings/mobile/tests/kotlin/AuthClientTest.kt"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
start_server() {  # $1: plugins; prints the base URL
  local port; port="$(free_port)"
  env -i PATH="$PATH" DATABASE_URL="sqlite://$work/$port.db" GATEHOUSE_LISTEN="127.0.0.1:$port" \
    GATEHOUSE_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(24))')" \
    GATEHOUSE_RATE_LIMIT=off GATEHOUSE_PLUGINS="$1" RUST_LOG=warn "$bin" serve >"$work/$port.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/api/auth/ok" >/dev/null && { echo "http://127.0.0.1:$port"; return; }
    sleep 0.1
  done
  cat "$work/$port.log" >&2; echo "server did not start" >&2; return 1
}
with_username="$(start_server username,bearer)"
without_username="$(start_server "")"

"$K/bin/kotlin" -cp "$work/classes:$CP" -Djna.library.path="$libdir" AuthClientTestKt "$with_username" "$without_username"
