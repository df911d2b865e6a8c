/**
 * Queued acquires by token. The pool hands the engine the token of the next entry before it
 * knows whether the acquire will wait, and finds the entry again from the token the engine
 * returns: an array slot plus a generation, so that an event about a waiter that already left
 * (an abort racing its timeout) can never reach the waiter now in the same slot. Cheaper than
 * a Map, whose inserts, lookups and rehashing were a tenth of a contended acquire.
 */

/** Slots per generation step: at most this many waiters at once. */
const SLOTS = 2 ** 21;
/**
 * A token's slot is its low 21 bits. Tokens exceed int32, but a bitwise `&` truncates to the
 * low 32 bits first, which keeps the slot (2^21 divides 2^32) and compiles to a few
 * instructions, where `token % SLOTS` on a double is a call into the C library's fmod.
 */
const SLOT_MASK = SLOTS - 1;
/** Generations wrap here, keeping tokens exact as doubles (< 2^52). */
const GENERATIONS = 2 ** 31;

export class WaiterTable<T> {
  readonly #entries: (T | undefined)[] = [];
  readonly #generations: number[] = [];
  readonly #tokens: number[] = [];
  readonly #free: number[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** The token the next `add` will use. */
  nextToken(): number {
    const free = this.#free;
    if (free.length > 0) {
      const slot = free[free.length - 1]!;
      const generation = this.#generations[slot]! + 1;
      return (generation < GENERATIONS ? generation : 0) * SLOTS + slot;
    }
    return this.#entries.length;
  }

  /** Stores `entry` under `nextToken()`, which it returns. */
  add(entry: T): number {
    const token = this.nextToken();
    if (this.#free.length > 0) {
      const slot = this.#free.pop()!;
      this.#entries[slot] = entry;
      this.#generations[slot] = (token - slot) / SLOTS;
      this.#tokens[slot] = token;
    } else {
      if (token >= SLOTS) throw new RangeError(`more than ${SLOTS} acquires waiting at once`);
      this.#entries.push(entry);
      this.#generations.push(0);
      this.#tokens.push(token);
    }
    this.#size++;
    return token;
  }

  get(token: number): T | undefined {
    const slot = token & SLOT_MASK;
    return this.#tokens[slot] === token ? this.#entries[slot] : undefined;
  }

  /** Removes and returns the entry of `token`, if it is still there. */
  take(token: number): T | undefined {
    const slot = token & SLOT_MASK;
    if (this.#tokens[slot] !== token) return undefined;
    const entry = this.#entries[slot];
    if (entry === undefined) return undefined;
    this.#entries[slot] = undefined;
    this.#tokens[slot] = -1;
    this.#free.push(slot);
    this.#size--;
    return entry;
  }

  tokens(): number[] {
    return this.#tokens.filter((token, slot) => token >= 0 && this.#entries[slot] !== undefined);
  }
}
