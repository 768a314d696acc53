#!/usr/bin/env bash
# Installs everything hsm-kms needs on a Debian/Ubuntu machine with Node.js 20+:
# the SoftHSMv2 PKCS#11 module (Debian package softhsm2), openssl, PostgreSQL (for the tests' throwaway cluster),
# the AWS CLI and boto3 (when it can), and the npm packages.
# Idempotent: does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  say "Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none)). Install it, then run this again."
  exit 1
fi

# Debian packages: softhsm2 (the embedded token), openssl (scripts/dev-cert.sh, the TLS tests) and postgresql (the tests).
missing=()
scripts/find-softhsm.sh >/dev/null 2>&1 || missing+=(softhsm2)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# postgresql: the tests start a throwaway cluster of it (initdb); the service itself needs it only for KMS_DATABASE=postgres://.
if [ -z "${KMS_TEST_DATABASE_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
      if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
        say "${missing[*]} missing and this user cannot install packages. As root run: apt-get update && apt-get install -y ${missing[*]}"
        exit 1
      fi
    fi
    say "installing ${missing[*]} (apt-get install)"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "${missing[*]} missing and there is no apt-get here. Install SoftHSMv2 2.6 and OpenSSL with your package manager (e.g. 'brew install softhsm openssl'), then run this again."
    exit 1
  fi
fi
# The AWS CLI is wanted, not needed: without it the walk-through and one test (which then says why it skipped) go without.
if ! command -v aws >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; }; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing the AWS CLI (apt-get install awscli)"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq awscli >/dev/null 2>&1 || say "the AWS CLI could not be installed; its test will be skipped"
fi
# boto3 likewise: its test says why it skipped when python3 cannot import it.
if ! python3 -c 'import boto3' >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1; }; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing boto3 (apt-get install python3-boto3)"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-boto3 >/dev/null 2>&1 || say "boto3 could not be installed; its test will be skipped"
fi
say "SoftHSMv2 module: $(scripts/find-softhsm.sh)"

# Reinstall npm packages only when package-lock.json changed since the last install.
stamp=node_modules/.hsm-kms-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing npm packages (npm ci; builds the pkcs11js and better-sqlite3 native addons)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
