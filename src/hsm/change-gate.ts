/**
 * Serialises changes to a token's objects among the processes that share it.
 *
 * Why: SoftHSMv2 keeps each process's view of the token's objects in memory and
 * re-reads the token folder only when the token's generation counter on disk has
 * moved since it last looked. A process that creates or destroys an object moves
 * the counter and takes the new value as seen, so an object another process made
 * just before stays invisible to it (reproduced: a worker could not find the
 * credential-sealing key another worker had made, until some third change).
 * Under the gate a process first brings its view up to date, then changes the
 * token, and nobody else changes it in between, so no change is ever skipped.
 */
export interface TokenChangeGate {
  /** Runs the work while no other process sharing the token changes its objects. */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
}
