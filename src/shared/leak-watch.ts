/**
 * Leak detection (`leakDetectionThreshold`, after HikariCP's): a lease still out after the
 * threshold is reported once, with the stack of the `acquire()` call that took it, and its
 * later release or destroy is reported as resolved. Shared by `Pool` (leases keyed by socket)
 * and `ResourcePool` (keyed by resource).
 *
 * Nothing here runs while the option is off: the pools make no `LeakWatch` then, capture no
 * stack and start no timer. While it is on, each watched lease costs one stack capture (the
 * frames are formatted only if it leaks) and one unref'd timer, cleared when the lease comes
 * back or the pool closes. The timer holds its lease's record only weakly, so that a pool
 * dropped with a lease out is not kept alive by the watch.
 */
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

/** Where an `acquire()` was called from: V8 formats `stack` only when it is read. */
export interface AcquireOrigin {
  stack?: string;
}

/** What a pool does when a watched lease crosses the threshold, or comes back after it did. */
export interface LeakReporter<K, D> {
  /** The lease of `key` has been out `ageMs` (at least the threshold); `stack`: where it was acquired. */
  leaked(key: K, detail: D, ageMs: number, stack: string): void;
  /** The lease of `key`, reported as leaked, was released or destroyed after `ageMs`. */
  resolved(key: K, detail: D, ageMs: number): void;
}

/** One lease being watched. */
interface Watch<K, D> {
  readonly owner: LeakWatch<K, D>;
  readonly key: K;
  readonly detail: D;
  readonly origin: AcquireOrigin;
  /** `performance.now()` when the lease was handed out. */
  readonly since: number;
  timer: NodeJS.Timeout | undefined;
  /** Reported as leaked: its release is then reported as resolved. */
  leaked: boolean;
}

/** berth's own files (this package's `dist/`), as they appear in stack frames. */
const OWN_DIR = path.dirname(__dirname) + path.sep;
const OWN_URL = pathToFileURL(OWN_DIR).href;

/**
 * Frames captured beyond `Error.stackTraceLimit`: room for berth's own frames between the
 * public `acquire()` and the caller (`use()`, `lease()`, the generic-pool drop-in, a tracing
 * channel around the acquire), which are cut before the stack is reported.
 */
const OWN_FRAMES = 10;

/**
 * Captures the stack of the current call, cut at `entry` (the pool's public `acquire`: its
 * frame and those above it are left out). Cheap: V8 records the frames; the text is only made
 * if a leak is reported.
 */
export function captureOrigin(entry: Function): AcquireOrigin {
  const origin: AcquireOrigin = {};
  const limit = Error.stackTraceLimit;
  if (typeof limit === 'number') Error.stackTraceLimit = limit + OWN_FRAMES;
  Error.captureStackTrace(origin, entry);
  Error.stackTraceLimit = limit;
  return origin;
}

/**
 * The caller's frames of an origin, one `    at …` line each, outermost last: berth's own
 * leading frames (`use()` calling `acquire()`, the drop-in's wrappers) removed, so that the
 * first line is the application's code; at most `Error.stackTraceLimit` lines.
 */
export function formatOrigin(origin: AcquireOrigin): string {
  const lines = (origin.stack ?? '').split('\n');
  // The first line is the header V8 writes for the holder object, not a frame.
  let frames = lines.slice(1).filter((line) => line.trimStart().startsWith('at '));
  const first = frames.findIndex((line) => !isOwnFrame(line));
  if (first > 0) frames = frames.slice(first);
  const limit = Error.stackTraceLimit;
  return (typeof limit === 'number' && frames.length > limit ? frames.slice(0, Math.max(limit, 1)) : frames).join('\n');
}

/**
 * A frame to skip before the caller's: berth's own code, Node's (the HTTP client calling the
 * agent), or one with no file (a native frame such as `new Promise`).
 */
function isOwnFrame(line: string): boolean {
  if (line.includes(OWN_DIR) || line.includes(OWN_URL)) return true;
  return line.includes('(node:') || /^\s*at node:/.test(line) || line.includes('(<anonymous>)') || line.includes('(native)');
}

/** The leases of one pool being watched, by key. */
export class LeakWatch<K, D> {
  readonly #threshold: number;
  readonly #reporter: LeakReporter<K, D>;
  readonly #watches = new Map<K, Watch<K, D>>();
  #closed = false;

  /** `threshold`: ms, > 0. */
  constructor(threshold: number, reporter: LeakReporter<K, D>) {
    this.#threshold = threshold;
    this.#reporter = reporter;
  }

  /**
   * Watches the lease `pending` resolves to (keyed by `keyOf(value)`, described by
   * `detailOf(value)`) from the moment it is handed out. Resolves to the same value, before
   * the caller sees it; a rejection passes through untouched.
   */
  track<V>(pending: Promise<V>, origin: AcquireOrigin, keyOf: (value: V) => K, detailOf: (value: V) => D): Promise<V> {
    return pending.then((value) => {
      this.#start(keyOf(value), detailOf(value), origin);
      return value;
    });
  }

  /** The lease of `key` came back (released or destroyed): stop watching it, and report it resolved if it had leaked. */
  settled(key: K): void {
    const watch = this.#watches.get(key);
    if (watch === undefined) return;
    this.#watches.delete(key);
    clearTimeout(watch.timer);
    if (watch.leaked) {
      // Not below what its leak said (the timer runs on the loop's coarser clock).
      const ageMs = Math.max(this.#threshold, Math.round(performance.now() - watch.since));
      report(() => this.#reporter.resolved(watch.key, watch.detail, ageMs));
    }
  }

  /** The pool closed: every timer is cleared, and no lease is reported from now on. */
  close(): void {
    this.#closed = true;
    for (const watch of this.#watches.values()) clearTimeout(watch.timer);
    this.#watches.clear();
  }

  #start(key: K, detail: D, origin: AcquireOrigin): void {
    if (this.#closed) return;
    const watch: Watch<K, D> = { owner: this, key, detail, origin, since: performance.now(), timer: undefined, leaked: false };
    // A key still watched is a lease that came back without telling us (cannot happen): replace it.
    clearTimeout(this.#watches.get(key)?.timer);
    this.#watches.set(key, watch);
    watch.timer = setTimeout(LeakWatch.#expired, this.#threshold, new WeakRef(watch));
    watch.timer.unref();
  }

  /** A lease's timer fired: report it, unless it came back or the pool closed meanwhile. */
  static #expired<K, D>(ref: WeakRef<Watch<K, D>>): void {
    const watch = ref.deref();
    if (watch === undefined) return;
    const owner = watch.owner;
    watch.timer = undefined;
    if (owner.#closed || owner.#watches.get(watch.key) !== watch) return;
    watch.leaked = true;
    // Whole ms, and not below the threshold the timer (on the loop's coarser clock) says passed.
    const ageMs = Math.max(owner.#threshold, Math.round(performance.now() - watch.since));
    report(() => owner.#reporter.leaked(watch.key, watch.detail, ageMs, formatOrigin(watch.origin)));
  }
}

/**
 * Runs a report (an `emit`): a listener that throws surfaces as any listener's throw would,
 * without leaving the pool half way through a release.
 */
function report(emit: () => void): void {
  try {
    emit();
  } catch (error) {
    process.nextTick(() => {
      throw error;
    });
  }
}
