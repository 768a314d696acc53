import { keyArn, type Scope } from '../../domain/arn.js';
import { KmsError } from '../../domain/errors.js';
import { checkGrantRequest } from '../../domain/grant.js';
import { KeyState, type KmsKey } from '../../domain/key.js';
import { checkSpecAndUsage, keyFamily } from '../../domain/key-spec.js';
import { materialCheckValue } from '../../domain/material-check.js';
import { Policy } from '../../domain/policy/policy.js';
import type { SeedDocument, SeedKeySpec } from '../../config/seed-file.js';
import type { PrincipalStore } from '../access/access-ports.js';
import type { Authorizer } from '../access/authorizer.js';
import { MAX_ACCESS_KEYS } from '../access/principal-admin.js';
import { bindPrincipals } from '../access/principal-bindings.js';
import type { AliasService } from '../keys/alias-service.js';
import type { KeyDirectory } from '../keys/key-directory.js';
import { assertRotatable } from '../keys/key-rotation.js';
import { MAX_TAGS_PER_KEY, validateTags, type TagService } from '../keys/tags.js';
import type { ImportStore } from '../ports/index.js';
import type { SeedCalls } from './seed-calls.js';

/** What the check reads of the service's state; it changes nothing. */
export interface SeedState {
  readonly keys: Pick<KeyDirectory, 'get'>;
  readonly principals: Pick<PrincipalStore, 'getAccessKey' | 'listAccessKeys' | 'uniqueIdsOf'>;
  readonly materials: Pick<ImportStore, 'listImportedMaterial'>;
  readonly access: Pick<Authorizer, 'assertPolicyKeepsCaller'>;
  readonly tags: Pick<TagService, 'listResourceTags'>;
  readonly aliases: Pick<AliasService, 'targetOf'>;
}

/** Stands for a principal the file declares and the store does not have yet: bound when it is made. */
const DECLARED = 'SEED-DECLARED';

/**
 * Checks the whole seed file against the service before anything of it is
 * applied: every call the seeder will make must then succeed, short of a device
 * or database failure (after which the next start, applying again, finishes the
 * work). The first problem is thrown as a SeedFileError naming its line.
 */
