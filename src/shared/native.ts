/**
 * The native engine, loaded by napi-rs's generated loader (the prebuilt binary for this
 * platform, or the one built from source in `native/`).
 */
import type { Engine as EngineClass } from '../../native/index';
import type { ResourceEngine as ResourceEngineClass } from '../../native/index';
import type { ProbeEngine as ProbeEngineClass } from '../../native/index';

/**
 * The hot path, as raw Node-API functions (see crates/berth-node/src/hot.rs): napi-rs's
 * generated wrappers cost ten times more per call, and even reading arguments through
 * Node-API costs more than the engine's work. These take their arguments from, and leave
 * their result in, `io`, a buffer shared with the engine; the wrappers below hide that.
 */
interface HotPath {
  /** The ArrayBuffer (4 doubles) the hot functions read and write: one per JS thread. */
  hotIo(): ArrayBuffer;
  acquire(): void;
  acquireWith(): void;
  release(): void;
  releaseChecked(): void;
}

/** `glibc`, `musl` or `''` (not Linux): the libc half of a Linux platform package's name. */
function linuxLibc(): string {
  if (process.platform !== 'linux') return '';
  try {
    const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
    return report?.header?.glibcVersionRuntime ? 'glibc' : 'musl';
  } catch {
    return 'unknown libc';
  }
}

/** Prebuilt binaries published as optionalDependencies (package.json "napi.targets"). */
const PREBUILT = ['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'darwin-x64', 'darwin-arm64'];

/**
 * Why berth does not run on Windows, even built from source: the engine dials, watches and
 * forwards sockets as Unix descriptors and hands connected ones to Node as
 * `new net.Socket({ fd })`, which on Windows only adopts pipes, never a Winsock socket.
 */
const NO_WINDOWS =
  'berth: Windows is not supported: the engine hands connected sockets to Node as descriptors ' +
  '(net.Socket({ fd })), which Node can adopt only on Unix. Run berth under WSL 2 (Linux), ' +
  'where the linux-x64-gnu binary installs as usual.';

/**
 * napi-rs's generated loader (native/index.js) picks `./berth.<platform>.node` (a build from
 * source) or the `berth-pool-<platform>` package; when neither loads it throws a generic error.
 * Say which platform was looked for and how to get a binary for it instead.
 */
function loadBinding(): unknown {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('../../native/index.js');
  } catch (cause) {
    if (process.platform === 'win32') throw Object.assign(new Error(NO_WINDOWS), { cause });
    const libc = linuxLibc();
    const abi = process.platform === 'linux' ? (libc === 'musl' ? '-musl' : '-gnu') : '';
    const wanted = `${process.platform}-${process.arch}${abi}`;
    const where = `${process.platform}/${process.arch}${libc ? ` (${libc})` : ''}`;
    const why = PREBUILT.includes(wanted)
      ? `the platform package berth-pool-${wanted} is not installed or did not load. ` +
        `Install it beside berth-pool: from the registry it comes as an optional dependency ` +
        `(do not omit optional dependencies); from local tarballs (npm run pack:local), install ` +
        `both in one command: npm install ./berth-pool-<version>.tgz ./berth-pool-${wanted}-<version>.tgz`
      : `no prebuilt binary is published for ${wanted} (prebuilt: ${PREBUILT.join(', ')})`;
    const error = new Error(
      `berth: no native binary for ${where}: ${why}. ` +
        'Or build from source: install a Rust ' +
        'toolchain (https://rustup.rs), then run `npm run build` in a checkout of berth ' +
        '(it writes native/berth.<platform>.node, which the loader prefers). ' +
        'NAPI_RS_NATIVE_LIBRARY_PATH=/path/to/berth.node loads a given binary.',
    );
    (error as Error & { cause?: unknown }).cause = cause;
    throw error;
  }
}

const binding = loadBinding() as { Engine: typeof EngineClass } & HotPath;

export const Engine = binding.Engine;

function hotIo(): Float64Array {
  const buffer: unknown = binding.hotIo();
  // Fails only out of memory, or on a runtime that forbids external ArrayBuffers (V8's
  // sandbox, as in Electron). Without the block every acquire would misread: refuse to load.
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < IO_SLOTS * Float64Array.BYTES_PER_ELEMENT) {
    throw new Error('berth: the native module could not create its argument block (external ArrayBuffers unavailable?)');
  }
  return new Float64Array(buffer, 0, IO_SLOTS);
}

