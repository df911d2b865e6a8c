/**
 * `completions(tasks, { concurrency, signal })`: runs functions with bounded concurrency and
 * yields their outcomes in completion order. Also the input-pulling machinery it shares with
 * `probe()`: a lazy, bounded pull from an iterable or async iterable.
 */
import { checkKnownKeys, checkObject, describe } from '../shared/validate';

/** What a task gets: its position in the input, and a signal that aborts when the run stops. */
export interface TaskContext {
  /** The task's position in the input (0-based). */
  readonly index: number;
  /**
   * Aborts when the run stops before the task settled: the loop broke (an `AbortError`) or
   * the run's `signal` aborted (its `reason`). Pass it on
   * (`fetch(url, { signal })`) to stop work whose result nobody will read.
   */
  readonly signal: AbortSignal;
}

/** One unit of work: a function returning a value or a promise. Called once, when a slot frees. */
export type Task<T> = (context: TaskContext) => T | PromiseLike<T>;

/** A task that returned (or resolved to) `value`. */
export interface CompletionFulfilled<T> {
  /** The task's position in the input (0-based). */
  index: number;
  /** Always `'fulfilled'`: tells this outcome from a {@link CompletionRejected}. */
  status: 'fulfilled';
  /** What the task returned, or its promise resolved to. */
  value: T;
}

/** A task that threw, rejected, or was not a function (`reason` is then a `TypeError`). */
export interface CompletionRejected {
  /** The task's position in the input (0-based). */
  index: number;
  /** Always `'rejected'`: tells this outcome from a {@link CompletionFulfilled}. */
  status: 'rejected';
  /** What the task threw or rejected with (a `TypeError` for a task that was not a function). */
  reason: unknown;
}

/**
 * The outcome of one task, shaped as a `Promise.allSettled` entry plus the task's `index`: a
 * failing task is reported, not thrown, so that one failure loses none of the other results.
 */
export type CompletionResult<T> = CompletionFulfilled<T> | CompletionRejected;

/** Options of `completions(tasks, options)`. */
export interface CompletionsOptions {
  /**
   * Most tasks pulled from the input and not yet yielded (running, or settled and waiting for
   * the consumer): at most this many run at once, and no more input is read while the
   * consumer lags behind. An integer >= 1; default 16.
   */
  concurrency?: number;
  /**
   * Stops the run: no more input is read or task started, the tasks' signals abort, and the
   * iterator throws `signal.reason` (at once, even with results not yet yielded).
   */
  signal?: AbortSignal;
}

