/** The resource pool: `ResourcePool` for arbitrary resources, its leases, options and stats. */
export { ResourcePool } from './pool';
export type { ResourceAcquireOptions, ResourcePoolEvents, ResourceDrainOptions } from './pool';
export { ResourceLease } from './lease';
export { pooled } from './pooled';
export { RESOURCE_DEFAULTS } from './options';
export type { ResourcePoolOptions } from './options';
export type { ResourcePoolStats } from './stats';
export type { ResourceCapName, ResourceCapReachedEvent, ResourceEvictReason, ResourceEvictedEvent } from './observe';
export type { ResourceLeakEvent, ResourceLeakResolvedEvent } from './leak';
