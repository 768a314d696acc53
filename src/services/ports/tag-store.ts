import type { Tag } from '../../domain/key.js';

/** The tags of keys. */
export interface TagStore {
  listTags(keyId: string): Promise<Tag[]>;
  /** Adds or overwrites tags; throws LimitExceededException above maxTags in all. */
  putTags(keyId: string, tags: readonly Tag[], maxTags: number): Promise<void>;
  removeTags(keyId: string, tagKeys: readonly string[]): Promise<void>;
}
