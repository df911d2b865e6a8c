/**
 * The connections an agent returned to the pool and has not used since: what `agent.freeSockets`
 * shows, and what the agent's idle `timeout` closes. The pool owns them (idle); the agent only
 * remembers them. An array with swap-remove (each socket knows its slot), as for the requests in
 * flight: this changes on every request.
 */
import type * as net from 'node:net';

const kList = Symbol('berth.freeList');
const kSlot = Symbol('berth.freeSlot');
const kOptions = Symbol('berth.freeOptions');

interface FreeSocket extends net.Socket {
  [kList]?: FreeList | undefined;
  [kSlot]?: number;
  /** The options of the request that freed it: its name in `agent.freeSockets`. */
  [kOptions]?: object;
}

export class FreeList {
  readonly #sockets: FreeSocket[] = [];
  #pruneAt = 64;

  /** `socket` went back to the pool after a request made with `options`. */
  add(socket: net.Socket, options: object): void {
    const s = socket as FreeSocket;
    FreeList.remove(s);
    s[kList] = this;
    s[kSlot] = this.#sockets.push(s) - 1;
    s[kOptions] = options;
    // A connection closed while idle is never taken out by a request: dropped here, in
    // batches, so that the list stays within twice what is open.
    if (this.#sockets.length >= this.#pruneAt) {
      for (const t of [...this.#sockets]) if (t.destroyed) FreeList.remove(t);
      this.#pruneAt = Math.max(64, 2 * this.#sockets.length);
    }
  }

  /** Forgets `socket` (an agent took it for a request): a no-op for a socket in no list. */
  static remove(socket: net.Socket): void {
    const s = socket as FreeSocket;
    const list = s[kList];
    if (list === undefined) return;
    s[kList] = undefined;
    const sockets = list.#sockets;
    const slot = s[kSlot]!;
    const last = sockets.pop()!;
    if (last !== s) {
      sockets[slot] = last;
      last[kSlot] = slot;
    }
  }

  /** Whether `socket` is idle in some agent's list. */
  static has(socket: net.Socket): boolean {
    return (socket as FreeSocket)[kList] !== undefined;
  }

  /** The open sockets, each with the options it was freed with (closed ones are dropped). */
  entries(): [net.Socket, object][] {
    const out: [net.Socket, object][] = [];
    for (const s of [...this.#sockets]) {
      if (s.destroyed) FreeList.remove(s);
      else out.push([s, s[kOptions]!]);
    }
    return out;
  }
}
