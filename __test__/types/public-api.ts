// Type test of berth's public API, as a user's TypeScript sees it: imported from 'berth-pool' and
// 'berth-pool/generic-pool' (resolved through the package's own "exports" and their "types"), every
// public call and type used once, with their result types checked exactly (an `any` fails),
// and `@ts-expect-error` lines proving wrong usage is rejected. Compiled, never run:
//
//   npm run test:types        (tsc -p __test__/types/tsconfig.json)
//
// This file is CommonJS (the package has no "type": "module"), so it resolves the "require"
// conditions; public-api-esm.mts checks the "import" side.

import { EventEmitter, once } from 'node:events';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import {
  BerthError,
  completions,
  DEFAULTS,
  HttpAgent,
  HttpsAgent,
  Lease,
  Pool,
  pooled,
  probe,
  ProxyListener,
  RESOURCE_DEFAULTS,
  ResourceLease,
  ResourcePool,
  UpstreamGroup,
  GROUP_DEFAULTS,
  DIAGNOSTICS_CHANNELS,
  type AcquireContext,
  type CapName,
  type CapReachedEvent,
  type EvictReason,
  type ConnectMessage,
  type EvictMessage,
  type MemberMessage,
  type ReleaseMessage,
  type ResourceCapReachedEvent,
  type ResourceEvictedEvent,
  type SessionMessage,
} from 'berth-pool';
import type { GroupOptions, GroupStats, MemberEvent, MemberStats, BalanceMode } from 'berth-pool';
import type { ListenerCloseOptions, ListenerCloseResult } from 'berth-pool';
import type {
  AcquireManyOptions,
  AcquireOptions,
  AddressClass,
  AddressPolicy,
  AddressPolicyEntry,
  BerthErrorCode,
  CheckFunction,
  ConnectOptions,
  ConnectStats,
  HandshakeFunction,
  PoolAcquireOptions,
  TlsOptions,
  CompletionFulfilled,
  CompletionRejected,
  CompletionResult,
  Completions,
  CompletionsOptions,
  ConnectionSnapshot,
  DestinationSnapshot,
  DrainOptions,
  ForwardEnd,
  ForwardOptions,
  ForwardResult,
  HttpAgentOptions,
  HttpAgentOwnPoolOptions,
  HttpsAgentOptions,
  HttpAgentRequestOptions,
  HttpAgentSystemError,
  ListenOptions,
  PoolOptions,
  PoolEvictions,
  PoolSnapshot,
  PoolStats,
  ProbeAnswer,
  ProbeError,
  ProbeErrorCode,
  ProbeFailure,
  ProbeOptions,
  ProbeResult,
  ProbeRttSummary,
  ProbeRun,
  ProbeState,
  ProbeSummary,
  ProbeTarget,
  ProbeTargetObject,
  ProxyStats,
  ResolvedPoolOptions,
  ResourceAcquireOptions,
  ResourcePoolEvents,
  ResourceDrainOptions,
  LeakEvent,
  LeakResolvedEvent,
  ResourceLeakEvent,
  ResourceLeakResolvedEvent,
  ResourcePoolOptions,
  ResourcePoolStats,
  RouteFunction,
  RouteInfo,
  Task,
  TaskContext,
} from 'berth-pool';
import genericPool, {
  createPool,
  DefaultEvictor,
  Deque,
  Pool as GenericPool,
  PriorityQueue,
  TimeoutError,
} from 'berth-pool/generic-pool';
import type { EvictionConfig, Factory, Options as GenericPoolOptions, PoolEvents } from 'berth-pool/generic-pool';
import { metrics, METRICS_CONTENT_TYPE } from 'berth-pool';
import { registerBerthMetrics, BERTH_METRIC_NAMES } from 'berth-pool/prometheus';
import type { MetricRegistry, PromMetric, PromMetricData } from 'berth-pool/prometheus';
import { Registry as PromRegistry } from 'prom-client';

// ---- helpers --------------------------------------------------------------------------------

/** True only when A and B are the same type (`any` equals nothing but `any`). */
type Equals<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false;
/** Compiles only for `true`. */
function assert<T extends true>(): void {}
/** Checks that `value` has exactly type T. */
function exact<T>() {
  return <V>(value: V & (Equals<V, T> extends true ? unknown : never)): V => value;
}
declare const signal: AbortSignal;
declare const socket: net.Socket;

// ---- Pool -----------------------------------------------------------------------------------

