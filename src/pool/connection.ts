/**
 * One pooled connection as JS sees it: the `net.Socket` that owns its descriptor, kept across
 * leases (wrapping a descriptor anew costs about as much as a round trip), and the hygiene
 * that makes a returned socket safe to hand to the next caller.
 */
import * as net from 'node:net';

export const enum ConnState {
  Idle,
  Leased,
  Closing,
}

/** What the pool does when a connection's socket changes under it. */
export interface ConnectionOwner {
  /** The peer closed, reset or errored the socket. */
  onSocketEnded(conn: Connection): void;
  /** The socket's descriptor is closed. */
  onSocketClosed(conn: Connection): void;
  /** Application data arrived on an idle layered (TLS) connection: nobody asked for it. */
  onIdleData(conn: Connection): void;
}

const kConnection = Symbol('berth.connection');

interface PooledSocket extends net.Socket {
  [kConnection]?: Connection;
}

// Shared listeners (one function for every socket, found through the socket): installing a
// closure per connection would cost an allocation per dial for nothing.
function onEnd(this: PooledSocket): void {
  const conn = this[kConnection];
  if (conn === undefined) return;
  conn.touched = true;
  conn.owner.onSocketEnded(conn);
}

function onError(this: PooledSocket): void {
  // Without a listener an 'error' on an idle socket would crash the process. While leased, the
  // user's own 'error' listeners see the error too; the socket closes and the lease's release
  // then discards it.
  const conn = this[kConnection];
  if (conn === undefined) return;
  conn.touched = true;
  conn.owner.onSocketEnded(conn);
}

function onNewListener(this: PooledSocket, name: string | symbol): void {
  const conn = this[kConnection];
  if (conn !== undefined && conn.state === ConnState.Leased) conn.addedNames.push(name);
}

/**
 * Marks the lease as having written, so that release tells the engine (a reply left unread
 * may be in the kernel). An own property on each pooled socket: `pipe()` and every other
 * writer call `socket.write`, and the flag costs nothing on leases that do not write (reading
 * `bytesWritten` on every release cost a tenth of a reuse cycle).
 */
function pooledWrite(this: PooledSocket, ...args: unknown[]): boolean {
  const conn = this[kConnection];
  if (conn !== undefined) conn.wrote = true;
  // Looked up at each call, as in the wrappers below.
  return (Object.getPrototypeOf(this).write as (...a: unknown[]) => boolean).apply(this, args);
}

/**
 * The socket methods after which the next lease could find the socket different: ended,
 * paused or flowing, decoding, corked, with a timeout. Each is shadowed on pooled sockets by a
 * wrapper that notes the call, so that release can skip the full check (a dozen stream
 * getters, a tenth of a contended reuse cycle) for a lease that made none of them.
 */
const STATE_CHANGERS = ['end', 'pause', 'resume', 'setEncoding', 'cork', 'setTimeout'] as const;

const stateChangerWrappers = STATE_CHANGERS.map((name) => {
  function noted(this: PooledSocket, ...args: unknown[]): unknown {
    const conn = this[kConnection];
    if (conn !== undefined) conn.touched = true;
    // Looked up at each call rather than captured at load, so that a later patch of
    // net.Socket.prototype (instrumentation does this) still applies to pooled sockets; through
    // the socket's own prototype, which for a TLS socket is tls.TLSSocket's.
    return ((Object.getPrototypeOf(this) as net.Socket)[name] as (...a: unknown[]) => unknown).apply(this, args);
  }
  return [name, noted] as const;
});

/** On the socket that owns the descriptor: it is closed now. */
function onClose(this: PooledSocket): void {
  const conn = this[kConnection];
  if (conn !== undefined) conn.owner.onSocketClosed(conn);
}

/** On a pooled socket layered over the descriptor's (TLS): closing it closes the layer below. */
function onLayerClose(this: PooledSocket): void {
  const conn = this[kConnection];
  if (conn !== undefined && !conn.raw.destroyed) conn.raw.destroy();
}

function ignore(): void {}

/** Data read from an idle layered socket: bytes the next lease never asked for. */
function onIdleData(this: PooledSocket): void {
  const conn = this[kConnection];
  if (conn !== undefined && conn.state === ConnState.Idle) conn.owner.onIdleData(conn);
}

