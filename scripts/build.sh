#!/usr/bin/env bash
# Compiles the service to JavaScript under dist/ (dist/src/main.js, dist/src/cli/admin.js): nothing needs tsx
# at run time. The worker threads' CommonJS files and the SoftHSM configuration template are copied beside
# the code that loads them, at the same relative paths as in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"
rm -rf "$out"
node_modules/.bin/tsc -p tsconfig.build.json --outDir "$out"
(cd src && find . -name '*.cjs' -print0) | while IFS= read -r -d '' f; do
  mkdir -p "$out/src/$(dirname "$f")"
  cp "src/$f" "$out/src/$f"
done
mkdir -p "$out/hsm"
cp hsm/softhsm2.conf.template "$out/hsm/"
echo "built into $out/ (run: node $out/src/main.js)" >&2