async function poolApi(): Promise<void> {
  const options: PoolOptions = {
    maxPerDestination: 8,
    maxIdlePerDestination: 8,
    maxTotal: 64,
    maxTotalIdle: 32,
    maxWaiters: 100,
    maxConcurrentDials: 2,
    idleTimeout: 30_000,
    maxLifetime: Infinity,
    connectTimeout: 1_000,
    acquireTimeout: 5_000,
    order: 'fifo',
    addressPolicy: { allow: ['10.0.0.0/8', 'unix'], deny: ['loopback', '10.0.0.5'] },
  };
  const pool = new Pool(options);
  const classes: AddressClass[] = ['loopback', 'private', 'linkLocal', 'uniqueLocal', 'multicast', 'unspecified', 'unix'];
  const entries: readonly AddressPolicyEntry[] = [...classes, '::1/128'];
  const policy: AddressPolicy = { deny: entries };
  new Pool({ addressPolicy: policy });
  exact<AddressPolicy>()(pool.options.addressPolicy);
  // @ts-expect-error entries are strings
  new Pool({ addressPolicy: { deny: [127] } });
  // @ts-expect-error a policy is { allow?, deny? }
  new Pool({ addressPolicy: { denied: ['loopback'] } });
  new Pool();
  exact<Readonly<ResolvedPoolOptions>>()(pool.options);
  exact<number>()(pool.options.maxPerDestination);
  exact<'lifo' | 'fifo'>()(DEFAULTS.order);
  // @ts-expect-error misspelled option
  new Pool({ maxPerDestinaton: 8 });
  // @ts-expect-error order is 'lifo' or 'fifo'
  new Pool({ order: 'random' });
  // @ts-expect-error the resolved options are read-only
  pool.options.maxTotal = 1;

  // acquire, and the lease
  const acquireOptions: AcquireOptions = { signal, timeout: 100, priority: 1 };
  const lease = await pool.acquire('127.0.0.1:6379', acquireOptions);
  exact<Lease>()(lease);
  exact<net.Socket>()(lease.socket);
  exact<boolean>()(lease.reused);
  exact<string>()(lease.destination);
  exact<boolean>()(lease.released);
  exact<void>()(lease.release());
  exact<void>()(lease.destroy(new Error('protocol error')));
  lease.destroy();
  exact<Promise<void>>()(lease[Symbol.asyncDispose]());
  {
    await using leased = await pool.acquire('unix:/run/app.sock');
    leased.socket.write('PING\r\n');
  }
  // @ts-expect-error the destination is a string
  await pool.acquire(6379);
  // @ts-expect-error misspelled acquire option
  await pool.acquire('127.0.0.1:6379', { timeut: 100 });
  // @ts-expect-error a lease's socket is read-only
  lease.socket = socket;

  // TLS and connection hooks
  const tlsOptions: TlsOptions = { ca: 'PEM', servername: 'api.example.com', ALPNProtocols: ['http/1.1'], rejectUnauthorized: true };
  const handshake: HandshakeFunction = async (raw, { destination, signal }) => {
    exact<net.Socket>()(raw);
    exact<string>()(destination);
    exact<AbortSignal>()(signal);
  };
  const check: CheckFunction = (raw, { idleMs }) => raw.writable && idleMs < 1000;
  const connectOptions: ConnectOptions = { tls: tlsOptions, handshake, check };
  const tlsPool = new Pool({ tls: true, handshakeTimeout: 5000, checkTimeout: 100, maxCachedSessions: 10, ...connectOptions });
  const perAcquire: PoolAcquireOptions = { tls: false, timeout: 100 };
  await tlsPool.acquire('api.example.com:443', perAcquire);
  await tlsPool.warm('api.example.com:443', 2, { tls: tlsOptions });
  // @ts-expect-error the destination says where to connect
  await tlsPool.acquire('api.example.com:443', { tls: { host: 'other' } });
  // @ts-expect-error a handshake resolves to a net.Socket or nothing
  await tlsPool.acquire('api.example.com:443', { handshake: async () => 'no' });
  exact<ConnectStats>()(tlsPool.stats().connect);
  exact<number>()(tlsPool.stats().connect.tlsResumed);
  exact<string>()(tlsPool.snapshot().destinations[0]!.profile);

  // use: resolves to what fn returns
  const n = await pool.use('[::1]:6379', async (s) => {
    exact<net.Socket>()(s);
    return s.bytesWritten;
  });
  exact<number>()(n);
  exact<Promise<string>>()(pool.use('127.0.0.1:6379', () => 'sync', { priority: 2 }));

  // acquireMany: sync or async iterables, leases as they come
  const manyOptions: AcquireManyOptions = { concurrency: 4, signal, timeout: 1_000, priority: 0 };
  for await (const each of pool.acquireMany(['127.0.0.1:1', '127.0.0.1:2'], manyOptions)) {
    exact<Lease>()(each);
    each.release();
  }
  async function* destinations(): AsyncGenerator<string> {
    yield '127.0.0.1:3';
  }
  exact<AsyncGenerator<Lease, void, undefined>>()(pool.acquireMany(destinations()));
  // @ts-expect-error destinations are strings
  pool.acquireMany([1, 2]);

  // warm
  exact<number>()(await pool.warm('127.0.0.1:6379', 4));

  // groups
  const groupOptions: GroupOptions = {
    balance: 'least-connections',
    healthCheck: { interval: 1_000, timeout: 500, check: async (socket: import('node:stream').Duplex, { member, signal }) => member.length > 0 && !signal.aborted && socket.writable },
    outlier: { consecutiveFailures: 3, baseEjectionTime: 10_000, maxEjectionPercent: 50 },
    retry: { attempts: 2, backoff: 5, budget: 0.1 },
    tls: false,
    lookup: async (hostname: string) => [{ address: hostname === 'x' ? '127.0.0.1' : '::1', family: 4 as const }],
    dnsRefresh: 10_000,
  };
  const group = pool.group('api', ['127.0.0.1:1', { dest: '127.0.0.1:2', weight: 2 }], groupOptions);
  exact<UpstreamGroup>()(group);
  exact<UpstreamGroup>()(pool.group('api'));
  exact<string>()(group.name);
  exact<GroupStats>()(group.stats());
  const member: MemberStats | undefined = group.stats().members[0];
  exact<'up' | 'down' | 'ejected' | undefined>()(member?.state);
  group.on('memberEjected', (e: MemberEvent) => void e.ejectedFor);
  group.on('memberUp', (e) => exact<string>()(e.member));
  // @ts-expect-error no such event
  group.on('memberGone', () => {});
  group.update(['127.0.0.1:3']);
  const groupLease = await pool.acquire('group:api', { hashKey: 'user-1' });
  exact<string | undefined>()(groupLease.group);
  groupLease.release();
  // @ts-expect-error hashKey is a string
  await pool.acquire('group:api', { hashKey: 1 });
  // @ts-expect-error unknown balance
  pool.group('b', ['127.0.0.1:1'], { balance: 'random' });
  const mode: BalanceMode = GROUP_DEFAULTS.balance;
  void mode;
  group.remove();

  // httpAgent
  const agentOptions: HttpAgentOptions = {
    keepAlive: true,
    retry: true,
    retryNonIdempotent: false,
    keepAliveHintMargin: 1_000,
    timeout: 5_000,
    groups: { 'api.internal:80': 'api' },
  };
  exact<HttpAgent>()(pool.httpAgent(agentOptions));
  // http.Agent's own options (limits: checked against the shared pool at run time).
  pool.httpAgent({ keepAlive: false, keepAliveMsecs: 1_000, maxSockets: 10, maxFreeSockets: 4, maxTotalSockets: Infinity, scheduling: 'fifo' });
  // @ts-expect-error scheduling is 'lifo' or 'fifo'
  pool.httpAgent({ scheduling: 'filo' });
  // httpsAgent: the HTTP agent's options and TLS options.
  const httpsOptions: HttpsAgentOptions = { ca: 'PEM', servername: 'api.example', rejectUnauthorized: true, keepAlive: true, retry: true };
  const httpsAgent = pool.httpsAgent(httpsOptions);
  exact<HttpsAgent>()(httpsAgent);
  const asHttps: https.Agent = httpsAgent;
  void asHttps;
  // @ts-expect-error not a TLS option of the agent
  pool.httpsAgent({ host: 'x' });

  // forward
  const forwardOptions: ForwardOptions = {
    head: Buffer.from('GET / HTTP/1.1\r\n\r\n'),
    reply: 'HTTP/1.1 200 Connection Established\r\n\r\n',
    signal,
    reuseUpstream: false,
    idleTimeout: 30_000,
  };
  const result = await pool.forward(socket, '127.0.0.1:8080', forwardOptions);
  exact<ForwardResult>()(result);
  exact<number>()(result.bytesIn + result.bytesOut + result.durationMs);
  exact<boolean>()(result.upstreamReused || result.upstreamReturned);
  exact<BerthError | undefined>()(result.error);
  exact<ForwardEnd>()(result.end);
  switch (result.end) {
    case 'client-closed':
    case 'upstream-closed':
    case 'client-error':
    case 'upstream-error':
    case 'connect-failed':
    case 'aborted':
    case 'pool-closed':
    case 'idle-timeout':
      break;
    default:
      exact<never>()(result.end);
  }
  await pool.forward(socket, '127.0.0.1:8080', { reply: new Uint8Array(2) });
  await pool.forward(socket, '127.0.0.1:8080', { failReply: 'HTTP/1.1 502 Bad Gateway\r\n\r\n' });
  await pool.forward(socket, '127.0.0.1:8080', { failReply: new Uint8Array(2) });
  await pool.forward(socket, '127.0.0.1:8080', {
    failReply: (error) => {
      exact<BerthError>()(error);
      return error.code === 'DESTINATION_DENIED' ? Buffer.from([5, 2]) : undefined;
    },
  });
  // @ts-expect-error a fail reply is bytes or a string
  await pool.forward(socket, '127.0.0.1:8080', { failReply: 502 });
  await pool.forward(socket, '127.0.0.1:8080', { sendProxyProtocol: 'v2' });
  // @ts-expect-error sendProxyProtocol is 'v1' or 'v2'
  await pool.forward(socket, '127.0.0.1:8080', { sendProxyProtocol: 'v3' });
  // @ts-expect-error inbound is a net.Socket
  await pool.forward('127.0.0.1:1', '127.0.0.1:8080');

  // listen
  const listenOptions: ListenOptions = { host: '127.0.0.1', port: 0, peek: 64, peekTimeout: 500, reuseUpstream: true, backlog: 128 };
  const limits: ListenOptions = { idleTimeout: 30_000, maxConnections: 512, maxConnectionsPerClient: 16 };
  // @ts-expect-error maxConnections is a number
  const badLimits: ListenOptions = { maxConnections: '512' };
  const behindBalancer: ListenOptions = { acceptProxyProtocol: 'both', sendProxyProtocol: 'v1' };
  // @ts-expect-error acceptProxyProtocol is 'v1', 'v2' or 'both'
  const badProxy: ListenOptions = { acceptProxyProtocol: true };
  void limits;
  void badLimits;
  void behindBalancer;
  void badProxy;
  const route: RouteFunction = async (info) => {
    exact<RouteInfo>()(info);
    exact<string>()(info.remoteAddress);
    exact<'IPv4' | 'IPv6'>()(info.remoteFamily);
    exact<number>()(info.remotePort + info.localPort);
    exact<Buffer>()(info.head);
    exact<string | undefined>()(info.sni);
    exact<string[] | undefined>()(info.alpn);
    exact<string | undefined>()(info.host);
    exact<string | undefined>()(info.method);
    exact<string | undefined>()(info.path);
    if (info.alpn?.includes('h2') === true && info.sni === 'a.test') return '127.0.0.1:8443';
    return info.head.includes('Host: a') ? '127.0.0.1:8081' : null;
  };
  const listener = await pool.listen(listenOptions, route);
  exact<ProxyListener>()(listener);
  exact<net.AddressInfo>()(listener.address());
  const proxyStats = listener.stats();
  exact<ProxyStats>()(proxyStats);
  exact<number>()(
    proxyStats.sessionsTotal +
      proxyStats.sessionsActive +
      proxyStats.bytesIn +
      proxyStats.bytesOut +
      proxyStats.routeFailures +
      proxyStats.connectFailures +
      proxyStats.upstreamReused +
      proxyStats.idleTimeouts +
      proxyStats.rejectedPerClient +
      proxyStats.acceptPauses +
      proxyStats.clients +
      proxyStats.proxyProtocolErrors,
  );
  exact<Promise<ListenerCloseResult>>()(listener.close());
  const closeOptions: ListenerCloseOptions = { drain: 30_000 };
  const closed = await listener.close(closeOptions);
  exact<number>()(closed.finished + closed.cut);
  // @ts-expect-error drain is a number of ms
  await listener.close({ drain: '30s' });
  {
    await using fixed = await pool.listen(undefined, '127.0.0.1:8080');
    fixed.address();
  }
  await pool.listen({}, () => undefined);
  // @ts-expect-error a route returns a destination string, null or undefined
  await pool.listen({}, () => 8080);
  // @ts-expect-error misspelled listen option
  await pool.listen({ prot: 0 }, '127.0.0.1:8080');

  // stats and snapshot
  const stats = pool.stats();
  exact<PoolStats>()(stats);
  exact<PoolEvictions>()(stats.evicted);
  exact<number>()(
    stats.open + stats.closing + stats.idle + stats.inUse + stats.dialing + stats.waiting +
      stats.created + stats.reused + stats.closed + stats.dialFailures + stats.acquireTimeouts,
  );
  exact<number>()(stats.evicted.idle + stats.evicted.lifetime + stats.evicted.peerClosed + stats.evicted.unhealthy);
  exact<number>()(stats.acquireWaitMs.p50 + stats.acquireWaitMs.p99 + stats.connectMs.p50 + stats.connectMs.p99);
  const snapshot = pool.snapshot();
  exact<PoolSnapshot>()(snapshot);
  const dest = snapshot.destinations[0];
  if (dest !== undefined) {
    exact<DestinationSnapshot>()(dest);
    exact<string>()(dest.destination);
    exact<number>()(dest.open + dest.idle + dest.inUse + dest.dialing + dest.waiting);
    const conn = dest.connections[0];
    if (conn !== undefined) {
      exact<ConnectionSnapshot>()(conn);
      exact<number>()(conn.id + conn.ageMs + conn.idleMs + conn.uses);
      exact<'idle' | 'inUse' | 'dialing' | 'forwarding' | 'closing'>()(conn.state);
    }
  }

  // drain, close, await using
  const drainOptions: DrainOptions = { timeout: 10_000 };
  exact<Promise<void>>()(pool.drain(drainOptions));
  exact<Promise<void>>()(pool.drain());
  exact<Promise<void>>()(pool.close());
  {
    await using scoped = new Pool({ maxTotal: 4 });
    await scoped.warm('127.0.0.1:6379', 1);
  }
  // @ts-expect-error not a method of Pool
  pool.acquireAll(['127.0.0.1:1']);
}