export class Connection {
  readonly id: number;
  /** What leases get: the socket over the descriptor, or a layer over it (TLS). */
  readonly socket: net.Socket;
  /** The socket that owns the descriptor: `socket` itself, or the one under its layer. */
  readonly raw: net.Socket;
  /** `socket` is a layer (TLS) over `raw`: the engine cannot read its bytes (see `watchIdle`). */
  readonly layered: boolean;
  /** The engine's id of its destination (one per address and connect profile). */
  readonly destId: number;
  readonly destination: string;
  /** The group its destination is a member of, if any. */
  group: string | undefined;
  readonly owner: ConnectionOwner;
  state: ConnState = ConnState.Leased;
  /** Leases handed out so far: the first lease is not `reused`. */
  uses = 0;
  /** The socket is ref'd (keeps the event loop alive): true while leased, and briefly after. */
  refed = true;
  /** The current lease wrote to the socket (reset when a lease begins). */
  wrote = false;
  /**
   * The current lease called a method that changes the socket's state, or the peer ended or
   * broke it (reset when a lease begins).
   */
  touched = false;
  /** Queued for the batched unref of idle sockets. */
  unrefQueued = false;
  /**
   * A layered (TLS) socket reads while idle (see `watchIdle`): true from its placement in the
   * idle list until it is taken out.
   */
  idleWatched = false;
  /**
   * Node connected it (the Node-dialled path): the engine has no descriptor to peek at, so
   * the socket reads while idle (see `watchIdle`) and is looked at when handed out.
   */
  nodeOwned = false;
  /** When its current lease began (performance.now()), recorded only while `berth:pool:release` has subscribers. */
  leasedAt = NaN;
  /**
   * The events that got a listener during the current lease, seen through 'newListener'
   * (repeats allowed); emptied when the listeners are restored.
   */
  readonly addedNames: (string | symbol)[] = [];
  /** Listeners present when the pool installed its own: anything beyond them is the user's. */
  readonly #baseline: ReadonlyMap<string | symbol, readonly Function[]>;
  readonly #baselineNames: number;

  /**
   * `socket` wraps the descriptor, or is layered over `raw`, which does (TLS, or what a
   * handshake returned).
   */
  constructor(id: number, destId: number, destination: string, owner: ConnectionOwner, pooled: net.Socket, under: net.Socket = pooled) {
    const socket = pooled as PooledSocket;
    const raw = under as PooledSocket;
    this.id = id;
    this.destId = destId;
    this.destination = destination;
    this.owner = owner;
    this.raw = raw;
    this.layered = raw !== socket;
    socket[kConnection] = this;
    socket.on('end', onEnd);
    socket.on('error', onError);
    if (raw === socket) {
      socket.on('close', onClose);
    } else {
      raw[kConnection] = this;
      raw.on('close', onClose);
      raw.on('error', ignore);
      socket.on('close', onLayerClose);
    }
    socket.on('newListener', onNewListener);
    socket.write = pooledWrite as net.Socket['write'];
    for (const [name, wrapper] of stateChangerWrappers) (socket as unknown as Record<string, unknown>)[name] = wrapper;
    this.socket = socket;
    this.#baseline = new Map(socket.eventNames().map((name) => [name, socket.listeners(name)]));
    this.#baselineNames = eventNameCount(socket);
  }

  /**
   * Readies the socket for the next lease, or says it cannot be: it must be open both ways,
   * with nothing unread and nothing that changes how the next user reads it. Then undoes what
   * the lease may have done to it: listeners, flowing mode, timeout. (One method rather than a
   * check and a reset: this runs on every release.)
   */
  readyForReuse(): boolean {
    const s = this.socket;
    // No engine peek will see a Node-owned socket's end (a release may hand it straight to a
    // waiter): one that read its peer's FIN, or cannot be written, is not reused.
    if (this.nodeOwned && (readEnded(s) || !s.writable)) return false;
    // A lease that made no state-changing call and added or removed no listener (it only
    // wrote, or read with read()): then only data left unread and a socket destroyed under it
    // (a reset, an error) need a look. Anything else the full check below looks at changes
    // only through a call or an event noted in `touched`, or a listener added or removed.
    const listenersChanged = this.#listenersChanged();
    if (!this.touched && !listenersChanged && s.readableLength === 0 && !s.destroyed) return true;
    if (
      s.destroyed ||
      s.readableEnded ||
      s.writableEnded ||
      s.readableLength !== 0 ||
      s.readableEncoding !== null ||
      s.writableCorked !== 0 ||
      s.errored !== null
    ) {
      return false;
    }
    if (listenersChanged) this.#restoreListeners();
    if (s.readableFlowing !== null) {
      // The user read in flowing mode (or paused): stop, and return to the initial state in
      // which data waits in the buffer until the next user attaches a reader.
      s.pause();
      // Node has a setter for this (the typings call it read-only).
      (s as { readableFlowing: boolean | null }).readableFlowing = null;
    }
    if (s.timeout !== undefined && s.timeout !== 0) s.setTimeout(0);
    return true;
  }

