// The PROXY protocol (issue 17, section 3): listeners that read it (acceptProxyProtocol) and
// forwards/listeners that send it (sendProxyProtocol). HAProxy is the real peer on both sides
// (`send-proxy`/`send-proxy-v2` in front of berth, `accept-proxy` behind it); Node clients that
// write a header themselves cover what HAProxy cannot vary (source addresses, split headers,
// bad headers).
import anyTest from 'ava';
import net from 'node:net';
import { createPool } from './helpers/pool.mjs';
import { roundTrip, waitFor, sleep } from './helpers/net.mjs';
import { startUpstream, startFront, connect, collect, readBytes, closed } from './helpers/forward.mjs';
import { useHaproxy, startHaproxy } from './helpers/haproxy.mjs';

const test = anyTest;
const { test: haproxyTest } = useHaproxy(anyTest);

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A v2 PROXY header for a TCP connection from `src` to `dst` ({ address, port }, same family). */
function v2Header(src, dst, { command = 1 } = {}) {
  const six = net.isIPv6(src.address);
  const ip = (a) => (six ? ipv6Bytes(a) : Buffer.from(a.split('.').map(Number)));
  const port = (p) => Buffer.from([p >> 8, p & 0xff]);
  const body = Buffer.concat([ip(src.address), ip(dst.address), port(src.port), port(dst.port)]);
  return Buffer.concat([SIGNATURE, Buffer.from([0x20 | command, six ? 0x21 : 0x11, 0, body.length]), body]);
}

