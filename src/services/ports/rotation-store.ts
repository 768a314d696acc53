import type { KeyMaterialRef } from '../../domain/key.js';
import type { Page } from './paging.js';

export type RotationType = 'AUTOMATIC' | 'ON_DEMAND';

export interface RotationStatus {
  readonly enabled: boolean;
  readonly periodDays: number;
  readonly nextRotationDate: Date | undefined;
  readonly onDemandStartedAt: Date | undefined;
}

/** One rotation: the key version it created. */
export interface KeyRotation {
  readonly keyId: string;
  readonly version: number;
  readonly rotationDate: Date;
  readonly rotationType: RotationType;
}

/** Rotation settings, leases and the key versions rotations make. */
export interface RotationStore {
  getRotationStatus(keyId: string): Promise<RotationStatus | undefined>;
  setRotation(keyId: string, enabled: boolean, periodDays: number, nextRotationDate: Date | undefined): Promise<void>;
  /** Keys whose automatic rotation is due and whose lease is free. */
  listKeysDueForRotation(now: Date, limit: number): Promise<string[]>;
  /**
   * Takes the key's rotation lease until now + leaseMs, so that one instance
   * rotates a key once. Automatic: only while the rotation is due. False when
   * another instance holds the lease or (automatic) the rotation is no longer due.
   */
  acquireRotationLease(keyId: string, now: Date, leaseMs: number, type: RotationType): Promise<boolean>;
  // (Never for a multi-Region replica: a key that became one since it was read gets no lease.)
  releaseRotationLease(keyId: string): Promise<void>;
  /**
   * Records a new version that is not yet usable (its token object may not exist
   * yet) and returns its number: one never handed out for the key (or any region
   * of a multi-Region key) before, so no two attempts ever name one token object.
   */
  insertProvisioningVersion(keyId: string, at: Date, type: RotationType): Promise<number>;
  /**
   * Makes the version current (in each region of a multi-Region key), moves the
   * next rotation date and frees the lease, in one transaction. False, and
   * nothing changed, when the version is no longer being made (recovery took it).
   */
  commitKeyVersion(keyId: string, version: number, nextRotationDate: Date | undefined): Promise<boolean>;
  /** Versions whose creation never completed and whose rotation lease has expired: left by a crash. */
  listProvisioningVersions(now: Date): Promise<KeyMaterialRef[]>;
  /** The version will never be made: it stays as a tombstone (its number is not handed out again, its object is destroyed with the key), and the lease is freed. */
  abandonProvisioningVersion(ref: KeyMaterialRef): Promise<void>;
  listRotations(keyId: string, afterVersion: number, limit: number): Promise<Page<KeyRotation>>;
}
