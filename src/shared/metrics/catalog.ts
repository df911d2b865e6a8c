/**
 * Every metric family berth writes: name, type, help. One list, so that the text renderer,
 * `berth-pool/prometheus` (which registers every family up front) and docs/metrics.md agree.
 * The names are fixed: dashboards and alerts are written against them.
 */
/** A family's Prometheus type. */
export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface FamilyInfo {
  readonly type: MetricType;
  readonly help: string;
}

const gauge = (help: string): FamilyInfo => ({ type: 'gauge', help });
const counter = (help: string): FamilyInfo => ({ type: 'counter', help });
const histogram = (help: string): FamilyInfo => ({ type: 'histogram', help });

export const CATALOG = {
  // Pool, per destination {pool, destination, group}.
  berth_connections_open: gauge('Open connections (idle + in use + dialing) per destination.'),
  berth_connections_idle: gauge('Idle connections ready for reuse per destination.'),
  berth_connections_in_use: gauge('Connections leased to JS or relayed by a native session, per destination.'),
  berth_connections_dialing: gauge('Connections being dialed per destination.'),
  berth_acquires_waiting: gauge('Acquires (and native sessions) queued for a connection, per destination.'),
  // Pool {pool}.
  berth_acquires_total: counter('Connections handed out: leases to JS and upstreams taken by native sessions.'),
  berth_connections_created_total: counter('Connections dialed successfully.'),
  berth_connections_reused_total: counter('Leases served by a connection an earlier lease used.'),
  berth_connections_closed_total: counter('Connections closed, for any reason.'),
  berth_connections_evicted_total: counter('Connections the pool closed itself, by reason.'),
  berth_dial_failures_total: counter('Dials that failed, by error code (HANDSHAKE_FAILED: a TLS or user handshake on a new connection).'),
  berth_acquire_timeouts_total: counter('Acquires rejected after waiting acquireTimeout.'),
  berth_tls_handshakes_total: counter('TLS handshakes on new connections, full or resumed from a cached session.'),
  berth_handshake_failures_total: counter('Handshakes (TLS or user handshake) on new connections that failed or timed out.'),
  berth_forward_sessions_total: counter('pool.forward() sessions ended.'),
  berth_forward_bytes_total: counter('Bytes moved by ended pool.forward() sessions (in: inbound to upstream, out: upstream to inbound).'),
  berth_acquire_wait_seconds: histogram('Time from acquire to lease (reuse hits count as 0).'),
  berth_connect_duration_seconds: histogram('Time to dial a new connection (name resolution included).'),
  // Native listeners {pool, listener}.
  berth_listener_sessions_total: counter('Connections a native listener routed to an upstream.'),
  berth_listener_sessions_active: gauge('Connections accepted and not yet closed (routing or forwarding).'),
  berth_listener_bytes_total: counter('Bytes moved by ended listener sessions (in: client to upstream, out: upstream to client).'),
  berth_listener_route_failures_total: counter('Connections refused by the route function (null, throw, reject, invalid destination).'),
  berth_listener_connect_failures_total: counter('Listener sessions whose upstream could not be connected.'),
  berth_listener_upstream_reused_total: counter('Listener sessions served by a reused upstream connection.'),
  berth_listener_idle_timeouts_total: counter('Listener sessions closed by idleTimeout.'),
  berth_listener_rejected_per_client_total: counter('Connections reset because their address had maxConnectionsPerClient sessions.'),
  berth_listener_accept_pauses_total: counter('Times the listener stopped accepting because maxConnections sessions were in flight.'),
  berth_listener_clients: gauge('Client addresses with sessions in flight.'),
  berth_listener_proxy_protocol_errors_total: counter('Connections closed for a missing, invalid or late PROXY protocol header.'),
  berth_listener_session_duration_seconds: histogram('How long listener sessions lasted, accept to close.'),
  // Groups {pool, group, member}.
  berth_group_member_state: gauge('Group member state: 1 for the current state, 0 for the others.'),
  berth_group_member_ejections_total: counter('Times a group member was ejected for failing.'),
  // ResourcePool {pool}.
  berth_resources_size: gauge('Resources that exist or are being created (idle + borrowed + validating + creating).'),
  berth_resources_idle: gauge('Idle resources.'),
  berth_resources_borrowed: gauge('Resources lent out.'),
  berth_resources_creating: gauge('Creates in flight.'),
  berth_resources_waiting: gauge('Acquires waiting for a resource.'),
  berth_resources_created_total: counter('Resources created.'),
  berth_resources_destroyed_total: counter('Resources destroyed.'),
  berth_resources_acquires_total: counter('Acquires served (reuse hits and hand-offs).'),
  berth_resources_reused_total: counter('Acquires served with a resource used before.'),
  berth_resources_acquire_timeouts_total: counter('Acquires that timed out.'),
  berth_resources_validation_failures_total: counter('Validations that said unhealthy, threw or rejected.'),
  berth_resources_create_errors_total: counter('Creates that failed for good (after their retries).'),
  berth_resources_evicted_total: counter('Resources the pool destroyed itself, by reason.'),
  berth_resource_acquire_wait_seconds: histogram('Time from acquire to resource (reuse hits count as 0).'),
} as const satisfies Record<string, FamilyInfo>;

export type FamilyName = keyof typeof CATALOG;