function ipv6Bytes(text) {
  const [head, tail = ''] = text.split('::');
  const groups = (s) => (s === '' ? [] : s.split(':'));
  const h = groups(head);
  const tl = groups(tail);
  const all = [...h, ...Array(8 - h.length - tl.length).fill('0'), ...tl];
  return Buffer.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

async function listen(t, pool, options, route) {
  const proxy = await pool.listen(options, route);
  t.teardown(() => proxy.close());
  return proxy;
}

/** A listener with acceptProxyProtocol whose route records what it saw and goes to `dest`. */
async function recordingListener(t, pool, dest, options) {
  const seen = [];
  const proxy = await listen(t, pool, options, (info) => {
    seen.push(info);
    return dest;
  });
  return { proxy, seen };
}

/** HAProxy in `mode tcp` forwarding to 127.0.0.1:`backendPort` with `serverOptions` (e.g. `send-proxy`). */
function tcpFront(t, backendPort, serverOptions) {
  return startHaproxy(t, (port) => [
    'frontend fe',
    '  mode tcp',
    `  bind 127.0.0.1:${port}`,
    '  default_backend be',
    'backend be',
    '  mode tcp',
    `  server s1 127.0.0.1:${backendPort} ${serverOptions}`,
  ].join('\n'));
}

/** HAProxy reading a PROXY header (`accept-proxy`) and answering every HTTP request with the source it saw. */
function sourceEcho(t) {
  return startHaproxy(t, (port) => [
    'frontend fe',
    '  mode http',
    `  bind 127.0.0.1:${port} accept-proxy`,
    '  http-request return status 200 content-type text/plain lf-string "src=%[src] port=%[src_port]\\n"',
  ].join('\n'));
}

/** Sends one HTTP/1.0 request on `socket` and resolves with the response body. */
async function httpBody(socket) {
  const done = collect(socket, { keep: true });
  socket.write('GET / HTTP/1.0\r\nHost: test\r\n\r\n');
  const { data } = await done;
  const text = data.toString();
  return text.slice(text.indexOf('\r\n\r\n') + 4);
}

for (const [label, serverOption, accept] of [
  ['send-proxy (v1)', 'send-proxy', 'v1'],
  ['send-proxy-v2', 'send-proxy-v2', 'v2'],
  ['send-proxy-v2 to a listener that takes both', 'send-proxy-v2', 'both'],
  ['send-proxy to a listener that takes both', 'send-proxy', 'both'],
]) {
  haproxyTest(`HAProxy ${label} in front of acceptProxyProtocol '${accept}': the route sees the client's address and the session relays`, async (t) => {
    const upstream = await startUpstream(t, { mode: 'echo' });
    const pool = createPool(t);
    const { proxy, seen } = await recordingListener(t, pool, upstream.dest, { acceptProxyProtocol: accept, peekTimeout: 10_000 });
    const haproxy = await tcpFront(t, proxy.address().port, serverOption);

    const client = await connect(t, haproxy.port);
    t.is((await roundTrip(client, 'through HAProxy and berth')).toString(), 'through HAProxy and berth');
    t.is(seen.length, 1);
    t.is(seen[0].remoteAddress, '127.0.0.1');
    t.is(seen[0].remotePort, client.localPort, 'the client\'s own port, not HAProxy\'s outgoing one');
    t.is(seen[0].remoteFamily, 'IPv4');
    const rest = collect(client);
    client.end();
    t.true((await rest).ended);
    t.is(proxy.stats().proxyProtocolErrors, 0);
  });
}

haproxyTest('HAProxy send-proxy-v2 to a listener that takes only v1: closed and counted, the route is not called', async (t) => {
  const pool = createPool(t);
  const { proxy, seen } = await recordingListener(t, pool, '127.0.0.1:9', { acceptProxyProtocol: 'v1' });
  const haproxy = await tcpFront(t, proxy.address().port, 'send-proxy-v2');
  const client = await connect(t, haproxy.port);
  const rest = collect(client);
  client.write('hello');
  t.is((await rest).bytes, 0);
  // At least one: HAProxy may take the close of a connection it has just sent its header on
  // for a failed connect and try again (`retries`, 3 by default), each try closed and counted.
  await waitFor(() => proxy.stats().proxyProtocolErrors >= 1, { message: 'a PROXY protocol error' });
  t.is(seen.length, 0);
  t.like(proxy.stats(), { routeFailures: 0, sessionsTotal: 0 });
});

test('a client that connects directly (no header) is closed and counted; the route is not called', async (t) => {
  const pool = createPool(t);
  const { proxy, seen } = await recordingListener(t, pool, '127.0.0.1:9', { acceptProxyProtocol: 'both' });
  const client = await connect(t, proxy.address().port);
  const rest = collect(client);
  client.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  t.is((await rest).bytes, 0);
  // One that sends nothing at all: closed once peekTimeout passes.
  const quiet = await listen(t, pool, { acceptProxyProtocol: 'v2', peekTimeout: 200 }, () => '127.0.0.1:9');
  const silent = await connect(t, quiet.address().port);
  await closed(silent);
  // One that starts a header and stops.
  const partial = await connect(t, quiet.address().port);
  partial.write(SIGNATURE.subarray(0, 5));
  await closed(partial);
  await waitFor(() => proxy.stats().proxyProtocolErrors === 1 && quiet.stats().proxyProtocolErrors === 2, { message: 'errors counted' });
  t.is(seen.length, 0);
  t.like(proxy.stats(), { routeFailures: 0, sessionsTotal: 0 });
});

test('maxConnectionsPerClient counts the header\'s source, not the balancer\'s address', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const { proxy, seen } = await recordingListener(t, pool, upstream.dest, { acceptProxyProtocol: 'both', maxConnectionsPerClient: 1 });
  const port = proxy.address().port;
  const dst = { address: '127.0.0.1', port };
  // Two clients behind one balancer (one real peer address): both served.
  const a = await connect(t, port);
  a.write('PROXY TCP4 192.0.2.1 127.0.0.1 1111 80\r\n');
  t.is((await roundTrip(a, 'a')).toString(), 'a');
  const b = await connect(t, port);
  b.write(v2Header({ address: '2001:db8::2', port: 2222 }, { address: '2001:db8::1', port: 443 }));
  t.is((await roundTrip(b, 'b')).toString(), 'b');
  t.like(seen[0], { remoteAddress: '192.0.2.1', remotePort: 1111, remoteFamily: 'IPv4' });
  t.like(seen[1], { remoteAddress: '2001:db8::2', remotePort: 2222, remoteFamily: 'IPv6' });
  t.is(proxy.stats().clients, 2);
  // The first client again while its session is open: beyond its share.
  const c = await connect(t, port);
  const rest = collect(c);
  c.write(v2Header({ address: '192.0.2.1', port: 3333 }, dst));
  t.is((await rest).bytes, 0);
  t.is(proxy.stats().rejectedPerClient, 1);
  t.is(seen.length, 2, 'rejected before the route');
});

