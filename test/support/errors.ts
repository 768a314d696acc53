import { expect } from 'vitest';

/** Awaits a call that must fail with the named AWS error, and returns the error. */
export async function expectAwsError(call: Promise<unknown>, name: string): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  let caught: unknown;
  try {
    await call;
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${name}`).toBeInstanceOf(Error);
  expect((caught as Error).name).toBe(name);
  return caught as Error;
}
