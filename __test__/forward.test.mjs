// pool.forward and pool.listen move bytes exactly, both ways at once, pass half-closes on in
// both directions, and put `head`, `reply` and the bytes Node had already buffered in order.
import test from 'ava';
import { once } from 'node:events';
import { createPool } from './helpers/pool.mjs';
import { waitFor } from './helpers/net.mjs';
import {
  MiB, sha256, startUpstream, startFront, connect, collect, writeRandom, upstreamConn,
} from './helpers/forward.mjs';

const BIG = 64 * MiB;

/**
 * The way in: 'forward' (a front net.Server calling pool.forward) or 'listen' (pool.listen
 * routing everything to `dest`). Returns { port, result() } where result() is the forward's
 * result (null through a listener) and proxy the listener (or null).
 */
async function entry(t, kind, pool, dest, options) {
  if (kind === 'forward') {
    const front = await startFront(t, pool, dest, { options });
    return { port: front.port, result: (i = 0) => front.result(i), proxy: null };
  }
  const proxy = await pool.listen({}, () => dest);
  t.teardown(() => proxy.close());
  return { port: proxy.address().port, result: async () => null, proxy };
}

for (const kind of ['forward', 'listen']) {
  test(`${kind}: 64 MiB each way at the same time arrive byte-exact`, async (t) => {
    const upstream = await startUpstream(t, { mode: 'duplex', bytes: BIG });
    const pool = createPool(t);
    const head = kind === 'forward' ? Buffer.from('HEAD-BYTES:') : Buffer.alloc(0);
    const way = await entry(t, kind, pool, upstream.dest, kind === 'forward' ? { head } : undefined);

    const client = await connect(t, way.port);
    const [received, sent] = await Promise.all([
      collect(client, { timeout: 55_000 }),
      writeRandom(client, BIG, { hashPrefix: head }),
    ]);

    t.is(received.error, null, 'the client saw no error');
    t.true(received.ended, 'the client got the upstream\'s end of stream');
    t.is(sent.bytes, BIG);
    t.is(received.bytes, BIG);
    const up = await waitFor(async () => {
      const c = await upstreamConn(upstream, 1);
      return c?.closed ? c : null;
    }, { message: 'the upstream connection closed' });
    t.is(up.bytesIn, BIG + head.length, 'the upstream received head + everything the client sent');
    t.is(up.inHash, sent.hash, 'the upstream received exactly head + the client\'s bytes, in order');
    t.is(up.bytesOut, BIG);
    t.is(received.hash, up.outHash, 'the client received exactly what the upstream sent');
    t.true(up.gotEnd, 'the client\'s end of stream reached the upstream');
    t.is(up.error, null);
    t.is((await upstream.stats()).accepted, 1);

    const result = await way.result();
    if (kind === 'forward') {
      t.like(result, {
        bytesIn: BIG + head.length, bytesOut: BIG, end: 'client-closed', upstreamReused: false, upstreamReturned: false,
      });
      t.is(result.error, undefined);
      t.true(Number.isFinite(result.durationMs) && result.durationMs >= 0, 'durationMs is a number >= 0');
    } else {
      const s = await waitFor(() => {
        const st = way.proxy.stats();
        return st.sessionsActive === 0 ? st : null;
      }, { message: 'the listener session ended' });
      t.like(s, { sessionsTotal: 1, sessionsActive: 0, bytesIn: BIG, bytesOut: BIG, routeFailures: 0, connectFailures: 0, upstreamReused: 0 });
    }
  });

  test(`${kind}: the client half-closes first and still gets the upstream's whole reply`, async (t) => {
    const tail = MiB;
    const upstream = await startUpstream(t, { mode: 'sink-reply', bytes: tail });
    const pool = createPool(t);
    const way = await entry(t, kind, pool, upstream.dest);

    const client = await connect(t, way.port);
    const collecting = collect(client, { keep: true });
    const sent = await writeRandom(client, MiB); // then end(): FIN, reading goes on
    const received = await collecting;

    t.is(received.error, null);
    t.true(received.ended);
    const line = `${sent.hash}\n`;
    t.is(received.data.subarray(0, line.length).toString(), line, 'the upstream saw the whole request, then the client\'s FIN');
    t.is(received.bytes, line.length + tail, 'after the FIN the client still got the whole reply');
    const up = await upstreamConn(upstream, 1);
    t.is(sha256(received.data), up.outHash);
    t.true(up.gotEnd);

    const result = await way.result();
    if (kind === 'forward') {
      t.like(result, { end: 'client-closed', bytesIn: MiB, bytesOut: line.length + tail, upstreamReturned: false });
      t.is(result.error, undefined);
    } else {
      await waitFor(() => way.proxy.stats().sessionsActive === 0, { message: 'the listener session ended' });
      t.like(way.proxy.stats(), { sessionsTotal: 1, bytesIn: MiB, bytesOut: line.length + tail });
    }
  });

  test(`${kind}: the upstream half-closes first and the client can still send to it`, async (t) => {
    const upstream = await startUpstream(t, { mode: 'send-close', bytes: MiB });
    const pool = createPool(t);
    const way = await entry(t, kind, pool, upstream.dest);

    const client = await connect(t, way.port, { allowHalfOpen: true });
    const collecting = collect(client);
    await once(client, 'end'); // the upstream's FIN, passed on
    t.false(client.destroyed, 'the client is still open for writing');
    const sent = await writeRandom(client, 512 * 1024);
    const received = await collecting;

    t.is(received.error, null);
    t.is(received.bytes, MiB);
    const up = await waitFor(async () => {
      const c = await upstreamConn(upstream, 1);
      return c?.gotEnd ? c : null;
    }, { message: 'the upstream got the client\'s FIN' });
    t.is(received.hash, up.outHash);
    t.is(up.bytesIn, 512 * 1024, 'what the client sent after the upstream\'s FIN arrived');
    t.is(up.inHash, sent.hash);

    const result = await way.result();
    if (kind === 'forward') {
      t.like(result, { end: 'upstream-closed', bytesIn: 512 * 1024, bytesOut: MiB, upstreamReturned: false });
      t.is(result.error, undefined);
    } else {
      await waitFor(() => way.proxy.stats().sessionsActive === 0, { message: 'the listener session ended' });
      t.like(way.proxy.stats(), { sessionsTotal: 1, bytesIn: 512 * 1024, bytesOut: MiB });
    }
  });
}

