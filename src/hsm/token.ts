import { readFile } from 'node:fs/promises';
import type * as P11 from 'pkcs11js';
import { pkcs11js } from './pkcs11js.js';
import type { KeyMaterialRef } from '../domain/key.js';
import type { KeyVault } from '../services/ports/index.js';
import { detectCapabilities, type AttributeSupport, type TokenCapabilities } from './capabilities.js';
import { acquireModule, reinitializeModule, releaseModule } from './pkcs11-module.js';
import { classifyTokenError, type TokenOperation } from './pkcs11-errors.js';

export type { TokenOperation };
import { SessionPool, SessionUnavailable, type PoolGauges } from './session-pool.js';
import { KeyGenerationThread } from './keygen-thread.js';
import { PrivateKeyThread } from './private-key-thread.js';
import type { TokenChangeGate } from './change-gate.js';
import { createHash, createPublicKey, publicEncrypt, constants as cryptoConstants, randomBytes, verify } from 'node:crypto';
import { IncorrectKeyMaterialException, InvalidCiphertextException, KMSInternalException } from '../domain/errors.js';
import { derElement } from '../domain/der.js';
import { oaepDecode } from '../domain/oaep.js';
import { KeyVersionNotVerified, type KeyVersionCheck, type KeyVersionVerdict, type SigningKeyPairParams, type WrappingAlgorithm } from '../services/ports/index.js';
import { judgeKeyPair, judgeSecretKey, madeInToken, PRIVATE_FLAGS, PUBLIC_FLAGS, SECRET_FLAGS, type Judgement, type ObjectFacts, type TokenTraits } from './object-verification.js';
import { ECC_SPECS, eccSpecOfParams, type HmacKeySpec, type MacAlgorithm, type SigningScheme } from '../domain/key-spec.js';
import { encodePoint, recoverPublicPoints } from '../domain/ec-public-key.js';
import {
  aesGcmMechanism,
  ecdhMechanism,
  sharedSecretTemplate,
  ephemeralUnwrapKeyTemplate,
  importedKeyPairTemplates,
  signingKeyPairTemplates,
  CKK_EC_EDWARDS,
  CKM_EC_EDWARDS_KEY_PAIR_GEN,
  signingMechanism,
  hmacKeyTemplate,
  hmacMechanism,
  hmacMechanismForLength,
  importedKeyTemplate,
  importWrappingKeyId,
  importWrappingKeyPairTemplates,
  IMPORTED_KEY_COPY,
  ivHighWaterSearch,
  ivHighWaterTemplate,
  lengthProbeTemplate,
  probeWrappingKeyTemplate,
  objectId,
  rsaOaepMechanism,
  symmetricRootKeyTemplate,
} from './templates.js';
import { MATERIAL_CHECK_AAD, MATERIAL_CHECK_IV, MATERIAL_CHECK_PLAINTEXT } from '../domain/material-check.js';

export interface TokenOptions {
  readonly modulePath: string;
  readonly tokenLabel: string;
  /** The user PIN, or a file holding it. */
  readonly pin?: string;
  readonly pinFile?: string;
  readonly sessions: number;
  /** Bounds of the wait for a session and of one asynchronous call (see SessionPool). */
  readonly sessionWaitMs: number;
  readonly maxWaiting: number;
  readonly callTimeoutMs: number;
  /** Where the token says it lost the device and got it back (the operational log). */
  readonly log?: TokenLog;
  /** Told how long each token call took, waiting for a session included (metrics). */
  readonly onCall?: (operation: TokenOperation, seconds: number, ok: boolean) => void;
  /**
   * Small symmetric operations (AES-GCM of at most a few KiB, HMAC) as synchronous
   * calls: for a token in this process's memory (SoftHSM) they take less time than
   * handing them to a thread costs. A network HSM keeps them asynchronous, so a slow
   * answer never blocks the event loop.
   */
  readonly synchronousSmallOperations: boolean;
  /** Whether this process destroys unreadable objects it finds at start-up (no other process can be writing to the token yet). */
  readonly sweepsUnreadable?: boolean;
  /** Initialise a fresh token with this label and PINs when none exists (the embedded SoftHSM default). */
  readonly initializeWith?: { readonly soPin: string };
  /** When other processes share the token (several workers): the gate every change of its objects goes through. */
  readonly changeGate?: TokenChangeGate;
}

const RW_SESSION = pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION;

export interface TokenLog {
  warn(facts: object, message: string): void;
  info(facts: object, message: string): void;
}

/** Backoff of the attempts to initialise the module again: from the first to the longest wait. */
const RECOVERY_FIRST_WAIT_MS = 100;
const RECOVERY_LONGEST_WAIT_MS = 30_000;

/** What a token answers for an attribute it does not know or will not set. */
const ATTRIBUTE_REFUSED: ReadonlySet<number> = new Set([pkcs11js.CKR_ATTRIBUTE_TYPE_INVALID, pkcs11js.CKR_ATTRIBUTE_VALUE_INVALID, pkcs11js.CKR_TEMPLATE_INCONSISTENT]);

const NOT_256_BITS = 'The key material must be a 256-bit symmetric key.';
/** Unwrap outcomes that mean the material is not a PKCS#8 private key of the key's type (or not one at all). */
const NOT_THIS_PRIVATE_KEY: ReadonlySet<number> = new Set([
  pkcs11js.CKR_TEMPLATE_INCONSISTENT,
  pkcs11js.CKR_WRAPPED_KEY_INVALID,
  pkcs11js.CKR_WRAPPED_KEY_LEN_RANGE,
  pkcs11js.CKR_ENCRYPTED_DATA_INVALID,
  pkcs11js.CKR_ENCRYPTED_DATA_LEN_RANGE,
  pkcs11js.CKR_DATA_INVALID,
  pkcs11js.CKR_DATA_LEN_RANGE,
  pkcs11js.CKR_ATTRIBUTE_VALUE_INVALID,
  pkcs11js.CKR_KEY_TYPE_INCONSISTENT,
  // SoftHSM's answer to a PKCS#8 key of another type than the template's, once AES key wrap has verified it.
  pkcs11js.CKR_FUNCTION_FAILED,
]);
/** Names the session objects of an import that only compares material (a re-import): never kept. */
const IMPORT_PROBE_REF: KeyMaterialRef = { keyId: '00000000-0000-4000-8000-000000000000', version: 0 };

function notPrivateKeyOf(params: SigningKeyPairParams): string {
  const what = params.kind === 'RSA' ? `an RSA private key of ${params.modulusBits} bits` : params.kind === 'EC' ? 'an elliptic-curve private key on the key\'s curve' : 'a private key of the key\'s spec';
  return `The key material must be ${what}, DER-encoded PKCS#8.`;
}

/** The object classes that hold key material, and so are named by a CKA_ID here. */
const KEY_CLASSES: ReadonlySet<number> = new Set([pkcs11js.CKO_SECRET_KEY, pkcs11js.CKO_PRIVATE_KEY, pkcs11js.CKO_PUBLIC_KEY]);

