// The liveness guarantee: a connection whose peer's FIN or RST reached this host before
// acquire() is called is never handed out, however recently it was released and whether or
// not JS's event loop has turned since (JS sees a closed idle socket only when it turns).
import test from 'ava';
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fixturePath } from './helpers/child.mjs';
import { createPool, assertStatsConsistent } from './helpers/pool.mjs';
import { roundTrip, range } from './helpers/net.mjs';
import { NODE_DIAL } from './helpers/node-dial.mjs';

// On the Node-dialled path (Windows; BERTH_INTERNAL_NODE_DIAL=1) Node owns the sockets and the
// engine cannot peek at them: a close is seen when the event loop turns (the idle socket reads
// it), not within the same synchronous stretch. These tests check the peek; they do not apply.
const peekTest = NODE_DIAL ? (title, fn) => test.skip(`${title} [skipped: Node-dialled path, no engine peek]`, fn) : test;

async function startClosingServer(t, mode) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-liveness-'));
  const marker = path.join(dir, 'closed');
  const child = fork(fixturePath('close-on-signal.mjs'), [mode, marker], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  t.teardown(() => {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const { port } = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
  let round = 0;
  return {
    dest: `127.0.0.1:${port}`,
    /**
     * Makes the server close every connection, and returns once it has, without yielding to
     * the event loop: a synchronous wait on the marker file.
     */
    closeAllNow() {
      round++;
      child.kill('SIGUSR2');
      const give = Date.now() + 10_000;
      while (!(fs.existsSync(marker) && Number(fs.readFileSync(marker, 'utf8')) === round)) {
        if (Date.now() > give) throw new Error('the server did not close its connections within 10 s');
      }
    },
  };
}

for (const mode of ['fin', 'rst']) {
  peekTest(`a peer's ${mode.toUpperCase()} that arrived just after release is seen at the next acquire, with no event-loop turn in between`, async (t) => {
    const server = await startClosingServer(t, mode);
    const pool = createPool(t, { maxPerDestination: 4 });
    const ROUNDS = 10;
    for (let round = 0; round < ROUNDS; round++) {
      const first = await Promise.all(range(4).map(() => pool.acquire(server.dest)));
      await Promise.all(first.map((lease, i) => roundTrip(lease.socket, `r${round} a${i}`)));
      for (const lease of first) lease.release();
      t.is(pool.stats().idle, 4, `round ${round}: four idle connections`);

      server.closeAllNow();
      // The same synchronous stretch: every acquire is answered before JS's sockets can see
      // the close. None may get one of the four closed connections.
      const again = range(4).map(() => pool.acquire(server.dest));
      const leases = await Promise.all(again);
      for (const lease of leases) t.false(lease.reused, `round ${round}: a fresh connection, not a closed one`);
      const replies = await Promise.all(leases.map((lease, i) => roundTrip(lease.socket, `r${round} b${i}`)));
      t.deepEqual(replies.map(String), range(4).map((i) => `r${round} b${i}`));
      for (const lease of leases) lease.release();
    }
    const stats = pool.stats();
    assertStatsConsistent(t, stats);
    t.is(stats.evicted.peerClosed, 4 * ROUNDS, 'every closed connection was evicted as peerClosed');
    t.is(stats.created, 4 * (ROUNDS + 1));
  });
}

peekTest('a connection the peer closed while its lease held it unused is not handed to an acquire made after the close', async (t) => {
  const server = await startClosingServer(t, 'fin');
  const pool = createPool(t, { maxPerDestination: 1 });
  for (let round = 0; round < 5; round++) {
    const warm = await pool.acquire(server.dest);
    await roundTrip(warm.socket, `r${round} warm`);
    warm.release();
    const held = await pool.acquire(server.dest);
    // The lease is held and unused while the server closes its side; then, in the same
    // synchronous stretch, another caller asks (and waits: the one connection is leased),
    // and the holder gives it back. The waiter asked after the close had arrived.
    server.closeAllNow();
    const next = pool.acquire(server.dest);
    held.release();
    const lease = await next;
    t.false(lease.reused, `round ${round}: the waiter got a new connection, not the closed one`);
    t.is(String(await roundTrip(lease.socket, `r${round} next`)), `r${round} next`);
    lease.release();
  }
  t.is(pool.stats().evicted.peerClosed, 5);
});