/** Doubles in the argument block (crates/berth-node/src/hot_io.rs SLOTS). */
const IO_SLOTS = 5;

const io = hotIo();
const nativeAcquire = binding.acquire;
const nativeAcquireWith = binding.acquireWith;
const nativeRelease = binding.release;
const nativeReleaseChecked = binding.releaseChecked;

/**
 * Acquires from engine `handle` for destination id `dest`. A connection id (>= 0) on a hit;
 * `QUEUED` when queued under the caller's `waiter` token (priority 0, the pool's acquire
 * timeout); `QUEUE_FULL`; `UNKNOWN_DESTINATION` when the id was forgotten (intern again); or
 * `DEAD_BASE - id` for a dead idle connection to close before calling again.
 */
export function acquire(handle: number, dest: number, waiter: number): number {
  io[0] = dest;
  io[1] = waiter;
  io[4] = handle;
  nativeAcquire();
  return io[0]!;
}

/** As `acquire`, with a priority (an int32) and a timeout (ms or `Infinity`). */
export function acquireWith(handle: number, dest: number, waiter: number, priority: number, timeoutMs: number): number {
  io[0] = dest;
  io[1] = waiter;
  io[2] = priority;
  io[3] = timeoutMs;
  io[4] = handle;
  nativeAcquireWith();
  return io[0]!;
}

/**
 * `key` is `engine handle * KEY_BASE + connection id`. A waiter (>= 0) the connection went to,
 * `PLACED_IDLE` or `PLACED_CLOSE`.
 */
export function release(key: number): number {
  io[0] = key;
  nativeRelease();
  return io[0]!;
}

/** As `release`, after a peek for bytes the lease left unread in the kernel. */
export function releaseChecked(key: number): number {
  io[0] = key;
  nativeReleaseChecked();
  return io[0]!;
}

export type Engine = EngineClass;

/** Throws when an `addressPolicy` entry is neither a CIDR nor a class name (the message names it). */
export const checkAddressPolicy = (binding as unknown as { checkAddressPolicy(policy: Readonly<{ allow?: readonly string[]; deny?: readonly string[] }>): void }).checkAddressPolicy;
/** Throws when `host` is not a listen address (an IP; IPv6 with an optional zone such as `%eth0`). */
export const checkListenHost = (binding as unknown as { checkListenHost(host: string): void }).checkListenHost;

export type {
  AddressPolicyConfig,
  EngineConfig,
  EngineEvent,
  EngineStats,
  EngineDestSnapshot,
  ForwardDone,
  ListenConfig,
  ListenerStats,
  NativeListener,
  RouteRequest,
} from '../../native/index';

/** `release` / `offer` placements other than a waiter id. */
export const PLACED_IDLE = -1;
export const PLACED_CLOSE = -2;

/** Hot-path keys pack an engine handle and an id into one number: `handle * KEY_BASE + id`. */
export const KEY_BASE = 2 ** 32;

/** `acquire` results other than a connection id (small integers: no allocation to return). */
export const QUEUED = -1;
export const QUEUE_FULL = -2;
/** The destination id was forgotten (it held nothing through a sweep): intern it again. */
export const UNKNOWN_DESTINATION = -3;
/** A dead idle connection `id` comes back as `DEAD_BASE - id`. */
export const DEAD_BASE = -4;

/** Event kinds (see EngineEvent). */
export const EVENT_DIALED = 0;
export const EVENT_DIAL_FAILED = 1;
export const EVENT_EVICT = 2;
export const EVENT_WAITER_TIMED_OUT = 3;

/** Eviction reasons, as the engine numbers them. */
export const EVICT_IDLE = 0;
export const EVICT_LIFETIME = 1;
export const EVICT_PEER_CLOSED = 2;
export const EVICT_UNHEALTHY = 3;
export const EVICT_KEEP_ALIVE_EXPIRED = 5;
/** `discard` reason for a connection its user destroyed. */
export const DISCARD_BY_USER = -1;

// ---- the resource pool's engine (ResourcePool; crates/berth-node/src/resource*.rs) ----------

/** The resource pool's hot path, over the same `io` block (see resource_hot.rs). */
interface ResourceHotPath {
  resAcquire(): void;
  resRelease(): void;
  resGauges(): void;
}