test('a header that comes in pieces is consumed exactly: peek and the upstream see only what follows it', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const { proxy, seen } = await recordingListener(t, pool, upstream.dest, { acceptProxyProtocol: 'both', peek: 7 });
  const client = await connect(t, proxy.address().port);
  client.setNoDelay(true);
  const header = Buffer.from('PROXY TCP6 2001:db8::7 ::1 65535 8080\r\n');
  for (const piece of [header.subarray(0, 3), header.subarray(3, 20), header.subarray(20)]) {
    client.write(piece);
    await sleep(30);
  }
  const echoed = readBytes(client, 7);
  client.write('payload');
  t.is((await echoed).toString(), 'payload');
  t.is(seen[0].head.toString(), 'payload');
  t.like(seen[0], { remoteAddress: '2001:db8::7', remotePort: 65535, remoteFamily: 'IPv6' });
});

test('a v2 LOCAL header (a balancer\'s own check) or v1 UNKNOWN leaves the direct peer\'s address', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const { proxy, seen } = await recordingListener(t, pool, upstream.dest, { acceptProxyProtocol: 'both' });
  const port = proxy.address().port;
  const local = await connect(t, port);
  local.write(v2Header({ address: '192.0.2.9', port: 9 }, { address: '127.0.0.1', port }, { command: 0 }));
  t.is((await roundTrip(local, 'x')).toString(), 'x');
  const unknown = await connect(t, port);
  unknown.write('PROXY UNKNOWN\r\n');
  t.is((await roundTrip(unknown, 'y')).toString(), 'y');
  t.like(seen[0], { remoteAddress: '127.0.0.1', remotePort: local.localPort });
  t.like(seen[1], { remoteAddress: '127.0.0.1', remotePort: unknown.localPort });
});

for (const version of ['v1', 'v2']) {
  haproxyTest(`forward() with sendProxyProtocol '${version}' in front of HAProxy accept-proxy: HAProxy sees the original client`, async (t) => {
    const haproxy = await sourceEcho(t);
    const pool = createPool(t);
    const front = await startFront(t, pool, `127.0.0.1:${haproxy.port}`, { options: { sendProxyProtocol: version } });
    const client = await connect(t, front.port);
    const port = client.localPort;
    t.is(await httpBody(client), `src=127.0.0.1 port=${port}\n`);
    const result = await front.result(0);
    t.is(result.error, undefined);
    t.false(result.upstreamReturned);
  });
}

haproxyTest('a route result { dest, sendProxyProtocol } in front of HAProxy accept-proxy: HAProxy sees the original client; other routes send none', async (t) => {
  const back = await sourceEcho(t);
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  let n = 0;
  const proxy = await listen(t, pool, {}, () => (n++ === 0 ? { dest: `127.0.0.1:${back.port}`, sendProxyProtocol: 'v2' } : upstream.dest));
  const client = await connect(t, proxy.address().port);
  const port = client.localPort;
  const body = await httpBody(client);
  if (body === '') t.log('nothing came back; berth listener stats:', proxy.stats());
  t.is(body, `src=127.0.0.1 port=${port}\n`);
  // A route without it: the bytes arrive as they are.
  const plain = await connect(t, proxy.address().port);
  t.is((await roundTrip(plain, 'plain')).toString(), 'plain');
});

haproxyTest('HAProxy send-proxy-v2 -> berth (acceptProxyProtocol, sendProxyProtocol v1) -> HAProxy accept-proxy: the client\'s address goes through', async (t) => {
  const back = await sourceEcho(t);
  const pool = createPool(t);
  const proxy = await listen(t, pool, { acceptProxyProtocol: 'v2', sendProxyProtocol: 'v1', peekTimeout: 10_000 }, `127.0.0.1:${back.port}`);
  const haproxy = await tcpFront(t, proxy.address().port, 'send-proxy-v2');
  const client = await connect(t, haproxy.port);
  const port = client.localPort;
  const body = await httpBody(client);
  if (body === '') t.log('nothing came back; berth listener stats:', proxy.stats());
  t.is(body, `src=127.0.0.1 port=${port}\n`);
});

