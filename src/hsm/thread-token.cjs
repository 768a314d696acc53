'use strict';
// What the token's background threads share (keygen-worker.cjs,
// private-key-worker.cjs): the PKCS#11 module the service already initialised
// (handles and the login are the process's), a session of the thread's own, and
// the shape of an error sent back. Each thread runs at the lowest priority.
const pkcs11js = require('pkcs11js');
require('../threads/lowest-priority.cjs')();

// Structured cloning turns Buffers into Uint8Arrays; pkcs11js wants Buffers.
const asBuffer = (v) => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v);

module.exports = function threadToken(workerData) {
  const lib = new pkcs11js.PKCS11();
  lib.load(workerData.modulePath);
  try {
    lib.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
  } catch (e) {
    if (!(e instanceof pkcs11js.Pkcs11Error && e.code === pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED)) throw e;
  }
  let session;
  return {
    lib,
    asBuffer,
    session() {
      session ??= lib.C_OpenSession(asBuffer(workerData.slot), pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      return session;
    },
    /** The reply for a failed job; a session the token lost is replaced next time. */
    failure(id, e) {
      const pkcs11 = e instanceof pkcs11js.Pkcs11Error;
      if (pkcs11 && (e.code === pkcs11js.CKR_SESSION_HANDLE_INVALID || e.code === pkcs11js.CKR_SESSION_CLOSED)) session = undefined;
      return { id, error: { message: e.message, code: e.code, method: e.method, pkcs11 } };
    },
  };
};
