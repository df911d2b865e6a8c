/**
 * Leak detection on the socket pool (`leakDetectionThreshold`): what `Pool` plugs into the
 * shared watch (shared/leak-watch.ts). Leases are watched by their socket, which a lease and
 * its connection share; the pool's lease owner is wrapped so that every way a lease comes
 * back (release, destroy, the HTTP agent's discard) ends its watch. A pool with the option off
 * makes none of this: its owner is not wrapped and its acquires capture nothing.
 */
import type * as net from 'node:net';
import { LeakWatch, captureOrigin } from '../shared/leak-watch';
import type { TypedEmitter } from '../shared/typed-emitter';
import type { PoolEvents } from './events';
import type { Lease, LeaseOwner } from './lease';

/** The watch of one pool's leases: by socket, described by destination. */
export type PoolLeakWatch = LeakWatch<net.Socket, string>;

/** A watch that reports on `pool` as `leak` / `leakResolved`, or none when `threshold` is 0 (off). */
export function poolLeakWatch(threshold: number, pool: TypedEmitter<PoolEvents>): PoolLeakWatch | undefined {
  if (threshold === 0) return undefined;
  return new LeakWatch<net.Socket, string>(threshold, {
    leaked: (_socket, destination, ageMs, stack) => pool.emit('leak', { destination, ageMs, stack }),
    resolved: (_socket, destination, ageMs) => pool.emit('leakResolved', { destination, ageMs }),
  });
}

/** `owner` (the pool's lease owner), ending a lease's watch once it is back. */
export function watchedOwner<O extends LeaseOwner>(owner: O, watch: PoolLeakWatch): O {
  return {
    ...owner,
    releaseConnection(conn) {
      owner.releaseConnection(conn);
      watch.settled(conn.socket);
    },
    destroyConnection(conn, error, unused) {
      owner.destroyConnection(conn, error, unused);
      watch.settled(conn.socket);
    },
  };
}

const socketOf = (lease: Lease): net.Socket => lease.socket;
const destinationOf = (lease: Lease): string => lease.destination;

/**
 * An acquire with leak detection on: the stack of the call to `entry` (the public `acquire`)
 * is captured now, and the lease `acquire()` resolves to is watched from the moment it is
 * handed out.
 */
export function acquireWatched(watch: PoolLeakWatch, entry: Function, acquire: () => Promise<Lease>): Promise<Lease> {
  const origin = captureOrigin(entry);
  return watch.track(acquire(), origin, socketOf, destinationOf);
}