test('forward() sends the header first, on a fresh upstream even when the pool has a reusable one idle', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  // A reuse session leaves an idle native upstream behind.
  const reuse = await startFront(t, pool, upstream.dest, { options: { reuseUpstream: true } });
  const first = await connect(t, reuse.port);
  t.is((await roundTrip(first, 'r')).toString(), 'r');
  first.end();
  t.true((await reuse.result(0)).upstreamReturned);

  const front = await startFront(t, pool, upstream.dest, { options: { sendProxyProtocol: 'v1' } });
  const client = await connect(t, front.port);
  const line = `PROXY TCP4 127.0.0.1 127.0.0.1 ${client.localPort} ${front.port}\r\n`;
  // The echo upstream sends the header back: exactly the line, then the client's bytes.
  const echoed = readBytes(client, line.length + 4);
  client.write('data');
  t.is((await echoed).toString(), `${line}data`);
  const rest = collect(client);
  client.end();
  await rest;
  const result = await front.result(0);
  t.is(result.bytesIn, 4, 'the header is not counted as client bytes');
  t.false(result.upstreamReused);
  t.is((await upstream.stats()).accepted, 2, 'a second upstream connection');
});

test('a route result with sendProxyProtocol on a reuseUpstream listener: each session gets a fresh upstream, never returned', async (t) => {
  const upstream = await startUpstream(t, { mode: 'echo' });
  const pool = createPool(t);
  const proxy = await listen(t, pool, { reuseUpstream: true }, () => ({ dest: upstream.dest, sendProxyProtocol: 'v1' }));
  const port = proxy.address().port;
  for (let i = 0; i < 2; i++) {
    const client = await connect(t, port);
    const line = `PROXY TCP4 127.0.0.1 127.0.0.1 ${client.localPort} ${port}\r\n`;
    const echoed = readBytes(client, line.length + 2);
    client.write(`r${i}`);
    t.is((await echoed).toString(), `${line}r${i}`);
    const rest = collect(client);
    client.end();
    await rest;
    await waitFor(() => proxy.stats().sessionsActive === 0, { message: 'session ended' });
  }
  t.is(proxy.stats().upstreamReused, 0);
  t.is((await upstream.stats()).accepted, 2);
  t.is(pool.stats().idle, 0, 'no upstream that carried a header went back to the pool');
});

test('option checks: TypeErrors for bad values and for sendProxyProtocol with reuseUpstream', async (t) => {
  const pool = createPool(t);
  for (const [options, pattern] of [
    [{ acceptProxyProtocol: 'v3' }, /"acceptProxyProtocol" must be 'v1', 'v2' or 'both'/],
    [{ acceptProxyProtocol: true }, /"acceptProxyProtocol"/],
    [{ sendProxyProtocol: 2 }, /"sendProxyProtocol" must be 'v1' or 'v2'/],
    [{ sendProxyProtocol: 'v1', reuseUpstream: true }, /"sendProxyProtocol" cannot be used with "reuseUpstream"/],
  ]) {
    await t.throwsAsync(pool.listen(options, '127.0.0.1:9'), { instanceOf: TypeError, message: pattern });
  }
  const server = net.createServer((s) => s.destroy());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  const socket = await connect(t, server.address().port);
  await t.throwsAsync(pool.forward(socket, '127.0.0.1:9', { sendProxyProtocol: 'v3' }), { instanceOf: TypeError, message: /"sendProxyProtocol" must be 'v1' or 'v2'/ });
  await t.throwsAsync(pool.forward(socket, '127.0.0.1:9', { sendProxyProtocol: 'v2', reuseUpstream: true }), {
    instanceOf: TypeError,
    message: /cannot be used with "reuseUpstream"/,
  });
  t.false(socket.destroyed, 'a TypeError leaves the socket untouched');
});