// ---- BerthError -----------------------------------------------------------------------------

function errors(error: unknown): string {
  const made = new BerthError('ACQUIRE_TIMEOUT', 'no connection within 10 ms', '127.0.0.1:1', { cause: new Error('x') });
  exact<'BerthError'>()(made.name);
  exact<string | undefined>()(made.destination);
  // @ts-expect-error not a BerthErrorCode
  new BerthError('TIMEOUT', 'x');
  if (!(error instanceof BerthError)) return 'other';
  exact<BerthErrorCode>()(error.code);
  // @ts-expect-error not a BerthErrorCode: the comparison cannot be true
  if (error.code === 'ETIMEDOUT') return 'never';
  // Every code, and no other (a code added to or removed from the union fails here).
  switch (error.code) {
    case 'ACQUIRE_TIMEOUT':
    case 'QUEUE_FULL':
    case 'POOL_CLOSED':
    case 'POOL_DRAINING':
    case 'DRAIN_TIMEOUT':
    case 'CONNECT_TIMEOUT':
    case 'CONNECT_REFUSED':
    case 'DNS_FAILED':
    case 'CONNECT_FAILED':
    case 'DESTINATION_DENIED':
    case 'ALREADY_RELEASED':
    case 'FORWARD_ERROR':
    case 'LISTEN_FAILED':
    case 'NOT_BORROWED':
    case 'CREATE_FAILED':
    case 'CREATE_TIMEOUT':
    case 'DESTROY_TIMEOUT':
    case 'VALIDATE_TIMEOUT':
    case 'TLS_FAILED':
    case 'HANDSHAKE_FAILED':
    case 'HANDSHAKE_TIMEOUT':
    case 'NO_HEALTHY_MEMBER':
      return error.code;
    default:
      return exact<never>()(error.code);
  }
}

