import { readFile } from 'node:fs/promises';
import type * as P11 from 'pkcs11js';
import { pkcs11js } from './pkcs11js.js';
import type { KeyMaterialRef } from '../domain/key.js';
import type { KeyVault } from '../services/ports.js';
import { detectCapabilities, type TokenCapabilities } from './capabilities.js';
import { acquireModule, releaseModule } from './pkcs11-module.js';
import { classifyTokenError, type TokenOperation } from './pkcs11-errors.js';
import { SessionPool } from './session-pool.js';
import { aesGcmMechanism, findByIdTemplate, objectId, symmetricRootKeyTemplate } from './templates.js';

export interface TokenOptions {
  readonly modulePath: string;
  readonly tokenLabel: string;
  /** The user PIN, or a file holding it. */
  readonly pin?: string;
  readonly pinFile?: string;
  readonly sessions: number;
  /** Initialise a fresh token with this label and PINs when none exists (the embedded SoftHSM default). */
  readonly initializeWith?: { readonly soPin: string };
}

const RW_SESSION = pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION;

function trimPadded(s: string): string {
  return s.replace(/[\0 ]+$/, '');
}

/** The token that holds every KMS key's material; the only class that calls PKCS#11 for keys. */
export class Pkcs11Token implements KeyVault {
  private readonly handles = new Map<string, Buffer>();
  private readonly pool: SessionPool;
  private loginSession: Buffer | undefined;

  private constructor(
    private readonly lib: P11.PKCS11,
    private readonly options: TokenOptions,
    private readonly slot: Buffer,
    private readonly pin: string,
    readonly capabilities: TokenCapabilities,
  ) {
    this.pool = new SessionPool(options.sessions, () => lib.C_OpenSession(slot, RW_SESSION), (s) => lib.C_CloseSession(s));
    this.login();
  }

  static async open(options: TokenOptions): Promise<Pkcs11Token> {
    const pin = options.pin ?? (options.pinFile !== undefined ? (await readFile(options.pinFile, 'utf8')).trim() : undefined);
    if (!pin) throw new Error('no PIN configured for the PKCS#11 token');
    const lib = acquireModule(options.modulePath);
    try {
      let slot = findSlot(lib, options.tokenLabel);
      if (!slot && options.initializeWith) {
        initializeToken(lib, options.tokenLabel, options.initializeWith.soPin);
        slot = findSlot(lib, options.tokenLabel);
      }
      if (slot && options.initializeWith && (lib.C_GetTokenInfo(slot).flags & pkcs11js.CKF_USER_PIN_INITIALIZED) === 0) {
        // A crash between C_InitToken and C_InitPIN leaves a token without a user PIN: finish it.
        initializeUserPin(lib, slot, options.initializeWith.soPin, pin);
      }
      if (!slot) throw new Error(`no PKCS#11 token labelled '${options.tokenLabel}' in ${options.modulePath}`);
      const capabilities = detectCapabilities(lib, slot);
      if (!capabilities.aesGcm || !capabilities.aesKeyGen) {
        throw new Error(`token '${options.tokenLabel}' lacks CKM_AES_KEY_GEN or CKM_AES_GCM, which every symmetric KMS key needs`);
      }
      return new Pkcs11Token(lib, options, slot, pin, capabilities);
    } catch (e) {
      releaseModule(options.modulePath);
      throw e;
    }
  }

  /** Login state belongs to the application, not the session: one session holds it for all. */
  private login(): void {
    if (this.loginSession) {
      try {
        this.lib.C_CloseSession(this.loginSession);
      } catch {
        // Already closed by the token.
      }
    }
    const session = this.lib.C_OpenSession(this.slot, RW_SESSION);
    try {
      this.lib.C_Login(session, pkcs11js.CKU_USER, this.pin);
    } catch (e) {
      if (!(e instanceof pkcs11js.Pkcs11Error && e.code === pkcs11js.CKR_USER_ALREADY_LOGGED_IN)) throw e;
    }
    this.loginSession = session;
  }

  private run<T>(operation: TokenOperation, ref: KeyMaterialRef | undefined, work: (session: Buffer) => T | Promise<T>): Promise<T> {
    return this.pool
      .use(work, (e) => classifyTokenError(e, operation).evictSession)
      .catch((e: unknown) => {
        const c = classifyTokenError(e, operation);
        if (c.dropHandle && ref) this.handles.delete(objectId(ref).toString('hex'));
        if (c.relogin) this.login();
        throw c.error;
      });
  }

