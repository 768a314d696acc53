import type { Logger } from 'pino';
import { CallRecord } from '../../audit/call-record.js';
import type { SeedKeySpec } from '../../config/seed-file.js';
import { rootArn } from '../../domain/principal-arn.js';
import type { CallContext } from '../context.js';
import type { AliasService } from './alias-service.js';
import type { KeyAdmin } from './key-admin.js';
import type { KeyDirectory } from './key-directory.js';
import type { KeyPolicies } from './key-policies.js';
import type { KeyRotator } from './key-rotation.js';
import type { TagService } from './tags.js';

export interface SeedOutcome {
  readonly created: number;
  readonly changed: number;
}

/** Every quota counts as charged already: seeding is the operator's own start-up work, no caller's request. */
class AllCharged extends Set<string> {
  override has(): boolean {
    return true;
  }
}

/**
 * Applies the seed file's keys through the use cases, as their operator (the
 * account root): a key missing is created with its fixed id; one present is
 * reconciled (description, tags, policy, aliases, rotation) to what the file
 * says. Keys not in the file are left alone. Applying the same file again
 * changes nothing.
 */
export class KeySeeder {
  constructor(
    private readonly services: {
      readonly keyAdmin: KeyAdmin;
      readonly keys: KeyDirectory;
      readonly aliases: AliasService;
      readonly tags: TagService;
      readonly keyPolicies: KeyPolicies;
      readonly rotation: KeyRotator;
    },
    private readonly accountId: string,
    private readonly region: string,
    private readonly logger: Logger,
  ) {}

  private context(): CallContext {
    return {
      requestId: 'seed',
      principal: { accountId: this.accountId, arn: rootArn(this.accountId), uniqueId: this.accountId, accessKeyId: 'seed', identityPolicies: [], operator: true },
      scope: { accountId: this.accountId, region: this.region },
      request: { sourceIp: undefined, secureTransport: true, grantTokens: [] },
      record: new CallRecord(),
      quotasCharged: new AllCharged(),
    };
  }

  async apply(keys: readonly SeedKeySpec[]): Promise<SeedOutcome> {
    let created = 0;
    let changed = 0;
    const s = this.services;
    for (const spec of keys) {
      const policy = spec.policy === undefined ? undefined : typeof spec.policy === 'string' ? spec.policy : JSON.stringify(spec.policy);
      const tags = Object.entries(spec.tags ?? {}).map(([TagKey, TagValue]) => ({ TagKey, TagValue }));
      const key = await s.keys.get(spec.id);
      let touched = false;
      if (!key) {
        await s.keyAdmin.createKey(this.context(), { keyId: spec.id, description: spec.description, keySpec: spec.keySpec, keyUsage: spec.keyUsage, policy, tags });
        created++;
      } else {
        if (spec.description !== undefined && spec.description !== key.description) {
          await s.keyAdmin.updateKeyDescription(this.context(), spec.id, spec.description);
          touched = true;
        }
        const current = new Map((await s.tags.listResourceTags(this.context(), spec.id)).map((t) => [t.TagKey, t.TagValue]));
        const differing = tags.filter((t) => current.get(t.TagKey) !== t.TagValue);
        if (differing.length > 0) {
          await s.tags.tagResource(this.context(), spec.id, differing);
          touched = true;
        }
        if (policy !== undefined && !sameJson(policy, key.policy)) {
          await s.keyPolicies.putKeyPolicy(this.context(), spec.id, 'default', policy, false);
          touched = true;
        }
      }
      for (const alias of spec.aliases ?? []) {
        const target = await s.aliases.targetOf(this.context(), alias);
        if (target === spec.id) continue;
        if (target === undefined) await s.aliases.createAlias(this.context(), alias, spec.id);
        else await s.aliases.updateAlias(this.context(), alias, spec.id);
        touched = true;
      }
      if (spec.rotation) {
        const { status } = await s.rotation.getKeyRotationStatus(this.context(), spec.id);
        const period = spec.rotation.periodDays ?? status.periodDays;
        if (spec.rotation.enabled && (!status.enabled || status.periodDays !== period)) {
          await s.rotation.enableKeyRotation(this.context(), spec.id, spec.rotation.periodDays);
          touched = true;
        } else if (!spec.rotation.enabled && status.enabled) {
          await s.rotation.disableKeyRotation(this.context(), spec.id);
          touched = true;
        }
      }
      if (touched && key) changed++;
    }
    if (created + changed > 0) this.logger.info({ created, changed }, 'the seed file was applied');
    return { created, changed };
  }
}

function sameJson(a: string, b: string): boolean {
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return a === b;
  }
}
