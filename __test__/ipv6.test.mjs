// IPv6 destinations ('[::1]:port'), when this machine can listen on ::1.
import test from 'ava';
import { startServer } from './helpers/server.mjs';
import { createPool, assertStatsConsistent } from './helpers/pool.mjs';
import { roundTrip } from './helpers/net.mjs';

test('an IPv6 destination [::1]:port is reused', async (t) => {
  let server;
  try {
    server = await startServer(t, { host: '::1' });
  } catch (err) {
    if (['EADDRNOTAVAIL', 'EAFNOSUPPORT', 'EINVAL'].includes(err.code)) {
      t.log(`skipped: cannot listen on ::1 here (${err.code})`);
      t.pass();
      return;
    }
    throw err;
  }
  t.is(server.dest, `[::1]:${server.port}`);
  const pool = createPool(t);
  for (let i = 0; i < 20; i++) {
    const lease = await pool.acquire(server.dest);
    t.is(lease.reused, i > 0);
    t.is(lease.destination, server.dest);
    t.is(lease.socket.remoteAddress, '::1');
    t.is((await roundTrip(lease.socket, `v6 ${i}`)).toString(), `v6 ${i}`);
    lease.release();
  }
  t.is((await server.stats()).accepted, 1);
  assertStatsConsistent(t, pool.stats());
});
