/**
 * The engine's vocabulary, read from the binding: the numbers its hot calls answer with,
 * its event kinds and eviction reasons. Each is declared once, in the core
 * (crates/berth-core/src/contract.rs), and exported by the binding
 * (crates/berth-node/src/contract.rs); `__test__/contract.test.mjs` checks the facade against
 * them.
 */
import { binding } from './loader';

/** Hot keys pack an engine handle and an id into one number: `handle * KEY_BASE + id`. */
export const KEY_BASE: number = binding.KEY_BASE;

/** `release` / `offer` / `resRelease` placements other than a waiter id: idle. */
export const PLACED_IDLE: number = binding.PLACED_IDLE;
/** Closed (destroyed) by the caller. */
export const PLACED_CLOSE: number = binding.PLACED_CLOSE;

/** `acquire` / `resAcquire` results other than an id (small integers: no allocation to return). */
export const QUEUED: number = binding.QUEUED;
export const QUEUE_FULL: number = binding.QUEUE_FULL;
/** The destination id was forgotten (it held nothing through a sweep): intern it again. */
export const UNKNOWN_DESTINATION: number = binding.UNKNOWN_DESTINATION;
/** The resource pool is closed. */
export const CLOSED: number = binding.CLOSED;
/** An argument the facade should have refused (a bug in the facade if ever seen). */
export const BAD_ARGUMENT: number = binding.BAD_ARGUMENT;
/** A dead idle connection `id` comes back as `DEAD_BASE - id`. */
export const DEAD_BASE: number = binding.DEAD_BASE;
/** An idle resource past its lifetime comes back as `EXPIRED_BASE - slot`. */
export const EXPIRED_BASE: number = binding.EXPIRED_BASE;

/** `discard` reason for a connection its user destroyed (otherwise an eviction reason). */
export const DISCARD_BY_USER: number = binding.DISCARD_BY_USER;

/** The socket pool's event kinds (see EngineEvent). */
export const EVENT_DIALED: number = binding.EVENT_DIALED;
export const EVENT_DIAL_FAILED: number = binding.EVENT_DIAL_FAILED;
export const EVENT_EVICT: number = binding.EVENT_EVICT;
export const EVENT_WAITER_TIMED_OUT: number = binding.EVENT_WAITER_TIMED_OUT;
export const EVENT_MEMBER_UP: number = binding.EVENT_MEMBER_UP;
export const EVENT_MEMBER_DOWN: number = binding.EVENT_MEMBER_DOWN;
export const EVENT_MEMBER_EJECTED: number = binding.EVENT_MEMBER_EJECTED;
export const EVENT_MEMBER_CHECK: number = binding.EVENT_MEMBER_CHECK;
/** Node-dialled path: connect to the engine's addresses, then report the outcome. */
export const EVENT_DIAL_ORDER: number = binding.EVENT_DIAL_ORDER;

/** The resource pool's event kinds (see ResourceEngineEvent). */
export const RES_EVENT_CREATE: number = binding.RES_EVENT_CREATE;
export const RES_EVENT_EVICT: number = binding.RES_EVENT_EVICT;
export const RES_EVENT_WAITER_TIMED_OUT: number = binding.RES_EVENT_WAITER_TIMED_OUT;

/** Eviction reasons, as the engine numbers them. */
export const EVICT_PEER_CLOSED: number = binding.EVICT_PEER_CLOSED;
export const EVICT_UNHEALTHY: number = binding.EVICT_UNHEALTHY;
export const EVICT_KEEP_ALIVE_EXPIRED: number = binding.EVICT_KEEP_ALIVE_EXPIRED;

/** Every error code the engine reports (a dial's, a native session's). */
export const engineErrorCodes: () => string[] = binding.engineErrorCodes;