test('forward: reply reaches the client before any upstream byte, head reaches the upstream before any client byte', async (t) => {
  const upstream = await startUpstream(t, { mode: 'duplex', bytes: 256 * 1024 }); // speaks first
  const pool = createPool(t);
  const head = Buffer.from('CONNECT-HEAD');
  const reply = 'HTTP/1.1 200 Connection Established\r\n\r\n';
  const front = await startFront(t, pool, upstream.dest, { options: { head, reply } });

  const client = await connect(t, front.port);
  const collecting = collect(client, { keep: true });
  client.end('client-bytes');
  const received = await collecting;
  const result = await front.result(0);

  t.is(received.data.subarray(0, reply.length).toString(), reply, 'the reply comes first');
  const up = await upstreamConn(upstream, 1);
  t.is(sha256(received.data.subarray(reply.length)), up.outHash, 'then exactly the upstream\'s bytes');
  t.is(up.inHash, sha256(Buffer.concat([head, Buffer.from('client-bytes')])), 'the upstream got head, then the client\'s bytes');
  t.like(result, { end: 'client-closed', bytesIn: head.length + 12, bytesOut: reply.length + 256 * 1024 });
});

test('forward: a Uint8Array reply and head are sent as given', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const head = new Uint8Array([0, 1, 2, 255]);
  // A view into a larger buffer: only its own bytes must go.
  const backing = Buffer.from('xxREPLYxx');
  const reply = new Uint8Array(backing.buffer, backing.byteOffset + 2, 5);
  const front = await startFront(t, pool, upstream.dest, { options: { head, reply } });

  const client = await connect(t, front.port);
  const collecting = collect(client, { keep: true });
  client.end('abc');
  const received = await collecting;
  t.deepEqual(received.data, Buffer.concat([Buffer.from('REPLY'), Buffer.from(head), Buffer.from('abc')]));
  t.like(await front.result(0), { end: 'client-closed', bytesIn: 7, bytesOut: 5 + 7 });
});

test('forward: bytes Node had already buffered from the client go upstream after head and before later bytes', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const head = Buffer.from('[head]');
  const early = Buffer.from('early bytes, read by Node before forward was called;');
  const late = Buffer.from('late bytes, sent after the hand-over started');
  let buffered = -1;
  let signalBuffered;
  const isBuffered = new Promise((resolve) => { signalBuffered = resolve; });
  const front = await startFront(t, pool, upstream.dest, {
    options: { head },
    // Let Node read the early bytes into the socket's buffer (paused mode, nothing consumed).
    beforeForward: (socket) => new Promise((resolve) => {
      const check = () => {
        if (socket.readableLength >= early.length) {
          socket.off('readable', check);
          buffered = socket.readableLength;
          signalBuffered();
          resolve();
        } else {
          socket.read(0);
        }
      };
      socket.on('readable', check);
    }),
  });

  const client = await connect(t, front.port);
  const collecting = collect(client, { keep: true });
  client.write(early);
  await isBuffered;
  client.end(late);
  const received = await collecting;

  t.is(buffered, early.length, 'the early bytes sat in Node\'s buffer when forward was called');
  const expected = Buffer.concat([head, early, late]);
  t.is(received.data.toString(), expected.toString(), 'the upstream got head, the buffered bytes, then the rest');
  t.like(await front.result(0), { end: 'client-closed', bytesIn: expected.length, bytesOut: expected.length });
});

test('forward: bytes buffered while the socket sat paused for a while are not lost', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const payload = Buffer.from('x'.repeat(40_000));
  const front = await startFront(t, pool, upstream.dest, {
    // Flowing first (Node reads everything the client sent), then paused with it all buffered:
    // a handler that pauses, does async work, and then forwards.
    beforeForward: async (socket) => {
      const chunks = [];
      let got = 0;
      await new Promise((resolve) => {
        const onData = (c) => {
          got += c.length;
          chunks.push(c);
          if (got >= payload.length) { socket.off('data', onData); socket.pause(); resolve(); }
        };
        socket.on('data', onData);
      });
      socket.unshift(Buffer.concat(chunks)); // put back, as a parser that peeked would
      await new Promise((resolve) => setTimeout(resolve, 20));
    },
  });
  const client = await connect(t, front.port);
  const collecting = collect(client, { keep: true });
  client.write(payload);
  // The echo of everything (the buffered bytes included) comes back; then end.
  await waitFor(() => client.bytesRead >= payload.length, { message: 'the echo of the buffered bytes' });
  client.end();
  const received = await collecting;
  t.is(received.bytes, payload.length);
  t.is(received.data.toString(), payload.toString());
  t.like(await front.result(0), { end: 'client-closed', bytesIn: payload.length, bytesOut: payload.length });
});
