/**
 * The resource pool's engine (`ResourceEngine`, crates/berth-node/src/resource.rs) and its
 * hot path (resource_hot.rs): `resAcquire`, `resRelease`, `resGauges` over the shared block
 * `io`. Results are ids or the codes of ./contract.
 */
import type { ResourceEngine as ResourceEngineClass } from '../../../native/index';
import { binding, io as sharedIo } from './loader';

/** The argument block, held in this module: a module-local read on every hot call. */
const io = sharedIo;

export const ResourceEngine = binding.ResourceEngine;
export type ResourceEngine = ResourceEngineClass;
export type {
  ResourceEngineConfig,
  ResourceEngineEvent,
  ResourceEngineStats,
  ResourceEngineClosed,
} from '../../../native/index';

const nativeResAcquire = binding.resAcquire;
const nativeResRelease = binding.resRelease;
const nativeResGauges = binding.resGauges;

/**
 * Takes an idle resource of engine `handle`, or queues under the caller's `waiter` token (a
 * non-negative integer) with `priority` (an int32) and `timeoutMs` (`NaN`: the engine's
 * `acquireTimeout`; `Infinity`: none). A slot id (>= 0) on a hit; `QUEUED` (then
 * `resCreateSlot()` is the slot to create now, or -1); `QUEUE_FULL`; `BAD_ARGUMENT`; `CLOSED`;
 * or `EXPIRED_BASE - slot` for an idle resource past its lifetime: destroy it, report
 * `destroyed(slot)`, and call again.
 */
export function resAcquire(handle: number, waiter: number, priority: number, timeoutMs: number): number {
  io[0] = handle;
  io[1] = waiter;
  io[2] = priority;
  io[3] = timeoutMs;
  nativeResAcquire();
  return io[0]!;
}

/** After `resAcquire` returned `QUEUED`: the slot to create now, or -1. */
export function resCreateSlot(): number {
  return io[1]!;
}

/**
 * `key` is `handle * KEY_BASE + slot`. The waiter (>= 0) the resource went to, `PLACED_IDLE`,
 * `PLACED_CLOSE` (destroy it, then report `destroyed(slot)`), or `NOT_BORROWED`.
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

export const GAUGE_SIZE: number = binding.GAUGE_SIZE;
export const GAUGE_IDLE: number = binding.GAUGE_IDLE;

/** One gauge of the last `resGauges` call. */
export function gauge(which: number): number {
  return io[which]!;
}