/** What `completions()` returns: an async iterator of outcomes, in completion order. */
export interface Completions<T> extends AsyncIterableIterator<CompletionResult<T>> {
  /**
   * What `break` calls: stops reading input and starting tasks, aborts the running tasks'
   * signal. Resolves once the input iterator is closed.
   */
  return(): Promise<IteratorResult<CompletionResult<T>, undefined>>;
  /** `await using run = completions(...)`: as `return()` at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>;
}

export const COMPLETIONS_DEFAULT_CONCURRENCY = 16;

const COMPLETIONS_KEYS: ReadonlySet<string> = new Set(['concurrency', 'signal']);

/**
 * Runs `tasks` (an array, any iterable, or an async iterable of functions), at most
 * `concurrency` at a time, and yields each outcome as soon as it settles, in completion order.
 *
 * - Nothing starts before the first `next()` (the first turn of `for await`).
 * - Input is read lazily, only as slots free up: a generator of a million tasks runs in
 *   bounded memory.
 * - A task that throws or rejects yields `{ index, status: 'rejected', reason }`; the run goes on.
 * - Breaking out of the loop (`return()`) stops reading input (the input iterator's `return()`
 *   is called, so a generator's `finally` runs) and starting tasks, and aborts the signal the
 *   running tasks were given; their outcomes are dropped.
 * - An input iterator that throws (or rejects) ends the input: the tasks already started run
 *   on and their outcomes are yielded (nothing started is lost), then the iterator throws
 *   that error.
 * - Aborting `signal` ends the run the same way, except that the iterator throws `signal.reason`
 *   at the next `next()`, without yielding what was left.
 *
 * Invalid options, or `tasks` that is not iterable, throw a `TypeError` at once.
 */
export function completions<F extends Task<unknown>>(
  tasks: Iterable<F> | AsyncIterable<F>,
  options?: CompletionsOptions,
): Completions<Awaited<ReturnType<F>>> {
  const { concurrency, signal } = checkCompletionsOptions(options);
  return new CompletionsRun<Awaited<ReturnType<F>>>(tasks as Iterable<Task<Awaited<ReturnType<F>>>>, concurrency, signal);
}

function checkCompletionsOptions(options: unknown): { concurrency: number; signal: AbortSignal | undefined } {
  if (options === undefined) return { concurrency: COMPLETIONS_DEFAULT_CONCURRENCY, signal: undefined };
  checkKnownKeys('completions', checkObject('completions options', options), COMPLETIONS_KEYS);
  const o = options as CompletionsOptions;
  const concurrency = o.concurrency === undefined ? COMPLETIONS_DEFAULT_CONCURRENCY : o.concurrency;
  if (typeof concurrency !== 'number' || !Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new TypeError(`concurrency must be an integer >= 1, got ${describe(o.concurrency)}`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(`signal must be an AbortSignal, got ${describe(o.signal)}`);
  }
  return { concurrency, signal: o.signal };
}

// ---- shared machinery -------------------------------------------------------------------

/** A FIFO queue with O(1) shift (an array and a head index, compacted as it drains). */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

/** Where a `Source` delivers what it pulls. */
export interface SourceSink<T> {
  /** May the source pull one more item now? (Asked before every pull.) */
  wants(): boolean;
  item(value: T): void;
  /** The input is exhausted. */
  end(): void;
  /** The input iterator threw or rejected (it is not closed: it already finished). */
  fail(error: unknown): void;
}

/**
 * Throws a `TypeError` unless `input` is iterable or async iterable; a string is refused too
 * (iterating its characters is never what was meant).
 */
export function checkIterable(input: unknown, what: string): void {
  if (typeof input === 'string') {
    throw new TypeError(`${what} must be an array, an iterable or an async iterable, not a string (wrap a single item in an array)`);
  }
  const o = input as { [Symbol.iterator]?: unknown; [Symbol.asyncIterator]?: unknown } | null | undefined;
  if (
    o === null ||
    o === undefined ||
    (typeof o !== 'object' && typeof o !== 'function') ||
    (typeof o[Symbol.asyncIterator] !== 'function' && typeof o[Symbol.iterator] !== 'function')
  ) {
    throw new TypeError(`${what} must be an array, an iterable or an async iterable, got ${describe(input)}`);
  }
}

/**
 * Pulls from an iterable or async iterable, one item at a time and only while the sink wants
 * more: never more than one `next()` of an async iterator outstanding, nothing read ahead.
 */
export class Source<T> {
  readonly #sync: Iterator<T> | undefined;
  readonly #async: AsyncIterator<T> | undefined;
  readonly #sink: SourceSink<T>;
  /** An async `next()` is outstanding. */
  #pending = false;
  /** Exhausted, failed or closed: nothing more will be pulled. */
  #over = false;
  /** Inside the synchronous pull loop (a sink callback may call `pump()` again). */
  #pumping = false;

  /** `input` must have passed `checkIterable`. */
  constructor(input: Iterable<T> | AsyncIterable<T>, sink: SourceSink<T>) {
    this.#sink = sink;
    const asyncFn = (input as AsyncIterable<T>)[Symbol.asyncIterator];
    if (typeof asyncFn === 'function') this.#async = asyncFn.call(input);
    else this.#sync = (input as Iterable<T>)[Symbol.iterator]();
  }

  /** The input is an async iterable (pulled one `next()` at a time). */
  get isAsync(): boolean {
    return this.#async !== undefined;
  }

  /** No more items will come (exhausted, failed or closed). */
  get over(): boolean {
    return this.#over;
  }

  /** Pulls while the sink wants more (a sync iterator at once; an async one item by item). */
  pump(): void {
    if (this.#over || this.#pending || this.#pumping) return;
    if (this.#sync !== undefined) {
      this.#pumping = true;
      try {
        while (!this.#over && this.#sink.wants()) {
          let r: IteratorResult<T>;
          try {
            r = this.#sync.next();
            if (typeof r !== 'object' || r === null) throw new TypeError(`iterator result ${describe(r)} is not an object`);
          } catch (error) {
            this.#over = true;
            this.#sink.fail(error);
            return;
          }
          if (r.done === true) {
            this.#over = true;
            this.#sink.end();
            return;
          }
          this.#sink.item(r.value);
        }
      } finally {
        this.#pumping = false;
      }
      return;
    }
    if (!this.#sink.wants()) return;
    const it = this.#async!;
    this.#pending = true;
    let p: Promise<IteratorResult<T>>;
    try {
      p = Promise.resolve(it.next());
    } catch (error) {
      p = Promise.reject(error);
    }
    p.then(
      (r) => {
        this.#pending = false;
        if (this.#over) return;
        if (typeof r !== 'object' || r === null) {
          this.#over = true;
          this.#sink.fail(new TypeError(`iterator result ${describe(r)} is not an object`));
        } else if (r.done === true) {
          this.#over = true;
          this.#sink.end();
        } else {
          this.#sink.item(r.value);
          this.pump();
        }
      },
      (error: unknown) => {
        this.#pending = false;
        if (this.#over) return;
        this.#over = true;
        this.#sink.fail(error);
      },
    );
  }

  /**
   * Stops pulling and closes the input iterator (its `return()`, so that a generator's
   * `finally` runs). Resolves once it is closed, or at once when a `next()` is still
   * outstanding (the close then waits behind it; its failure is dropped). Rejects when the
   * iterator's `return()` throws. Nothing to do when the input is already over.
   */
  close(): Promise<void> {
    if (this.#over) return Promise.resolve();
    this.#over = true;
    try {
      if (this.#sync !== undefined) {
        this.#sync.return?.();
        return Promise.resolve();
      }
      const closing = Promise.resolve(this.#async!.return?.()).then(() => {});
      if (this.#pending) {
        closing.catch(() => {});
        return Promise.resolve();
      }
      return closing;
    } catch (error) {
      return Promise.reject(error);
    }
  }
}

/** A consumer's outstanding `next()`. */
export interface Waiter<R> {
  resolve(result: IteratorResult<R, undefined>): void;
  reject(error: unknown): void;
}

export const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined }) as IteratorReturnResult<undefined>;

/** The `AbortError` a run's tasks see when the consumer stops iterating. */
export function stoppedError(what: string): DOMException {
  return new DOMException(`${what}: the iteration was stopped`, 'AbortError');
}

// ---- completions ------------------------------------------------------------------------

const enum RunState {
  /** Created; nothing started yet. */
  Idle,
  Running,
  /** Over: `next()` throws `#error` once if set, then is done. */
  Over,
}

class CompletionsRun<T> implements Completions<T>, SourceSink<Task<T>> {
  readonly #concurrency: number;
  readonly #signal: AbortSignal | undefined;
  readonly #source: Source<Task<T>>;
  readonly #controller = new AbortController();
  readonly #queue = new Fifo<CompletionResult<T>>();
  readonly #waiters = new Fifo<Waiter<CompletionResult<T>>>();
  #state = RunState.Idle;
  /** Tasks pulled and not yet yielded (running, or settled in `#queue`). */
  #active = 0;
  #nextIndex = 0;
  /** What the next `next()` throws (an abort's reason, or the input's failure at the end). */
  #error: { reason: unknown } | undefined;
  /** The input's failure: thrown once every task started before it was yielded. */
  #inputError: { reason: unknown } | undefined;
  readonly #onAbort = (): void => this.#abort();

  constructor(tasks: Iterable<Task<T>> | AsyncIterable<Task<T>>, concurrency: number, signal: AbortSignal | undefined) {
    checkIterable(tasks, 'completions: tasks');
    this.#concurrency = concurrency;
    this.#signal = signal;
    this.#source = new Source(tasks, this);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<CompletionResult<T>, undefined>> {
    if (this.#state === RunState.Idle) this.#start();
    const result = this.#queue.shift();
    if (result !== undefined) {
      this.#active--;
      if (this.#state === RunState.Running) this.#source.pump();
      return Promise.resolve({ done: false, value: result });
    }
    if (this.#state === RunState.Running && this.#ended()) this.#finish();
    if (this.#state === RunState.Running) return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
    const error = this.#error;
    this.#error = undefined;
    return error === undefined ? Promise.resolve(DONE) : Promise.reject(error.reason);
  }

  /**
   * Stops the run (see `completions`). Resolves once the input iterator is closed (at once
   * when a pull from it is in progress: its `return()` is then called without waiting).
   */
  async return(): Promise<IteratorResult<CompletionResult<T>, undefined>> {
    const running = this.#state === RunState.Running;
    this.#stop(undefined);
    if (running) this.#controller.abort(stoppedError('completions'));
    await this.#source.close();
    return DONE;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }

  // ---- SourceSink: what the input delivers -----------------------------------------------

  wants(): boolean {
    return this.#state === RunState.Running && this.#active < this.#concurrency;
  }

  item(task: Task<T>): void {
    const index = this.#nextIndex++;
    this.#active++;
    let outcome: Promise<T>;
    try {
      if (typeof task !== 'function') {
        throw new TypeError(`completions: task ${index} is not a function, got ${describe(task)}`);
      }
      outcome = Promise.resolve(task({ index, signal: this.#controller.signal })) as Promise<T>;
    } catch (error) {
      outcome = Promise.reject(error);
    }
    outcome.then(
      (value) => this.#settled({ index, status: 'fulfilled', value }),
      (reason: unknown) => this.#settled({ index, status: 'rejected', reason }),
    );
  }

  end(): void {
    if (this.#state === RunState.Running && this.#ended()) this.#finish();
  }

  fail(error: unknown): void {
    if (this.#state !== RunState.Running) return;
    this.#inputError = { reason: error };
    if (this.#ended()) this.#finish();
  }

  // ---- internals -------------------------------------------------------------------------

  #start(): void {
    this.#state = RunState.Running;
    const signal = this.#signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.#abort();
        return;
      }
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
    this.#source.pump();
  }

  /** Input over and every task yielded. */
  #ended(): boolean {
    return this.#source.over && this.#active === 0;
  }

  #settled(result: CompletionResult<T>): void {
    if (this.#state !== RunState.Running) return;
    const waiter = this.#waiters.shift();
    if (waiter === undefined) {
      this.#queue.push(result);
      return;
    }
    this.#active--;
    waiter.resolve({ done: false, value: result });
    if (this.#ended()) this.#finish();
    else this.#source.pump();
  }

  /** The signal aborted: drop what is left, throw its reason at the next `next()`. */
  #abort(): void {
    if (this.#state === RunState.Over) return;
    const reason: unknown = this.#signal!.reason;
    this.#stop({ reason });
    this.#controller.abort(reason);
    this.#source.close().catch(() => {});
  }

  /** Input over and everything yielded: done, after the input's error if it failed. */
  #finish(): void {
    this.#stop(this.#inputError);
  }

  /** Over: nothing more is started or yielded; `error` is thrown once, then done. */
  #stop(error: { reason: unknown } | undefined): void {
    this.#state = RunState.Over;
    this.#error = error;
    this.#inputError = undefined;
    this.#queue.clear();
    this.#signal?.removeEventListener('abort', this.#onAbort);
    for (let waiter = this.#waiters.shift(); waiter !== undefined; waiter = this.#waiters.shift()) {
      const pending = this.#error;
      this.#error = undefined;
      if (pending === undefined) waiter.resolve(DONE);
      else waiter.reject(pending.reason);
    }
  }
}
