/**
 * `berth:listener:session`: native sessions' ends, for subscribers. A listener's engine
 * reports its session ends to JS only while the channel has subscribers: an unref'd timer
 * polls `hasSubscribers` (diagnostics_channel tells nobody of a subscribe) and switches the
 * reports of every open listener on or off, so that without subscribers a session's end
 * never wakes JS. `pool.forward()` sessions end in JS anyway and publish directly.
 */
import type * as net from 'node:net';
import type { NativeListener, SessionEnded } from '../shared/native';
import type { ForwardResult } from '../proxy/forward';
import type { ProxyListener } from '../proxy/listener';
import { BerthError, dialError } from '../shared/errors';
import { sessionChannel } from '../shared/diagnostics';

/** A session's client (trace-messages.ts `SessionClient`). */
interface SessionClient {
  readonly address: string;
  readonly family: 'IPv4' | 'IPv6';
  readonly port: number;
}

/**
 * The pool, as the messages carry it: the Pool itself (typed `object` here: the Pool imports
 * this file; trace-messages.ts declares `SessionMessage` with it).
 */
type PoolRef = object;

/** How often the subscription is looked at (ms): session ends within this of a subscribe may be missed. */
export const SESSION_POLL_MS = 250;

interface Watched {
  readonly pool: PoolRef;
  readonly listener: ProxyListener;
  readonly native: NativeListener;
}

const watched = new Set<Watched>();
let reporting = false;
let timer: NodeJS.Timeout | undefined;

/** Reports `native`'s session ends while `berth:listener:session` has subscribers, until `unwatch`. */
export function watchSessions(pool: PoolRef, listener: ProxyListener, native: NativeListener): () => void {
  const entry: Watched = { pool, listener, native };
  watched.add(entry);
  if (sessionChannel.hasSubscribers) report(entry, true);
  reporting = sessionChannel.hasSubscribers;
  if (timer === undefined) {
    timer = setInterval(poll, SESSION_POLL_MS);
    timer.unref();
  }
  return () => {
    if (!watched.delete(entry)) return;
    entry.native.reportSessionEnds(null);
    if (watched.size === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

function poll(): void {
  const now = sessionChannel.hasSubscribers;
  if (now === reporting) return;
  reporting = now;
  for (const entry of watched) report(entry, now);
}

function report(entry: Watched, on: boolean): void {
  if (!on) return entry.native.reportSessionEnds(null);
  entry.native.reportSessionEnds(() => {
    for (const ended of entry.native.takeSessionEnds()) publishEnded(entry, ended);
  });
}

function publishEnded({ pool, listener }: Watched, ended: SessionEnded): void {
  if (!sessionChannel.hasSubscribers) return;
  sessionChannel.publish({
    listener,
    pool,
    client: ended.client as SessionClient,
    route: ended.route,
    ...(ended.member == null ? {} : { member: ended.member }),
    bytesIn: ended.bytesIn,
    bytesOut: ended.bytesOut,
    durationMs: ended.durationMs,
    end: ended.end,
    ...(ended.code == null ? {} : { error: sessionError(ended.code, ended.message ?? undefined, ended.route) }),
  });
}

function sessionError(code: string, message: string | undefined, route: string): BerthError {
  if (code === 'FORWARD_ERROR') return new BerthError('FORWARD_ERROR', message ?? 'the forwarded session failed', route);
  return dialError(code, message, route);
}

/** The inbound socket's peer, read before the engine takes it over (only while someone subscribes). */
export function clientOf(inbound: net.Socket): SessionClient | null {
  const { remoteAddress: address, remotePort: port, remoteFamily: family } = inbound;
  if (address === undefined || port === undefined) return null;
  return { address, port, family: family === 'IPv6' ? 'IPv6' : 'IPv4' };
}

/** A `forward()` session ended: published with `listener: null`. */
export function publishForward(pool: PoolRef, client: SessionClient | null, route: string, member: string | undefined, result: ForwardResult): void {
  if (!sessionChannel.hasSubscribers) return;
  sessionChannel.publish({
    listener: null,
    pool,
    client,
    route,
    ...(member === undefined ? {} : { member }),
    bytesIn: result.bytesIn,
    bytesOut: result.bytesOut,
    durationMs: result.durationMs,
    end: result.end,
    ...(result.error === undefined ? {} : { error: result.error }),
  });
}
