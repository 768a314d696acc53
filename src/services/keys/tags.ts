import { TagException } from '../../domain/errors.js';
import type { Tag } from '../../domain/key.js';
import { assertNotPendingDeletion } from '../../domain/key-state-rules.js';
import type { CallContext } from '../context.js';
import type { Authorizer } from '../access/authorizer.js';
import type { KeyDirectory } from './key-directory.js';
import { requestTagConditions } from '../../domain/policy/request-conditions.js';
import type { TagStore } from '../ports/index.js';

export const MAX_TAGS_PER_KEY = 50;

/** AWS reserves the aws: prefix; one request may not name a tag key twice. */
export function validateTags(tags: readonly Tag[]): Tag[] {
  const seen = new Set<string>();
  for (const t of tags) {
    if (t.TagKey.toLowerCase().startsWith('aws:')) throw new TagException(`Tag keys beginning with aws: are reserved: ${t.TagKey}`);
    if (seen.has(t.TagKey)) throw new TagException(`Duplicate tag key ${t.TagKey}`);
    seen.add(t.TagKey);
  }
  return [...tags];
}

export class TagService {
  constructor(
    private readonly store: TagStore,
    private readonly keys: KeyDirectory,
    private readonly access: Authorizer,
  ) {}

  async tagResource(ctx: CallContext, keyId: string, tags: readonly Tag[]): Promise<void> {
    const valid = validateTags(tags);
    const key = await this.access.useKey(ctx, keyId, false, { action: 'TagResource', extra: requestTagConditions(valid) });
    assertNotPendingDeletion(key);
    await this.store.putTags(key.keyId, valid, MAX_TAGS_PER_KEY);
    this.keys.forgetKey(key.keyId);
  }

  async untagResource(ctx: CallContext, keyId: string, tagKeys: readonly string[]): Promise<void> {
    const extra = new Map(tagKeys.length > 0 ? [['aws:tagkeys', [...tagKeys]]] : []);
    const key = await this.access.useKey(ctx, keyId, false, { action: 'UntagResource', extra });
    assertNotPendingDeletion(key);
    await this.store.removeTags(key.keyId, tagKeys);
    this.keys.forgetKey(key.keyId);
  }

  async listResourceTags(ctx: CallContext, keyId: string): Promise<Tag[]> {
    const key = await this.access.useKey(ctx, keyId, false, { action: 'ListResourceTags' });
    return this.store.listTags(key.keyId);
  }
}