  /**
   * Keeps an idle layered (TLS) socket reading. The engine cannot tell a TLS record that
   * carries a session ticket from one that carries data, so it does not count waiting bytes
   * against such a connection; reading them here does: the TLS layer consumes tickets
   * silently, while application data nobody asked for (a reply a lease left unread, a
   * server's error before it closes) or a `close_notify` evicts the connection.
   */
  watchIdle(): void {
    this.idleWatched = true;
    this.socket.on('data', onIdleData);
    net.Socket.prototype.resume.call(this.socket);
  }

  /** Stops `watchIdle`'s reading: the socket is paused with no reader again, as leases find it. */
  unwatchIdle(): void {
    const s = this.socket;
    this.idleWatched = false;
    s.off('data', onIdleData);
    net.Socket.prototype.pause.call(s);
    // Node has a setter for this (the typings call it read-only).
    (s as { readableFlowing: boolean | null }).readableFlowing = null;
  }

  /** Whether a socket taken from the idle list is still fit to hand out. */
  stillUsable(): boolean {
    if (this.idleWatched) this.unwatchIdle();
    const s = this.socket;
    if (s.destroyed || s.readableLength !== 0 || s.readableFlowing !== null) return false;
    // No engine peek saw a Node-owned socket: its own state must show it open both ways (an
    // end of stream it read but did not emit yet included).
    return !this.nodeOwned || (s.writable && !s.readableEnded && !readEnded(s));
  }

  /**
   * Adding a listener is seen through 'newListener'; removing a whole event's listeners
   * (removeAllListeners) changes the number of event names.
   */
  #listenersChanged(): boolean {
    return this.addedNames.length !== 0 || eventNameCount(this.socket) !== this.#baselineNames;
  }

  /**
   * Removes the listeners the lease added and puts back the pool's own it removed. Looks only
   * at the events that got a listener during the lease, and at the pool's own events whose
   * count fell: a TLS socket carries a dozen events of its own, and walking them all on every
   * release cost several microseconds.
   */
  #restoreListeners(): void {
    const s = this.socket;
    const added = this.addedNames;
    for (let i = 0; i < added.length; i++) {
      const name = added[i]!;
      if (added.indexOf(name) !== i) continue;
      const keep = this.#baseline.get(name);
      for (const listener of s.listeners(name)) {
        if (keep === undefined || !keep.includes(listener)) s.removeListener(name, listener as (...args: unknown[]) => void);
      }
    }
    added.length = 0;
    // Every event now has none but the pool's own listeners, less any the lease removed: a
    // count short of the pool's says which to put back.
    for (const [name, listeners] of this.#baseline) {
      if (s.listenerCount(name) === listeners.length) continue;
      const present = s.listeners(name);
      for (const listener of listeners) {
        if (!present.includes(listener)) s.on(name as string, listener as (...args: unknown[]) => void);
      }
    }
  }

  /** Lets the socket keep the process alive (while leased). */
  ref(): void {
    this.socket.ref();
    if (this.raw !== this.socket) this.raw.ref();
  }

  /** Lets the process exit with the socket open (while idle). */
  unref(): void {
    this.socket.unref();
    if (this.raw !== this.socket) this.raw.unref();
  }

  /** Destroys the socket; the pool learns of the closed descriptor through 'close'. */
  destroy(error?: Error): void {
    this.state = ConnState.Closing;
    if (!this.socket.destroyed) this.socket.destroy(error);
    if (!this.raw.destroyed) this.raw.destroy();
  }
}

/** The stream has read its end (Node emits 'end' only once a reader drains it): `_readableState.ended`. */
function readEnded(socket: net.Socket): boolean {
  return (socket as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true;
}

/**
 * The number of event names with listeners: EventEmitter's long-stable `_eventsCount`, read
 * on every release because `eventNames()` allocates and costs more than the rest of a reuse.
 */
function eventNameCount(socket: net.Socket): number {
  return (socket as unknown as { _eventsCount: number })._eventsCount;
}
