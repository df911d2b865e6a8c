/** What every product shares in the public API: the error type and the address policy. */
export { BerthError } from './errors';
export type { BerthErrorCode } from './errors';
export type { AddressPolicy, AddressPolicyEntry, AddressClass } from './address-policy';
export type { EventMap, TypedListener } from './typed-emitter';
export { metrics, METRICS_CONTENT_TYPE } from './metrics';
export { CHANNELS as DIAGNOSTICS_CHANNELS } from './diagnostics';
