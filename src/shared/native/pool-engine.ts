/**
 * The socket pool's engine (`Engine`, crates/berth-node/src/engine.rs) and its hot path
 * (hot.rs): `acquire`, `acquireWith`, `release`, `releaseWrote` over the shared block `io`.
 * Results are ids or the codes of ./contract.
 */
import type { Engine as EngineClass, EngineConfig, EngineEvent } from '../../../native/index';
import { binding, io as sharedIo } from './loader';

/** The argument block, held in this module: a module-local read on every hot call. */
const io = sharedIo;

export const Engine = binding.Engine;
export type Engine = EngineClass;

/**
 * A new engine. The facade validates the config first; should the engine still refuse a
 * value (an `order` it does not know, an `addressPolicy` entry), that is bad input: a
 * TypeError with the engine's message, which names the key.
 */
export function createEngine(config: EngineConfig, onEvent: (event: EngineEvent) => void): Engine {
  try {
    return new binding.Engine(config, onEvent);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'InvalidArg') throw new TypeError((error as Error).message);
    throw error;
  }
}

const nativeAcquire = binding.acquire;
const nativeAcquireWith = binding.acquireWith;
const nativeRelease = binding.release;
const nativeReleaseWrote = binding.releaseWrote;

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

/**
 * As `release`, after a lease that wrote: a reply it left unread may have reached the kernel
 * since the engine last looked, so a hand-off to a waiter looks first.
 */
export function releaseWrote(key: number): number {
  io[0] = key;
  nativeReleaseWrote();
  return io[0]!;
}

/** The engine's defaults, in ms (`Infinity`: none): `DEFAULTS` of the Pool's options. */
export const engineDefaults = binding.poolDefaults;

export type {
  AddressPolicyConfig,
  EngineConfig,
  EngineEvent,
  LatencyQuantiles,
  PoolEvictions,
  PoolStats,
  EngineDestSnapshot,
  EngineBuckets,
  EnginePoolMetrics,
  ForwardDone,
  ForwardFailure,
  ListenConfig,
  ListenerStats,
  NativeListener,
  RouteRequest,
  RouteAnswerObject,
  SessionEnded,
} from '../../../native/index';
