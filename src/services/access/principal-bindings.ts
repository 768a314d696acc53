import { isBoundArn } from '../../domain/policy/policy.js';
import { rootUniqueId } from '../../domain/principal-arn.js';
import type { PrincipalStore } from './access-ports.js';

type UniqueIds = Pick<PrincipalStore, 'uniqueIdsOf'>;

/**
 * The unique id each named principal has now, as a key policy or grant written
 * now binds to it: a user's or role's from the store, a root's its account.
 * `missing`: users and roles that do not exist in this service (AWS refuses
 * policies and grants naming them).
 */
export async function bindPrincipals(principals: UniqueIds, arns: readonly string[]): Promise<{ ids: Record<string, string>; missing: string[] }> {
  const ids: Record<string, string> = {};
  const bound = arns.filter(isBoundArn);
  const found = await principals.uniqueIdsOf(bound);
  for (const arn of arns) {
    const id = isBoundArn(arn) ? found.get(arn) : rootUniqueId(arn);
    if (id !== undefined) ids[arn] = id;
  }
  return { ids, missing: bound.filter((arn) => !found.has(arn)) };
}

/**
 * How a principal bound to `boundId` reads back (ListGrants, GetKeyPolicy): its
 * ARN while that principal still holds it, its unique id once it was deleted or
 * a namesake took the ARN, as AWS shows them.
 */
export function displayedPrincipal(arn: string, boundId: string | undefined, currentIds: ReadonlyMap<string, string>): string {
  if (!isBoundArn(arn) || boundId === undefined || boundId === NO_PRINCIPAL) return arn;
  return currentIds.get(arn) === boundId ? arn : boundId;
}

/** What a grant made before principals had unique ids binds to when its principal was already gone: no principal. */
export const NO_PRINCIPAL = 'NONE';
