import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pino, type Logger } from 'pino';
import { createPublicKey } from 'node:crypto';
import { CallHandler } from './api/call-handler.js';
import { httpRequestListener, operatorApp, type OperatorRoutes } from './api/http-server.js';
import { ServiceMetrics } from './metrics/service-metrics.js';
import { Readiness } from './services/readiness.js';
import type { Services } from './api/operation.js';
import { OPERATIONS } from './api/operations/index.js';
import { FileAuditTrail, readEventsSince } from './audit/file-trail.js';
import { DISABLED_AUDIT, type AuditSink } from './audit/ports.js';
import { SIGNATURE_ALGORITHM } from './audit/trail-format.js';
import { CREDENTIALS_PROFILE, resolveAdminCredential, type AdminCredential } from './config/admin-credential.js';
import { servedRegions, ConfigError, isLoopback, redactConfig, serviceUrl, type Config } from './config/config.js';
import { prepareEmbeddedSoftHsm } from './hsm/embedded-softhsm.js';
import { Pkcs11Token, type TokenOptions } from './hsm/token.js';
import { VerifiedKeyVault } from './services/keys/verified-key-vault.js';
import { PostgresStore } from './store/postgres-store.js';
import { readSeedFile } from './config/seed-file.js';
import { checkSeed } from './services/seeding/seed-check.js';
import { SeedCalls } from './services/seeding/seed-calls.js';
import { Seeder } from './services/seeding/seeder.js';
import { AliasService } from './services/keys/alias-service.js';
import { CryptoService } from './services/crypto/crypto-service.js';
import { IvSequence } from './services/crypto/iv-sequence.js';
import { KeyAdmin } from './services/keys/key-admin.js';
import { KeyDestroyer } from './services/keys/key-destroyer.js';
import { KeyDirectory } from './services/keys/key-directory.js';
import { KeyImporter } from './services/keys/key-import.js';
import { KeyRotator } from './services/keys/key-rotation.js';
import { MacService } from './services/crypto/mac-service.js';
import { RsaEncryption } from './services/crypto/rsa-encryption.js';
import { MultiRegionKeys } from './services/keys/multi-region-keys.js';
import { KeyAgreement } from './services/crypto/key-agreement.js';
import { SignService } from './services/crypto/sign-service.js';
import { SlowLane } from './services/crypto/slow-lane.js';
import { DataKeyPairs } from './services/crypto/data-key-pairs.js';
import { Scheduler } from './services/scheduler.js';
import { serializedBy, UNSERIALIZED, type Clock, type MetadataStore } from './services/ports/index.js';
import { InstancesGate } from './cluster/token-gate.js';
import { TagService } from './services/keys/tags.js';
import { Authorizer } from './services/access/authorizer.js';
import { RequestQuotas } from './services/access/request-quotas.js';
import { defaultRequestQuotas } from './domain/quotas.js';
import { CredentialSealer } from './services/access/credential-sealer.js';
import { GrantDirectory } from './services/access/grant-directory.js';
import { GrantService } from './services/access/grant-service.js';
import { KeyPolicies } from './services/keys/key-policies.js';
import { PrincipalAdmin } from './services/access/principal-admin.js';
import { PrincipalDirectory } from './services/access/principal-directory.js';
import { SqliteStore } from './store/sqlite-store.js';
import { AuditRecorder } from './services/audit/audit-recorder.js';
import { openAuditSigner } from './services/audit/audit-signing-key.js';
import { KeyUsageTracker } from './services/keys/key-usage.js';
import { SINGLE_PROCESS, type ChangeFeed } from './services/changes.js';
import type { TokenCapabilities } from './hsm/capabilities.js';
import type { TokenChangeGate } from './hsm/change-gate.js';

/**
 * Which part of the service this process plays. One process alone does it all.
 * With several workers (KMS_WORKERS), the primary does the start-up work once
 * (token, migrations, recovery) and runs the background jobs, and each worker
 * serves requests on the shared port, with its own token sessions and audit trail.
 */
