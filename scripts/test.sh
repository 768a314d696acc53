#!/usr/bin/env bash
# Sets everything up, type-checks, then runs the whole test suite. Every test file
# makes its own throwaway SoftHSM token and SQLite database under the OS temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node_modules/.bin/tsc -p tsconfig.json --noEmit
exec node_modules/.bin/vitest run "$@"
