// Waiter order: FIFO within a priority, higher priority first. maxPerDestination 1 makes every
// acquire after the first wait for the one connection.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { createPool } from './helpers/pool.mjs';
import { roundTrip, waitFor, track } from './helpers/net.mjs';

/**
 * Queue one acquire per entry of `priorities` behind a held lease (waiting until each one is
 * counted in stats().waiting before queuing the next, so that the queue order is unambiguous),
 * then release and return the order in which the waiters were served.
 */
async function serviceOrder(t, priorities) {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1 });
  const holder = await pool.acquire(server.dest);
  const served = [];
  const waiters = [];
  for (const [i, priority] of priorities.entries()) {
    const options = priority === undefined ? undefined : { priority };
    waiters.push(track(pool.acquire(server.dest, options).then(async (lease) => {
      served.push(i);
      // Prove the lease works, then pass the connection on to the next waiter.
      const reply = await roundTrip(lease.socket, `waiter ${i}`);
      lease.release();
      return reply.toString();
    })));
    await waitFor(() => pool.stats().waiting === i + 1, { message: `waiter ${i} queued` });
  }
  holder.release();
  const replies = await Promise.all(waiters);
  t.deepEqual(replies, priorities.map((_, i) => `waiter ${i}`));
  t.is((await server.stats()).accepted, 1, 'all waiters were served by the one connection');
  t.like(pool.stats(), { waiting: 0, inUse: 0 });
  return served;
}

test('waiters are served first in, first out', async (t) => {
  const served = await serviceOrder(t, Array(10).fill(undefined));
  t.deepEqual(served, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

test('a higher priority is served first, FIFO within a priority', async (t) => {
  //                                  0  1  2  3   4  5  6
  const served = await serviceOrder(t, [0, 5, 1, 5, 10, 0, 1]);
  t.deepEqual(served, [4, 1, 3, 2, 6, 0, 5]);
});

test('priority defaults to 0', async (t) => {
  //                                  0          1  2   3
  const served = await serviceOrder(t, [undefined, 1, -1, 0]);
  t.deepEqual(served, [1, 0, 3, 2]);
});

test('a released connection goes straight to the oldest waiter (the waiter reuses it)', async (t) => {
  const server = await startServer(t);
  const pool = createPool(t, { maxPerDestination: 1 });
  const holder = await pool.acquire(server.dest);
  const port = holder.socket.localPort;
  const next = track(pool.acquire(server.dest));
  await waitFor(() => pool.stats().waiting === 1, { message: 'waiter queued' });
  holder.release();
  const lease = await next;
  t.true(lease.reused);
  t.is(lease.socket.localPort, port);
  lease.release();
});