export type ServiceRole =
  | { readonly kind: 'standalone' }
  | { readonly kind: 'primary'; readonly changes: ChangeFeed; readonly tokenGate: TokenChangeGate }
  | {
      readonly kind: 'worker';
      readonly index: number;
      readonly workers: number;
      readonly changes: ChangeFeed;
      readonly tokenGate: TokenChangeGate;
      /** Every worker's metrics, added up by the primary (a scrape reaches one worker of several). */
      readonly clusterMetrics: () => Promise<string>;
    };

export interface ServiceOptions {
  readonly config: Config;
  /** Standalone unless told. */
  readonly role?: ServiceRole;
  /** The clock of key lifecycles (deletion dates, destruction); tests move it forward. */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Lowers the per-fixed-field IV invocation limit (2^64) so tests can reach it. */
  readonly ivInvocationLimit?: bigint;
}

export interface RunningService {
  readonly url: string;
  readonly port: number;
  readonly admin: AdminCredential;
  readonly token: Pkcs11Token;
  readonly store: MetadataStore;
  readonly ivs: IvSequence;
  readonly logger: Logger;
  /** The audit trail's folder and the PEM public key its digests verify with. */
  readonly audit: { readonly dir: string; readonly publicKey: string };
  /** Runs the background jobs now (tests move their clock instead of waiting days). */
  runScheduledJobs(): Promise<void>;
  stop(): Promise<void>;
}

export const systemClock: Clock = { now: () => new Date() };

/** The operations whose success counts as a use of their keys (GetKeyLastUsage). */
const CRYPTOGRAPHIC_OPERATIONS: ReadonlySet<string> = new Set([...OPERATIONS.values()].filter((op) => op.audit.kind === 'crypto').map((op) => op.name));

function sessionBounds({ pkcs11 }: Config): Pick<TokenOptions, 'sessions' | 'sessionWaitMs' | 'maxWaiting' | 'callTimeoutMs'> {
  return { sessions: pkcs11.sessions, sessionWaitMs: pkcs11.sessionWaitMs, maxWaiting: pkcs11.maxWaiting, callTimeoutMs: pkcs11.callTimeoutMs };
}

async function tokenOptions(config: Config, changeGate: TokenChangeGate | undefined): Promise<TokenOptions> {
  const { pkcs11 } = config;
  if (pkcs11.module !== undefined && pkcs11.tokenLabel !== undefined) {
    return {
      modulePath: pkcs11.module,
      tokenLabel: pkcs11.tokenLabel,
      pin: pkcs11.pin,
      pinFile: pkcs11.pinFile,
      ...sessionBounds(config),
      // A token of unknown speed (a network HSM, say) is called asynchronously unless told otherwise.
      synchronousSmallOperations: pkcs11.synchronousSmallOperations ?? false,
      changeGate,
    };
  }
  const pinElsewhere = pkcs11.pin !== undefined || pkcs11.pinFile !== undefined;
  const embedded = await prepareEmbeddedSoftHsm(config.dataDir, pinElsewhere);
  // SoftHSM finds its configuration only through this variable, read when the module initialises.
  process.env.SOFTHSM2_CONF = embedded.softhsmConf;
  return {
    modulePath: embedded.modulePath,
    tokenLabel: embedded.tokenLabel,
    pin: pinElsewhere ? pkcs11.pin : embedded.userPin,
    pinFile: pkcs11.pinFile,
    ...sessionBounds(config),
    synchronousSmallOperations: pkcs11.synchronousSmallOperations ?? true,
    initializeWith: { soPin: embedded.soPin },
    changeGate,
  };
}

/** KMS_DATABASE: a postgres:// URL (several instances on one database), else a SQLite file (default: in the data folder). */
/** What stops the start, said in one line (no stack): a port in use, say. */
export class StartupError extends Error {}

