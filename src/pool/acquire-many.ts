/**
 * `pool.acquireMany(destinations)`: leases to many destinations, handed out as each becomes
 * ready (completion order), with at most `concurrency` acquires in flight and the input pulled
 * only as they finish, so a long or endless source runs in bounded memory.
 */
import { setMaxListeners } from 'node:events';
import { checkAcquireOptions, type AcquireOptions } from '../shared/acquire-options';
import { checkObject, checkRange, describe } from '../shared/validate';
import type { Lease } from './lease';
import { checkConnectOptions, POOL_ACQUIRE_KEYS, type ConnectOptions } from './connect-options';

export interface AcquireManyOptions extends AcquireOptions, ConnectOptions {
  /** Acquires in flight at once (leases already handed out do not count). Default 16. */
  concurrency?: number;
}

/** The pool's acquire, as acquireMany uses it. */
export type AcquireFn = (destination: string, options: AcquireOptions & ConnectOptions) => Promise<Lease>;

const DEFAULT_CONCURRENCY = 16;
const MAX_CONCURRENCY = 65_535;

/** Checks the options (TypeError naming the bad one) and returns the concurrency. */
export function checkAcquireManyOptions(options: AcquireManyOptions | undefined): number {
  if (options === undefined) return DEFAULT_CONCURRENCY;
  const { concurrency, ...rest } = checkObject('acquireMany options', options) as AcquireManyOptions;
  checkAcquireOptions(rest, POOL_ACQUIRE_KEYS);
  checkConnectOptions(rest, 'acquireMany option');
  if (concurrency === undefined) return DEFAULT_CONCURRENCY;
  return checkRange('concurrency', concurrency, 1, MAX_CONCURRENCY);
}

export function checkDestinations(destinations: unknown): void {
  const d = destinations as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown } | null;
  if (
    d === null ||
    (typeof d !== 'object' && typeof d !== 'function') ||
    (typeof d[Symbol.iterator] !== 'function' && typeof d[Symbol.asyncIterator] !== 'function')
  ) {
    throw new TypeError(`destinations must be an iterable or async iterable of strings, got ${describe(destinations)}`);
  }
}

/**
 * The iteration itself. Ends when every destination was served; throws the first failed
 * acquire's error (after the others are cancelled), or `signal.reason` when it aborts. On
 * every way out, acquires still in flight are cancelled and leases not yet handed out are
 * released: nothing is left leased behind the caller's back.
 */
export async function* acquireMany(
  acquire: AcquireFn,
  destinations: Iterable<string> | AsyncIterable<string>,
  concurrency: number,
  options: AcquireOptions,
): AsyncGenerator<Lease, void, undefined> {
  const { signal, ...perAcquire } = options;
  signal?.throwIfAborted();
  const stop = new AbortController();
  // Every queued acquire listens on it: as many as `concurrency`, not a leak.
  setMaxListeners(0, stop.signal);
  const onAbort = () => stop.abort(signal!.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  const source: Iterator<string> | AsyncIterator<string> =
    Symbol.asyncIterator in destinations
      ? (destinations as AsyncIterable<string>)[Symbol.asyncIterator]()
      : (destinations as Iterable<string>)[Symbol.iterator]();
  const ready: Lease[] = [];
  let failure: { error: unknown } | undefined;
  let inFlight = 0;
  let exhausted = false;
  let wake: (() => void) | undefined;
  const settled = () => {
    inFlight--;
    wake?.();
  };
  // An abort while nothing settles (every acquire queued, or an async source stalled).
  stop.signal.addEventListener('abort', () => wake?.(), { once: true });
  try {
    for (;;) {
      while (!exhausted && failure === undefined && !stop.signal.aborted && inFlight + ready.length < concurrency) {
        const next = await source.next();
        if (next.done === true) {
          exhausted = true;
          break;
        }
        inFlight++;
        acquire(next.value, { ...perAcquire, signal: stop.signal }).then(
          (lease) => {
            if (stop.signal.aborted) lease.release();
            else ready.push(lease);
            settled();
          },
          (error: unknown) => {
            if (!stop.signal.aborted) failure ??= { error };
            settled();
          },
        );
      }
      if (ready.length > 0) {
        yield ready.shift()!;
        continue;
      }
      if (signal?.aborted) throw signal.reason;
      if (failure !== undefined) throw failure.error;
      if (exhausted && inFlight === 0) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = undefined;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!stop.signal.aborted) stop.abort(new Error('acquireMany ended'));
    for (const lease of ready.splice(0)) lease.release();
    if (!exhausted) await source.return?.();
  }
}
