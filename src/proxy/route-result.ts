/**
 * The route function's answer, and its translation for the engine: a destination string goes
 * as it is; a `RouteResult` is checked here (a bad one refuses the connection, as a bad
 * destination does) and sent as one object.
 */
import type { RouteAnswerObject } from '../shared/native';

/** A route's answer with more than the destination. */
export interface RouteResult {
  /** Where: `'host:port'`, `'[v6]:port'`, `'unix:/path'` or `'group:<name>'`. */
  dest: string;
  /** Written to the client once the upstream is connected, before anything the upstream sends. */
  reply?: string | Buffer;
  /** Written to the client before closing when no upstream could be reached. */
  failReply?: string | Buffer;
  /** Sends the upstream a PROXY protocol header with the client's addresses first. */
  sendProxyProtocol?: 'v1' | 'v2';
  /**
   * Milliseconds this answer holds for later connections with the same `key`: they are routed
   * by the engine, without calling the route function. Requires `key`.
   */
  cacheFor?: number;
  /** What `cacheFor` is keyed by: the TLS server name, the HTTP Host, the client's address, or the listener's port. */
  key?: 'sni' | 'host' | 'clientIp' | 'localPort';
}

const KEYS: ReadonlySet<string> = new Set(['dest', 'reply', 'failReply', 'sendProxyProtocol', 'cacheFor', 'key']);
const MEMO_KEYS: ReadonlySet<string> = new Set(['sni', 'host', 'clientIp', 'localPort']);
/** Replies larger than this are refused: they are kept per session (and per remembered route). */
const MAX_REPLY = 64 * 1024;

/** The engine's form of a `RouteResult`, or undefined when it is not a valid one. */
export function toRouteAnswer(result: RouteResult): RouteAnswerObject | undefined {
  for (const key of Object.keys(result)) if (!KEYS.has(key)) return undefined;
  const { dest, reply, failReply, sendProxyProtocol, cacheFor, key } = result;
  if (typeof dest !== 'string') return undefined;
  const answer: RouteAnswerObject = { dest };
  if (reply !== undefined) {
    const bytes = asBytes(reply);
    if (bytes === undefined) return undefined;
    answer.reply = bytes;
  }
  if (failReply !== undefined) {
    const bytes = asBytes(failReply);
    if (bytes === undefined) return undefined;
    answer.failReply = bytes;
  }
  if (sendProxyProtocol !== undefined) {
    if (sendProxyProtocol !== 'v1' && sendProxyProtocol !== 'v2') return undefined;
    answer.sendProxyProtocol = sendProxyProtocol === 'v1' ? 1 : 2;
  }
  if (cacheFor !== undefined || key !== undefined) {
    if (typeof cacheFor !== 'number' || !(cacheFor >= 0) || !Number.isFinite(cacheFor)) return undefined;
    if (typeof key !== 'string' || !MEMO_KEYS.has(key)) return undefined;
    answer.cacheFor = cacheFor;
    answer.cacheKey = key;
  }
  return answer;
}

function asBytes(value: unknown): Buffer | undefined {
  const bytes = typeof value === 'string' ? Buffer.from(value) : Buffer.isBuffer(value) ? value : undefined;
  return bytes !== undefined && bytes.length <= MAX_REPLY ? bytes : undefined;
}
