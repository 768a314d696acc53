import { constants, createPublicKey, publicEncrypt } from 'node:crypto';
import type { Logger } from 'pino';
import { ADMIN_EVENT_SOURCE, KMS_EVENT_SOURCE } from '../../audit/event.js';
import type { SeedDocument, SeedGrantSpec, SeedKeySpec, SeedPrincipalSpec } from '../../config/seed-file.js';
import { grantMatches, type Grant } from '../../domain/grant.js';
import { KeyState } from '../../domain/key.js';
import type { GrantService } from '../access/grant-service.js';
import type { PrincipalAdmin } from '../access/principal-admin.js';
import type { AliasService } from '../keys/alias-service.js';
import type { KeyAdmin } from '../keys/key-admin.js';
import type { KeyDirectory } from '../keys/key-directory.js';
import type { KeyImporter } from '../keys/key-import.js';
import type { KeyPolicies } from '../keys/key-policies.js';
import type { KeyRotator } from '../keys/key-rotation.js';
import type { TagService } from '../keys/tags.js';
import type { SeedCalls } from './seed-calls.js';

export interface SeedOutcome {
  /** Principals, keys and grants made. */
  readonly created: number;
  /** Principals, keys and grants brought to what the file says. */
  readonly changed: number;
  /** The keys whose material the file gives (development only): the start banner names them. */
  readonly givenMaterial: readonly string[];
}

export interface SeedServices {
  readonly keyAdmin: KeyAdmin;
  readonly keys: KeyDirectory;
  readonly aliases: AliasService;
  readonly tags: TagService;
  readonly keyPolicies: KeyPolicies;
  readonly rotation: KeyRotator;
  readonly imports: KeyImporter;
  readonly grants: GrantService;
  readonly principals: PrincipalAdmin;
}

/**
 * Applies a checked seed file (see checkSeed) through the use cases, as their
 * operator: principals first (their access keys and identity policies), then
 * keys (made with their fixed ids, or reconciled: description, tags, policy,
 * aliases, rotation, given material), then each key's grants, recognised by
 * name. What is not in the file is left alone; applying the same file again
 * changes nothing and records nothing.
 */
export class Seeder {
  private created = 0;
  private changed = 0;

  constructor(
    private readonly services: SeedServices,
    private readonly calls: SeedCalls,
    private readonly logger: Logger,
  ) {}

  async apply(doc: SeedDocument): Promise<SeedOutcome> {
    this.created = this.changed = 0;
    for (const principal of doc.seed.principals) await this.principal(principal);
    for (const key of doc.seed.keys) await this.key(key);
    for (const key of doc.seed.keys) await this.grants(key);
    const givenMaterial = doc.seed.keys.filter((k) => k.material !== undefined).map((k) => k.id);
    const outcome = { created: this.created, changed: this.changed, givenMaterial };
    if (this.created + this.changed > 0) this.logger.info({ created: this.created, changed: this.changed }, 'the seed file was applied');
    return outcome;
  }

  private count(made: boolean, touched: boolean): void {
    if (made) this.created++;
    else if (touched) this.changed++;
  }

  private async principal(spec: SeedPrincipalSpec): Promise<void> {
    const { principals } = this.services;
    const arn = spec.arn;
    const exists = (await principals.listPrincipals(this.calls.context(), arnAccount(arn))).some((p) => p.arn === arn);
    if (!exists) await this.calls.change(ADMIN_EVENT_SOURCE, 'CreatePrincipal', { arn }, (ctx) => principals.createPrincipal(ctx, arn));
    let touched = false;
    for (const key of spec.accessKeys) {
      // The event names the access key, never its secret.
      const put = await this.calls.changeIf(ADMIN_EVENT_SOURCE, 'PutFixedAccessKey', { accessKeyId: key.id, principalArn: arn }, async (ctx) => {
        return (await principals.putFixedAccessKey(ctx, arn, key.id, key.secret)) !== 'unchanged';
      });
      touched ||= put;
    }
    const held = new Map((await principals.listIdentityPolicies(this.calls.context(), arn)).map((p) => [p.policyName, p.document]));
    for (const [policyName, document] of Object.entries(spec.policies)) {
      if (sameJson(document, held.get(policyName))) continue;
      await this.calls.change(ADMIN_EVENT_SOURCE, 'PutPrincipalPolicy', { arn, policyName }, (ctx) => principals.putIdentityPolicy(ctx, arn, { policyName, document }));
      touched = true;
    }
    this.count(!exists, touched);
  }

