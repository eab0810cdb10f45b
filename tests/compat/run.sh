#!/usr/bin/env bash
# Differential wire test: the same scenarios, run by Better Auth's own client,
# against a pinned better-auth reference server and against Gatehouse.
#
#   bash tests/compat/run.sh <path-to-gatehouse-binary> [--only PREFIX] [--verbose] [--report FILE] [--keep]
#
# Exit status: 0 no differences outside allowlist.json, 1 differences,
# 2 the harness failed (a server did not start, bad arguments, ...).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if [[ $# -lt 1 ]]; then
  echo "usage: bash tests/compat/run.sh <path-to-gatehouse-binary> [options]" >&2
  exit 2
fi
bin="$1"
shift
[[ "$bin" = /* ]] || bin="$PWD/$bin"
if [[ ! -x "$bin" ]]; then
  echo "run.sh: gatehouse binary not found or not executable: $bin" >&2
  exit 2
fi
command -v node >/dev/null || { echo "run.sh: node is not installed" >&2; exit 2; }

if [[ ! -d "$here/node_modules" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi
# The identity providers the social scenarios sign in at.
if [[ ! -d "$here/../providers/node_modules" ]]; then
  (cd "$here/../providers" && npm ci --no-audit --no-fund)
fi

exec node "$here/run.mjs" "$bin" "$@"
