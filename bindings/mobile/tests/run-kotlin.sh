#!/usr/bin/env bash
# Compiles the generated Kotlin binding with the Kotlin test using a real
# kotlinc, then runs it on the JVM (JNA loads the native library) against
# three live servers: username+bearer, no plugins, and every plugin (on
# localhost, as passkeys need a domain name).
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
plain="${GATEHOUSE_URL_NO_USERNAME:-$(start_server "")}"
everything="$(start_server username,bearer,magic-link,email-otp,two-factor,passkey localhost)"
"$K/bin/kotlin" -cp "$SERVE_DIR/classes:$CP" -Djna.library.path="$libdir" AuthClientTestKt \
  "$with_username" "$plain" "$everything"
