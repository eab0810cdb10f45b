#!/usr/bin/env bash
# Vendors the Scalar API reference's standalone bundle from npm at a pinned
# version, gzipped (served as is to browsers that accept gzip).
#   scripts/vendor-scalar.sh 1.76.0
set -euo pipefail
version="${1:?usage: $0 VERSION}"
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/server/src/plugins/open_api/assets"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@scalar/api-reference@$version" >/dev/null && tar xzf ./*.tgz)
rm -f "$dest"/scalar-standalone-*.js.gz
# The source map comment points at a file that is not shipped.
sed '$ s|^//# sourceMappingURL=.*$||' "$work/package/dist/browser/standalone.js" \
  | gzip -9 -n > "$dest/scalar-standalone-$version.js.gz"
echo "$version" > "$dest/SCALAR_VERSION"
ls -l "$dest"
