/**
 * The helper classes generic-pool v3 exports next to `createPool` (`Deque`, `PriorityQueue`,
 * `DefaultEvictor`), for code that imports them. berth's pool does not use them: its engine
 * keeps the idle resources, the waiters and the eviction rules.
 */

/** A double-ended queue (generic-pool's `Deque`): `push` / `pop` at the tail, `unshift` / `shift` at the head. */
export class Deque<E = unknown> implements Iterable<E> {
  #items: E[] = [];

  /** Removes and returns the first element (undefined when empty). */
  shift(): E | undefined {
    return this.#items.shift();
  }

  /** Adds an element at the head. */
  unshift(element: E): void {
    this.#items.unshift(element);
  }

  /** Adds an element at the tail. */
  push(element: E): void {
    this.#items.push(element);
  }

  /** Removes and returns the last element (undefined when empty). */
  pop(): E | undefined {
    return this.#items.pop();
  }

  /** Iterates head to tail, over a copy taken now (changes during the loop are not seen). */
  [Symbol.iterator](): Iterator<E> {
    return this.#items.slice()[Symbol.iterator]();
  }

  /** Iterates head to tail. */
  iterator(): Iterator<E> {
    return this[Symbol.iterator]();
  }

  /** Iterates tail to head. */
  reverseIterator(): Iterator<E> {
    return this.#items.slice().reverse()[Symbol.iterator]();
  }

  /** The first element, not removed. */
  get head(): E | undefined {
    return this.#items[0];
  }

  /** The last element, not removed. */
  get tail(): E | undefined {
    return this.#items[this.#items.length - 1];
  }

  /** How many elements it holds. */
  get length(): number {
    return this.#items.length;
  }
}

/**
 * generic-pool's `PriorityQueue`: `size` priority levels (at least 1), 0 the highest, FIFO
 * within a level; a priority outside `0 .. size - 1` goes to the lowest level, none (or one
 * that is not a number) to level 0.
 */
export class PriorityQueue<E = unknown> {
  readonly #slots: Deque<E>[] = [];

  constructor(size: number) {
    const levels = Math.max(+size | 0, 1);
    for (let i = 0; i < levels; i++) this.#slots.push(new Deque<E>());
  }

  /** How many elements it holds, over all levels. */
  get length(): number {
    let length = 0;
    for (const slot of this.#slots) length += slot.length;
    return length;
  }

  /** Adds `obj` at the tail of the level of `priority` (level 0 when left out). */
  enqueue(obj: E, priority?: number): void {
    this.#slots[priorityLevel(priority, this.#slots.length)]!.push(obj);
  }

  /** Removes and returns the oldest element of the highest non-empty level (undefined when empty). */
  dequeue(): E | undefined {
    for (const slot of this.#slots) if (slot.length > 0) return slot.shift();
    return undefined;
  }

  /** What `dequeue()` would return next, not removed. */
  get head(): E | undefined {
    for (const slot of this.#slots) if (slot.length > 0) return slot.head;
    return undefined;
  }

  /** The newest element of the lowest non-empty level, not removed. */
  get tail(): E | undefined {
    for (let i = this.#slots.length - 1; i >= 0; i--) if (this.#slots[i]!.length > 0) return this.#slots[i]!.tail;
    return undefined;
  }
}

/**
 * The level generic-pool files an acquire's `priority` under, given `levels` (its
 * `priorityRange`): 0 the highest; anything not a number is 0; out of range is the lowest.
 */
export function priorityLevel(priority: unknown, levels: number): number {
  let level = priority ? +(priority as number) | 0 : 0;
  if (level < 0 || level >= levels) level = levels - 1;
  return level;
}

/** What `DefaultEvictor.evict` reads of the pool's configuration. */
export interface EvictionConfig {
  /** An idle resource is evicted after this many ms if more than `min` are available; 0 or less turns it off. */
  softIdleTimeoutMillis: number;
  /** An idle resource is evicted after this many ms, whatever `min`. */
  idleTimeoutMillis: number;
  /** The pool's `min`: the soft idle timeout leaves this many available resources. */
  min: number;
}

/** generic-pool's idle eviction rule, as a class with one method. */
export class DefaultEvictor {
  /** Whether an idle resource (idle since `lastIdleTime`, ms epoch) is to be evicted. */
  evict(config: EvictionConfig, pooledResource: { lastIdleTime: number | null }, availableObjectsCount: number): boolean {
    const idleTime = Date.now() - (pooledResource.lastIdleTime ?? 0);
    if (config.softIdleTimeoutMillis > 0 && config.softIdleTimeoutMillis < idleTime && config.min < availableObjectsCount) {
      return true;
    }
    return config.idleTimeoutMillis < idleTime;
  }
}
