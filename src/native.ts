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
   * `key` is `engine handle * KEY_BASE + destination id`. A connection id (>= 0, < `WAITER_BASE`)
   * on a hit; `WAITER_BASE + waiter` when queued under the caller's `waiter` token (priority 0,
   * the pool's acquire timeout); `QUEUE_FULL`; or `-2 - id` for a dead idle connection to close
   * before calling again.
   */
  acquire(key: number, waiter: number): number;
  /** As `acquire`, with a priority and a timeout (ms or `Infinity`). */
  acquireWith(key: number, waiter: number, priority: number, timeoutMs: number): number;
  /**
   * `key` is `engine handle * KEY_BASE + connection id`. A waiter (>= 0) the connection went to,
   * `PLACED_IDLE` or `PLACED_CLOSE`.
   */
  release(key: number): number;
  /** As `release`, after a peek for bytes the lease left unread in the kernel. */
  releaseChecked(key: number): number;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require('../native/index.js') as { Engine: typeof EngineClass } & HotPath;

export const Engine = binding.Engine;
export const acquire = binding.acquire;
export const acquireWith = binding.acquireWith;
export const release = binding.release;
export const releaseChecked = binding.releaseChecked;
export type Engine = EngineClass;
export type { EngineConfig, EngineEvent, EngineStats, EngineDestSnapshot } from '../native/index';

/** `release` / `offer` placements other than a waiter id. */
export const PLACED_IDLE = -1;
export const PLACED_CLOSE = -2;

/** Hot-path keys pack an engine handle and an id into one number: `handle * KEY_BASE + id`. */
export const KEY_BASE = 2 ** 32;

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
