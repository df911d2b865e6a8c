/**
 * The errors a request made through the agent fails with when no connection could be had.
 *
 * Code written for `http.Agent` branches on Node's system error codes (`err.code ===
 * 'ECONNREFUSED'`), so a failed dial is reported the way Node reports it: an `Error` with
 * `code` (ECONNREFUSED, ENOENT, ETIMEDOUT, ENOTFOUND, EHOSTUNREACH, ...), `errno`, `syscall`
 * and `address`/`port` (or `hostname`), whose `cause` is the pool's `BerthError`. The pool's own
 * refusals (ACQUIRE_TIMEOUT, QUEUE_FULL, POOL_CLOSED, POOL_DRAINING) have no Node equivalent and
 * reach the request as the `BerthError` itself.
 */
import * as os from 'node:os';
import { BerthError } from '../shared/errors';

/** A Node-style system error, as `net.connect` or `dns.lookup` would have produced. */
export interface HttpAgentSystemError extends Error {
  /** Node's error code: `'ECONNREFUSED'`, `'ETIMEDOUT'`, `'ENOTFOUND'`, ... */
  code: string;
  /** The negated OS error number of `code`, as Node gives it (0 where the OS has none). */
  errno: number;
  /** `'getaddrinfo'` for a name that did not resolve, `'connect'` otherwise. */
  syscall: 'connect' | 'getaddrinfo';
  /** The host or socket path dialed (for `syscall: 'connect'`). */
  address?: string;
  /** The port dialed (for `syscall: 'connect'` to a TCP destination). */
  port?: number;
  /** The name that did not resolve (for `syscall: 'getaddrinfo'`). */
  hostname?: string;
  /** The pool's own error for the failed dial. */
  cause: BerthError;
}

const ERRNO_NAMES = new Map<number, string>(Object.entries(os.constants.errno).map(([name, n]) => [n, name]));

const OS_ERROR = /\(os error (\d+)\)/;

/** Node's own connect error in the message (the Node-dialled path): `connect ENOENT /path`. */
const NODE_ERROR = /failed: connect (E[A-Z0-9]+)\b/;

/** What the request's 'error' should be for an acquire that failed with `error`. */
export function requestError(error: unknown): Error {
  if (!(error instanceof BerthError)) return error instanceof Error ? error : new Error(String(error));
  const destination = error.destination ?? '';
  switch (error.code) {
    case 'CONNECT_REFUSED':
    case 'CONNECT_FAILED': {
      const errno = Number(OS_ERROR.exec(error.message)?.[1] ?? NaN);
      const name = ERRNO_NAMES.get(errno) ?? NODE_ERROR.exec(error.message)?.[1] ?? (error.code === 'CONNECT_REFUSED' ? 'ECONNREFUSED' : undefined);
      if (name === undefined) return error;
      return systemError(name, 'connect', destination, error);
    }
    case 'CONNECT_TIMEOUT':
      return systemError('ETIMEDOUT', 'connect', destination, error);
    case 'DNS_FAILED':
      return systemError('ENOTFOUND', 'getaddrinfo', destination, error);
    default:
      return error;
  }
}

function systemError(code: string, syscall: 'connect' | 'getaddrinfo', destination: string, cause: BerthError): HttpAgentSystemError {
  const errno = (os.constants.errno as Record<string, number>)[code];
  const where = addressOf(destination);
  let message: string;
  let fields: Partial<HttpAgentSystemError>;
  if (syscall === 'getaddrinfo') {
    message = `getaddrinfo ${code} ${where.host}`;
    fields = { hostname: where.host };
  } else if (where.port === undefined) {
    message = `connect ${code} ${where.host}`;
    fields = { address: where.host };
  } else {
    message = `connect ${code} ${where.host}:${where.port}`;
    fields = { address: where.host, port: where.port };
  }
  const err = new Error(message, { cause }) as HttpAgentSystemError;
  // Node's convention: errno is the negated OS error number (libuv's).
  Object.assign(err, { code, errno: errno === undefined ? 0 : -errno, syscall, ...fields });
  return err;
}

function addressOf(destination: string): { host: string; port: number | undefined } {
  if (destination.startsWith('unix:')) return { host: destination.slice(5), port: undefined };
  const colon = destination.lastIndexOf(':');
  let host = destination.slice(0, colon);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { host, port: Number(destination.slice(colon + 1)) };
}
