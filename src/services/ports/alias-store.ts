import type { Scope } from '../../domain/arn.js';
import type { Alias } from '../../domain/key.js';
import type { Page } from './paging.js';

/** Aliases, unique per account and region (each region's aliases are apart, as in AWS). */
export interface AliasStore {
  getAlias(scope: Scope, aliasName: string): Promise<Alias | undefined>;
  listAliases(scope: Scope, targetKeyId: string | undefined, after: string | undefined, limit: number): Promise<Page<Alias>>;
  /** Throws AlreadyExistsException when the name is taken in the alias's account and region. */
  createAlias(alias: Alias): Promise<void>;
  updateAlias(scope: Scope, aliasName: string, targetKeyId: string, at: Date): Promise<void>;
  /** False when there was no such alias. */
  deleteAlias(scope: Scope, aliasName: string): Promise<boolean>;
}
