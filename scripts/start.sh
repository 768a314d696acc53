#!/usr/bin/env bash
# Sets everything up, then runs the service on the embedded default: a SoftHSMv2
# token and a SQLite database under KMS_DATA_DIR (default ./.kms).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --import tsx src/main.ts
