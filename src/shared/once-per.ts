/**
 * `OncePer`: lets a key through at most once per interval (the `capReached` events' rate
 * limit). Its memory is bounded: past `limit` keys, those whose interval has passed are
 * forgotten.
 */
import { performance } from 'node:perf_hooks';

export class OncePer {
  readonly #intervalMs: number;
  readonly #limit: number;
  readonly #last = new Map<string, number>();

  constructor(intervalMs: number, limit = 1024) {
    this.#intervalMs = intervalMs;
    this.#limit = limit;
  }

  /** True when `key` was not let through within the interval (and notes it now). */
  pass(key: string): boolean {
    const now = performance.now();
    const last = this.#last.get(key);
    if (last !== undefined && now - last < this.#intervalMs) return false;
    if (last === undefined && this.#last.size >= this.#limit) {
      for (const [k, at] of this.#last) if (now - at >= this.#intervalMs) this.#last.delete(k);
    }
    this.#last.set(key, now);
    return true;
  }
}
