/**
 * The native engine, loaded by napi-rs's generated loader (the prebuilt binary for this
 * platform, or the one built from source in `native/`).
 */
import type { Engine as EngineClass } from '../native/index';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const binding = require('../native/index.js') as { Engine: typeof EngineClass };

export const Engine = binding.Engine;
export type Engine = EngineClass;
export type { EngineConfig, EngineEvent, EngineStats, EngineDestSnapshot } from '../native/index';

/** `release` / `offer` placements other than a waiter id. */
export const PLACED_IDLE = -1;
export const PLACED_CLOSE = -2;

/** `tryAcquire` result for "no idle connection". */
export const MISS = -1;

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
