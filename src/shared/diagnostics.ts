/**
 * berth's `node:diagnostics_channel` channels, made once for the process. Publishers check
 * `hasSubscribers` (the acquire TracingChannel: its `start` channel's) before building a
 * message, so a channel nobody subscribes to costs one property read where it is published.
 * The messages' shapes are declared in src/pool/trace-messages.ts.
 */
import diagnosticsChannel from 'node:diagnostics_channel';

/** The channels' names, as undici names its own (`undici:request:create`, ...). */
export const CHANNELS = Object.freeze({
  /** A dial settled: ConnectMessage. */
  connect: 'berth:pool:connect',
  /** A TracingChannel around each acquire: AcquireContext. */
  acquire: 'berth:pool:acquire',
  /** A lease ended: ReleaseMessage. */
  release: 'berth:pool:release',
  /** The pool closed a connection it held: EvictMessage. */
  evict: 'berth:pool:evict',
  /** A native session ended: SessionMessage. */
  session: 'berth:listener:session',
  /** A group member changed state: MemberMessage. */
  member: 'berth:group:member',
} as const);

export const connectChannel = diagnosticsChannel.channel(CHANNELS.connect);
export const acquireChannel = diagnosticsChannel.tracingChannel<object, object>(CHANNELS.acquire);
/** Read on every acquire: a module constant, so the read is one property load. */
export const acquireStart = acquireChannel.start;
export const releaseChannel = diagnosticsChannel.channel(CHANNELS.release);
export const evictChannel = diagnosticsChannel.channel(CHANNELS.evict);
export const sessionChannel = diagnosticsChannel.channel(CHANNELS.session);
export const memberChannel = diagnosticsChannel.channel(CHANNELS.member);