// ---- HttpAgent ------------------------------------------------------------------------------

function httpAgent(pool: Pool): void {
  const shared = new HttpAgent(pool, { retry: false });
  const own = new HttpAgent({ maxPerDestination: 16 }, { timeout: 1_000 });
  new HttpAgent();
  // One object: http.Agent's options, berth's and the pool's.
  const merged: HttpAgentOwnPoolOptions = { maxSockets: 4, keepAlive: true, retry: false, connectTimeout: 1_000 };
  exact<HttpAgent>()(new HttpAgent(merged));
  const ownHttps = new HttpsAgent({ ca: 'PEM', maxSockets: 2, idleTimeout: 5_000 });
  exact<Pool>()(ownHttps.pool);
  exact<boolean>()(shared.keepAlive);
  exact<number>()(shared.keepAliveMsecs);
  exact<boolean>()(shared.keepSocketAlive(new net.Socket()));
  const views: NodeJS.ReadOnlyDict<net.Socket[]> = shared.freeSockets;
  void views;
  exact<Pool>()(shared.pool);
  exact<boolean>()(own.destroyed);
  const agent: http.Agent = shared;
  const requestOptions: HttpAgentRequestOptions = { agent, method: 'POST', idempotent: true, path: '/jobs' };
  const req = http.request('http://127.0.0.1:8080/', requestOptions, (res) => res.resume());
  req.on('error', (error) => {
    const system = error as HttpAgentSystemError;
    exact<string>()(system.code);
    exact<number>()(system.errno);
    exact<'connect' | 'getaddrinfo'>()(system.syscall);
    exact<string | undefined>()(system.address);
    exact<number | undefined>()(system.port);
    exact<string | undefined>()(system.hostname);
    exact<BerthError>()(system.cause);
  });
  req.end();
  http.get('http://127.0.0.1:8080/health', { agent: own }, (res) => res.resume());
  exact<void>()(shared.addRequest(req, { host: '127.0.0.1', port: 8080 }));
  exact<void>()(own.destroy());
  // @ts-expect-error `idempotent` is a boolean
  const bad: HttpAgentRequestOptions = { idempotent: 'yes' };
  void bad;
  // @ts-expect-error the agent's pool is read-only
  shared.pool = pool;
}

