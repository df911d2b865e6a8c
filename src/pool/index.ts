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
export { UpstreamGroup } from './group';
export type { GroupStats, MemberStats, MemberState, MemberEvent, GroupEvents } from './group';
export { GROUP_DEFAULTS } from './group-options';
export type {
  GroupOptions,
  GroupMemberInput,
  BalanceMode,
  HealthCheckOptions,
  OutlierOptions,
  RetryOptions,
  MemberCheckFunction,
  MemberCheckContext,
  LookupAddress,
} from './group-options';
export type { PoolEvents, EvictReason, CapName, CapReachedEvent, EvictedEvent, DialFailedEvent, LeakEvent, LeakResolvedEvent } from './events';
export type { ConnectMessage, AcquireContext, ReleaseMessage, EvictMessage, SessionMessage, SessionClient, MemberMessage } from './trace-messages';
