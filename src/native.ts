/**
 * The native engine, loaded by napi-rs's generated loader (the prebuilt binary for this
 * platform, or the one built from source in `native/`).
 */
import type { Engine as EngineClass } from '../native/index';

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

// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require('../native/index.js') as { Engine: typeof EngineClass } & HotPath;

export const Engine = binding.Engine;

function hotIo(): Float64Array {
  const buffer: unknown = binding.hotIo();
  // Fails only out of memory, or on a runtime that forbids external ArrayBuffers (V8's
  // sandbox, as in Electron). Without the block every acquire would misread: refuse to load.
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < 4 * Float64Array.BYTES_PER_ELEMENT) {
    throw new Error('berth: the native module could not create its argument block (external ArrayBuffers unavailable?)');
  }
  return new Float64Array(buffer, 0, 4);
}

const io = hotIo();
const nativeAcquire = binding.acquire;
const nativeAcquireWith = binding.acquireWith;
const nativeRelease = binding.release;
const nativeReleaseChecked = binding.releaseChecked;

/**
 * `key` is `engine handle * KEY_BASE + destination id`. A connection id (>= 0) on a hit;
 * `QUEUED` when queued under the caller's `waiter` token (priority 0, the pool's acquire
 * timeout); `QUEUE_FULL`; or `DEAD_BASE - id` for a dead idle connection to close before
 * calling again.
 */
export function acquire(key: number, waiter: number): number {
  io[0] = key;
  io[1] = waiter;
  nativeAcquire();
  return io[0]!;
}

/** As `acquire`, with a priority (an int32) and a timeout (ms or `Infinity`). */
export function acquireWith(key: number, waiter: number, priority: number, timeoutMs: number): number {
  io[0] = key;
  io[1] = waiter;
  io[2] = priority;
  io[3] = timeoutMs;
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
export type {
  EngineConfig,
  EngineEvent,
  EngineStats,
  EngineDestSnapshot,
  ForwardDone,
  ListenConfig,
  ListenerStats,
  NativeListener,
  RouteRequest,
} from '../native/index';

/** `release` / `offer` placements other than a waiter id. */
export const PLACED_IDLE = -1;
export const PLACED_CLOSE = -2;

/** Hot-path keys pack an engine handle and an id into one number: `handle * KEY_BASE + id`. */
export const KEY_BASE = 2 ** 32;

/** `acquire` results other than a connection id (small integers: no allocation to return). */
export const QUEUED = -1;
export const QUEUE_FULL = -2;
/** A dead idle connection `id` comes back as `DEAD_BASE - id`. */
export const DEAD_BASE = -3;

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
/** `discard` reason for a connection its user destroyed. */
export const DISCARD_BY_USER = -1;
