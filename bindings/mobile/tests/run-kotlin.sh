#!/usr/bin/env bash
# Compiles the generated Kotlin binding with the Kotlin test using a real
# kotlinc, then runs it on the JVM (JNA loads the native library) against two
# live servers: one with username+bearer, one without username. Servers come
# from $GATEHOUSE_URL / $GATEHOUSE_URL_NO_USERNAME, or are started here.
#   bash bindings/mobile/tests/run-kotlin.sh <gatehouse binary> <dir of libgatehouse_mobile.so>
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
export GATEHOUSE_BIN="$1"; libdir="$2"
K="$(bash "$repo/scripts/install-kotlin.sh")"
CP="$K/lib/kotlinx-coroutines-core-jvm.jar:/usr/share/java/jna.jar"
SERVE_DIR="$(mktemp -d)"
# shellcheck source=../../../scripts/serve.sh
source "$repo/scripts/serve.sh"
trap 'stop_servers; rm -rf "$SERVE_DIR"' EXIT

"$K/bin/kotlinc" -nowarn -cp "$CP" -d "$SERVE_DIR/classes" \
  "$repo/bindings/mobile/generated/kotlin/dev/gatehouse/gatehouse_mobile.kt" \
  "$repo/bindings/mobile/generated/kotlin/dev/gatehouse/Routes.kt" \
  "$repo/bindings/mobile/tests/kotlin/AuthClientTest.kt"

with_username="${GATEHOUSE_URL:-$(start_server username,bearer)}"
without_username="${GATEHOUSE_URL_NO_USERNAME:-$(start_server "")}"
"$K/bin/kotlin" -cp "$SERVE_DIR/classes:$CP" -Djna.library.path="$libdir" AuthClientTestKt "$with_username" "$without_username"