// ---- ResourcePool ---------------------------------------------------------------------------

interface Client {
  query(sql: string): Promise<{ rows: unknown[] }>;
  end(): Promise<void>;
  readonly healthy: boolean;
}
declare function connect(signal: AbortSignal): Promise<Client>;

async function resourcePool(): Promise<void> {
  const options: ResourcePoolOptions<Client> = {
    create: (abort) => connect(abort),
    destroy: (client) => client.end(),
    validate: (client) => client.healthy,
    min: 1,
    max: 10,
    acquireTimeout: 30_000,
    createTimeout: 5_000,
    destroyTimeout: 5_000,
    validateTimeout: 5_000,
    idleTimeout: 30_000,
    softIdleTimeout: Infinity,
    maxLifetime: 3_600_000,
    evictionInterval: 1_000,
    testsPerEviction: Infinity,
    testOnAcquire: true,
    testOnRelease: false,
    maxWaiters: 1_024,
    order: 'lifo',
    createRetry: { attempts: 3, backoff: 100 },
    autostart: false,
  };
  const pool = new ResourcePool(options);
  exact<ResourcePool<Client>>()(pool);
  // T is inferred from create.
  const inferred = new ResourcePool({ create: async () => ({ id: 1 }), destroy: () => {} });
  exact<Promise<{ id: number }>>()(inferred.acquire());
  exact<10>()(RESOURCE_DEFAULTS.max);
  exact<'lifo' | 'fifo'>()(RESOURCE_DEFAULTS.order);
  // @ts-expect-error destroy is required
  new ResourcePool<Client>({ create: connect });
  // @ts-expect-error misspelled option
  new ResourcePool<Client>({ create: connect, destroy: (c) => c.end(), maxWaiting: 1 });

  // getters
  exact<number>()(pool.min + pool.max + pool.size + pool.available + pool.borrowed + pool.pending + pool.spareResourceCapacity);
  // @ts-expect-error getters only
  pool.max = 3;

  // stats
  const stats = pool.stats();
  exact<ResourcePoolStats>()(stats);
  exact<number>()(
    stats.size + stats.available + stats.borrowed + stats.pending + stats.creating + stats.destroying +
      stats.created + stats.destroyed + stats.acquired + stats.reused + stats.createFailures +
      stats.validationFailures + stats.timeouts,
  );
  exact<number>()(stats.evicted.idle + stats.evicted.lifetime + stats.evicted.unhealthy);
  exact<number>()(stats.acquireWaitMs.p50 + stats.acquireWaitMs.p99 + stats.acquireWaitMs.max);

  // acquire / release / destroy / isBorrowed
  const acquireOptions: ResourceAcquireOptions = { signal, timeout: 1_000, priority: 5 };
  const client = await pool.acquire(acquireOptions);
  exact<Client>()(client);
  exact<boolean>()(pool.isBorrowed(client));
  exact<void>()(pool.release(client));
  exact<Promise<void>>()(pool.destroy(client));
  // @ts-expect-error not a Client
  pool.release({ id: 1 });

  // use
  const rows = await pool.use(async (c) => (await c.query('SELECT 1')).rows, { priority: 1 });
  exact<unknown[]>()(rows);

  // lease
  const lease = await pool.lease(acquireOptions);
  exact<ResourceLease<Client>>()(lease);
  exact<Client>()(lease.resource);
  exact<boolean>()(lease.released);
  exact<void>()(lease.release());
  exact<Promise<void>>()(lease.destroy());
  exact<Promise<void>>()(lease[Symbol.asyncDispose]());
  {
    await using scoped = await pool.lease();
    await scoped.resource.query('SELECT 2');
  }

  // lifecycle
  exact<void>()(pool.start());
  exact<Promise<void>>()(pool.ready());
  exact<Promise<void>>()(pool.drain());
  const resourceDrain: ResourceDrainOptions = { timeout: 1_000 };
  exact<Promise<void>>()(pool.drain(resourceDrain));
  exact<boolean>()(pool.closed);
  exact<boolean>()(pool.draining);
  // @ts-expect-error getters only
  pool.closed = true;
  exact<5_000>()(RESOURCE_DEFAULTS.validateTimeout);
  exact<Promise<void>>()(pool.clear());
  exact<Promise<void>>()(pool.close());
  exact<Promise<void>>()(pool[Symbol.asyncDispose]());
  {
    await using scopedPool = new ResourcePool<Client>({ create: connect, destroy: (c) => c.end() });
    await scopedPool.ready();
  }
  // @ts-expect-error protected: for subclasses only
  pool.acquireError(new BerthError('POOL_CLOSED', 'closed'));

  // events, typed by name
  const events: (keyof ResourcePoolEvents<Client>)[] = ['createError', 'destroyError', 'validateError'];
  void events;
  exact<ResourcePool<Client>>()(
    pool.on('createError', (error) => {
      exact<unknown>()(error);
    }),
  );
  pool.once('destroyError', (error, resource) => {
    exact<unknown>()(error);
    exact<Client>()(resource);
  });
  const onValidateError = (error: unknown, resource: Client): void => void [error, resource];
  pool.on('validateError', onValidateError);
  pool.off('validateError', onValidateError);
  // @ts-expect-error not an event of ResourcePool
  pool.on('error', () => {});
  // @ts-expect-error destroyError's second argument is the resource
  pool.on('destroyError', (_error: unknown, _resource: string) => {});
  // every listener method is typed by the same events
  exact<ResourcePool<Client>>()(pool.addListener('createError', (error) => exact<unknown>()(error)));
  pool.prependListener('validateError', (_error, resource) => exact<Client>()(resource));
  pool.prependOnceListener('destroyError', (_error, resource) => exact<Client>()(resource));
  pool.removeListener('validateError', onValidateError);
  exact<number>()(pool.listenerCount('createError'));
  exact<Array<(error: unknown, resource: Client) => void>>()(pool.listeners('destroyError'));
  exact<ResourcePool<Client>>()(pool.removeAllListeners('createError').removeAllListeners());
  // @ts-expect-error not an event of ResourcePool
  pool.addListener('create', () => {});
  // @ts-expect-error not an event of ResourcePool
  pool.listenerCount('error');
  // still a Node EventEmitter: events.once and the other helpers take it
  const [onceError] = await once(pool, 'createError');
  void onceError;
  exact<boolean>()(pool instanceof EventEmitter);
  exact<ResourcePool<Client>>()(pool.setMaxListeners(20));

  // pooled: the wrapper form, with the arguments after the resource
  const query = pooled(pool, (c, sql: string) => c.query(sql), { timeout: 1_000 });
  exact<(sql: string) => Promise<{ rows: unknown[] }>>()(query);
  exact<{ rows: unknown[] }>()(await query('SELECT 3'));
  const count = pooled(pool, async () => 1);
  exact<() => Promise<number>>()(count);
  // @ts-expect-error the wrapped function takes a string
  await query(42);
}

