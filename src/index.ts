/**
 * berth: an upstream connection pool for Node.js with a Rust engine.
 *
 * ```ts
 * import { Pool } from 'berth-pool';
 * const pool = new Pool({ maxPerDestination: 10 });
 * await pool.use('127.0.0.1:6379', async (socket) => { ... });
 * ```
 *
 * One folder per product: `pool/` (the socket pool), `proxy/` (forward and the native
 * listener), `http/` (the HTTP agent), `resource/` (ResourcePool), `probe/` (probes and
 * completions), and `generic-pool/` (the `berth-pool/generic-pool` drop-in, its own entry);
 * `shared/` holds what they share (errors, the engine binding, validation, lifecycle).
 *
 * @module berth-pool
 */
export * from './pool';
export * from './shared';
export * from './http';
export * from './proxy';
export * from './resource';
export * from './probe';