/** What a token answers when asked to wrap a key whose length is not an AES key's. */
const NOT_AN_AES_KEY: ReadonlySet<number> = new Set([pkcs11js.CKR_MECHANISM_INVALID, pkcs11js.CKR_KEY_SIZE_RANGE, pkcs11js.CKR_KEY_NOT_WRAPPABLE, pkcs11js.CKR_DATA_LEN_RANGE]);

function trimPadded(s: string): string {
  return s.replace(/[\0 ]+$/, '');
}

/** The token that holds every KMS key's material; the only class that calls PKCS#11 for keys. */
export class Pkcs11Token implements KeyVault {
  /** Handles of key objects this process made or verified (verifyKeyVersion): the only ones it uses. */
  private readonly handles = new Map<string, Buffer>();
  /** Every key object found at start-up, by class and id (more than one handle: the id is not unique). */
  private readonly indexed = new Map<string, Buffer[]>();
  private readonly publicKeys = new Map<string, Buffer>();
  private readonly pool: SessionPool;
  private keygen: KeyGenerationThread;
  private privateKeyWork: PrivateKeyThread;
  private loginSession: Buffer | undefined;
  /** Set while the module is initialised again after the device failed: calls answer KeyUnavailableException meanwhile. */
  private recovery: Promise<void> | undefined;
  private closing = false;
  private wakeRecovery: (() => void) | undefined;
  /** How often the device was lost and got back (metrics). */
  recoveries = 0;

  readonly capabilities: TokenCapabilities;

  private constructor(
    private readonly lib: P11.PKCS11,
    private readonly options: TokenOptions,
    private slot: Buffer,
    private readonly pin: string,
    mechanisms: Omit<TokenCapabilities, keyof AttributeSupport>,
  ) {
    this.pool = new SessionPool(
      { size: options.sessions, waitMs: options.sessionWaitMs, maxWaiting: options.maxWaiting, callTimeoutMs: options.callTimeoutMs },
      () => lib.C_OpenSession(slot, RW_SESSION),
      (s) => lib.C_CloseSession(s),
    );
    this.keygen = new KeyGenerationThread(options.modulePath, slot);
    this.privateKeyWork = new PrivateKeyThread(options.modulePath, slot);
    this.login();
    this.capabilities = { ...mechanisms, ...this.probeAttributeSupport() };
    this.oaepSha256Unwrap = this.probeOaepSha256Unwrap();
    this.indexHandles();
  }

  /** Objects whose class and id could not be read at start-up (left half-written by a crash; destroyed on the embedded token); the start-up log counts them. */
  unreadableObjects = 0;

  /** How many object searches the token has run (after start-up, only for objects made elsewhere since). */
  get searches(): number {
    return this.findCount;
  }
  private findCount = 0;