// ---- completions ----------------------------------------------------------------------------

async function completionsApi(): Promise<void> {
  const options: CompletionsOptions = { concurrency: 8, signal };
  const task: Task<number> = async (context) => {
    exact<TaskContext>()(context);
    exact<number>()(context.index);
    exact<AbortSignal>()(context.signal);
    return context.index * 2;
  };
  const run = completions([task, () => 3], options);
  exact<Completions<number>>()(run);
  for await (const outcome of run) {
    exact<CompletionResult<number>>()(outcome);
    exact<number>()(outcome.index);
    if (outcome.status === 'fulfilled') {
      exact<CompletionFulfilled<number>>()(outcome);
      exact<number>()(outcome.value);
    } else {
      exact<CompletionRejected>()(outcome);
      exact<unknown>()(outcome.reason);
      // @ts-expect-error a rejected outcome has no value
      outcome.value;
    }
  }
  // Mixed tasks: the outcome's value is the union of what they resolve to.
  async function* tasks(): AsyncGenerator<Task<string | boolean>> {
    yield async () => 'a';
    yield () => true;
  }
  const mixed = completions(tasks());
  exact<Completions<string | boolean>>()(mixed);
  exact<Promise<IteratorResult<CompletionResult<string | boolean>, undefined>>>()(mixed.return());
  exact<Promise<void>>()(mixed[Symbol.asyncDispose]());
  {
    await using scoped = completions([() => 1]);
    await scoped.next();
  }
  // @ts-expect-error tasks are functions
  completions([1, 2]);
  // @ts-expect-error misspelled option
  completions([() => 1], { concurency: 2 });
}

// ---- probe ----------------------------------------------------------------------------------

