/** The socket pool: `Pool`, its leases, options, stats and `acquireMany`. */
export { Pool } from './pool';
export type { AcquireOptions, DrainOptions } from './pool';
export type { AcquireManyOptions } from './acquire-many';
export { Lease } from './lease';
export { DEFAULTS } from './config';
export type { PoolOptions, ResolvedPoolOptions } from './config';
export type { PoolStats, ConnectStats, PoolSnapshot, DestinationSnapshot, ConnectionSnapshot, LatencyQuantiles, PoolEvictions } from './stats';
export type { PoolAcquireOptions } from './pool';
export type { ConnectOptions, TlsOptions, HandshakeFunction, HandshakeContext, CheckFunction, CheckContext } from './connect-options';