  private async key(spec: SeedKeySpec): Promise<void> {
    const s = this.services;
    const keyId = spec.id;
    const tags = Object.entries(spec.tags ?? {}).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
    let key = await s.keys.get(keyId);
    const made = !key;
    let touched = false;
    if (!key) {
      const request = { keyId, description: spec.description, keySpec: spec.keySpec, keyUsage: spec.keyUsage, origin: spec.material === undefined ? 'AWS_KMS' : 'EXTERNAL', policy: spec.policy, tags };
      const { policy: _policy, ...recorded } = request;
      key = await this.calls.change(KMS_EVENT_SOURCE, 'CreateKey', recorded, (ctx) => s.keyAdmin.createKey(ctx, request));
    } else {
      if (spec.description !== undefined && spec.description !== key.description) {
        await this.calls.change(KMS_EVENT_SOURCE, 'UpdateKeyDescription', { keyId, description: spec.description }, (ctx) => s.keyAdmin.updateKeyDescription(ctx, keyId, spec.description!));
        touched = true;
      }
      const current = new Map((await s.tags.listResourceTags(this.calls.context(), keyId)).map((t) => [t.TagKey, t.TagValue]));
      const differing = tags.filter((t) => current.get(t.TagKey) !== t.TagValue);
      if (differing.length > 0) {
        await this.calls.change(KMS_EVENT_SOURCE, 'TagResource', { keyId, tags: differing }, (ctx) => s.tags.tagResource(ctx, keyId, differing));
        touched = true;
      }
      if (spec.policy !== undefined && !sameJson(spec.policy, key.policy)) {
        await this.calls.change(KMS_EVENT_SOURCE, 'PutKeyPolicy', { keyId, policyName: 'default' }, (ctx) => s.keyPolicies.putKeyPolicy(ctx, keyId, 'default', spec.policy!, false));
        touched = true;
      }
    }
    // A new key, or one whose import a crash (or a deletion of its material) left waiting.
    if (spec.material !== undefined && (made || key.keyState === KeyState.PendingImport)) {
      await this.importMaterial(keyId, Buffer.from(spec.material, 'base64'));
      touched = true;
    }
    for (const alias of spec.aliases ?? []) {
      const target = await s.aliases.targetOf(this.calls.context(), alias);
      if (target === keyId) continue;
      const eventName = target === undefined ? 'CreateAlias' : 'UpdateAlias';
      await this.calls.change(KMS_EVENT_SOURCE, eventName, { aliasName: alias, targetKeyId: keyId }, (ctx) =>
        target === undefined ? s.aliases.createAlias(ctx, alias, keyId) : s.aliases.updateAlias(ctx, alias, keyId),
      );
      touched = true;
    }
    if (spec.rotation) {
      const { status } = await s.rotation.getKeyRotationStatus(this.calls.context(), keyId);
      const period = spec.rotation.periodDays ?? status.periodDays;
      if (spec.rotation.enabled && (!status.enabled || status.periodDays !== period)) {
        await this.calls.change(KMS_EVENT_SOURCE, 'EnableKeyRotation', { keyId, rotationPeriodInDays: period }, (ctx) => s.rotation.enableKeyRotation(ctx, keyId, period));
        touched = true;
      } else if (!spec.rotation.enabled && status.enabled) {
        await this.calls.change(KMS_EVENT_SOURCE, 'DisableKeyRotation', { keyId }, (ctx) => s.rotation.disableKeyRotation(ctx, keyId));
        touched = true;
      }
    }
    this.count(made, touched);
  }

  /**
   * BYOK with material the file gives: wrapped here under the token's one-use
   * wrapping key and unwrapped by the token into a non-extractable object. The
   * material is in the file already, so OAEP with SHA-1 (which every token here
   * can unwrap, SoftHSM included) protects nothing less than the file does.
   */
  private async importMaterial(keyId: string, material: Buffer): Promise<void> {
    const { imports } = this.services;
    const wrapping = { keyId, wrappingAlgorithm: 'RSAES_OAEP_SHA_1', wrappingKeySpec: 'RSA_2048' } as const;
    const params = await this.calls.change(KMS_EVENT_SOURCE, 'GetParametersForImport', wrapping, (ctx) => imports.getParametersForImport(ctx, keyId, wrapping.wrappingAlgorithm, wrapping.wrappingKeySpec));
    const publicKey = createPublicKey({ key: params.publicKey, format: 'der', type: 'spki' });
    const encryptedKeyMaterial = publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, material);
    material.fill(0);
    await this.calls.change(KMS_EVENT_SOURCE, 'ImportKeyMaterial', { keyId, expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }, (ctx) =>
      imports.importKeyMaterial(ctx, { keyId, importToken: params.importToken, encryptedKeyMaterial, expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
    );
  }

  /** Each grant by its name: one that differs from the file is revoked and made again as the file says. */
  private async grants(spec: SeedKeySpec): Promise<void> {
    if (spec.grants.length === 0) return;
    const { grants } = this.services;
    const keyId = spec.id;
    const held: Grant[] = [];
    for (let after: string | undefined, first = true; first || after !== undefined; first = false) {
      const page = await grants.listGrants(this.calls.context(), keyId, {}, after, 100);
      held.push(...page.items);
      after = page.next;
    }
    for (const grant of spec.grants) {
      const wanted = asRequest(keyId, grant);
      const named = held.filter((g) => g.name === grant.name);
      if (named.some((g) => grantMatches(g, wanted))) continue;
      for (const old of named) {
        await this.calls.change(KMS_EVENT_SOURCE, 'RevokeGrant', { keyId, grantId: old.grantId }, (ctx) => grants.revokeGrant(ctx, keyId, old.grantId, false));
      }
      const { keyId: _key, ...recorded } = wanted;
      await this.calls.change(KMS_EVENT_SOURCE, 'CreateGrant', { keyId, ...recorded }, (ctx) => grants.createGrant(ctx, wanted));
      this.count(named.length === 0, named.length > 0);
    }
  }
}

function asRequest(keyId: string, grant: SeedGrantSpec) {
  return { keyId, name: grant.name, granteePrincipal: grant.grantee, retiringPrincipal: grant.retiringPrincipal, operations: grant.operations, constraints: grant.constraints };
}

function arnAccount(arn: string): string {
  return arn.split(':')[4]!;
}

function sameJson(a: string, b: string | undefined): boolean {
  if (b === undefined) return false;
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return a === b;
  }
}
