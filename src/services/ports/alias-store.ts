import type { Alias } from '../../domain/key.js';
import type { Page } from './paging.js';

/** Aliases, unique per account. */
export interface AliasStore {
  getAlias(accountId: string, aliasName: string): Promise<Alias | undefined>;
  listAliases(accountId: string, targetKeyId: string | undefined, after: string | undefined, limit: number): Promise<Page<Alias>>;
  /** Throws AlreadyExistsException when the name is taken. */
  createAlias(alias: Alias): Promise<void>;
  updateAlias(accountId: string, aliasName: string, targetKeyId: string, at: Date): Promise<void>;
  /** False when there was no such alias. */
  deleteAlias(accountId: string, aliasName: string): Promise<boolean>;
}
