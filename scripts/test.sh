#!/usr/bin/env bash
# Sets everything up, type-checks, then runs the whole test suite. Every test file
# makes its own throwaway SoftHSM token and SQLite database under the OS temp dir.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node_modules/.bin/tsc -p tsconfig.json --noEmit
report=$(mktemp -t hsm-kms-vitest-XXXXXX.json)
trap 'rm -f "$report"' EXIT
status=0
node_modules/.bin/vitest run --reporter=default --reporter=json --outputFile="$report" "$@" || status=$?
# One plain closing line that any CI can read.
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$report" || true
exit "$status"