/** Listens, or says in one line why it cannot (the port taken, or not this user's to take); the port listened on. */
async function listenOn(server: Server, port: number, host: string, setting: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EADDRINUSE') throw new StartupError(`port ${port} on ${host} is already in use (${setting}): stop what listens there, or set ${setting} to another port`);
    if (e.code === 'EACCES') throw new StartupError(`port ${port} on ${host} may not be listened on by this user (${setting}): choose a port above 1023`);
    throw e;
  });
  const address = server.address() as AddressInfo | null;
  if (!address) throw new StartupError(`port ${port} on ${host} could not be listened on (${setting})`);
  return address.port;
}

function isPostgresUrl(database: string | undefined): boolean {
  return database !== undefined && /^postgres(ql)?:\/\//.test(database);
}

async function openStore(config: Config): Promise<MetadataStore> {
  const target = config.database ?? path.join(config.dataDir, 'kms.sqlite');
  if (isPostgresUrl(target)) return PostgresStore.open(target);
  return new SqliteStore(target);
}

/**
 * Refuses to start when the database's IV sequence is behind the token's
 * high-water mark (a database restored from an older copy would hand out fixed
 * fields that were used already: an IV reused under the same key reveals the XOR
 * of two plaintexts). KMS_IV_ADVANCE_TO_TOKEN=true moves the database past it.
 */
async function checkIvSequence(store: MetadataStore, token: Pkcs11Token, config: Config, logger: Logger): Promise<void> {
  // The token's mark first: a fixed field is in the database before it is in the token, so whatever another
  // instance starting meanwhile allocates is counted in the database read after.
  const highWater = await token.ivHighWater();
  const last = await store.lastIvInstance();
  if (highWater <= last) return;
  if (!config.ivAdvanceToToken) {
    throw new ConfigError(
      `the database is behind the token: its last IV fixed field is ${last}, the token has used fixed fields up to ${highWater}. ` +
        'It was restored from an older copy (or belongs to another token); encrypting now would reuse IVs. If this database is the one to keep, ' +
        'start once with KMS_IV_ADVANCE_TO_TOKEN=true to move its IV sequence past the token\'s mark (keys and changes made after the copy are still missing from it).',
    );
  }
  await store.advanceIvInstancesPast(highWater);
  logger.warn({ from: last, to: highWater }, 'the IV sequence was moved past the token\'s high-water mark (KMS_IV_ADVANCE_TO_TOKEN)');
}

/** A worker's audit trail: a chain of its own, in a folder of the trail's folder. */
export function workerAuditDir(auditDir: string, index: number): string {
  return path.join(auditDir, `worker-${index}`);
}

/** The request quotas this process enforces: a worker its share, since the primary spreads connections evenly. */
function requestQuotaLimits(config: Config, role: ServiceRole): Map<string, number> {
  if (config.quotas === 'off') return new Map();
  const share = role.kind === 'worker' ? role.workers : 1;
  return new Map([...defaultRequestQuotas(config.region), ...Object.entries(config.quotas)].map(([name, rate]) => [name, rate / share]));
}

