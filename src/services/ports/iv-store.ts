/** The sequence of AES-GCM IV fixed fields: each handed out once, ever. */
export interface IvStore {
  /** A fixed field for deterministic GCM IVs that no instance has had before. */
  allocateIvInstance(): Promise<number>;
  /** The highest fixed field handed out so far (0 before the first). */
  lastIvInstance(): Promise<number>;
  /** Makes the next fixed field handed out greater than `fixedField` (recovery after a restore). */
  advanceIvInstancesPast(fixedField: number): Promise<void>;
}
