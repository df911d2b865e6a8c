// Targets for probe() tests, all on 127.0.0.1: open (a listener), closed (a free port nothing listens on),
// filtered (a listener with a full accept queue: see blackhole.mjs), and UDP peers.
import net from 'node:net';
import dgram from 'node:dgram';
import { refusedPort } from './net.mjs';
import { startBlackhole } from './blackhole.mjs';

export { startBlackhole };

/** A TCP listener that accepts and ignores connections; closed in t.teardown. */
export async function openPort(t) {
  const sockets = new Set();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {}); // the prober resets its connections (SO_LINGER 0)
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    // A long accept queue: a burst of probes while this thread is busy must not overflow it
    // (a dropped SYN is retried after 1 s: the probe would time out as 'filtered').
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve);
  });
  t.teardown(() => new Promise((resolve) => {
    for (const socket of sockets) socket.destroy();
    server.close(() => resolve());
  }));
  return { port: server.address().port, target: `127.0.0.1:${server.address().port}`, server };
}

/** A TCP target that refuses: a free port below the ephemeral range (see `refusedPort`). */
export async function closedTarget() {
  return `127.0.0.1:${await refusedPort()}`;
}

/** A TCP target whose SYNs go unanswered (a full accept queue): probes to it time out. */
export async function filteredTarget(t) {
  return (await startBlackhole(t)).dest;
}

/**
 * A UDP socket on 127.0.0.1: `mode` 'echo' sends every datagram back, 'silent' never answers.
 * Records what it received. Closed in t.teardown.
 */
export async function udpPeer(t, mode = 'echo') {
  const socket = dgram.createSocket('udp4');
  const received = [];
  socket.on('message', (msg, rinfo) => {
    received.push(msg);
    if (mode === 'echo') socket.send(msg, rinfo.port, rinfo.address);
  });
  await new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', resolve);
  });
  t.teardown(() => new Promise((resolve) => socket.close(() => resolve())));
  const { port } = socket.address();
  return { port, target: `127.0.0.1:${port}`, received, socket };
}

/** A UDP port on 127.0.0.1 nobody listens on (a datagram to it gets ICMP port unreachable). */
export async function freeUdpPort() {
  const socket = dgram.createSocket('udp4');
  await new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', resolve);
  });
  const { port } = socket.address();
  await new Promise((resolve) => socket.close(() => resolve()));
  return port;
}

/** Every result of a run (or any async iterable), in the order yielded. */
export async function collect(run) {
  const out = [];
  for await (const r of run) out.push(r);
  return out;
}

/** The nearest-rank percentile `q` (0..1) of `values` (unsorted), 0 when empty. */
export function nearestRank(values, q) {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

/** The result invariants: shape by state (error iff 'error'), index and target as given. */
export function assertResultShape(t, r, label = `result ${r?.index}`) {
  t.true(Number.isInteger(r.index) && r.index >= 0, `${label}: index`);
  t.is(typeof r.target, 'string', `${label}: target`);
  t.true(['open', 'closed', 'filtered', 'error'].includes(r.state), `${label}: state ${r.state}`);
  t.true(Number.isFinite(r.rttMs) && r.rttMs >= 0, `${label}: rttMs ${r.rttMs}`);
  if (r.state === 'error') {
    t.is(typeof r.error?.code, 'string', `${label}: error.code`);
    t.is(typeof r.error?.message, 'string', `${label}: error.message`);
  } else {
    t.false('error' in r, `${label}: no error key unless state is 'error'`);
  }
}

/**
 * An async generator of `n` targets (`targetOf(i)`) that records how far it ran ahead of the
 * consumer: call `seen()` for every result the loop body gets.
 */
export function countingInput(n, targetOf) {
  const state = { pulled: 0, seen: 0, maxAhead: 0, finallyRan: false };
  async function* gen() {
    try {
      for (let i = 0; i < n; i++) {
        state.pulled++;
        state.maxAhead = Math.max(state.maxAhead, state.pulled - state.seen);
        yield targetOf(i);
      }
    } finally {
      state.finallyRan = true;
    }
  }
  return { state, input: gen(), seen: () => { state.seen++; } };
}

/**
 * `run`, stopped in t.teardown: a failed assertion ends the test at once, and a run left going
 * (probes in flight keep the process alive) would hold up the whole file.
 */
export function stopLater(t, run) {
  t.teardown(() => run.return());
  return run;
}
