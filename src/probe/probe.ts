/**
 * `probe(targets, options)`: connect probes run in the engine (ProbeEngine), results handed to
 * JS in batches and out of the iterator one by one, in completion order. This file holds the
 * JS half: pulling the input as the engine gives credit, queueing results, the summary.
 */
import { checkIterable, DONE, Fifo, Source, type SourceSink, type Waiter } from './completions';
import { PROBE_CLOSED, PROBE_ERROR, PROBE_FILTERED, PROBE_OPEN, ProbeEngine, type ProbeBatch } from '../shared/native';
import {
  resolveProbeOptions,
  targetLabel,
  targetString,
  type ProbeOptions,
  type ProbeTarget,
  type ResolvedProbeOptions,
} from './options';
import { RttHistogram, type ProbeSummary } from './summary';

/**
 * What a probe found: `'open'` (TCP: the handshake completed; UDP: a datagram came back),
 * `'closed'` (TCP: refused; UDP: ICMP port unreachable), `'filtered'` (no answer before
 * `timeout`, or host / network unreachable), `'error'` (the probe could not be made: see
 * {@link ProbeError}).
 */
export type ProbeState = 'open' | 'closed' | 'filtered' | 'error';

/**
 * Why a probe could not be made: `'INVALID_TARGET'` (not `host:port` / `[v6]:port` /
 * `{ host, port }`), `'DNS_FAILED'` (the name did not resolve in time), `'DESTINATION_DENIED'`
 * (`addressPolicy` refused every address of the target; nothing was sent), or the name of the OS
 * error of a local failure (`'EMFILE'`, `'EACCES'`, `'EADDRNOTAVAIL'`, ...).
 */
export type ProbeErrorCode = 'INVALID_TARGET' | 'DNS_FAILED' | 'DESTINATION_DENIED' | (string & {});

/** Why a probe in state `'error'` could not be made. */
export interface ProbeError {
  /** The kind of failure: see {@link ProbeErrorCode}. */
  code: ProbeErrorCode;
  /** Names the target and the cause. */
  message: string;
}

interface ProbeResultBase {
  /** The target's position in the input (0-based). */
  index: number;
  /** The target as given (a `{ host, port }` object as `'host:port'` / `'[v6]:port'`). */
  target: string;
  /** From the probe's start (name resolution included) to its outcome; 0 for an invalid target. */
  rttMs: number;
}

/** The target answered (`'open'`, `'closed'`) or did not before the timeout (`'filtered'`). */
export interface ProbeAnswer extends ProbeResultBase {
  /** What the probe found (see {@link ProbeState}). */
  state: 'open' | 'closed' | 'filtered';
  /** Absent: only a {@link ProbeFailure} has an error. */
  error?: undefined;
}

/** The probe could not be made (invalid target, name not resolved, denied, local failure). */
export interface ProbeFailure extends ProbeResultBase {
  /** Always `'error'`. */
  state: 'error';
  /** Why the probe could not be made. */
  error: ProbeError;
}

/** One target's outcome, as the run yields it: tell the two apart by `state`. */
export type ProbeResult = ProbeAnswer | ProbeFailure;

