// probe(targets, { protocol: 'udp' }) on 127.0.0.1: a datagram back is 'open', ICMP port
// unreachable is 'closed', silence until the timeout is 'filtered'; the payload is sent as given.
import test from 'ava';
import { probe } from 'berth-pool';
import { udpPeer, freeUdpPort, collect, assertResultShape, stopLater } from './helpers/probe.mjs';

const byIndex = (results) => Object.fromEntries(results.map((r) => [r.index, r]));

test('UDP: echo is open, a freed port is closed, a silent peer is filtered', async (t) => {
  const echo = await udpPeer(t, 'echo');
  const silent = await udpPeer(t, 'silent');
  const closed = `127.0.0.1:${await freeUdpPort()}`;
  const targets = [echo.target, closed, silent.target];
  const run = probe(targets, { protocol: 'udp', timeout: 1000, payload: 'ping' });
  const results = await collect(run);
  t.is(results.length, 3);
  for (const r of results) assertResultShape(t, r);
  const r = byIndex(results);
  t.like(r[0], { target: echo.target, state: 'open' });
  t.like(r[1], { target: closed, state: 'closed' });
  t.like(r[2], { target: silent.target, state: 'filtered' });
  t.like(run.summary(), { total: 3, byState: { open: 1, closed: 1, filtered: 1, error: 0 } });
});

test('UDP: the payload is sent as given (string, Buffer, Uint8Array, empty by default)', async (t) => {
  const echo = await udpPeer(t, 'echo');
  const bytes = Uint8Array.from([0, 1, 2, 250, 255]);
  for (const [payload, expected] of [
    ['hello', Buffer.from('hello')],
    [Buffer.from('buffer payload'), Buffer.from('buffer payload')],
    [bytes, Buffer.from(bytes)],
    [undefined, Buffer.alloc(0)],
  ]) {
    echo.received.length = 0;
    const options = { protocol: 'udp', timeout: 2000 };
    if (payload !== undefined) options.payload = payload;
    const [r] = await collect(probe([echo.target], options));
    t.is(r.state, 'open', `payload ${String(payload)}: an echoed datagram (even an empty one) is an answer`);
    t.is(echo.received.length, 1);
    t.deepEqual(echo.received[0], expected);
  }
});

test('UDP: the payload is copied at the call (later writes to it change nothing)', async (t) => {
  const echo = await udpPeer(t, 'echo');
  const payload = Buffer.from('original');
  const run = probe([echo.target], { protocol: 'udp', timeout: 2000, payload });
  payload.write('modified');
  const [r] = await collect(run);
  t.is(r.state, 'open');
  t.deepEqual(echo.received[0], Buffer.from('original'));
});

test('UDP: results come in completion order (closed and open before filtered)', async (t) => {
  const echo = await udpPeer(t, 'echo');
  const silent = await udpPeer(t, 'silent');
  const closed = `127.0.0.1:${await freeUdpPort()}`;
  const targets = [silent.target, silent.target, closed, echo.target, silent.target, echo.target];
  const results = await collect(probe(targets, { protocol: 'udp', timeout: 1500 }));
  const order = results.map((r) => r.index);
  t.deepEqual(order.slice(0, 3).sort(), [2, 3, 5], `fast ones first (order ${order})`);
  t.deepEqual(order.slice(3).sort(), [0, 1, 4]);
  t.true(results.slice(3).every((r) => r.state === 'filtered'));
});

test('UDP: invalid targets are error results; break and abort stop the run', async (t) => {
  const echo = await udpPeer(t, 'echo');
  const silent = await udpPeer(t, 'silent');
  const results = await collect(probe(['udp nonsense', echo.target, { host: '127.0.0.1', port: -1 }], { protocol: 'udp', timeout: 2000 }));
  const r = byIndex(results);
  t.like(r[0], { state: 'error', error: { code: 'INVALID_TARGET' } });
  t.like(r[1], { state: 'open' });
  t.like(r[2], { state: 'error', error: { code: 'INVALID_TARGET' } });

  const run = stopLater(t, probe([silent.target, echo.target, silent.target], { protocol: 'udp', timeout: 60_000 }));
  const seen = [];
  for await (const x of run) { seen.push(x.state); break; }
  t.deepEqual(seen, ['open']);
  t.deepEqual(await run.next(), { done: true, value: undefined });

  const controller = new AbortController();
  const aborted = stopLater(t, probe([silent.target, echo.target], { protocol: 'udp', timeout: 60_000, signal: controller.signal }));
  await t.throwsAsync(async () => {
    for await (const x of aborted) {
      t.is(x.state, 'open');
      controller.abort(new Error('udp stop'));
    }
  }, { message: 'udp stop' });
});
