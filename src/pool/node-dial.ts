/**
 * The Node-dialled path: Node makes the connect that the engine would make, over the
 * addresses the engine resolved and let through its address policy (an `EVENT_DIAL_ORDER`).
 * On Windows Node cannot adopt a Winsock socket by descriptor (`net.Socket({ fd })`), so
 * there every connection is made here from the start; elsewhere the internal switch
 * `BERTH_INTERNAL_NODE_DIAL=1` selects it, for tests. The engine keeps every decision; this
 * file only connects, and reports Node's own error code, which the engine classifies as it
 * classifies a native connect's (`DialError::from_node_connect`).
 */
import * as net from 'node:net';
import * as os from 'node:os';

/** Whether a Pool created now connects through Node: always on Windows, else by the internal switch. */
export function nodeDialSelected(): boolean {
  return process.platform === 'win32' || process.env.BERTH_INTERNAL_NODE_DIAL === '1';
}

/** How a Node connect failed: Node's error code (an errno name) or the engine's `CONNECT_TIMEOUT`, and Node's message. */
export interface NodeDialFailure {
  readonly code: string;
  readonly message: string;
}

/** A connect in flight: `cancel` destroys it without a report. */
export interface NodeDial {
  readonly socket: net.Socket;
  cancel(): void;
}

/** As the engine's native dial: keep-alive probes after a minute without traffic (`KEEPALIVE_IDLE`). */
const KEEPALIVE_IDLE_MS = 60_000;

/** RFC 8305's connection attempt delay, as the engine's Happy Eyeballs uses it (`ATTEMPT_DELAY`). */
const ATTEMPT_DELAY_MS = 250;

/** The longest delay setTimeout takes; a longer connect timeout is as good as none. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A host name no resolver is asked about: with several addresses, Node calls `lookup`, which answers the engine's list. */
const ORDER_HOST = 'berth-dial-order.invalid';

interface Address {
  readonly address: string;
  readonly family: 4 | 6;
  readonly port: number;
}

/** `ip:port` or `[v6%scope]:port`, as the engine formats a socket address. */
function parseAddress(text: string): Address {
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon);
  const port = Number(text.slice(colon + 1));
  return host.startsWith('[') ? { address: zoneByName(host.slice(1, -1)), family: 6, port } : { address: host, family: 4, port };
}

/**
 * A link-local address's numeric scope (the engine's `%4`) as the interface name: libuv on
 * Unix reads the zone as a name (if_nametoindex), while Windows takes the number as it is.
 */
function zoneByName(address: string): string {
  const at = address.indexOf('%');
  if (at < 0 || process.platform === 'win32') return address;
  const scope = Number(address.slice(at + 1));
  for (const [name, entries] of Object.entries(os.networkInterfaces())) {
    if (entries?.some((e) => e.family === 'IPv6' && e.scopeid === scope)) return `${address.slice(0, at)}%${name}`;
  }
  return address;
}

/**
 * Connects to the first of `addresses` (the engine's order: `ip:port`, `[v6]:port`, or one
 * `unix:/path`) that answers, with Node's Happy Eyeballs racing them as the engine would,
 * within `timeoutMs`. `done` is called once (unless cancelled): with no failure and the
 * connected socket (keep-alive and no-delay set as the native dial sets them), or with
 * the failure after the socket is destroyed.
 */
export function nodeConnect(addresses: readonly string[], timeoutMs: number, done: (failure: NodeDialFailure | undefined, socket: net.Socket) => void): NodeDial {
  let socket: net.Socket;
  const first = addresses[0] ?? '';
  if (first.startsWith('unix:')) {
    socket = net.connect({ path: first.slice('unix:'.length), allowHalfOpen: false });
  } else {
    const list = addresses.map(parseAddress);
    const one = list.length === 1 ? list[0]! : undefined;
    socket = net.connect({
      host: one?.address ?? ORDER_HOST,
      port: list[0]?.port ?? 0,
      allowHalfOpen: false,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: KEEPALIVE_IDLE_MS,
      autoSelectFamily: true,
      autoSelectFamilyAttemptTimeout: ATTEMPT_DELAY_MS,
      // Exactly the engine's addresses: no resolver, and the address policy already saw them.
      lookup: (_host, _options, callback) => {
        (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(
          null,
          list.map(({ address, family }) => ({ address, family })),
        );
      },
    });
  }
  let settled = false;
  const finish = (failure: NodeDialFailure | undefined): void => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.off('connect', onConnect);
    socket.off('error', onError);
    if (failure !== undefined) {
      // Its later errors (none expected once destroyed) must not crash the process.
      socket.on('error', ignore);
      // A connection to itself is reset, so that its port is not held in TIME_WAIT.
      if (failure === SELF_CONNECT) socket.resetAndDestroy();
      else socket.destroy();
    }
    done(failure, socket);
  };
  const onConnect = (): void => finish(connectedToItself(socket) ? SELF_CONNECT : undefined);
  const onError = (error: NodeJS.ErrnoException): void => finish(failureOf(error));
  socket.once('connect', onConnect);
  socket.once('error', onError);
  const timer =
    Number.isFinite(timeoutMs) && timeoutMs < MAX_TIMER_MS
      ? setTimeout(() => finish({ code: 'CONNECT_TIMEOUT', message: '' }), Math.max(1, timeoutMs))
      : undefined;
  return {
    socket,
    cancel: () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.on('error', ignore);
      socket.destroy();
    },
  };
}

function ignore(): void {}

/** A connect that reached its own source port: nothing listens there (see `connectedToItself`). */
const SELF_CONNECT: NodeDialFailure = {
  code: 'ECONNREFUSED',
  message: 'connection refused (the connect reached its own source port: nothing listens there)',
};

/**
 * Whether a TCP connect connected to itself: a connect to a local port nobody listens on can
 * pick that very port as its source and complete by simultaneous open, a "connection" that
 * echoes every byte back. The engine's own dial refuses it the same way.
 */
function connectedToItself(socket: net.Socket): boolean {
  return socket.remotePort !== undefined && socket.localPort === socket.remotePort && socket.localAddress === socket.remoteAddress;
}

/**
 * Node's error as the engine reads it. With several addresses, Node's Happy Eyeballs fails
 * with an AggregateError of every attempt's error: the last attempt's code is the dial's, as
 * the engine's own race reports its last failure.
 */
function failureOf(error: NodeJS.ErrnoException): NodeDialFailure {
  const errors = (error as Partial<AggregateError>).errors as NodeJS.ErrnoException[] | undefined;
  const last = Array.isArray(errors) && errors.length > 0 ? errors[errors.length - 1]! : error;
  return { code: String(last.code ?? error.code ?? 'ECONNFAILED'), message: last.message || error.message };
}