/** A probe run: an async iterator of its results (completion order), and its summary. */
export interface ProbeRun extends AsyncIterableIterator<ProbeResult> {
  /** Counts and round-trip times of the results seen so far (all of them after the loop). */
  summary(): ProbeSummary;
  /**
   * Stops the run at once: no more input is read, every probe in flight is stopped and its
   * socket closed; the iterator is then done (after the sockets are closed). Idempotent.
   */
  cancel(): void;
  /** What `break` calls: `cancel()`, resolved once every socket of the run is closed. */
  return(): Promise<IteratorResult<ProbeResult, undefined>>;
  /** `await using run = probe(...)`: as `return()` at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Results per engine batch at most. */
const PROBE_BATCH = 256;

const STATE_NAMES: readonly ProbeState[] = ['open', 'closed', 'filtered', 'error'];

/**
 * Probes `targets` (an array, any iterable, or an async iterable of `'host:port'`,
 * `'[v6addr]:port'` or `{ host, port }`) and yields one result per target, as each completes.
 *
 * - Nothing starts before the first `next()` (the first turn of `for await`).
 * - Input is read only as the engine frees slots: at most `concurrency` plus one batch (256,
 *   or `concurrency` if smaller) targets are pulled and not yet yielded, so a generator of a
 *   million targets runs in bounded memory.
 * - An invalid target yields a result in state `'error'` (code `INVALID_TARGET`); the run goes on.
 * - Breaking out of the loop, `cancel()` or aborting `signal` stops the run: probes in flight
 *   are stopped, their sockets closed, the input iterator's `return()` is called. After an
 *   abort the iterator throws `signal.reason`.
 * - An input iterator that throws ends the input: the targets already pulled are probed and
 *   yielded, then the iterator throws that error.
 *
 * Invalid options, or `targets` that is not iterable, throw a `TypeError` at once.
 */
export function probe(targets: Iterable<ProbeTarget> | AsyncIterable<ProbeTarget>, options?: ProbeOptions): ProbeRun {
  const resolved = resolveProbeOptions(options);
  checkIterable(targets, 'probe: targets');
  return new Run(targets, resolved);
}

const enum RunState {
  /** Created; nothing started yet. */
  Idle,
  Running,
  /** Cancelled; waiting for the engine's final batch (every socket closed). */
  Stopping,
  /** `next()` throws `#error` once if set, then is done. */
  Over,
}

class Run implements ProbeRun, SourceSink<unknown> {
  readonly #options: ResolvedProbeOptions;
  readonly #batch: number;
  /** Targets pulled and not yet yielded, at most. */
  readonly #bound: number;
  readonly #source: Source<unknown>;
  #engine: ProbeEngine | undefined;
  #state = RunState.Idle;
  /** Targets the engine asked for and was not given yet. */
  #credit = 0;
  #pulled = 0;
  #yielded = 0;
  /** Targets in the engine, by index: what their results are reported as. */
  readonly #targets = new Map<number, string>();
  /** Pulled, not pushed to the engine yet. */
  #chunkIndices: number[] = [];
  #chunkTargets: string[] = [];
  #flushTimer: NodeJS.Immediate | undefined;
  #engineDone = false;
  readonly #queue = new Fifo<ProbeResult>();
  readonly #waiters = new Fifo<Waiter<ProbeResult>>();
  /** What the next `next()` throws once the run is over. */
  #error: { reason: unknown } | undefined;
  /** The input's failure: thrown after every result. */
  #inputError: { reason: unknown } | undefined;
  /** Resolves when the run is over (the engine's final batch came, or it never started). */
  readonly #over: Promise<void>;
  #resolveOver!: () => void;
  readonly #onAbort = (): void => this.#abort();
  // summary
  readonly #counts = [0, 0, 0, 0];
  readonly #rtt = new RttHistogram();
  #startedAt: number | undefined;
  #endedAt: number | undefined;

