// Helpers for the upstream group tests (groups*.test.mjs): member servers that can be counted,
// stopped and restarted on the same port, refusing addresses, event recording, bounded load.
import { startServer } from './server.mjs';
import { refusedPort, range, roundTrip, waitFor } from './net.mjs';

/**
 * An echo server (fixtures/server.mjs) in a child process, as a group member.
 * opts: { host, port } (default 127.0.0.1, an ephemeral port). Killed in t.teardown.
 * Returns startServer's object plus:
 *   accepted()  connections it accepted so far
 *   current()   connections open now
 *   stop()      close its listener and every connection (connects are refused from then on)
 *   restart()   listen again on the same address and port
 */
export async function startMember(t, opts = {}) {
  const server = await startServer(t, opts);
  return {
    ...server,
    accepted: async () => (await server.stats()).accepted,
    current: async () => (await server.stats()).current,
    stop: async () => {
      await server.control({ cmd: 'stopListening' });
      await server.control({ cmd: 'closeAll' });
    },
    restart: () => server.control({ cmd: 'listen' }),
  };
}

/**
 * Polls `read()` (async) until it returns `expected` or the hang guard (10 s) passes; returns
 * the last value for the caller to assert. A server process counts a connection once it has
 * accepted it, which may be a moment after the client's connect completed (the kernel's
 * backlog): its counts are read settled, not at once.
 */
export async function settled(read, expected, { timeout = 10_000 } = {}) {
  const deadline = Date.now() + timeout;
  let value = await read();
  while (value !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = await read();
  }
  return value;
}

/** `n` member servers on 127.0.0.1, each on its own port. */
export function startMembers(t, n, opts = {}) {
  return Promise.all(range(n).map(() => startMember(t, opts)));
}

/** A destination on 127.0.0.1 that nothing listens on: connects to it are refused. */
export async function refusingDest() {
  return `127.0.0.1:${await refusedPort()}`;
}

/** { value: occurrences } of `items`. */
export function countBy(items) {
  const counts = {};
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1;
  return counts;
}

/**
 * Records a group's member events ({ name, group, member, reason, ejectedFor? }) in `log`.
 * next(name, member?, { from }) polls until such an event is in the log at or after index
 * `from` and returns it (hang guard: 15 s, it is a bound, not a timing assertion).
 */
export function recordEvents(group, names = ['memberDown', 'memberUp', 'memberEjected']) {
  const log = [];
  for (const name of names) group.on(name, (event) => log.push({ name, ...event }));
  const find = (name, member, from) =>
    log.slice(from).find((e) => e.name === name && (member === undefined || e.member === member));
  return {
    log,
    find: (name, member, { from = 0 } = {}) => find(name, member, from),
    next: (name, member, { from = 0, timeout = 15_000 } = {}) => waitFor(() => find(name, member, from), {
      timeout,
      message: () => `event ${name}${member ? ` of ${member}` : ''} (log: ${JSON.stringify(log)})`,
    }),
  };
}

/** Acquire `dest`, note the lease's destination (the member), release; returns that member. */
export async function pick(pool, dest, options) {
  const lease = await pool.acquire(dest, options);
  const member = lease.destination;
  lease.release();
  return member;
}

/** Acquire `dest`, make one echo round trip on the lease, release; returns the member. */
export async function echoVia(pool, dest, payload = 'ping', options) {
  const lease = await pool.acquire(dest, options);
  try {
    const reply = await roundTrip(lease.socket, payload);
    if (reply.toString() !== payload) throw new Error(`echo mismatch through ${lease.destination}`);
  } catch (err) {
    lease.destroy(err);
    err.member = lease.destination;
    throw err;
  }
  lease.release();
  return lease.destination;
}

/**
 * Runs task(i) for i in 0..count-1, at most `concurrency` at once; resolves with every
 * outcome as Promise.allSettled would, in index order.
 */
export async function runBounded(count, concurrency, task) {
  const outcomes = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      try {
        outcomes[i] = { status: 'fulfilled', value: await task(i) };
      } catch (reason) {
        outcomes[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(range(Math.min(concurrency, count)).map(worker));
  return outcomes;
}

/** The member entry of `group.stats()` for `dest`. */
export function memberStats(group, dest) {
  return group.stats().members.find((m) => m.dest === dest);
}
