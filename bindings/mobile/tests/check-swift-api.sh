#!/usr/bin/env bash
# No Swift toolchain runs here: this checks the generated Swift API surface
# instead. Every line of swift-api.txt must appear verbatim in the generated sources.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
swift="$(mktemp)"; trap 'rm -f "$swift"' EXIT
cat "$here/../generated/swift/Gatehouse.swift" "$here/../generated/swift/Routes.swift" > "$swift"
missing=0; total=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  total=$((total + 1))
  if ! grep -qxF -- "$line" "$swift"; then
    echo "missing from the generated Swift: $line" >&2
    missing=$((missing + 1))
  fi
done < "$here/swift-api.txt"
total=$((total + 1))
grep -q "^module GatehouseFFI" "$here/../generated/swift/GatehouseFFI.modulemap" || { echo "modulemap: module GatehouseFFI expected" >&2; missing=$((missing + 1)); }
echo "$((total - missing)) passed, $missing failed"
[ "$missing" -eq 0 ]