async function probeApi(): Promise<void> {
  const objectTarget: ProbeTargetObject = { host: '::1', port: 22 };
  const targets: ProbeTarget[] = ['127.0.0.1:22', '[::1]:80', objectTarget];
  const options: ProbeOptions = { concurrency: 256, timeout: 1_000, protocol: 'tcp', signal, addressPolicy: { deny: ['private'] } };
  const run = probe(targets, options);
  exact<ProbeRun>()(run);
  for await (const result of run) {
    exact<ProbeResult>()(result);
    exact<number>()(result.index + result.rttMs);
    exact<string>()(result.target);
    exact<ProbeState>()(result.state);
    // Narrowing on state: an error has its error, an answer has none.
    if (result.state === 'error') {
      exact<ProbeFailure>()(result);
      exact<ProbeError>()(result.error);
      exact<ProbeErrorCode>()(result.error.code);
      exact<string>()(result.error.message);
      if (result.error.code === 'INVALID_TARGET' || result.error.code === 'DNS_FAILED' || result.error.code === 'EMFILE') continue;
    } else {
      exact<ProbeAnswer>()(result);
      exact<'open' | 'closed' | 'filtered'>()(result.state);
      exact<undefined>()(result.error);
    }
    // Narrowing on error works too.
    if (result.error) exact<'error'>()(result.state);
  }
  const summary = run.summary();
  exact<ProbeSummary>()(summary);
  exact<number>()(summary.total + summary.durationMs);
  exact<number>()(summary.byState.open + summary.byState.closed + summary.byState.filtered + summary.byState.error);
  exact<ProbeRttSummary>()(summary.rttMs);
  exact<number>()(summary.rttMs.p50 + summary.rttMs.p95 + summary.rttMs.p99 + summary.rttMs.max);
  exact<void>()(run.cancel());
  exact<Promise<IteratorResult<ProbeResult, undefined>>>()(run.return());
  async function* hosts(): AsyncGenerator<ProbeTarget> {
    yield { host: '10.0.0.1', port: 53 };
  }
  {
    await using udp = probe(hosts(), { protocol: 'udp', payload: new Uint8Array(0), timeout: 500 });
    await udp.next();
  }
  probe(['127.0.0.1:53'], { protocol: 'udp', payload: 'ping' });
  // @ts-expect-error protocol is 'tcp' or 'udp'
  probe(targets, { protocol: 'icmp' });
  // @ts-expect-error a target object needs a port
  probe([{ host: '127.0.0.1' }]);
  // @ts-expect-error misspelled option
  probe(targets, { timeoutMs: 100 });
}

// ---- berth/generic-pool ---------------------------------------------------------------------

async function genericPoolApi(): Promise<void> {
  const factory: Factory<Client> = {
    create: () => connect(AbortSignal.timeout(1_000)),
    destroy: (client) => client.end(),
    validate: async (client) => client.healthy,
  };
  const options: GenericPoolOptions = {
    max: 10,
    min: 2,
    maxWaitingClients: null,
    testOnBorrow: true,
    testOnReturn: false,
    acquireTimeoutMillis: 1_000,
    destroyTimeoutMillis: null,
    fifo: true,
    priorityRange: 3,
    autostart: true,
    evictionRunIntervalMillis: 0,
    numTestsPerEvictionRun: 3,
    softIdleTimeoutMillis: -1,
    idleTimeoutMillis: 30_000,
    Promise,
  };
  const pool = createPool(factory, options);
  exact<GenericPool<Client>>()(pool);
  exact<GenericPool<Client>>()(genericPool.createPool(factory));
  exact<GenericPool<Client>>()(new GenericPool(factory, options));
  exact<GenericPool<Client>>()(new genericPool.Pool(DefaultEvictor, Deque, PriorityQueue, factory, options));
  // @ts-expect-error misspelled option
  createPool(factory, { maxWaitingClient: 1 });
  // @ts-expect-error a factory needs destroy
  createPool({ create: () => 1 });

  exact<void>()(pool.start());
  exact<Promise<void>>()(pool.ready());
  const client = await pool.acquire(1);
  exact<Client>()(client);
  exact<boolean>()(pool.isBorrowedResource(client));
  exact<Promise<void>>()(pool.release(client));
  exact<Promise<void>>()(pool.destroy(client));
  exact<Promise<number>>()(pool.use(async (c) => (await c.query('SELECT 1')).rows.length, 0));
  exact<number>()(pool.spareResourceCapacity + pool.size + pool.available + pool.borrowed + pool.pending + pool.max + pool.min);
  exact<number | null>()(pool._scheduledEviction);
  exact<Promise<void>>()(pool.drain().then(() => pool.clear()));

  const eventNames: (keyof PoolEvents)[] = ['factoryCreateError', 'factoryDestroyError'];
  void eventNames;
  pool.on('factoryCreateError', (error) => exact<unknown>()(error));
  pool.once('factoryDestroyError', (error) => exact<unknown>()(error));
  const onCreateError = (_error: unknown): void => {};
  pool.off('factoryCreateError', onCreateError);
  // @ts-expect-error not an event of generic-pool's Pool
  pool.on('createError', () => {});

  try {
    await pool.acquire();
  } catch (error) {
    if (error instanceof TimeoutError) exact<'TimeoutError'>()(error.name);
  }
  assert<Equals<InstanceType<typeof TimeoutError>, TimeoutError>>();

  // The helper classes generic-pool exports.
  const deque = new Deque<number>();
  deque.push(1);
  deque.unshift(0);
  exact<number | undefined>()(deque.shift() ?? deque.pop() ?? deque.head ?? deque.tail);
  exact<number>()(deque.length);
  for (const item of deque) exact<number>()(item);
  const queue = new PriorityQueue<string>(3);
  queue.enqueue('a', 2);
  exact<string | undefined>()(queue.dequeue());
  const config: EvictionConfig = { softIdleTimeoutMillis: -1, idleTimeoutMillis: 30_000, min: 0 };
  exact<boolean>()(new DefaultEvictor().evict(config, { lastIdleTime: Date.now() }, 1));
}

