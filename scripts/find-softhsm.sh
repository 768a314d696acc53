#!/usr/bin/env bash
# Prints the path of the SoftHSMv2 PKCS#11 module, or fails.
for p in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
         /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so \
         /usr/lib64/pkcs11/libsofthsm2.so /opt/homebrew/lib/softhsm/libsofthsm2.so; do
  [ -f "$p" ] && { echo "$p"; exit 0; }
done
echo "libsofthsm2.so not found: install softhsm2 (scripts/setup.sh does)" >&2
exit 1
