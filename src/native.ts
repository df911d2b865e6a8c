/**
 * The native engine, loaded by napi-rs's generated loader (the prebuilt binary for this
 * platform, or the one built from source in `native/`).
 */
import type { Engine as EngineClass } from '../native/index';

/**
 * The hot path, as raw Node-API functions taking an engine's `handle` (see
 * crates/berth-node/src/hot.rs): napi-rs's generated wrappers cost ten times more per call.
 */
interface HotPath {
  /**
   * A connection id (>= 0, < `WAITER_BASE`) on a hit; `WAITER_BASE + waiter` when queued under
   * the caller's `waiter` token; `QUEUE_FULL`; or `-2 - id` for a dead idle connection to close
   * before calling again.
   */
  acquire(engine: number, dest: number, waiter: number, priority: number, timeoutMs: number): number;
  /** A waiter id (>= 0) the connection went to, `PLACED_IDLE` or `PLACED_CLOSE`. */
  release(engine: number, conn: number): number;
  /** As `release`, after a peek for bytes the lease left unread in the kernel. */
  releaseChecked(engine: number, conn: number): number;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require('../native/index.js') as { Engine: typeof EngineClass } & HotPath;

export const Engine = binding.Engine;
export const acquire = binding.acquire;
export const release = binding.release;
export const releaseChecked = binding.releaseChecked;
export type Engine = EngineClass;
export type { EngineConfig, EngineEvent, EngineStats, EngineDestSnapshot } from '../native/index';

/** `release` / `offer` placements other than a waiter id. */
export const PLACED_IDLE = -1;
export const PLACED_CLOSE = -2;

/** `acquire` results: queue full, and the offset of waiter ids. */
export const QUEUE_FULL = -1;
export const WAITER_BASE = 2 ** 32;

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