  /**
   * One walk over the token's objects at start-up, so that no request has to
   * search for its key: a search walks every object in SoftHSM (about 19 µs an
   * object, on the event loop). Objects made later by this instance are known as
   * they are made; only one made by another instance is searched for once. What
   * is found here is used only once verified (verifyKeyVersion).
   */
  private indexHandles(): void {
    const session = this.lib.C_OpenSession(this.slot, RW_SESSION);
    try {
      this.lib.C_FindObjectsInit(session, []);
      let found: Buffer[];
      const all: Buffer[] = [];
      do {
        found = this.lib.C_FindObjects(session, 1024);
        all.push(...found);
      } while (found.length === 1024);
      this.lib.C_FindObjectsFinal(session);
      for (const handle of all) {
        let objectClass: number;
        let id: Buffer | undefined;
        try {
          objectClass = Number((this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_CLASS }])[0]!.value as Buffer).readBigUInt64LE());
          // Only keys are named by an id; other objects (the IV high-water mark, others' data) are not indexed.
          if (!KEY_CLASSES.has(objectClass)) continue;
          id = this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_ID }])[0]?.value as Buffer | undefined;
        } catch {
          // An object a kill cut off while the token was writing it: no key can be used through it,
          // and SoftHSM fails every search by id that meets it. On the embedded token, which is this
          // service's alone, it is destroyed, by the one process that starts first (alone, or the
          // primary before its workers): another process may be writing that very object right now.
          // On any other token it is left to its owner (and counted).
          this.unreadableObjects++;
          if (this.options.initializeWith && this.options.sweepsUnreadable) this.lib.C_DestroyObject(session, handle);
          continue;
        }
        if (!id || id.length === 0) continue;
        const key = handleKey(objectClass, id);
        this.indexed.set(key, [...(this.indexed.get(key) ?? []), handle]);
      }
    } finally {
      this.lib.C_CloseSession(session);
    }
  }

  /**
   * Whether the token keeps CKA_ALLOWED_MECHANISMS: a session AES key is made
   * with it, and the attribute read back. A token that refuses the attribute, or
   * drops it, makes every object without it from then on (see fit).
   */
  private probeAttributeSupport(): AttributeSupport {
    const session = this.lib.C_OpenSession(this.slot, RW_SESSION);
    try {
      const key = this.lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, probeWrappingKeyTemplate());
      const kept = this.lib.C_GetAttributeValue(session, key, [{ type: pkcs11js.CKA_ALLOWED_MECHANISMS }])[0]!.value as Buffer;
      return { allowedMechanismsAttribute: kept.length === 8 && Number(kept.readBigUInt64LE()) === pkcs11js.CKM_AES_KEY_WRAP };
    } catch (e) {
      if (e instanceof pkcs11js.Pkcs11Error && ATTRIBUTE_REFUSED.has(e.code)) return { allowedMechanismsAttribute: false };
      throw e;
    } finally {
      this.lib.C_CloseSession(session); // session objects go with it
    }
  }

  /** A template as this token takes it: without CKA_ALLOWED_MECHANISMS where the token refuses it. */
  private fit(template: P11.Template): P11.Template {
    return this.capabilities.allowedMechanismsAttribute ? template : template.filter((a) => a.type !== pkcs11js.CKA_ALLOWED_MECHANISMS);
  }

  /** Whether RSA-OAEP with SHA-256 unwraps in this token: no mechanism flag says so, so it is tried once. */
  readonly oaepSha256Unwrap: boolean;

  private probeOaepSha256Unwrap(): boolean {
    if (!this.capabilities.rsaKeyGen || !this.capabilities.rsaOaepUnwrap) return false;
    const session = this.lib.C_OpenSession(this.slot, RW_SESSION);
    try {
      const t = importWrappingKeyPairTemplates('probe', 1024, false);
      const pair = this.lib.C_GenerateKeyPair(session, { mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN }, this.fit(t.publicKey), this.fit(t.privateKey));
      const wrapped = publicEncrypt(
        { key: createPublicKey({ key: this.publicKeyDer(session, pair.publicKey), format: 'der', type: 'spki' }), padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        randomBytes(32),
      );
      try {
        this.lib.C_UnwrapKey(session, rsaOaepMechanism('SHA_256'), pair.privateKey, wrapped, this.fit(importedKeyTemplate(undefined)));
        return true;
      } catch {
        return false;
      }
    } finally {
      this.lib.C_CloseSession(session); // session objects go with it
    }
  }

  private publicKeyDer(session: Buffer, publicKey: Buffer): Buffer {
    const [modulus, exponent] = this.lib.C_GetAttributeValue(session, publicKey, [{ type: pkcs11js.CKA_MODULUS }, { type: pkcs11js.CKA_PUBLIC_EXPONENT }]);
    const b64 = (a: P11.Attribute | undefined) => (a!.value as Buffer).toString('base64url');
    return createPublicKey({ key: { kty: 'RSA', n: b64(modulus), e: b64(exponent) }, format: 'jwk' }).export({ type: 'spki', format: 'der' });
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
    if (this.recovery) return Promise.reject(classifyTokenError(new SessionUnavailable('closed'), operation).error);
    const call = this.pool
      .use(work, (e) => classifyTokenError(e, operation).evictSession)
      .catch((e: unknown) => {
        throw this.classified(e, operation, ref);
      });
    const observe = this.options.onCall;
    if (!observe) return call;
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    return call.then(
      (value) => {
        observe(operation, seconds(), true);
        return value;
      },
      (e: unknown) => {
        observe(operation, seconds(), false);
        throw e;
      },
    );
  }

  /** The one way a failed call is handled: its API error, and what it says about handles, login and the device. */
  private classified(e: unknown, operation: TokenOperation, ref: KeyMaterialRef | undefined): Error {
    const c = classifyTokenError(e, operation);
    if (c.dropHandle && ref) this.forgetHandles(ref);
    if (c.relogin && !c.resetToken) {
      try {
        this.login();
      } catch {
        // The next call tells more; this one's error stands.
      }
    }
    if (c.resetToken) this.recover(c.error.detail ?? c.error.message);
    return c.error;
  }

  /**
   * After the device failed (or a call never returned): the module is finalised
   * and initialised again, the token found and logged in again, and every handle
   * found again and verified before its next use; attempts back off from 100 ms
   * to 30 s. Calls meanwhile answer KeyUnavailableException (retryable); nothing
   * waits on the device.
   */
  private recover(cause: string): void {
    if (this.recovery || this.closing) return;
    this.options.log?.warn({ cause }, 'the token failed: initialising the PKCS#11 module again; requests answer KeyUnavailableException meanwhile');
    this.recovery = (async () => {
      for (let wait = RECOVERY_FIRST_WAIT_MS, attempt = 1; !this.closing; wait = Math.min(wait * 2, RECOVERY_LONGEST_WAIT_MS), attempt++) {
        // A close cuts the wait short (it waits for this loop to end).
        await new Promise<void>((resolve) => {
          this.wakeRecovery = resolve;
          setTimeout(resolve, wait).unref();
        });
        if (this.closing) return;
        try {
          await this.reinitialize();
          this.recoveries++;
          this.options.log?.info({ attempt }, 'the token is back');
          return;
        } catch (e) {
          this.options.log?.warn({ attempt, error: (e as Error).message, nextInMs: Math.min(wait * 2, RECOVERY_LONGEST_WAIT_MS) }, 'the token is still unavailable');
        }
      }
    })().finally(() => {
      this.recovery = undefined;
    });
  }

  private async reinitialize(): Promise<void> {
    reinitializeModule(this.options.modulePath);
    const slot = findSlot(this.lib, this.options.tokenLabel);
    if (!slot) throw new Error(`no PKCS#11 token labelled '${this.options.tokenLabel}'`);
    this.slot = slot;
    this.loginSession = undefined; // died with the module's state
    this.login();
    this.pool.reset(() => this.lib.C_OpenSession(slot, RW_SESSION));
    // The threads' sessions died too; they start again on the new slot.
    await Promise.all([this.keygen.close(), this.privateKeyWork.close()]);
    this.keygen = new KeyGenerationThread(this.options.modulePath, slot);
    this.privateKeyWork = new PrivateKeyThread(this.options.modulePath, slot);
    // Handles are the module's: found again, and verified again before use.
    this.handles.clear();
    this.indexed.clear();
    this.publicKeys.clear();
    this.indexHandles();
  }

  /** Whether calls are served now (false while the module is initialised again). */
  get available(): boolean {
    return this.recovery === undefined && !this.closing;
  }

  get sessionGauges(): PoolGauges {
    return this.pool.gauges;
  }

  /**
   * Work that creates or destroys token objects. Alone on the token it simply
   * runs; shared with other processes it runs under their common gate, after a
   * search that makes the token library re-read what the others changed (see
   * TokenChangeGate).
   */
  private changing<T>(work: () => Promise<T>): Promise<T> {
    const gate = this.options.changeGate;
    if (!gate) return work();
    return gate.exclusive(async () => {
      await this.run('find', undefined, (session) => this.findAll(session, [{ type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_DATA }]));
      return work();
    });
  }

  /**
   * The handle of a key version's object, once this process made or verified it;
   * before that, KeyVersionNotVerified (never a search: what carries an id is
   * trusted only after verifyKeyVersion has judged it).
   */
  private requireHandle(ref: KeyMaterialRef, objectClass: number = pkcs11js.CKO_SECRET_KEY): Buffer {
    const handle = this.handles.get(handleCacheKey(ref, objectClass));
    if (!handle) throw new KeyVersionNotVerified(ref);
    return handle;
  }

  /** After the token said a handle is no longer valid: the version is verified again before its next use. */
  private forgetHandles(ref: KeyMaterialRef): void {
    this.publicKeys.delete(objectId(ref).toString('hex'));
    for (const c of KEY_CLASSES) {
      this.handles.delete(handleCacheKey(ref, c));
      this.indexed.delete(handleCacheKey(ref, c));
    }
  }

  /**
   * Reads every key object that carries the version's id (from the start-up index,
   * or a search for one made since) and judges it: class, key type, sensitivity,
   * extractability, origin, usage, allowed mechanisms, uniqueness of the id, and
   * the check value computed in the token against the recorded one. Only a usable
   * verdict makes the handles usable.
   */
  verifyKeyVersion(ref: KeyMaterialRef, recorded: KeyVersionCheck | undefined): Promise<KeyVersionVerdict> {
    return this.run('find', ref, (session) => {
      const found = this.keyObjectsOf(session, ref);
      const secrets = found.filter((o) => o.objectClass === pkcs11js.CKO_SECRET_KEY);
      const privates = found.filter((o) => o.objectClass === pkcs11js.CKO_PRIVATE_KEY);
      const publics = found.filter((o) => o.objectClass === pkcs11js.CKO_PUBLIC_KEY);
      if (found.length === 0) return { usable: false, problems: ['no object in the token carries its id'], missing: true };
      const refuse = (problems: readonly string[]): KeyVersionVerdict => ({ usable: false, problems, missing: false });
      const single = secrets.length === 1 && found.length === 1;
      const pair = privates.length === 1 && publics.length === 1 && found.length === 2;
      if (!single && !pair) return refuse([`its id is carried by ${secrets.length} secret, ${privates.length} private and ${publics.length} public key objects`]);

      let judgement: Judgement;
      let check: () => KeyVersionCheck;
      if (single) {
        const facts = this.objectFacts(session, secrets[0]!.handle, SECRET_FLAGS);
        judgement = judgeSecretKey(facts, this.traits);
        check = () => ({ value: this.secretCheckValue(session, secrets[0]!.handle, facts), madeInToken: madeInToken(facts) });
      } else {
        const [privateKey, publicKey] = [privates[0]!.handle, publics[0]!.handle];
        const privateFacts = this.objectFacts(session, privateKey, PRIVATE_FLAGS);
        judgement = judgeKeyPair(privateFacts, this.objectFacts(session, publicKey, PUBLIC_FLAGS), this.traits);
        if (judgement.problems.length === 0 && !this.halvesMatch(session, privateKey, publicKey)) judgement.problems.push('its private and public halves have different moduli or curves');
        // Pairs made before check values were recorded were all made in the token: an imported one needs the record of its import.
        if (!recorded && !madeInToken(privateFacts)) judgement.problems.push('its private key was not made in the token, and no import of it is recorded');
        check = () => ({ value: sha256(this.subjectPublicKeyInfo(session, publicKey)), madeInToken: madeInToken(privateFacts) });
      }
      const problems = [...judgement.problems, ...(recorded ? judgement.legacyGaps : [])];
      if (problems.length > 0) return refuse(problems);
      const actual = check();
      if (recorded) {
        if (!actual.value.equals(recorded.value)) return refuse(['its check value is not the one recorded when it was made: it is not the object this service made']);
        if (actual.madeInToken !== recorded.madeInToken) {
          return refuse([recorded.madeInToken ? 'it was recorded as made in the token, and the object was not' : 'it was recorded as imported, and the object says otherwise']);
        }
      }
      for (const o of found) this.handles.set(handleCacheKey(ref, o.objectClass), o.handle);
      return { usable: true, check: actual, legacyGaps: judgement.legacyGaps };
    });
  }

  private get traits(): TokenTraits {
    return { allowedMechanismsAttribute: this.capabilities.allowedMechanismsAttribute, rawRsaDecrypt: !this.oaepSha256Unwrap };
  }

  /** The key objects carrying the version's id: indexed at start-up, or searched for (made by another process since). */
  private keyObjectsOf(session: Buffer, ref: KeyMaterialRef): Array<{ objectClass: number; handle: Buffer }> {
    const indexed = [...KEY_CLASSES].flatMap((objectClass) => (this.indexed.get(handleCacheKey(ref, objectClass)) ?? []).map((handle) => ({ objectClass, handle })));
    if (indexed.length > 0) return indexed;
    return this.objectsWithId(session, objectId(ref)).flatMap((handle) => {
      const objectClass = this.ulong(session, handle, pkcs11js.CKA_CLASS);
      return KEY_CLASSES.has(objectClass) ? [{ objectClass, handle }] : [];
    });
  }

  private ulong(session: Buffer, handle: Buffer, type: number): number {
    return Number((this.lib.C_GetAttributeValue(session, handle, [{ type }])[0]!.value as Buffer).readBigUInt64LE());
  }

  private objectFacts(session: Buffer, handle: Buffer, flagTypes: readonly number[]): ObjectFacts {
    const values = this.lib.C_GetAttributeValue(session, handle, flagTypes.map((type) => ({ type })));
    const mechanisms = this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_ALLOWED_MECHANISMS }])[0]!.value as Buffer;
    return {
      objectClass: this.ulong(session, handle, pkcs11js.CKA_CLASS),
      keyType: this.ulong(session, handle, pkcs11js.CKA_KEY_TYPE),
      flags: new Map(values.map((a) => [a.type, (a.value as Buffer).length === 1 && (a.value as Buffer)[0] === 1])),
      mechanisms: Array.from({ length: Math.floor(mechanisms.length / 8) }, (_, i) => Number(mechanisms.readBigUInt64LE(8 * i))),
    };
  }

  /** Whether both halves are of one key: the same modulus, or the same curve. */
  private halvesMatch(session: Buffer, privateKey: Buffer, publicKey: Buffer): boolean {
    const type = this.ulong(session, publicKey, pkcs11js.CKA_KEY_TYPE) === pkcs11js.CKK_RSA ? pkcs11js.CKA_MODULUS : pkcs11js.CKA_EC_PARAMS;
    const read = (handle: Buffer) => this.lib.C_GetAttributeValue(session, handle, [{ type }])[0]!.value as Buffer;
    return read(privateKey).equals(read(publicKey));
  }

  /**
   * A secret key's check value, computed in the token: the AES-GCM encryption of
   * fixed input (under an IV the IV sequence never hands out), or the HMAC of fixed
   * input with the key's one mechanism.
   */
  private secretCheckValue(session: Buffer, handle: Buffer, facts: ObjectFacts): Buffer {
    if (facts.keyType === pkcs11js.CKK_AES) return this.aesCheckValue(session, handle);
    // An HMAC key made before keys were locked to one mechanism has its spec's length instead.
    const mechanism = facts.mechanisms.length === 1 ? { mechanism: facts.mechanisms[0]! } : hmacMechanismForLength(this.ulong(session, handle, pkcs11js.CKA_VALUE_LEN));
    if (!mechanism) throw new KMSInternalException('An HMAC key in the token has no HMAC key spec\'s length.');
    this.lib.C_SignInit(session, mechanism, handle);
    return Buffer.from(this.lib.C_Sign(session, MATERIAL_CHECK_AAD, Buffer.alloc(64)));
  }

  createSymmetricKey(ref: KeyMaterialRef): Promise<KeyVersionCheck> {
    return this.changing(() =>
      this.run('generate', ref, (session) => {
        // Synchronous on purpose: pkcs11js's async key generation leaks native memory per call.
        const handle = this.lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, this.fit(symmetricRootKeyTemplate(ref)));
        this.handles.set(handleCacheKey(ref, pkcs11js.CKO_SECRET_KEY), handle);
        return this.madeSecretCheck(session, handle);
      }),
    );
  }

  createHmacKey(ref: KeyMaterialRef, spec: HmacKeySpec): Promise<KeyVersionCheck> {
    return this.changing(() =>
      this.run('generate', ref, (session) => {
        const handle = this.lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_GENERIC_SECRET_KEY_GEN }, this.fit(hmacKeyTemplate(ref, spec)));
        this.handles.set(handleCacheKey(ref, pkcs11js.CKO_SECRET_KEY), handle);
        return this.madeSecretCheck(session, handle);
      }),
    );
  }

  private aesCheckValue(session: Buffer, handle: Buffer): Buffer {
    this.lib.C_EncryptInit(session, aesGcmMechanism(MATERIAL_CHECK_IV, MATERIAL_CHECK_AAD), handle);
    return Buffer.from(this.lib.C_Encrypt(session, MATERIAL_CHECK_PLAINTEXT, Buffer.alloc(MATERIAL_CHECK_PLAINTEXT.length + 16)));
  }

  /** The check of a secret key just made, from the same facts its verification reads. */
  private madeSecretCheck(session: Buffer, handle: Buffer): KeyVersionCheck {
    const facts = this.objectFacts(session, handle, SECRET_FLAGS);
    return { value: this.secretCheckValue(session, handle, facts), madeInToken: madeInToken(facts) };
  }

  mac(ref: KeyMaterialRef, algorithm: MacAlgorithm, message: Buffer): Promise<Buffer> {
    return this.run('sign', ref, async (session) => {
      this.lib.C_SignInit(session, hmacMechanism(algorithm), this.requireHandle(ref));
      const out = Buffer.allocUnsafe(64);
      return this.options.synchronousSmallOperations ? this.lib.C_Sign(session, message, out) : this.lib.C_SignAsync(session, message, out);
    });
  }

  /** Destroys every object of the key version: a secret key, or both halves of a key pair. */
  destroyKey(ref: KeyMaterialRef): Promise<boolean> {
    return this.changing(() =>
      this.run('destroy', ref, (session) => {
        this.forgetHandles(ref);
        const objects = this.objectsWithId(session, objectId(ref));
        for (const handle of objects) this.lib.C_DestroyObject(session, handle);
        return objects.length > 0;
      }),
    );
  }

  async createSigningKeyPair(ref: KeyMaterialRef, params: SigningKeyPairParams): Promise<KeyVersionCheck> {
    const mechanism = params.kind === 'EC' ? pkcs11js.CKM_EC_KEY_PAIR_GEN : params.kind === 'EDWARDS' ? CKM_EC_EDWARDS_KEY_PAIR_GEN : pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN;
    const pair = await this.generateKeyPair({ mechanism }, signingKeyPairTemplates(ref, params, { rawRsaDecrypt: !this.oaepSha256Unwrap }));
    this.handles.set(handleCacheKey(ref, pkcs11js.CKO_PRIVATE_KEY), pair.privateKey);
    this.handles.set(handleCacheKey(ref, pkcs11js.CKO_PUBLIC_KEY), pair.publicKey);
    const spki = await this.run('find', ref, (session) => this.subjectPublicKeyInfo(session, pair.publicKey));
    this.publicKeys.set(objectId(ref).toString('hex'), spki);
    return { value: sha256(spki), madeInToken: true };
  }

  /**
   * Key pairs are made on the key-generation thread, one at a time: an RSA-4096
   * pair takes seconds, which must hold up neither the event loop nor a session of
   * the pool. (Synchronous there, as every key generation here: pkcs11js's
   * asynchronous generation leaks native memory.)
   */
  private async generateKeyPair(mechanism: P11.Mechanism, t: { publicKey: P11.Template; privateKey: P11.Template }): Promise<{ publicKey: Buffer; privateKey: Buffer }> {
    if (this.recovery) throw this.classified(new SessionUnavailable('closed'), 'generate', undefined);
    try {
      return await this.changing(() => this.keygen.generateKeyPair(mechanism, this.fit(t.publicKey), this.fit(t.privateKey)));
    } catch (e) {
      throw this.classified(e, 'generate', undefined);
    }
  }

  /** The key pair's public half as DER SubjectPublicKeyInfo. */
  async publicKeyInfo(ref: KeyMaterialRef): Promise<Buffer> {
    // A key version's public half never changes: read it from the token once.
    const cacheKey = objectId(ref).toString('hex');
    const cached = this.publicKeys.get(cacheKey);
    if (cached) return cached;
    const spki = await this.readPublicKeyInfo(ref);
    this.publicKeys.set(cacheKey, spki);
    return spki;
  }

  private readPublicKeyInfo(ref: KeyMaterialRef): Promise<Buffer> {
    return this.run('find', ref, (session) => this.subjectPublicKeyInfo(session, this.requireHandle(ref, pkcs11js.CKO_PUBLIC_KEY)));
  }

  /** A public key object as DER SubjectPublicKeyInfo. */
  private subjectPublicKeyInfo(session: Buffer, handle: Buffer): Buffer {
    const keyType = this.ulong(session, handle, pkcs11js.CKA_KEY_TYPE);
    if (keyType === pkcs11js.CKK_RSA) return this.publicKeyDer(session, handle);
    if (keyType === CKK_EC_EDWARDS) {
      const point = unwrapOctetString(this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_EC_POINT }])[0]!.value as Buffer);
      // SEQUENCE { SEQUENCE { id-Ed25519 } BIT STRING key } (RFC 8410)
      return Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), point]);
    }
    const [params, point] = this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_EC_PARAMS }, { type: pkcs11js.CKA_EC_POINT }]);
    return ecSubjectPublicKeyInfo(params!.value as Buffer, point!.value as Buffer);
  }

  /**
   * Signs a digest inside the token: raw r || s for ECDSA, the RSA signature for
   * RSA. Elliptic-curve signatures are small operations (tens of microseconds),
   * synchronous where small operations are. RSA private-key work is not: on a
   * token in this process's memory it runs on the private-key thread at the
   * lowest priority; on any other, asynchronously.
   */
  signDigest(ref: KeyMaterialRef, scheme: SigningScheme, digest: Buffer): Promise<Buffer> {
    const { mechanism, input } = signingMechanism(scheme, digest);
    const rsa = scheme.padding === 'PKCS1' || scheme.padding === 'PSS';
    if (rsa && this.options.synchronousSmallOperations) return this.onPrivateKeyThread('sign', ref, mechanism, input);
    return this.run('sign', ref, async (session) => {
      this.lib.C_SignInit(session, mechanism, this.requireHandle(ref, pkcs11js.CKO_PRIVATE_KEY));
      const out = Buffer.allocUnsafe(512);
      return rsa || !this.options.synchronousSmallOperations ? this.lib.C_SignAsync(session, input, out) : this.lib.C_Sign(session, input, out);
    });
  }

  deriveSharedSecret(ref: KeyMaterialRef, peerPoint: Buffer, secretBytes: number): Promise<Buffer> {
    return this.run('derive', ref, (session) => {
      const derived = this.lib.C_DeriveKey(session, ecdhMechanism(peerPoint), this.requireHandle(ref, pkcs11js.CKO_PRIVATE_KEY), sharedSecretTemplate(secretBytes));
      try {
        return Buffer.from(this.lib.C_GetAttributeValue(session, derived, [{ type: pkcs11js.CKA_VALUE }])[0]!.value as Buffer);
      } finally {
        this.lib.C_DestroyObject(session, derived);
      }
    });
  }

  rsaOaepDecrypt(ref: KeyMaterialRef, hash: 'SHA_1' | 'SHA_256', ciphertext: Buffer): Promise<Buffer> {
    const inToken = hash === 'SHA_1' || this.oaepSha256Unwrap;
    // Without OAEP with SHA-256 in the token: raw RSA there, OAEP decoding in constant-time code of our own.
    const mechanism = inToken ? rsaOaepMechanism(hash) : { mechanism: pkcs11js.CKM_RSA_X_509 };
    const decrypted = this.options.synchronousSmallOperations
      ? this.onPrivateKeyThread('decrypt', ref, mechanism, ciphertext)
      : this.run('decrypt', ref, async (session) => {
          this.lib.C_DecryptInit(session, mechanism, this.requireHandle(ref, pkcs11js.CKO_PRIVATE_KEY));
          return this.lib.C_DecryptAsync(session, ciphertext, Buffer.allocUnsafe(ciphertext.length));
        });
    if (inToken) return decrypted;
    return decrypted.then((block) => {
      const modulusBytes = ciphertext.length;
      const em = block.length === modulusBytes ? block : Buffer.concat([Buffer.alloc(modulusBytes - block.length), block]);
      const message = oaepDecode(em, 'sha256');
      em.fill(0);
      block.fill(0);
      if (!message) throw new InvalidCiphertextException('The ciphertext is not valid for this key and encryption context.');
      return message;
    });
  }

  /**
   * A private-key operation on the private-key thread: the handle is found on a
   * session of the pool, which is not held while the work waits its turn; errors
   * are classified as any token call's.
   */
  private async onPrivateKeyThread(operation: 'sign' | 'decrypt', ref: KeyMaterialRef, mechanism: P11.Mechanism, input: Buffer): Promise<Buffer> {
    if (this.recovery) throw this.classified(new SessionUnavailable('closed'), operation, ref);
    const handle = this.requireHandle(ref, pkcs11js.CKO_PRIVATE_KEY);
    try {
      return await this.privateKeyWork.run({ operation, handle, mechanism, input });
    } catch (e) {
      throw this.classified(e, operation, ref);
    }
  }

  verifyDigest(ref: KeyMaterialRef, scheme: SigningScheme, digest: Buffer, signature: Buffer): Promise<boolean> {
    return this.run('verify', ref, async (session) => {
      const { mechanism, input } = signingMechanism(scheme, digest);
      this.lib.C_VerifyInit(session, mechanism, this.requireHandle(ref, pkcs11js.CKO_PUBLIC_KEY));
      try {
        return this.lib.C_Verify(session, input, signature);
      } catch (e) {
        if (e instanceof pkcs11js.Pkcs11Error && (e.code === pkcs11js.CKR_SIGNATURE_INVALID || e.code === pkcs11js.CKR_SIGNATURE_LEN_RANGE)) return false;
        throw e;
      }
    });
  }

  encrypt(ref: KeyMaterialRef, iv: Buffer, aad: Buffer, plaintext: Buffer): Promise<Buffer> {
    return this.run('encrypt', ref, async (session) => {
      this.lib.C_EncryptInit(session, aesGcmMechanism(iv, aad), this.requireHandle(ref));
      const out = Buffer.allocUnsafe(plaintext.length + 16);
      return this.options.synchronousSmallOperations ? this.lib.C_Encrypt(session, plaintext, out) : this.lib.C_EncryptAsync(session, plaintext, out);
    });
  }

  decrypt(ref: KeyMaterialRef, iv: Buffer, aad: Buffer, sealed: Buffer): Promise<Buffer> {
    return this.run('decrypt', ref, async (session) => {
      this.lib.C_DecryptInit(session, aesGcmMechanism(iv, aad), this.requireHandle(ref));
      const out = Buffer.allocUnsafe(sealed.length);
      return this.options.synchronousSmallOperations ? this.lib.C_Decrypt(session, sealed, out) : this.lib.C_DecryptAsync(session, sealed, out);
    });
  }

  generateRandom(length: number): Promise<Buffer> {
    return this.run('random', undefined, (session) => this.lib.C_GenerateRandom(session, Buffer.allocUnsafe(length)));
  }

  missingWrappingMechanism(algorithm: WrappingAlgorithm): string | undefined {
    const c = this.capabilities;
    if (!c.rsaKeyGen) return 'CKM_RSA_PKCS_KEY_PAIR_GEN';
    if (!c.rsaOaepUnwrap) return 'CKM_RSA_PKCS_OAEP (unwrap)';
    if (algorithm.endsWith('SHA_256') && !this.oaepSha256Unwrap) return 'CKM_RSA_PKCS_OAEP with CKM_SHA256 and CKG_MGF1_SHA256';
    if (algorithm.startsWith('RSA_AES_KEY_WRAP') && !c.aesKeyWrapPadUnwrap) return 'CKM_AES_KEY_WRAP_PAD (unwrap)';
    return undefined;
  }

  async createImportWrappingKey(tokenId: string, modulusBits: number): Promise<Buffer> {
    const pair = await this.generateKeyPair({ mechanism: pkcs11js.CKM_RSA_PKCS_KEY_PAIR_GEN }, importWrappingKeyPairTemplates(tokenId, modulusBits));
    return this.run('find', undefined, (session) => this.publicKeyDer(session, pair.publicKey));
  }

  destroyImportWrappingKey(tokenId: string): Promise<void> {
    return this.changing(() =>
      this.run('destroy', undefined, (session) => {
        for (const handle of this.objectsWithId(session, importWrappingKeyId(tokenId))) {
          this.lib.C_DestroyObject(session, handle);
        }
      }),
    );
  }

  importSymmetricKey(ref: KeyMaterialRef | undefined, tokenId: string, algorithm: WrappingAlgorithm, wrapped: Buffer): Promise<Buffer> {
    return this.changing(() => this.unwrapSymmetricKey(ref, tokenId, algorithm, wrapped));
  }

  private unwrapSymmetricKey(ref: KeyMaterialRef | undefined, tokenId: string, algorithm: WrappingAlgorithm, wrapped: Buffer): Promise<Buffer> {
    return this.run('unwrap', ref, (session) => {
      const [privateKey] = this.findAll(session, [
        { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
        { type: pkcs11js.CKA_ID, value: importWrappingKeyId(tokenId) },
      ]);
      if (!privateKey) throw new InvalidCiphertextException('The wrapping key of this import token no longer exists.');
      const hash = algorithm.endsWith('SHA_256') ? 'SHA_256' : 'SHA_1';
      let key: Buffer;
      if (algorithm.startsWith('RSAES_OAEP')) {
        this.assertImportedKeyLength(session, rsaOaepMechanism(hash), privateKey, wrapped);
        key = this.lib.C_UnwrapKey(session, rsaOaepMechanism(hash), privateKey, wrapped, this.fit(importedKeyTemplate(ref)));
      } else {
        // RSA_AES_KEY_WRAP in two steps inside the token: RSA-OAEP gives an ephemeral AES key
        // (never extractable), which unwraps the material with AES key wrap with padding (RFC 5649).
        const modulusBytes = (this.lib.C_GetAttributeValue(session, privateKey, [{ type: pkcs11js.CKA_MODULUS }])[0]!.value as Buffer).length;
        // RFC 5649 wraps 32 bytes of material into 40.
        if (wrapped.length !== modulusBytes + 40) throw new InvalidCiphertextException('The wrapped key material must be a 256-bit key wrapped with RSA_AES_KEY_WRAP.');
        const ephemeral = this.lib.C_UnwrapKey(session, rsaOaepMechanism(hash), privateKey, wrapped.subarray(0, modulusBytes), this.fit(ephemeralUnwrapKeyTemplate()));
        try {
          key = this.lib.C_UnwrapKey(session, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, ephemeral, wrapped.subarray(modulusBytes), this.fit(importedKeyTemplate(ref)));
        } finally {
          this.lib.C_DestroyObject(session, ephemeral);
        }
      }
      try {
        // Tokens that report the length are held to 256 bits here. SoftHSMv2 reports 0 for
        // unwrapped keys; for RSA_AES_KEY_WRAP the wrapped length was checked above instead.
        const length = Number((this.lib.C_GetAttributeValue(session, key, [{ type: pkcs11js.CKA_VALUE_LEN }])[0]!.value as Buffer).readBigUInt64LE());
        if (length !== 0 && length !== 32) throw new IncorrectKeyMaterialException(NOT_256_BITS);
        let check: Buffer;
        try {
          check = this.aesCheckValue(session, key);
        } catch (e) {
          if (e instanceof pkcs11js.Pkcs11Error && NOT_AN_AES_KEY.has(e.code)) throw new IncorrectKeyMaterialException(NOT_256_BITS);
          throw e;
        }
        // The key version's token object: a copy of the session object that is not modifiable.
        if (ref) this.handles.set(handleCacheKey(ref, pkcs11js.CKO_SECRET_KEY), this.lib.C_CopyObject(session, key, IMPORTED_KEY_COPY));
        return check;
      } finally {
        this.lib.C_DestroyObject(session, key); // the session object, in every case
      }
    });
  }

  /**
   * Imported RSA or ECC private key material (PKCS#8), unwrapped by the token:
   * with RSA_AES_KEY_WRAP, RSA-OAEP gives an ephemeral AES key that unwraps the
   * private key (AES key wrap with padding); with RSAES_OAEP (small ECC keys) the
   * RSA key unwraps it directly. Its spec is checked in the token; its public
   * half is read from it (RSA) or recovered from two signatures it makes (ECC,
   * whose private object does not give its point). Returns the SHA-256 of the
   * public key, the pair's check value; with no ref, nothing is kept.
   */
  importKeyPair(ref: KeyMaterialRef | undefined, tokenId: string, algorithm: WrappingAlgorithm, wrapped: Buffer, params: SigningKeyPairParams): Promise<Buffer> {
    return this.changing(() =>
      this.run('unwrap', ref, (session) => {
        const wrappingKey = this.findAll(session, [
          { type: pkcs11js.CKA_CLASS, value: pkcs11js.CKO_PRIVATE_KEY },
          { type: pkcs11js.CKA_ID, value: importWrappingKeyId(tokenId) },
        ])[0];
        if (!wrappingKey) throw new InvalidCiphertextException('The wrapping key of this import token no longer exists.');
        const hash = algorithm.endsWith('SHA_256') ? 'SHA_256' : 'SHA_1';
        const templates = (publicValues: P11.Template) => importedKeyPairTemplates(ref ?? IMPORT_PROBE_REF, params, { rawRsaDecrypt: !this.oaepSha256Unwrap }, publicValues);
        const privateTemplate = this.fit(templates([]).privateKey);
        let privateKey: Buffer;
        try {
          if (algorithm.startsWith('RSAES_OAEP')) {
            privateKey = this.lib.C_UnwrapKey(session, rsaOaepMechanism(hash), wrappingKey, wrapped, privateTemplate);
          } else {
            const modulusBytes = (this.lib.C_GetAttributeValue(session, wrappingKey, [{ type: pkcs11js.CKA_MODULUS }])[0]!.value as Buffer).length;
            if (wrapped.length <= modulusBytes + 16) throw new IncorrectKeyMaterialException(notPrivateKeyOf(params));
            const ephemeral = this.lib.C_UnwrapKey(session, rsaOaepMechanism(hash), wrappingKey, wrapped.subarray(0, modulusBytes), this.fit(ephemeralUnwrapKeyTemplate()));
            try {
              privateKey = this.lib.C_UnwrapKey(session, { mechanism: pkcs11js.CKM_AES_KEY_WRAP_PAD }, ephemeral, wrapped.subarray(modulusBytes), privateTemplate);
            } finally {
              this.lib.C_DestroyObject(session, ephemeral);
            }
          }
        } catch (e) {
          // Material of another key type, or not PKCS#8 at all, is refused by the template or the unwrap.
          if (e instanceof pkcs11js.Pkcs11Error && NOT_THIS_PRIVATE_KEY.has(e.code)) throw new IncorrectKeyMaterialException(notPrivateKeyOf(params));
          throw e;
        }
        try {
          const { publicValues, spki } = this.importedPublicHalf(session, privateKey, params);
          if (ref) {
            const copy = this.lib.C_CopyObject(session, privateKey, IMPORTED_KEY_COPY);
            let publicKey: Buffer;
            try {
              publicKey = this.lib.C_CreateObject(session, this.fit(templates(publicValues).publicKey));
            } catch (e) {
              this.lib.C_DestroyObject(session, copy); // never half a pair in the token
              throw e;
            }
            this.handles.set(handleCacheKey(ref, pkcs11js.CKO_PRIVATE_KEY), copy);
            this.handles.set(handleCacheKey(ref, pkcs11js.CKO_PUBLIC_KEY), publicKey);
            this.publicKeys.set(objectId(ref).toString('hex'), spki);
          }
          return sha256(spki);
        } finally {
          this.lib.C_DestroyObject(session, privateKey); // the session object, in every case
        }
      }),
    );
  }

  /** The public values of an unwrapped private key, checked against the key spec. */
  private importedPublicHalf(session: Buffer, privateKey: Buffer, params: SigningKeyPairParams): { publicValues: P11.Template; spki: Buffer } {
    const keyType = this.ulong(session, privateKey, pkcs11js.CKA_KEY_TYPE);
    if (params.kind === 'RSA') {
      const [modulus, exponent] = this.lib.C_GetAttributeValue(session, privateKey, [{ type: pkcs11js.CKA_MODULUS }, { type: pkcs11js.CKA_PUBLIC_EXPONENT }]).map((a) => a.value as Buffer);
      if (keyType !== pkcs11js.CKK_RSA || modulus!.length * 8 !== params.modulusBits) throw new IncorrectKeyMaterialException(notPrivateKeyOf(params));
      const spki = createPublicKey({ key: { kty: 'RSA', n: modulus!.toString('base64url'), e: exponent!.toString('base64url') }, format: 'jwk' }).export({ type: 'spki', format: 'der' });
      return { publicValues: [{ type: pkcs11js.CKA_MODULUS, value: modulus! }, { type: pkcs11js.CKA_PUBLIC_EXPONENT, value: exponent! }], spki };
    }
    if (params.kind !== 'EC') throw new IncorrectKeyMaterialException(notPrivateKeyOf(params));
    const ecParams = this.lib.C_GetAttributeValue(session, privateKey, [{ type: pkcs11js.CKA_EC_PARAMS }])[0]!.value as Buffer;
    const spec = eccSpecOfParams(params.ecParams);
    if (keyType !== pkcs11js.CKK_EC || !ecParams.equals(params.ecParams) || !spec) throw new IncorrectKeyMaterialException(notPrivateKeyOf(params));
    // Recovered from one signature (at most four candidates), singled out by a second one, both made here.
    const { coordinateBytes, hash } = ECC_SPECS[spec];
    const signed = (text: string) => {
      this.lib.C_SignInit(session, { mechanism: pkcs11js.CKM_ECDSA }, privateKey);
      const digest = createHash(hash).update(text).digest();
      return { text, digest, signature: Buffer.from(this.lib.C_Sign(session, digest, Buffer.alloc(2 * coordinateBytes))) };
    };
    const first = signed('hsm-kms public key recovery 1');
    const second = signed('hsm-kms public key recovery 2');
    const r = BigInt(`0x${first.signature.subarray(0, coordinateBytes).toString('hex')}`);
    const s = BigInt(`0x${first.signature.subarray(coordinateBytes).toString('hex')}`);
    for (const candidate of recoverPublicPoints(spec, first.digest, r, s)) {
      const point = derElement(0x04, encodePoint(candidate, coordinateBytes));
      const spki = ecSubjectPublicKeyInfo(ecParams, point);
      const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      if (verify(hash, Buffer.from(second.text), { key, dsaEncoding: 'ieee-p1363' }, second.signature)) {
        return { publicValues: [{ type: pkcs11js.CKA_EC_POINT, value: point }], spki };
      }
    }
    throw new KMSInternalException('The public key of the imported material could not be found.');
  }

  /**
   * Refuses material that is not 256 bits before anything is made from it. The
   * token reports no length for an unwrapped key (SoftHSM) and AES-GCM works with
   * 128 and 192 bits too, so the material is unwrapped once more into a session
   * probe, wrapped (RFC 3394) under an ephemeral key of the token's own, and only
   * the wrapped length looked at: 32 bytes wrap into 40, 16 and 24 into less. Both
   * are destroyed at once. (SoftHSM pads 25 to 31 bytes to 32 here; no AES key has
   * those lengths, so the check value that follows refuses them.)
   */
  private assertImportedKeyLength(session: Buffer, mechanism: P11.Mechanism, privateKey: Buffer, wrapped: Buffer): void {
    let probe: Buffer | undefined;
    let ephemeral: Buffer | undefined;
    try {
      probe = this.lib.C_UnwrapKey(session, mechanism, privateKey, wrapped, this.fit(lengthProbeTemplate()));
      ephemeral = this.lib.C_GenerateKey(session, { mechanism: pkcs11js.CKM_AES_KEY_GEN }, this.fit(probeWrappingKeyTemplate()));
      let length: number;
      try {
        // RSA-OAEP carries at most 470 bytes (RSA_4096 with SHA-256), which wrap into at most 480.
        length = this.lib.C_WrapKey(session, { mechanism: pkcs11js.CKM_AES_KEY_WRAP }, ephemeral, probe, Buffer.alloc(512)).length;
      } catch (e) {
        // A length that is not whole blocks (or not an AES key's) cannot be wrapped: not 256 bits either.
        if (e instanceof pkcs11js.Pkcs11Error && NOT_AN_AES_KEY.has(e.code)) length = 0;
        else throw e;
      }
      if (length !== 40) throw new IncorrectKeyMaterialException(NOT_256_BITS);
    } finally {
      for (const handle of [probe, ephemeral]) if (handle) this.lib.C_DestroyObject(session, handle);
    }
  }

  /** Every object carrying this CKA_ID: a secret key, or both halves of a pair. */
  private objectsWithId(session: Buffer, id: Buffer): Buffer[] {
    return this.findAll(session, [{ type: pkcs11js.CKA_ID, value: id }]);
  }

  private findAll(session: Buffer, template: P11.Template): Buffer[] {
    this.findCount++;
    this.lib.C_FindObjectsInit(session, template);
    try {
      return this.lib.C_FindObjects(session, 16);
    } finally {
      this.lib.C_FindObjectsFinal(session);
    }
  }

  ivHighWater(): Promise<number> {
    return this.run('find', undefined, (session) => this.readIvHighWater(session).value);
  }

  /**
   * Read, raised and written under the change gate, so that two processes never
   * lower each other's mark. A data object's value cannot be changed (SoftHSM), so
   * the new mark is created first and the old ones destroyed after it: a crash in
   * between leaves two, and the higher counts.
   */
  raiseIvHighWater(fixedField: number): Promise<void> {
    return this.changing(() =>
      this.run('generate', undefined, (session) => {
        const { handles, value } = this.readIvHighWater(session);
        if (fixedField <= value) return;
        const bytes = Buffer.alloc(4);
        bytes.writeUInt32BE(fixedField);
        this.lib.C_CreateObject(session, ivHighWaterTemplate(bytes));
        for (const old of handles) this.lib.C_DestroyObject(session, old);
      }),
    );
  }

  /**
   * The data objects holding the mark, and the highest value among them (0 when
   * there is none yet). One that cannot be read was cut short by a crash while it
   * was written: the mark before it is still there (new marks are made before old
   * ones go), and the database is ahead of both.
   */
  private readIvHighWater(session: Buffer): { handles: Buffer[]; value: number } {
    const handles = this.findAll(session, ivHighWaterSearch());
    let value = 0;
    for (const handle of handles) {
      let bytes: Buffer;
      try {
        bytes = this.lib.C_GetAttributeValue(session, handle, [{ type: pkcs11js.CKA_VALUE }])[0]!.value as Buffer;
      } catch {
        continue;
      }
      if (bytes.length === 4) value = Math.max(value, bytes.readUInt32BE(0));
    }
    return { handles, value };
  }

  /** Whether the token holds an object for this key version (used at start-up clean-up and by tests). */
  hasKey(ref: KeyMaterialRef): Promise<boolean> {
    return this.run('find', ref, (session) => this.objectsWithId(session, objectId(ref)).length > 0);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.wakeRecovery?.();
    await this.recovery;
    await this.keygen.close();
    await this.privateKeyWork.close();
    await this.pool.close();
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

/** SEQUENCE { SEQUENCE { id-ecPublicKey, curve }, BIT STRING point }, from the token's DER parameters and point. */
function ecSubjectPublicKeyInfo(ecParams: Buffer, ecPoint: Buffer): Buffer {
  const point = unwrapOctetString(ecPoint);
  const algorithm = derElement(0x30, Buffer.concat([Buffer.from('06072a8648ce3d0201', 'hex'), ecParams]));
  return derElement(0x30, Buffer.concat([algorithm, derElement(0x03, Buffer.concat([Buffer.from([0]), point]))]));
}

/** CKA_EC_POINT is a DER OCTET STRING around the point; some tokens return the point bare. */
function unwrapOctetString(value: Buffer): Buffer {
  if (value[0] !== 0x04 || value.length < 2) return value;
  const first = value[1]!;
  const header = first < 0x80 ? 2 : 2 + (first & 0x7f);
  const length = first < 0x80 ? first : value.subarray(2, header).readUIntBE(0, header - 2);
  return header + length === value.length ? value.subarray(header) : value;
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function handleCacheKey(ref: KeyMaterialRef, objectClass: number): string {
  return handleKey(objectClass, objectId(ref));
}

function handleKey(objectClass: number, id: Buffer): string {
  return `${objectClass}/${id.toString('hex')}`;
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
