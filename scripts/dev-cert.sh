#!/usr/bin/env bash
# A self-signed TLS certificate for running hsm-kms over HTTPS in development:
#
#   scripts/dev-cert.sh DIR [NAME_OR_IP ...]
#
# Writes DIR/cert.pem and DIR/key.pem (ECDSA P-256, mode 0600, valid 365 days)
# for localhost, 127.0.0.1, ::1 and any names or addresses given, and prints the
# environment that uses them. Not for production: use a certificate from your CA.
set -euo pipefail
dir=${1:?usage: scripts/dev-cert.sh DIR [NAME_OR_IP ...]}
shift
command -v openssl >/dev/null || { echo "openssl not found: run scripts/setup.sh (installs it)" >&2; exit 1; }
san="DNS:localhost,IP:127.0.0.1,IP:::1"
for extra in "$@"; do
  if [[ $extra =~ ^[0-9.]+$ || $extra == *:* ]]; then san="$san,IP:$extra"; else san="$san,DNS:$extra"; fi
done
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/CN=hsm-kms development" -addext "subjectAltName=$san" \
  -addext "keyUsage=critical,digitalSignature,keyCertSign" -addext "extendedKeyUsage=serverAuth" \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
cat <<EOT
export KMS_TLS_CERT_FILE=$dir/cert.pem KMS_TLS_KEY_FILE=$dir/key.pem
# Clients: trust it (the AWS CLI and SDKs read AWS_CA_BUNDLE; Node's fetch, NODE_EXTRA_CA_CERTS)
export AWS_CA_BUNDLE=$dir/cert.pem NODE_EXTRA_CA_CERTS=$dir/cert.pem
EOT
