/**
 * Leak detection on a `ResourcePool` (`leakDetectionThreshold`): its events, and what the pool
 * plugs into the shared watch (shared/leak-watch.ts). Borrows are watched by their resource
 * (distinct values, one borrow at a time); `release()` and `destroy()` end the watch.
 */
import { LeakWatch, captureOrigin } from '../shared/leak-watch';

/**
 * `leak`: a resource has been borrowed longer than `leakDetectionThreshold` (reported once
 * per borrow).
 */
export interface ResourceLeakEvent<T> {
  /** The borrowed resource (to tell which client it is; do not keep it). */
  readonly resource: T;
  /** How long it has been out, in whole milliseconds (at least the threshold). */
  readonly ageMs: number;
  /**
   * Where it was borrowed: the stack of the `acquire()` call (or `use()`, `lease()`, `pooled()`,
   * the generic-pool drop-in's `acquire()`), one `    at …` line per frame, the caller
   * first; berth's own frames are left out.
   */
  readonly stack: string;
}

/** `leakResolved`: a resource reported by `leak` was released or destroyed after all. */
export interface ResourceLeakResolvedEvent<T> {
  /** The resource, as in its `leak` event. */
  readonly resource: T;
  /** How long it was out, in whole milliseconds. */
  readonly ageMs: number;
}

/** The watch of one pool's borrows, by resource. */
export type ResourceLeakWatch<T> = LeakWatch<T, undefined>;

/** What a watch reports on: the pool's `emit`. */
interface Emitter {
  emit(event: 'leak' | 'leakResolved', payload: object): unknown;
}

/** A watch that reports on `pool` as `leak` / `leakResolved`, or none when `threshold` is 0 (off). */
export function resourceLeakWatch<T>(threshold: number, pool: Emitter): ResourceLeakWatch<T> | undefined {
  if (threshold === 0) return undefined;
  return new LeakWatch<T, undefined>(threshold, {
    leaked: (resource, _detail, ageMs, stack) => pool.emit('leak', { resource, ageMs, stack }),
    resolved: (resource, _detail, ageMs) => pool.emit('leakResolved', { resource, ageMs }),
  });
}

const itself = <T>(resource: T): T => resource;
const nothing = (): undefined => undefined;

/**
 * A borrow with leak detection on: the stack of the call to `entry` (the public `acquire`) is
 * captured now, and the resource `acquire()` resolves to is watched from the moment it is
 * handed out.
 */
export function acquireWatched<T>(watch: ResourceLeakWatch<T>, entry: Function, acquire: () => Promise<T>): Promise<T> {
  const origin = captureOrigin(entry);
  return watch.track(acquire(), origin, itself, nothing);
}
