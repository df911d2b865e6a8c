/**
 * A Pool's Prometheus families (see docs/metrics.md and shared/metrics/catalog.ts), built
 * from one engine gather (`engine.metrics()`), the connect counters JS keeps (TLS,
 * handshakes) and each listener's stats.
 */
import type { EngineBuckets, EnginePoolMetrics, NativeListener } from '../shared/native';
import { FamilySet, type Family } from '../shared/metrics/model';
import { foldDestinations } from '../shared/metrics/fold';
import type { ConnectStats } from './stats';

export interface ListenerMetrics {
  /** `host:port` as bound. */
  readonly listener: string;
  readonly native: NativeListener;
}

const DEST_GAUGES = ['berth_connections_open', 'berth_connections_idle', 'berth_connections_in_use', 'berth_connections_dialing', 'berth_acquires_waiting'] as const;

export function poolFamilies(pool: string, m: EnginePoolMetrics, connect: ConnectStats, listeners: readonly ListenerMetrics[], maxDestinations: number): Family[] {
  const set = new FamilySet();
  const p = { pool };
  const rows = foldDestinations(
    m.destinations.map((d) => ({ destination: d.destination, group: d.group, values: [d.open, d.idle, d.inUse, d.dialing, d.waiting] })),
    maxDestinations,
  );
  DEST_GAUGES.forEach((name, i) => {
    set.family(name);
    for (const row of rows) set.add(name, { ...p, destination: row.destination, group: row.group }, row.values[i]);
  });

  const s = m.stats;
  set.add('berth_acquires_total', p, m.acquires);
  set.add('berth_connections_created_total', p, s.created);
  set.add('berth_connections_reused_total', p, s.reused);
  set.add('berth_connections_closed_total', p, s.closed);
  const e = s.evicted;
  for (const [reason, n] of [['idle', e.idle], ['lifetime', e.lifetime], ['peerClosed', e.peerClosed], ['unhealthy', e.unhealthy], ['maxUses', e.maxUses], ['keepAliveExpired', e.keepAliveExpired]] as const) {
    set.add('berth_connections_evicted_total', { ...p, reason }, n);
  }
  for (const { code, count } of m.dialFailures) set.add('berth_dial_failures_total', { ...p, code }, count);
  set.add('berth_acquire_timeouts_total', p, s.acquireTimeouts);
  set.add('berth_tls_handshakes_total', { ...p, kind: 'full' }, connect.tlsFull);
  set.add('berth_tls_handshakes_total', { ...p, kind: 'resumed' }, connect.tlsResumed);
  set.add('berth_handshake_failures_total', p, connect.handshakesFailed + connect.handshakesTimedOut);
  set.add('berth_forward_sessions_total', p, m.forwardSessions);
  set.add('berth_forward_bytes_total', { ...p, direction: 'in' }, m.forwardBytesIn);
  set.add('berth_forward_bytes_total', { ...p, direction: 'out' }, m.forwardBytesOut);
  set.addHistogram('berth_acquire_wait_seconds', p, m.acquireWait);
  set.addHistogram('berth_connect_duration_seconds', p, m.connect);

  for (const { listener, native } of listeners) listenerFamilies(set, { ...p, listener }, native.stats(), native.sessionDurations());

  set.family('berth_group_member_state');
  set.family('berth_group_member_ejections_total');
  for (const g of m.members) {
    const labels = { ...p, group: g.group, member: g.member };
    for (const state of ['up', 'down', 'ejected']) set.add('berth_group_member_state', { ...labels, state }, g.state === state ? 1 : 0);
    set.add('berth_group_member_ejections_total', labels, g.ejections);
  }
  return set.families();
}

type ListenerStats = ReturnType<NativeListener['stats']>;

function listenerFamilies(set: FamilySet, l: { pool: string; listener: string }, s: ListenerStats, durations: EngineBuckets): void {
  set.add('berth_listener_sessions_total', l, s.sessionsTotal);
  set.add('berth_listener_sessions_active', l, s.sessionsActive);
  set.add('berth_listener_bytes_total', { ...l, direction: 'in' }, s.bytesIn);
  set.add('berth_listener_bytes_total', { ...l, direction: 'out' }, s.bytesOut);
  set.add('berth_listener_route_failures_total', l, s.routeFailures);
  set.add('berth_listener_connect_failures_total', l, s.connectFailures);
  set.add('berth_listener_upstream_reused_total', l, s.upstreamReused);
  set.add('berth_listener_idle_timeouts_total', l, s.idleTimeouts);
  set.add('berth_listener_rejected_per_client_total', l, s.rejectedPerClient);
  set.add('berth_listener_accept_pauses_total', l, s.acceptPauses);
  set.add('berth_listener_clients', l, s.clients);
  set.add('berth_listener_proxy_protocol_errors_total', l, s.proxyProtocolErrors);
  set.addHistogram('berth_listener_session_duration_seconds', l, durations);
}
