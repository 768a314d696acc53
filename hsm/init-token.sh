#!/usr/bin/env bash
# Creates a SoftHSMv2 token for hsm-kms by hand, for running the service against
# an explicit token (KMS_PKCS11_MODULE / KMS_PKCS11_TOKEN_LABEL / KMS_PKCS11_PIN_FILE)
# instead of the embedded default, which the service prepares by itself.
#
#   hsm/init-token.sh DIR [LABEL]
#
# Writes DIR/softhsm2.conf, DIR/tokens/, DIR/so.pin and DIR/user.pin (mode 0600)
# and prints the environment to start the service with.
set -euo pipefail
dir=${1:?usage: hsm/init-token.sh DIR [LABEL]}
label=${2:-hsm-kms}
here=$(cd "$(dirname "$0")" && pwd)
command -v softhsm2-util >/dev/null || { echo "softhsm2-util not found: run scripts/setup.sh (installs softhsm2)" >&2; exit 1; }
mkdir -p "$dir/tokens"
dir=$(cd "$dir" && pwd)
umask 077
sed "s#{{TOKEN_DIR}}#$dir/tokens#" "$here/softhsm2.conf.template" > "$dir/softhsm2.conf"
[ -s "$dir/so.pin" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/so.pin"
[ -s "$dir/user.pin" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/user.pin"
export SOFTHSM2_CONF="$dir/softhsm2.conf"
if ! softhsm2-util --show-slots | grep -q "Label:.*\b$label\b"; then
  softhsm2-util --init-token --free --label "$label" --so-pin "$(cat "$dir/so.pin")" --pin "$(cat "$dir/user.pin")" >/dev/null
fi
module=$("$here/../scripts/find-softhsm.sh")
cat <<EOT
export SOFTHSM2_CONF=$dir/softhsm2.conf
export KMS_PKCS11_MODULE=$module
export KMS_PKCS11_TOKEN_LABEL=$label
export KMS_PKCS11_PIN_FILE=$dir/user.pin
EOT