  constructor(targets: Iterable<unknown> | AsyncIterable<unknown>, options: ResolvedProbeOptions) {
    this.#options = options;
    this.#batch = Math.min(PROBE_BATCH, options.concurrency);
    this.#bound = options.concurrency + this.#batch;
    this.#source = new Source(targets, this);
    this.#over = new Promise((resolve) => (this.#resolveOver = resolve));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<ProbeResult, undefined>> {
    if (this.#state === RunState.Idle) this.#start();
    const result = this.#queue.shift();
    if (result !== undefined) {
      this.#seen(result);
      this.#finishIfComplete();
      this.#pump();
      return Promise.resolve({ done: false, value: result });
    }
    this.#finishIfComplete();
    if (this.#state === RunState.Running || this.#state === RunState.Stopping) {
      return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    }
    const error = this.#error;
    this.#error = undefined;
    return error === undefined ? Promise.resolve(DONE) : Promise.reject(error.reason);
  }

  async return(): Promise<IteratorResult<ProbeResult, undefined>> {
    const closing = this.#cancel(undefined);
    await this.#over;
    // After return(), next() is done: an error not thrown yet is not thrown any more.
    this.#error = undefined;
    await closing;
    return DONE;
  }

  cancel(): void {
    this.#cancel(undefined).catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  summary(): ProbeSummary {
    const [open, closed, filtered, error] = this.#counts as [number, number, number, number];
    const start = this.#startedAt;
    return {
      total: this.#yielded,
      byState: { open, closed, filtered, error },
      rttMs: this.#rtt.summary(),
      durationMs: start === undefined ? 0 : (this.#endedAt ?? performance.now()) - start,
    };
  }

  // ---- SourceSink: what the input delivers -----------------------------------------------

  wants(): boolean {
    return this.#state === RunState.Running && this.#pulled - this.#yielded < this.#bound && this.#credit > this.#chunkTargets.length;
  }

  item(value: unknown): void {
    const index = this.#pulled++;
    let target: string | { invalid: string };
    try {
      target = targetString(value);
    } catch (error) {
      // A target object whose getters throw.
      target = { invalid: `invalid target: reading it threw ${error instanceof Error ? error.message : String(error)}` };
    }
    if (typeof target !== 'string') {
      let label: string;
      try {
        label = targetLabel(value);
      } catch {
        label = 'an object';
      }
      this.#deliver({ index, target: label, state: 'error', rttMs: 0, error: { code: 'INVALID_TARGET', message: target.invalid } });
      return;
    }
    this.#targets.set(index, target);
    this.#chunkIndices.push(index);
    this.#chunkTargets.push(target);
    if (this.#chunkTargets.length >= Math.min(this.#credit, this.#batch)) this.#flush();
    // An async input: push what came within this turn of the event loop together.
    else this.#flushTimer ??= setImmediate(() => this.#flush());
  }

  end(): void {
    if (this.#state !== RunState.Running) return;
    this.#flush();
    this.#engine!.endInput();
  }

  fail(error: unknown): void {
    if (this.#state !== RunState.Running) return;
    this.#inputError = { reason: error };
    this.end();
  }

  // ---- internals -------------------------------------------------------------------------

  #start(): void {
    this.#startedAt = performance.now();
    const { signal, concurrency, timeout, udp, payload, addressPolicy } = this.#options;
    if (signal?.aborted) {
      this.#end({ reason: signal.reason });
      this.#source.close().catch(() => {});
      return;
    }
    try {
      const policy = { allow: addressPolicy.allow?.slice(), deny: addressPolicy.deny?.slice() };
      this.#engine = new ProbeEngine(
        { concurrency, timeout, udp, payload, batch: this.#batch, addressPolicy: policy },
        (batch: ProbeBatch) => this.#onBatch(batch),
      );
    } catch (error) {
      this.#end({ reason: error });
      this.#source.close().catch(() => {});
      return;
    }
    this.#state = RunState.Running;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Pulls as the credit and the bound allow; a sync input's pull is pushed at once. */
  #pump(): void {
    if (this.#state !== RunState.Running) return;
    this.#source.pump();
    if (!this.#source.isAsync) this.#flush();
  }

  #flush(): void {
    if (this.#flushTimer !== undefined) {
      clearImmediate(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    const n = this.#chunkTargets.length;
    if (n === 0 || this.#state !== RunState.Running) return;
    const indices = Float64Array.from(this.#chunkIndices);
    const targets = this.#chunkTargets;
    this.#chunkIndices = [];
    this.#chunkTargets = [];
    this.#credit -= n;
    this.#engine!.push(indices, targets);
  }

  /** The engine's callback: must not throw (that would be an uncaught exception). */
  #onBatch(batch: ProbeBatch): void {
    try {
      this.#takeBatch(batch);
    } catch (error) {
      // Only a bug of ours, or a failing push, gets here: end the run with it.
      this.#cancel({ reason: error }).catch(() => {});
    }
  }

  #takeBatch(batch: ProbeBatch): void {
    if (this.#state === RunState.Running) {
      this.#credit += batch.want;
      const { indices, states, rttUs, errors } = batch;
      let errorAt = 0;
      for (let i = 0; i < indices.length; i++) {
        const index = indices[i]!;
        const target = this.#targets.get(index) ?? String(index);
        this.#targets.delete(index);
        const rttMs = rttUs[i]! / 1000;
        const state = states[i]!;
        if (state === PROBE_ERROR) {
          // `errors` lists the error results in batch order.
          let e: ProbeBatch['errors'][number] | undefined = errors[errorAt];
          if (e === undefined || e.index !== index) e = errors.find((x) => x.index === index);
          errorAt++;
          const error = { code: e?.code ?? 'INTERNAL', message: e?.message ?? `probe of ${target} failed` };
          this.#deliver({ index, target, state: 'error', rttMs, error });
        } else {
          this.#deliver({ index, target, state: STATE_NAMES[state] as 'open' | 'closed' | 'filtered', rttMs });
        }
      }
    }
    if (batch.done) {
      this.#engineDone = true;
      this.#endedAt ??= performance.now();
      if (this.#state === RunState.Stopping) this.#end(this.#error);
      else this.#finishIfComplete();
    } else {
      this.#pump();
    }
  }

  /** A result: to the oldest waiting `next()`, or queued. */
  #deliver(result: ProbeResult): void {
    if (this.#state !== RunState.Running) return;
    const waiter = this.#waiters.shift();
    if (waiter === undefined) {
      this.#queue.push(result);
      return;
    }
    this.#seen(result);
    waiter.resolve({ done: false, value: result });
  }

  #seen(result: ProbeResult): void {
    this.#yielded++;
    switch (result.state) {
      case 'open':
        this.#counts[PROBE_OPEN]!++;
        this.#rtt.record(result.rttMs * 1000);
        break;
      case 'closed':
        this.#counts[PROBE_CLOSED]!++;
        this.#rtt.record(result.rttMs * 1000);
        break;
      case 'filtered':
        this.#counts[PROBE_FILTERED]!++;
        break;
      default:
        this.#counts[PROBE_ERROR]!++;
    }
  }

  /** Every target completed and was yielded: done (after the input's error, if it failed). */
  #finishIfComplete(): void {
    if (this.#state === RunState.Running && this.#engineDone && this.#queue.length === 0) this.#end(this.#inputError);
  }

  #abort(): void {
    this.#cancel({ reason: this.#options.signal!.reason }).catch(() => {});
  }

  /**
   * Stops the run (break, `cancel()`, abort with `error`): the engine cancels, the input
   * closes. Returns the input's closing.
   */
  #cancel(error: { reason: unknown } | undefined): Promise<void> {
    if (this.#state === RunState.Idle) {
      this.#end(error);
      return this.#source.close();
    }
    if (this.#state !== RunState.Running) return Promise.resolve();
    this.#error = error;
    this.#queue.clear();
    this.#chunkIndices = [];
    this.#chunkTargets = [];
    if (this.#flushTimer !== undefined) clearImmediate(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#targets.clear();
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    if (this.#engineDone) {
      this.#end(error);
    } else {
      this.#state = RunState.Stopping;
      this.#engine!.cancel();
    }
    return this.#source.close();
  }

  /** Over: `error` is thrown once, then done; every waiting `next()` is answered. */
  #end(error: { reason: unknown } | undefined): void {
    this.#state = RunState.Over;
    this.#error = error;
    this.#inputError = undefined;
    this.#endedAt ??= performance.now();
    this.#engine = undefined;
    this.#options.signal?.removeEventListener('abort', this.#onAbort);
    for (let waiter = this.#waiters.shift(); waiter !== undefined; waiter = this.#waiters.shift()) {
      const pending = this.#error;
      this.#error = undefined;
      if (pending === undefined) waiter.resolve(DONE);
      else waiter.reject(pending.reason);
    }
    this.#resolveOver();
  }
}