const resourceBinding = binding as unknown as { ResourceEngine: typeof ResourceEngineClass } & ResourceHotPath;

export const ResourceEngine = resourceBinding.ResourceEngine;
export type ResourceEngine = ResourceEngineClass;
export type {
  ResourceEngineConfig,
  ResourceEngineEvent,
  ResourceEngineStats,
  ResourceEngineClosed,
} from '../../native/index';

const nativeResAcquire = resourceBinding.resAcquire;
const nativeResRelease = resourceBinding.resRelease;
const nativeResGauges = resourceBinding.resGauges;

/**
 * Takes an idle resource of engine `handle`, or queues under the caller's `waiter` token (a
 * non-negative integer) with `priority` (an int32) and `timeoutMs` (`NaN`: the engine's
 * `acquireTimeout`; `Infinity`: none). A slot id (>= 0) on a hit; `RES_QUEUED` (then
 * `resCreateSlot()` is the slot to create now, or -1); `RES_QUEUE_FULL` (also for bad
 * arguments); `RES_CLOSED`; or `RES_EXPIRED_BASE - slot` for an idle resource past its
 * lifetime: destroy it, report `destroyed(slot)`, and call again.
 */
export function resAcquire(handle: number, waiter: number, priority: number, timeoutMs: number): number {
  io[0] = handle;
  io[1] = waiter;
  io[2] = priority;
  io[3] = timeoutMs;
  nativeResAcquire();
  return io[0]!;
}

/** After `resAcquire` returned `RES_QUEUED`: the slot to create now, or -1. */
export function resCreateSlot(): number {
  return io[1]!;
}

/**
 * `key` is `handle * KEY_BASE + slot`. The waiter (>= 0) the resource went to, `PLACED_IDLE`,
 * `PLACED_CLOSE` (destroy it, then report `destroyed(slot)`), or `RES_NOT_BORROWED`.
 */
export function resRelease(key: number): number {
  io[0] = key;
  nativeResRelease();
  return io[0]!;
}

/** The resource engine's gauges, read into `io`: then `gauge(GAUGE_SIZE)` etc. (-1: unknown handle). */
export function resGauges(handle: number): void {
  io[0] = handle;
  nativeResGauges();
}

export const GAUGE_SIZE = 0;
export const GAUGE_IDLE = 1;
export const GAUGE_IN_USE = 2;
export const GAUGE_WAITING = 3;

/** One gauge of the last `resGauges` call. */
export function gauge(which: number): number {
  return io[which]!;
}

/** `resAcquire` results other than a slot id; every code is above every expired slot's. */
export const RES_QUEUED = -1;
export const RES_QUEUE_FULL = -2;
export const RES_CLOSED = -3;
/** An idle slot past its lifetime comes back as `RES_EXPIRED_BASE - slot` (<= -4). */
export const RES_EXPIRED_BASE = -4;
/** `resRelease` (and `created`): the slot is not borrowed (not being created). */
export const RES_NOT_BORROWED = -5;

/** ResourceEngineEvent kinds; an evict's `reason` is EVICT_IDLE or EVICT_LIFETIME. */
export const RES_EVENT_CREATE = 0;
export const RES_EVENT_EVICT = 1;
export const RES_EVENT_WAITER_TIMED_OUT = 2;

// ---- connect probes (probe(); crates/berth-node/src/probe.rs) -------------------------------

/**
 * A probe run, started by its constructor, whose first batch asks for input. Batches
 * (`ProbeBatch`) come in completion order: `indices[i]`, `states[i]` (PROBE_OPEN...) and
 * `rttUs[i]` describe one result; `errors` has one entry per PROBE_ERROR result; `want` is
 * credit on top of earlier credit; `done` marks the last batch (exactly once; every socket of
 * the run is closed by then).
 */
export const ProbeEngine = (binding as unknown as { ProbeEngine: typeof ProbeEngineClass }).ProbeEngine;
export type ProbeEngine = ProbeEngineClass;
export type { ProbeEngineConfig, ProbeBatch, ProbeError as ProbeEngineError } from '../../native/index';

/** Probe states, as the engine numbers them. */
export const PROBE_OPEN = 0;
export const PROBE_CLOSED = 1;
export const PROBE_FILTERED = 2;
export const PROBE_ERROR = 3;
