#!/usr/bin/env bash
# Sets everything up, type-checks, then runs the whole test suite. Every test file
# makes its own throwaway SoftHSM token and SQLite database under the OS temp dir; the
# run starts a throwaway PostgreSQL cluster (or uses KMS_TEST_DATABASE_URL) where each
# test makes a database of its own, and the API's tests run a second time on it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node_modules/.bin/tsc -p tsconfig.json --noEmit
report=$(mktemp -t hsm-kms-vitest-XXXXXX.json)
report_pg=$(mktemp -t hsm-kms-vitest-pg-XXXXXX.json)
trap 'rm -f "$report" "$report_pg"' EXIT
status=0
node_modules/.bin/vitest run --reporter=default --reporter=json --outputFile="$report" "$@" || status=$?
# The API's tests once more on PostgreSQL (KMS_TEST_STORE=postgres): each on a database of its own in the
# run's throwaway cluster. Only for the whole suite (arguments choose files for the first pass alone).
if [ $# -eq 0 ]; then
  echo "[test] the API's tests again, on PostgreSQL" >&2
  KMS_TEST_STORE=postgres node_modules/.bin/vitest run --reporter=default --reporter=json --outputFile="$report_pg" \
    $(cat test/postgres-files.txt) || status=$?
fi
# One plain closing line that any CI can read.
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const file of process.argv.slice(1)) {
    if (!fs.existsSync(file) || fs.statSync(file).size === 0) continue;
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  }
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$report" "$report_pg" || true
exit "$status"
