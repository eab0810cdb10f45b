#!/usr/bin/env bash
# The cross-language scenario: the Rust SDK, the Node package and the Kotlin
# binding run the same scenario (sign-up, sign-in, get-session, username
# sign-in, sign-out, wrong password's code) and the mirroring proof against
# the same two running servers: one with username+bearer, one without username.
#   bash scripts/cross-language.sh <gatehouse binary>
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export GATEHOUSE_BIN="$1"
target="${CARGO_TARGET_DIR:-$repo/target}/debug"
# The native libraries the Node and Kotlin clients load (test builds skip
# cdylibs). Whole workspace, every target: the test build's selection, so its
# features are shared and nothing recompiles.
cargo build --locked --workspace --all-targets
SERVE_DIR="$(mktemp -d)"
source "$repo/scripts/serve.sh"
trap 'stop_servers; rm -rf "$SERVE_DIR"' EXIT

GATEHOUSE_URL="$(start_server username,bearer)"
GATEHOUSE_URL_NO_USERNAME="$(start_server "")"
export GATEHOUSE_URL GATEHOUSE_URL_NO_USERNAME
echo "servers: $GATEHOUSE_URL (username, bearer), $GATEHOUSE_URL_NO_USERNAME (no username)"

echo "--- Rust (sdk/tests/scenarios/client.rs against the shared servers)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --workspace -E 'package(gatehouse) & binary(scenarios) & test(/^client::/)'
else
  cargo test --locked --workspace --test scenarios client::
fi

echo "--- Node (@gatehouse/client)"
cp "$target/libgatehouse_node.so" bindings/node/gatehouse.linux-x64-gnu.node
node --test bindings/node/test/

echo "--- Kotlin (uniffi, JVM)"
bash bindings/mobile/tests/run-kotlin.sh "$GATEHOUSE_BIN" "$target"
