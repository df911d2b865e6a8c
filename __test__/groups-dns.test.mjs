// Upstream groups (issue 16): a host-name member is every address it resolves to. The `lookup`
// option stands in for DNS: 'svc.test' resolves to 127.0.0.1 and 127.0.0.2, where two echo
// servers listen on the same port (each bound explicitly to its address).
import test from 'ava';
import { BerthError, createPool } from './helpers/pool.mjs';
import { waitFor } from './helpers/net.mjs';
import { countBy, memberStats, pick, runBounded, settled, startMember } from './helpers/groups.mjs';

/**
 * Echo servers on 127.0.0.1:P and 127.0.0.2:P (the same port P); retried if P is taken on .2.
 * Resolves null (the test logs and passes) where 127.0.0.2 is not a local address (macOS
 * configures only 127.0.0.1 on lo0); Linux routes all of 127/8 to the loopback.
 */
async function twoAddressesOnePort(t) {
  for (let attempt = 0; ; attempt++) {
    const one = await startMember(t, { host: '127.0.0.1' });
    try {
      const two = await startMember(t, { host: '127.0.0.2', port: one.port });
      return [one, two];
    } catch (err) {
      await one.kill();
      if (err.code === 'EADDRNOTAVAIL') {
        t.log('skipped: cannot listen on 127.0.0.2 here');
        t.pass();
        return null;
      }
      if (err.code !== 'EADDRINUSE' || attempt >= 5) throw err;
    }
  }
}

test('a host name with two addresses is two members, and acquires spread over both', async (t) => {
  const servers = await twoAddressesOnePort(t);
  if (servers === null) return;
  const [one, two] = servers;
  const port = one.port;
  const asked = [];
  const pool = createPool(t);
  const group = pool.group('svc', [`svc.test:${port}`], {
    balance: 'round-robin',
    lookup: async (hostname) => {
      asked.push(hostname);
      return [{ address: '127.0.0.1', family: 4 }, { address: '127.0.0.2', family: 4 }];
    },
  });
  // The name is resolved when the group is made (asynchronously, maybe).
  await waitFor(() => group.stats().members.length === 2, { message: 'two members from svc.test' });
  t.true(asked.includes('svc.test'), `lookup was asked for svc.test (${JSON.stringify(asked)})`);
  const members = group.stats().members.map(({ dest, host, weight, state }) => ({ dest, host, weight, state }));
  t.deepEqual(members.sort((x, y) => x.dest.localeCompare(y.dest)), [
    { dest: `127.0.0.1:${port}`, host: 'svc.test', weight: 1, state: 'up' },
    { dest: `127.0.0.2:${port}`, host: 'svc.test', weight: 1, state: 'up' },
  ]);

  // Each acquire destroys its lease: every acquire is a new connection, counted by its server.
  const outcomes = await runBounded(40, 1, async () => {
    const lease = await pool.acquire('group:svc');
    const member = lease.destination;
    lease.destroy();
    return member;
  });
  t.deepEqual(outcomes.filter((o) => o.status === 'rejected').map((o) => String(o.reason)), []);
  t.deepEqual(countBy(outcomes.map((o) => o.value)), { [`127.0.0.1:${port}`]: 20, [`127.0.0.2:${port}`]: 20 });
  t.is(await settled(one.accepted, 20), 20, 'the server on 127.0.0.1 accepted 20 connections');
  t.is(await settled(two.accepted, 20), 20, 'the server on 127.0.0.2 accepted 20 connections');
});

test('a host name member carries its weight to each address; dnsRefresh picks up a changed answer', async (t) => {
  const servers = await twoAddressesOnePort(t);
  if (servers === null) return;
  const [one, two] = servers;
  const port = one.port;
  let answer = [{ address: '127.0.0.1', family: 4 }];
  const pool = createPool(t);
  const group = pool.group('svc-refresh', [{ dest: `svc.test:${port}`, weight: 3 }], {
    balance: 'round-robin',
    dnsRefresh: 100,
    lookup: async () => answer,
  });
  await waitFor(() => group.stats().members.length === 1, { message: 'one member from svc.test' });
  t.like(memberStats(group, `127.0.0.1:${port}`), { host: 'svc.test', weight: 3 });
  t.is(await pick(pool, 'group:svc-refresh'), `127.0.0.1:${port}`);

  answer = [{ address: '127.0.0.1', family: 4 }, { address: '127.0.0.2', family: 4 }];
  await waitFor(() => group.stats().members.length === 2, { timeout: 15_000, message: 'the refresh adds 127.0.0.2' });
  t.like(memberStats(group, `127.0.0.2:${port}`), { host: 'svc.test', weight: 3 });
  const counts = countBy((await runBounded(12, 1, () => pick(pool, 'group:svc-refresh'))).map((o) => o.value));
  t.deepEqual(counts, { [`127.0.0.1:${port}`]: 6, [`127.0.0.2:${port}`]: 6 });

  answer = [{ address: '127.0.0.2', family: 4 }];
  await waitFor(() => group.stats().members.length === 1, { timeout: 15_000, message: 'the refresh drops 127.0.0.1' });
  t.is(group.stats().members[0].dest, `127.0.0.2:${port}`);
  t.is(await pick(pool, 'group:svc-refresh'), `127.0.0.2:${port}`);
  t.is(await settled(two.accepted, 1), 1, 'one connection to 127.0.0.2 (reused)');
});

test('a host name mixed with plain addresses; a failing lookup keeps the other members', async (t) => {
  const servers = await twoAddressesOnePort(t);
  if (servers === null) return;
  const [one, two] = servers;
  const pool = createPool(t);
  const group = pool.group('svc-mixed', [`127.0.0.1:${one.port}`, `broken.test:${two.port}`], {
    balance: 'round-robin',
    lookup: async (hostname) => {
      if (hostname === 'broken.test') throw Object.assign(new Error('getaddrinfo ENOTFOUND broken.test'), { code: 'ENOTFOUND' });
      return [{ address: '127.0.0.2', family: 4 }];
    },
  });
  const errors = [];
  group.on('error', (err) => errors.push(err));
  // The failed lookup is reported as an 'error' event; every acquire lands on the plain member.
  await waitFor(() => errors.length >= 1, { message: "the group's error event" });
  t.regex(errors[0].message, /broken\.test/);
  const counts = countBy((await runBounded(6, 1, () => pick(pool, 'group:svc-mixed'))).map((o) => o.value));
  t.deepEqual(counts, { [`127.0.0.1:${one.port}`]: 6 });
  t.is(group.stats().members.filter((m) => m.host === undefined || m.host === null).length, 1);
});

test('a group whose only member never resolves: NO_HEALTHY_MEMBER, caused by the lookup error', async (t) => {
  const pool = createPool(t, { acquireTimeout: 5_000 });
  const group = pool.group('unresolved', ['nowhere.test:80'], {
    lookup: async (hostname) => { throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }); },
  });
  group.on('error', () => {});
  const err = await t.throwsAsync(pool.acquire('group:unresolved'), { instanceOf: BerthError, code: 'NO_HEALTHY_MEMBER' });
  t.regex(err?.cause?.message ?? '', /ENOTFOUND nowhere\.test/);
  t.deepEqual(group.stats().members, []);
});
