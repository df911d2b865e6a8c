/**
 * An acquire from a group: the engine picks a member (its balancer, over members that are up
 * and not yet tried), the acquire goes to that member's destination, and a connect failure
 * tries another member, within the group's attempts and retry budget, after its backoff, by
 * the acquire's deadline. The native lane does the same in `pool/groups.rs`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { BerthError, type BerthErrorCode } from '../shared/errors';
import type { Engine } from '../shared/native/pool-engine';
import type { Lease } from './lease';
import type { UpstreamGroup } from './group';

/** The failures another member may not share: what a group fails over on. */
const CONNECT_FAILURES: ReadonlySet<BerthErrorCode> = new Set<BerthErrorCode>([
  'CONNECT_TIMEOUT',
  'CONNECT_REFUSED',
  'CONNECT_FAILED',
  'DNS_FAILED',
  'DESTINATION_DENIED',
  'TLS_FAILED',
  'HANDSHAKE_FAILED',
  'HANDSHAKE_TIMEOUT',
]);

/** What one group acquire needs from the pool. */
export interface GroupAcquire {
  engine: Engine;
  group: UpstreamGroup;
  hashKey: string | undefined;
  /** Milliseconds for every try together (Infinity: no deadline). */
  timeout: number;
  signal: AbortSignal | undefined;
  /** Acquires from one member's destination within `timeout` ms. */
  acquireMember(destId: number, timeout: number): Promise<Lease>;
}

export async function acquireFromGroup(a: GroupAcquire): Promise<Lease> {
  const { engine, group } = a;
  await group.ready();
  const deadline = Date.now() + a.timeout;
  const tried: number[] = [];
  let last: unknown;
  for (let attempt = 1; ; attempt++) {
    if (group.removed) throw new TypeError(`group ${group.name} was removed`);
    const destId = engine.groupPick(group.id, a.hashKey, tried, attempt === 1);
    if (destId < 0) throw noHealthyMember(group, last);
    const left = deadline - Date.now();
    if (left <= 0) throw timedOut(group, last);
    try {
      return await a.acquireMember(destId, left);
    } catch (error) {
      if (!CONNECT_FAILURES.has((error as BerthError).code)) throw error;
      last = error;
      tried.push(destId);
      // No member left to try: the next pick finds none, counts it, and rejects.
      if (engine.groupEligible(group.id, tried) === 0) continue;
      if (attempt >= group.options.attempts || !engine.groupRetry(group.id)) throw error;
      const pause = engine.groupBackoff(group.id, attempt + 1, Math.floor(Math.random() * 2 ** 52));
      if (Date.now() + pause >= deadline) throw error;
      if (pause > 0) await sleep(pause, undefined, { signal: a.signal });
      else if (a.signal?.aborted) throw a.signal.reason;
    }
  }
}

function noHealthyMember(group: UpstreamGroup, last: unknown): BerthError {
  const cause = last ?? group.lookupError;
  const why = cause instanceof Error ? ` (last error: ${cause.message})` : '';
  return new BerthError('NO_HEALTHY_MEMBER', `group ${group.name} has no healthy member to connect to${why}`, `group:${group.name}`, cause === undefined ? undefined : { cause });
}

function timedOut(group: UpstreamGroup, last: unknown): BerthError {
  return new BerthError('ACQUIRE_TIMEOUT', `no member of group ${group.name} connected in time`, `group:${group.name}`, last === undefined ? undefined : { cause: last });
}
