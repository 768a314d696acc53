import type { CredentialDirectory, Principal } from './ports.js';

/** Credentials held in memory: for now the bootstrap administrator, the account's root. */
export class StaticCredentials implements CredentialDirectory {
  private readonly byId = new Map<string, { secretAccessKey: string; principal: Principal }>();

  add(accessKeyId: string, secretAccessKey: string, principal: Omit<Principal, 'accessKeyId'>): void {
    this.byId.set(accessKeyId, { secretAccessKey, principal: { ...principal, accessKeyId } });
  }

  lookup(accessKeyId: string) {
    return this.byId.get(accessKeyId);
  }
}
