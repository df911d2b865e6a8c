/**
 * berth: an upstream connection pool for Node.js with a Rust engine.
 *
 * ```ts
 * import { Pool } from 'berth-pool';
 * const pool = new Pool({ maxPerDestination: 10 });
 * await pool.use('127.0.0.1:6379', async (socket) => { ... });
 * ```
 */
export { Pool } from './pool';
export type { AcquireOptions, DrainOptions } from './pool';
export type { AcquireManyOptions } from './acquire-many';
export { Lease } from './lease';
export { BerthError } from './errors';
export type { BerthErrorCode } from './errors';
export { DEFAULTS } from './config';
export type { PoolOptions, ResolvedPoolOptions } from './config';
export type { AddressPolicy, AddressPolicyEntry, AddressClass } from './address-policy';
export type { PoolStats, PoolSnapshot, DestinationSnapshot, ConnectionSnapshot, LatencyQuantiles } from './stats';
export { HttpAgent } from './http-agent';
export type { HttpAgentOptions, HttpAgentRequestOptions, HttpAgentSystemError } from './http-agent';
export { ProxyListener } from './listener';
export type { ListenOptions, RouteFunction, RouteInfo, ProxyStats } from './listener';
export type { ForwardOptions, ForwardResult, ForwardEnd } from './forward';
export { ResourcePool } from './resource-pool';
export type { ResourceAcquireOptions, ResourcePoolEvents } from './resource-pool';
export type { ResourceDrainOptions } from './resource-pool';
export { ResourceLease } from './resource-lease';
export { pooled } from './pooled';
export { RESOURCE_DEFAULTS } from './resource-options';
export type { ResourcePoolOptions } from './resource-options';
export type { ResourcePoolStats } from './resource-stats';
export { completions } from './completions';
export type { Completions, CompletionsOptions, CompletionResult, CompletionFulfilled, CompletionRejected, Task, TaskContext } from './completions';
export { probe } from './probe';
export type { ProbeRun, ProbeResult, ProbeAnswer, ProbeFailure, ProbeState, ProbeError, ProbeErrorCode } from './probe';
export type { ProbeOptions, ProbeTarget, ProbeTargetObject } from './probe-options';
export type { ProbeSummary, ProbeRttSummary } from './probe-summary';
