/** The metrics options shared by Pool and ResourcePool, and their validation. */
import { describe } from '../validate';

/** Longest `name` accepted: a label value, not a document. */
const MAX_NAME = 200;

/** `name`: a non-empty string (what the `pool` label of every metric says), or a TypeError naming the key. */
export function checkMetricsName(key: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME) {
    throw new TypeError(`${key} must be a non-empty string of at most ${MAX_NAME} characters, got ${describe(value)}`);
  }
  return value;
}
