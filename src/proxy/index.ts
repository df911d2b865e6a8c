/** The proxy data path: `pool.forward()` and the native listener (`pool.listen()`). */
export { ProxyListener } from './listener';
export type {
  ListenOptions,
  RouteFunction,
  RouteInfo,
  ProxyStats,
  ListenerCloseOptions,
  ListenerCloseResult,
  ProxyProtocolAccept,
  ProxyProtocolVersion,
} from './listener';
export type { ForwardOptions, ForwardResult, ForwardEnd } from './forward';
export type { RouteResult } from './route-result';