/** The start banner: one structured line (the secret stays in the credentials file). */
export function logStartBanner(
  logger: Logger,
  config: Config,
  url: string,
  facts: {
    readonly admin: AdminCredential;
    readonly capabilities: TokenCapabilities;
    readonly auditFingerprint: string;
    readonly workers: number;
    readonly givenMaterial: readonly string[];
  },
): void {
  const { admin } = facts;
  logger.info(
    {
      url,
      region: config.region,
      ...(config.otherRegions.length > 0 ? { regions: servedRegions(config) } : {}),
      accountId: config.accountId,
      workers: facts.workers,
      mechanisms: facts.capabilities.mechanisms.size,
      audit: config.audit.mode === 'on' ? { dir: config.audit.dir, publicKeyFingerprint: facts.auditFingerprint } : 'off',
      ...(admin.credentialsFile
        ? { credentialsFile: admin.credentialsFile, profile: CREDENTIALS_PROFILE, usage: `AWS_SHARED_CREDENTIALS_FILE=${admin.credentialsFile} AWS_PROFILE=${CREDENTIALS_PROFILE} AWS_DEFAULT_REGION=${config.region} aws kms create-key --endpoint-url ${url}` }
        : {}),
    },
    'hsm-kms listening',
  );
  if (!isLoopback(config.host) && config.tls.certFile === undefined) logger.warn({ host: config.host }, 'serving plain HTTP beyond loopback (KMS_ALLOW_PLAINTEXT_HTTP): secrets travel in clear; set KMS_TLS_CERT_FILE and KMS_TLS_KEY_FILE');
  if (config.pkcs11.module === undefined) {
    const pinKept = config.pkcs11.pin !== undefined || config.pkcs11.pinFile !== undefined ? 'the user PIN elsewhere' : 'the user PIN beside them';
    logger.warn(
      { dataDir: config.dataDir },
      `the embedded SoftHSM token is for development and tests: the data folder holds the token's files and ${pinKept}, and a copy of the folder is a copy of the keys; in production use an HSM (KMS_PKCS11_MODULE) and KMS_PROFILE=production`,
    );
  }
  if (facts.givenMaterial.length > 0) {
    logger.warn(
      { keyIds: facts.givenMaterial, seedFile: config.seedFile },
      'these keys hold key material the seed file gives (development only): anyone with the file can decrypt what they encrypt; never use them for real data',
    );
  }
  if (config.audit.mode === 'off') logger.warn('auditing is off (KMS_AUDIT=off): no call is recorded; use this only to measure what auditing costs');
}

/** The primary of several workers: start-up work and background jobs, no listener. */
export interface PrimaryService {
  readonly admin: AdminCredential;
  readonly capabilities: TokenCapabilities;
  readonly auditFingerprint: string;
  /** Keys the seed file gives the material of (the banner names them). */
  readonly givenMaterial: readonly string[];
  readonly logger: Logger;
  stop(): Promise<void>;
}

/** The composition root: wires token, store, use cases and HTTP, and starts listening. */
export async function startService(options: ServiceOptions): Promise<RunningService> {
  const service = await composeService(options);
  if (!('url' in service)) throw new Error('startService serves requests: the primary starts with startPrimary');
  return service;
}

/** The primary of several workers: the start-up work done once, then the background jobs. */
export async function startPrimary(options: ServiceOptions & { readonly role: Extract<ServiceRole, { kind: 'primary' }> }): Promise<PrimaryService> {
  const service = await composeService(options);
  if ('url' in service) throw new Error('startPrimary: the primary serves no requests');
  return service;
}

