import { timingSafeEqual } from 'node:crypto';
import { dryRunSucceeded, InvalidKeyUsageException, KMSInvalidMacException } from '../../domain/errors.js';
import type { KmsKey } from '../../domain/key.js';
import { HMAC_SPECS, isHmacSpec, type MacAlgorithm } from '../../domain/key-spec.js';
import { assertUsableForCrypto } from '../../domain/key-state-rules.js';
import type { CallContext } from '../context.js';
import type { Authorizer } from '../access/authorizer.js';
import type { KeyVault } from '../ports/index.js';

export interface MacRequest {
  readonly keyId: string;
  readonly message: Buffer;
  readonly macAlgorithm: MacAlgorithm;
  readonly dryRun?: boolean;
}

/** GenerateMac and VerifyMac: the HMAC key never leaves the token; the MAC is computed there. */
export class MacService {
  constructor(
    private readonly access: Authorizer,
    private readonly vault: KeyVault,
  ) {}

  async generateMac(ctx: CallContext, req: MacRequest): Promise<{ key: KmsKey; mac: Buffer }> {
    const key = await this.macKey(ctx, req, 'GenerateMac');
    const mac = await this.vault.mac({ keyId: key.keyId, version: key.currentVersion }, req.macAlgorithm, req.message);
    ctx.record.usedKeyMaterial(key.keyId, key.currentVersion);
    return { key, mac };
  }

  async verifyMac(ctx: CallContext, req: MacRequest & { readonly mac: Buffer }): Promise<KmsKey> {
    const key = await this.macKey(ctx, req, 'VerifyMac');
    const expected = await this.vault.mac({ keyId: key.keyId, version: key.currentVersion }, req.macAlgorithm, req.message);
    ctx.record.usedKeyMaterial(key.keyId, key.currentVersion);
    // Constant time, and a MAC of the wrong length fails the same way.
    const same = expected.length === req.mac.length && timingSafeEqual(expected, req.mac);
    if (!same) throw new KMSInvalidMacException('The MAC does not verify with this key, message and algorithm.');
    return key;
  }

  private async macKey(ctx: CallContext, req: MacRequest, action: 'GenerateMac' | 'VerifyMac'): Promise<KmsKey> {
    const key = await this.access.useKey(ctx, req.keyId, true, { action, extra: new Map([['kms:macalgorithm', [req.macAlgorithm]]]) });
    assertUsableForCrypto(key);
    if (key.keyUsage !== 'GENERATE_VERIFY_MAC' || !isHmacSpec(key.keySpec)) {
      throw new InvalidKeyUsageException(`${key.arn} key usage is ${key.keyUsage} which is not valid for GenerateMac or VerifyMac.`);
    }
    if (HMAC_SPECS[key.keySpec].macAlgorithm !== req.macAlgorithm) {
      throw new InvalidKeyUsageException(`${key.arn} has KeySpec ${key.keySpec}, which supports ${HMAC_SPECS[key.keySpec].macAlgorithm}, not ${req.macAlgorithm}.`);
    }
    if (req.dryRun) throw dryRunSucceeded();
    return key;
  }
}