// ---- metrics and berth/prometheus --------------------------------------------------------------

async function metricsApi(): Promise<void> {
  const pool = new Pool({ name: 'web', metricsMaxDestinations: 50 });
  exact<string>()(pool.name);
  exact<string>()(pool.metrics());
  exact<number>()(pool.options.metricsMaxDestinations);
  exact<string | undefined>()(pool.options.name);
  // @ts-expect-error name is a string
  new Pool({ name: 1 });
  // @ts-expect-error a count
  new Pool({ metricsMaxDestinations: '5' });
  const resources = new ResourcePool({ name: 'db', create: () => ({}), destroy: () => {} });
  exact<string>()(resources.name);
  exact<string>()(resources.metrics());
  exact<string>()(metrics());
  exact<'text/plain; version=0.0.4; charset=utf-8'>()(METRICS_CONTENT_TYPE);
  // prom-client's own Registry type is accepted as is.
  const registry = new PromRegistry();
  const unregister = registerBerthMetrics(registry);
  exact<() => void>()(unregister);
  exact<() => void>()(registerBerthMetrics());
  exact<readonly string[]>()(BERTH_METRIC_NAMES);
  const asLike: MetricRegistry = registry;
  void asLike;
  // @ts-expect-error not a registry
  registerBerthMetrics({ metrics: () => '' });
  const metric = null as unknown as PromMetric;
  exact<Promise<PromMetricData>>()(metric.get());
}

/** Observability: the diagnostics channels' names and messages, Pool and ResourcePool events. */
async function observabilityApi(pool: Pool, resources: ResourcePool<string>): Promise<void> {
  exact<'berth:pool:acquire'>()(DIAGNOSTICS_CHANNELS.acquire);
  exact<'berth:listener:session'>()(DIAGNOSTICS_CHANNELS.session);
  const connect = {} as ConnectMessage;
  exact<Pool>()(connect.pool);
  exact<number>()(connect.durationMs);
  exact<BerthError | Error | undefined>()(connect.error);
  const context = {} as AcquireContext;
  exact<Lease | undefined>()(context.result);
  exact<PoolAcquireOptions | undefined>()(context.options);
  const release = {} as ReleaseMessage;
  exact<boolean>()(release.destroyed);
  exact<EvictReason>()(({} as EvictMessage).reason);
  const session = {} as SessionMessage;
  exact<ProxyListener | null>()(session.listener);
  exact<string | undefined>()(session.member);
  exact<'up' | 'down' | 'ejected'>()(({} as MemberMessage).state);
  // @ts-expect-error messages are read-only
  release.heldMs = 1;

  pool.on('capReached', (event) => exact<CapName>()(event.cap));
  pool.on('evicted', (event) => exact<EvictReason>()(event.reason));
  pool.on('dialFailed', (event) => exact<BerthError | Error>()(event.error));
  const [reached] = await once(pool, 'capReached');
  void (reached as CapReachedEvent);
  resources.on('capReached', (event) => exact<'max' | 'maxWaiters'>()(event.cap));
  resources.on('evicted', (event: ResourceEvictedEvent) => exact<'idle' | 'lifetime' | 'unhealthy'>()(event.reason));
  // @ts-expect-error a ResourcePool has no per-destination cap
  resources.on('capReached', (event: ResourceCapReachedEvent) => event.cap === 'maxTotal');
}

// ---- leak detection ---------------------------------------------------------------------------

async function leakDetectionApi(): Promise<void> {
  const pool = new Pool({ leakDetectionThreshold: 30_000 });
  exact<number>()(pool.options.leakDetectionThreshold);
  exact<number>()(DEFAULTS.leakDetectionThreshold);
  pool.on('leak', (event) => {
    exact<LeakEvent>()(event);
    exact<string>()(event.destination);
    exact<number>()(event.ageMs);
    exact<string>()(event.stack);
    // @ts-expect-error read-only
    event.ageMs = 0;
  });
  pool.on('leakResolved', (event: LeakResolvedEvent) => void [event.destination, event.ageMs]);
  // @ts-expect-error a leakResolved event has no stack
  pool.on('leakResolved', (event) => event.stack);
  // @ts-expect-error a number of ms
  new Pool({ leakDetectionThreshold: '30s' });

  interface Client {
    id: number;
  }
  const resources = new ResourcePool<Client>({ create: () => ({ id: 1 }), destroy: () => {}, leakDetectionThreshold: 5_000 });
  exact<0>()(RESOURCE_DEFAULTS.leakDetectionThreshold);
  resources.on('leak', (event) => {
    exact<ResourceLeakEvent<Client>>()(event);
    exact<Client>()(event.resource);
    exact<string>()(event.stack);
  });
  resources.on('leakResolved', (event: ResourceLeakResolvedEvent<Client>) => void [event.resource.id, event.ageMs]);
  const [first] = await once(resources, 'leak');
  void first;

  const dropIn = createPool<Client>({ create: async () => ({ id: 2 }), destroy: async () => {} }, { max: 2, leakDetectionThreshold: 5_000 });
  dropIn.on('leak', (event) => exact<Client>()(event.resource));
  dropIn.on('leakResolved', (event) => exact<number>()(event.ageMs));
  const leakNames: (keyof PoolEvents)[] = ['leak', 'leakResolved'];
  void leakNames;
}

export { observabilityApi, poolApi, errors, httpAgent, resourcePool, completionsApi, probeApi, genericPoolApi, metricsApi, leakDetectionApi };