async function composeService(options: ServiceOptions): Promise<RunningService | PrimaryService> {
  const { config } = options;
  const role = options.role ?? { kind: 'standalone' };
  const auditDir = role.kind === 'worker' ? workerAuditDir(config.audit.dir!, role.index) : config.audit.dir!;
  const clock = options.clock ?? systemClock;
  // The operational log goes to stderr; the audit trail is the record of calls, in its own files.
  const logger = options.logger ?? pino({ level: config.logLevel, base: { service: 'hsm-kms' } }, pino.destination(2));
  logger.debug({ config: redactConfig(config) }, 'configuration');

  // The seed file is read and checked whole before anything starts: a bad one stops the start, naming its line.
  const seed = config.seedFile !== undefined && role.kind !== 'worker' ? await readSeedFile(config.seedFile) : undefined;
  const metrics = new ServiceMetrics();
  const sweeps = role.kind === 'primary' || (role.kind === 'standalone' && !isPostgresUrl(config.database));
  // Instances sharing a PostgreSQL database share its token: their changes to its objects take turns there too.
  const shared = isPostgresUrl(config.database);
  const gate = role.kind === 'standalone' && !shared ? undefined : new InstancesGate(role.kind === 'standalone' ? undefined : role.tokenGate);
  const token = await Pkcs11Token.open({
    ...(await tokenOptions(config, gate)),
    log: logger,
    // Alone on the token, or the primary before its workers start: nobody else can be writing to it.
    sweepsUnreadable: sweeps,
    onCall: (operation, seconds, ok) => metrics.tokenCall(operation, seconds, ok),
  });
  if (token.unreadableObjects > 0) {
    const fate =
      config.pkcs11.module === undefined
        ? sweeps
          ? 'they were destroyed (the embedded token is this service\'s alone)'
          : 'they are not used; the first process to start removes them'
        : 'they are not used; the token\'s owner should remove them';
    logger.warn({ unreadableObjects: token.unreadableObjects }, `the token held objects whose class and id cannot be read (left half-written by a crash): ${fate}`);
  }
  if (!token.capabilities.allowedMechanismsAttribute) {
    logger.warn('the token does not keep CKA_ALLOWED_MECHANISMS: its objects are locked to their purpose by their usage attributes alone, and a PIN holder may use a root key with another mechanism of the same usage');
  }
  let store: MetadataStore | undefined;
  let sink: AuditSink | undefined;
  try {
    store = metrics.timed(await openStore(config));
    const opened = store;
    const serialized = shared ? serializedBy(opened) : UNSERIALIZED;
    if (shared) gate?.bind(serialized);
    // On PostgreSQL every process hears every other's changes from the database; otherwise the workers' primary relays them.
    const changes = opened.changeFeed() ?? (role.kind === 'standalone' ? SINGLE_PROCESS : role.changes);
    // Every use case sees the token through this: no key version's object is used before it is verified.
    const vault = new VerifiedKeyVault(token, store, clock, logger);
    const admin = await resolveAdminCredential(config);
    const ttl = config.metadataCacheTtlMs;
    // A worker belongs to its primary's instance, which holds the database for it.
    if (role.kind !== 'worker') await opened.holdInstance();
    if (role.kind !== 'worker') await checkIvSequence(store, token, config, logger);
    // Each fixed field is recorded in the token too before it is used: a database restored from an older copy is then found behind.
    const ivs = new IvSequence(async () => {
      const fixedField = await opened.allocateIvInstance();
      await token.raiseIvHighWater(fixedField);
      return fixedField;
    }, options.ivInvocationLimit);
    await ivs.next(); // takes this instance's fixed field now, so a broken store fails the start, not a request
    const sealer = new CredentialSealer(vault, ivs, serialized);
    if (role.kind === 'primary') await sealer.prepare();
    const credentials = new PrincipalDirectory(store.principals, sealer, clock, ttl, admin, config.accountId, changes, config.devConveniences);

    const signer = await openAuditSigner(vault, serialized);
    const auditOptions = { ...config.audit, dir: auditDir, logger, onSync: (seconds: number) => metrics.auditSync(seconds) };
    sink = config.audit.mode === 'on' ? await FileAuditTrail.open(auditOptions, signer) : DISABLED_AUDIT;
    const usage = new KeyUsageTracker(store.usage, config.keyUsageFlushMs, logger, role.kind === 'worker' ? path.basename(auditDir) : '');
    const audit = new AuditRecorder(sink, usage, clock);
    if (sink instanceof FileAuditTrail && !sink.previousClosedCleanly) {
      // A crash may have lost the last uses of keys written since the last batch: the trail has them.
      const since = await usage.flushedAt();
      const events = await readEventsSince(auditDir, since && new Date(since.getTime() - 5_000));
      const replayed = audit.replayUsage(events, CRYPTOGRAPHIC_OPERATIONS);
      if (replayed > 0) logger.info({ replayed }, 'key usage since the last batch taken again from the audit trail');
    }
    const auditPublicKey = createPublicKey({ key: signer.publicKey, format: 'der', type: 'spki' }).export({ format: 'pem', type: 'spki' }).toString();

    const keys = new KeyDirectory(store, clock, ttl, changes);
    const grantDirectory = new GrantDirectory(store.grants, clock, ttl, changes);
    const access = new Authorizer(keys, grantDirectory, new RequestQuotas(requestQuotaLimits(config, role), systemClock), clock);
    const keyPolicies = new KeyPolicies(store, store.principals, keys, access);
    const keyAdmin = new KeyAdmin(store, vault, keys, access, keyPolicies, usage, audit, clock, config.maxKeysPerAccount);
    // Slow work is kept from the fast calls' threads and cores: data key pairs on a background thread at the
    // lowest priority (as the token's key pairs); RSA private-key operations and on-demand rotations in one
    // lane, two at a time, so that libuv's other threads stay free for the audit trail and the fast calls.
    const keyPairs = new DataKeyPairs();
    const slowLane = new SlowLane(2, 64);
    const rotation = new KeyRotator(store, vault, keys, access, audit, clock, logger, slowLane);
    const imports = new KeyImporter(store, vault, keys, access, audit, clock, logger, serializedBy(opened));
    const destroyer = new KeyDestroyer(store, vault, keys, audit, clock, logger, (key) => imports.releaseRegionMaterial(key));
    const services: Services = {
      keyAdmin,
      crypto: new CryptoService(keys, access, vault, ivs, new RsaEncryption(vault, slowLane), keyPairs),
      aliases: new AliasService(store, keys, access, clock),
      tags: new TagService(store, keys, access),
      rotation,
      imports,
      macs: new MacService(access, vault),
      signer: new SignService(access, vault, slowLane),
      keyAgreement: new KeyAgreement(access, vault),
      multiRegion: new MultiRegionKeys(store, keys, grantDirectory, access, keyPolicies, audit, clock, servedRegions(config), (keyId) => imports.retireTokensOf(keyId), config.maxKeysPerAccount),
      keyPolicies,
      grants: new GrantService(store.grants, store.principals, grantDirectory, access, clock),
      principals: new PrincipalAdmin(store.principals, sealer, credentials, clock),
      auditKey: { publicKey: auditPublicKey, fingerprint: signer.fingerprint, signatureAlgorithm: SIGNATURE_ALGORITHM },
      deleteKeyNow: config.devConveniences ? (ctx, keyId) => destroyer.destroyNow(ctx, keyId) : undefined,
    };

    const scheduler = new Scheduler(
      [
        {
          name: 'recover-interrupted-creations',
          run: async () => {
            const recovered = await keyAdmin.recoverInterruptedCreations();
            if (recovered > 0) logger.warn({ recovered }, 'removed keys whose creation a crash interrupted');
          },
        },
        { name: 'recover-interrupted-rotations', run: () => rotation.recoverInterruptedRotations() },
        { name: 'rotate-due-keys', run: () => rotation.rotateDueKeys() },
        { name: 'destroy-deleted-keys', run: () => destroyer.runOnce() },
        { name: 'expire-imported-material', run: () => imports.expire() },
      ],
      config.schedulerIntervalMs,
      logger,
      // Once across the instances on one database: a round is skipped while another instance runs one.
      (round) => opened.exclusive('background-jobs', round, false),
    );
    // Background jobs run in one process: alone, or the primary of several workers.
    const runsJobs = role.kind !== 'worker';
    // One run before serving: what a crash left half-done is finished or cleaned first.
    let givenMaterial: readonly string[] = [];
    if (runsJobs) {
      const bound = await keyPolicies.bindUnboundPolicies();
      if (bound > 0) logger.info({ bound }, 'key policies written before principals had unique ids were bound to the principals that hold their ARNs now');
      await scheduler.runAll();
      if (seed) {
        const calls = new SeedCalls(audit, config.accountId, config.region);
        // Checked against the service whole before any of it is applied: a file it would refuse changes nothing.
        await checkSeed(seed, { keys, principals: store.principals, materials: store, access, tags: services.tags, aliases: services.aliases }, calls, { development: config.profile === 'development' });
        const seeded = await new Seeder({ ...services, keys }, calls, logger).apply(seed).catch((e: unknown) => {
          throw new StartupError(`the seed file ${config.seedFile} could not be applied (the next start carries on from where it stopped): ${(e as Error).name}: ${(e as Error).message}`);
        });
        givenMaterial = seeded.givenMaterial;
      }
    }
    const openSink = sink;
    /** What both kinds of process close last, in this order: the trail's last digest is signed in the token, before the token closes. */
    const closeTail = async () => {
      await usage.stop();
      await keyPairs.close();
      await openSink.close();
      await token.close();
      await opened.close();
    };

    if (role.kind === 'primary') {
      scheduler.start();
      usage.start();
      return {
        admin,
        capabilities: token.capabilities,
        auditFingerprint: signer.fingerprint,
        givenMaterial,
        logger,
        async stop() {
          await scheduler.stop();
          await closeTail();
        },
      };
    }

    // Signatures are checked against the wall clock the callers sign with, even when tests move the domain clock.
    const handler = new CallHandler({
      services,
      credentials,
      audit,
      regions: servedRegions(config),
      accountId: config.accountId,
      clock: systemClock,
      logger,
      observe: (operation, outcome, seconds) => metrics.requestFinished(operation, outcome, seconds),
    });
    const trail = openSink;
    metrics.attach({
      sessions: () => token.sessionGauges,
      tokenAvailable: () => token.available,
      tokenRecoveries: () => token.recoveries,
      caches: () => [...keys.caches, grantDirectory.cache, credentials.cache].map((c) => c.stats),
      auditBacklog: () => (trail instanceof FileAuditTrail ? trail.backlog : 0),
      keysByState: () => opened.countKeysByState(),
    });
    const readiness = new Readiness({ database: () => opened.ping(), tokenAvailable: () => token.available, tokenCanary: () => sealer.canary() }, systemClock);
    let wasReady = true;
    const operator: OperatorRoutes = {
      ready: async () => {
        const report = await readiness.report();
        if (report.ready !== wasReady) {
          wasReady = report.ready;
          if (report.ready) logger.info('ready again');
          else logger.warn({ failures: report.failures }, 'not ready: /readyz answers 503');
        }
        return report.ready;
      },
      metrics: async () =>
        role.kind === 'worker' ? { contentType: metrics.contentType(), text: await role.clusterMetrics() } : { contentType: metrics.contentType(), text: await metrics.text() },
    };
    if (role.kind === 'worker') metrics.shareWithPrimary();
    const listener = httpRequestListener({ handler, operator, operatorHere: config.operatorPort === undefined });
    const { certFile, keyFile } = config.tls;
    // TLS 1.2 and 1.3 only; the certificate may be a chain.
    const server: Server =
      certFile !== undefined && keyFile !== undefined
        ? createHttpsServer({ cert: await readFile(certFile), key: await readFile(keyFile), minVersion: 'TLSv1.2' }, listener)
        : createServer(listener);
    const port = await listenOn(server, config.port, config.host, 'KMS_PORT');
    const url = serviceUrl(config, port);
    // The operator's routes on a port of their own, when one is set (plain HTTP: they carry no secret).
    const operatorServer = config.operatorPort === undefined ? undefined : createServer(operatorApp(operator));
    if (operatorServer) await listenOn(operatorServer, config.operatorPort!, config.host, 'KMS_OPERATOR_PORT');
    if (runsJobs) scheduler.start();
    usage.start();
    // A worker's primary says it once for all of them.
    if (role.kind === 'standalone') logStartBanner(logger, config, url, { admin, capabilities: token.capabilities, auditFingerprint: signer.fingerprint, workers: 1, givenMaterial });

    return {
      url,
      port,
      admin,
      token,
      store: opened,
      ivs,
      logger,
      audit: { dir: auditDir, publicKey: auditPublicKey },
      runScheduledJobs: () => scheduler.runAll(),
      async stop() {
        await scheduler.stop();
        operatorServer?.close();
        operatorServer?.closeAllConnections();
        // Stop taking requests, let running ones finish (briefly), then drain the token's sessions.
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          setTimeout(() => server.closeAllConnections(), 2_000).unref();
        });
        // A call still running records its event (and its key's last use) before the trail closes.
        await handler.settle(5_000);
        await closeTail();
      },
    };
  } catch (e) {
    await sink?.close();
    await store?.close();
    await token.close();
    throw e;
  }
}