  /** The object handle for a key version, cached: a find walks every object in SoftHSM. */
  private handleFor(session: Buffer, ref: KeyMaterialRef): Buffer | undefined {
    const cacheKey = objectId(ref).toString('hex');
    const cached = this.handles.get(cacheKey);
    if (cached) return cached;
    this.lib.C_FindObjectsInit(session, findByIdTemplate(ref));
    let found: Buffer[];
    try {
      found = this.lib.C_FindObjects(session, 2);
    } finally {
      this.lib.C_FindObjectsFinal(session);
    }
    const handle = found[0];
    if (handle) this.handles.set(cacheKey, handle);
    return handle;
  }

  private requireHandle(session: Buffer, ref: KeyMaterialRef): Buffer {
    const handle = this.handleFor(session, ref);
    if (!handle) throw new pkcs11js.Pkcs11Error('CKR_OBJECT_HANDLE_INVALID', pkcs11js.CKR_OBJECT_HANDLE_INVALID, 'find');
    return handle;
  }

  createSymmetricKey(ref: KeyMaterialRef): Promise<void> {
    return this.run('generate', ref, (session) => {
      // Synchronous on purpose: pkcs11js's async key generation leaks native memory per call.
      const handle = this.lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, symmetricRootKeyTemplate(ref));
      this.handles.set(objectId(ref).toString('hex'), handle);
    });
  }

  destroyKey(ref: KeyMaterialRef): Promise<boolean> {
    return this.run('destroy', ref, (session) => {
      const cacheKey = objectId(ref).toString('hex');
      this.handles.delete(cacheKey);
      let destroyed = false;
      for (;;) {
        const handle = this.handleFor(session, ref);
        if (!handle) return destroyed;
        this.handles.delete(cacheKey);
        this.lib.C_DestroyObject(session, handle);
        destroyed = true;
      }
    });
  }

  encrypt(ref: KeyMaterialRef, iv: Buffer, aad: Buffer, plaintext: Buffer): Promise<Buffer> {
    return this.run('encrypt', ref, async (session) => {
      this.lib.C_EncryptInit(session, aesGcmMechanism(iv, aad), this.requireHandle(session, ref));
      return this.lib.C_EncryptAsync(session, plaintext, Buffer.allocUnsafe(plaintext.length + 16));
    });
  }

  decrypt(ref: KeyMaterialRef, iv: Buffer, aad: Buffer, sealed: Buffer): Promise<Buffer> {
    return this.run('decrypt', ref, async (session) => {
      this.lib.C_DecryptInit(session, aesGcmMechanism(iv, aad), this.requireHandle(session, ref));
      return this.lib.C_DecryptAsync(session, sealed, Buffer.allocUnsafe(sealed.length));
    });
  }

  generateRandom(length: number): Promise<Buffer> {
    return this.run('random', undefined, (session) => this.lib.C_GenerateRandom(session, Buffer.allocUnsafe(length)));
  }

  /** Whether the token holds an object for this key version (used at start-up clean-up and by tests). */
  hasKey(ref: KeyMaterialRef): Promise<boolean> {
    return this.run('find', ref, (session) => this.handleFor(session, ref) !== undefined);
  }

  close(): void {
    this.pool.close();
    if (this.loginSession) {
      // No C_Logout: the login belongs to the whole application, which other tokens opened on
      // this module may still use; the last one's C_Finalize ends it.
      try {
        this.lib.C_CloseSession(this.loginSession);
      } catch {
        // Finalising below releases whatever is left.
      }
    }
    releaseModule(this.options.modulePath);
  }
}

function findSlot(lib: P11.PKCS11, label: string): Buffer | undefined {
  for (const slot of lib.C_GetSlotList(true)) {
    const info = lib.C_GetTokenInfo(slot);
    if ((info.flags & pkcs11js.CKF_TOKEN_INITIALIZED) !== 0 && trimPadded(info.label) === label) return slot;
  }
  return undefined;
}

function initializeToken(lib: P11.PKCS11, label: string, soPin: string): void {
  const free = lib.C_GetSlotList(true).find((s) => (lib.C_GetTokenInfo(s).flags & pkcs11js.CKF_TOKEN_INITIALIZED) === 0);
  if (!free) throw new Error('no uninitialised slot to create the embedded token in');
  // pkcs11js passes the label as is; PKCS#11 wants it blank-padded to 32 bytes.
  lib.C_InitToken(free, soPin, label.padEnd(32, ' '));
}

function initializeUserPin(lib: P11.PKCS11, slot: Buffer, soPin: string, userPin: string): void {
  const session = lib.C_OpenSession(slot, RW_SESSION);
  try {
    lib.C_Login(session, pkcs11js.CKU_SO, soPin);
    lib.C_InitPIN(session, userPin);
    lib.C_Logout(session);
  } finally {
    lib.C_CloseSession(session);
  }
}