export async function checkSeed(doc: SeedDocument, state: SeedState, calls: SeedCalls, options: { readonly development: boolean }): Promise<void> {
  const { seed } = doc;
  const ctx = calls.context();
  const declared = new Set(seed.principals.map((p) => p.arn));
  /** Turns an AWS error from a domain rule into the file's problem at this path. */
  const at = async <T>(path: Array<string | number>, check: () => T | Promise<T>): Promise<T> => {
    try {
      return await check();
    } catch (e) {
      if (e instanceof KmsError) throw doc.problem(path, `${e.awsName}: ${e.message}`);
      throw e;
    }
  };
  const missingPrincipals = async (path: Array<string | number>, arns: readonly string[]) => {
    const { ids, missing } = await bindPrincipals(state.principals, arns);
    const absent = missing.filter((arn) => !declared.has(arn));
    if (absent.length > 0) throw doc.problem(path, `${absent[0]} is neither in the service nor declared under principals`);
    for (const arn of missing) ids[arn] = DECLARED;
    return ids;
  };

  for (const [i, p] of seed.principals.entries()) {
    for (const [name, document] of Object.entries(p.policies)) await at(['principals', i, 'policies', name], () => Policy.parse(document, 'identity', 'new'));
    const held = await state.principals.listAccessKeys(p.arn);
    for (const [j, key] of p.accessKeys.entries()) {
      const owner = (await state.principals.getAccessKey(key.id))?.principalArn;
      if (owner !== undefined && owner !== p.arn) throw doc.problem(['principals', i, 'accessKeys', j, 'id'], `access key ${key.id} belongs to ${owner}`);
    }
    const kept = held.filter((k) => !p.accessKeys.some((s) => s.id === k.accessKeyId)).length;
    if (kept + p.accessKeys.length > MAX_ACCESS_KEYS) {
      throw doc.problem(['principals', i, 'accessKeys'], `${p.arn} would have ${kept + p.accessKeys.length} access keys (${kept} made by hand), more than ${MAX_ACCESS_KEYS}`);
    }
  }

  for (const [i, spec] of seed.keys.entries()) {
    const path = ['keys', i];
    const { keySpec, keyUsage } = await at([...path, spec.keySpec !== undefined ? 'keySpec' : 'keyUsage'], () =>
      checkSpecAndUsage(spec.keySpec ?? 'SYMMETRIC_DEFAULT', spec.keyUsage),
    );
    const origin = spec.material === undefined ? 'AWS_KMS' : 'EXTERNAL';
    if (spec.material !== undefined && !options.development) throw doc.problem([...path, 'material'], 'given key material is for development only (KMS_PROFILE=development)');
    const existing = await state.keys.get(spec.id);
    const key: KmsKey = existing ?? provisionalKey(spec, ctx.scope, keySpec, keyUsage, origin);
    if (existing) {
      // The seed's keys are the default region's, in the service's account: a key of that id elsewhere is another key.
      if (existing.region !== ctx.scope.region || existing.accountId !== ctx.scope.accountId) {
        throw doc.problem(path, `key ${spec.id} exists in ${existing.accountId} ${existing.region}; the seed file's keys are made in ${ctx.scope.accountId} ${ctx.scope.region}`);
      }
      if (existing.keySpec !== keySpec || existing.keyUsage !== keyUsage || existing.origin !== origin) {
        throw doc.problem(path, `key ${spec.id} exists as ${existing.keySpec} ${existing.keyUsage} with origin ${existing.origin}, the file says ${keySpec} ${keyUsage} with origin ${origin}; these never change: schedule the key's deletion or change the file`);
      }
      if (existing.keyState === KeyState.PendingDeletion) throw doc.problem(path, `key ${spec.id} is pending deletion: cancel its deletion or take it out of the file`);
      if (spec.material !== undefined) {
        // The seed's material is the key's first (later materials come from rotations of imported keys).
        const recorded = (await state.materials.listImportedMaterial(spec.id)).find((m) => m.version === 1)?.check;
        if (recorded && !recorded.equals(materialCheckValue(Buffer.from(spec.material, 'base64')))) {
          throw doc.problem([...path, 'material'], `differs from the material key ${spec.id} already has; a key's material never changes`);
        }
      }
    }
    if (spec.rotation?.enabled) await at([...path, 'rotation'], () => assertRotatable(key));
    const tags = await at([...path, 'tags'], () => validateTags(Object.entries(spec.tags ?? {}).map(([TagKey, TagValue]) => ({ TagKey, TagValue }))));
    const held = existing ? await state.tags.listResourceTags(ctx, spec.id) : [];
    const total = new Set([...held.map((t) => t.TagKey), ...tags.map((t) => t.TagKey)]).size;
    if (total > MAX_TAGS_PER_KEY) throw doc.problem([...path, 'tags'], `the key would have ${total} tags, more than ${MAX_TAGS_PER_KEY}`);
    if (spec.policy !== undefined) {
      const policyPath = [...path, 'policy'];
      const parsed = await at(policyPath, () => Policy.parse(spec.policy!, 'key', 'new'));
      const ids = await missingPrincipals(policyPath, parsed.namedPrincipals);
      await at(policyPath, () => state.access.assertPolicyKeepsCaller(ctx, key, parsed.bound(ids)));
    }
    for (const [j, alias] of (spec.aliases ?? []).entries()) {
      const target = await state.aliases.targetOf(ctx, alias);
      const current = target === undefined || target === spec.id ? undefined : await state.keys.get(target);
      if (current && (keyFamily(current.keySpec) !== keyFamily(keySpec) || current.keyUsage !== keyUsage)) {
        throw doc.problem([...path, 'aliases', j], `${alias} names ${current.keyId}, a ${keyFamily(current.keySpec)} ${current.keyUsage} key: an alias moves only to a key of the same type and key usage`);
      }
    }
    for (const [j, grant] of spec.grants.entries()) {
      const grantPath = [...path, 'grants', j];
      await missingPrincipals(grantPath, grant.retiringPrincipal === undefined ? [grant.grantee] : [grant.grantee, grant.retiringPrincipal]);
      await at(grantPath, () => checkGrantRequest(key, grant.operations, grant.constraints));
    }
  }
}

/** The key the file describes, as it will be made: what the checks of its policy and grants see. */
function provisionalKey(spec: SeedKeySpec, scope: Scope, keySpec: KmsKey['keySpec'], keyUsage: KmsKey['keyUsage'], origin: KmsKey['origin']): KmsKey {
  return {
    keyId: spec.id,
    accountId: scope.accountId,
    region: scope.region,
    arn: keyArn(scope, spec.id),
    description: spec.description ?? '',
    keyUsage,
    keySpec,
    origin,
    keyState: origin === 'EXTERNAL' ? KeyState.PendingImport : KeyState.Enabled,
    creationDate: new Date(),
    deletionDate: undefined,
    pendingDeletionWindowInDays: undefined,
    currentVersion: 1,
    policy: '',
    policyPrincipals: {},
  };
}
