// Helpers for the pool.forward / pool.listen tests: an upstream child process
// (fixtures/upstream.mjs), a front server in the test process that hands its connections to
// pool.forward, and client-side senders/collectors that hash what goes through.
import { forkControlled } from './controlled-child.mjs';
import crypto from 'node:crypto';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

const FIXTURE = fileURLToPath(new URL('../fixtures/upstream.mjs', import.meta.url));

export const MiB = 1024 * 1024;

export function sha256(data) {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/**
 * Forks fixtures/upstream.mjs in `mode` (see there) and waits until it listens; killed in
 * t.teardown. Returns { port, dest, stats(), control(msg), setMode(mode, bytes), kill() }.
 */
export async function startUpstream(t, { mode = 'echo', bytes = 0 } = {}) {
  const args = ['--mode', mode, '--bytes', String(bytes)];
  const { hello, control, kill } = await forkControlled(t, FIXTURE, args, { label: 'upstream' });

  return {
    port: hello.port,
    dest: `${hello.host}:${hello.port}`,
    /** { accepted, current, closed, connections: [{ id, remotePort, bytesIn, inHash, bytesOut, outHash, gotEnd, closed, error }] } */
    stats: () => control({ cmd: 'stats' }),
    control,
    setMode: (next, n) => control({ cmd: 'setMode', mode: next, bytes: n }),
    kill,
  };
}

/**
 * A net.Server on 127.0.0.1 in the test process whose connection handler calls
 * pool.forward(socket, dest, options). `dest` and `options` may be functions of the socket;
 * `beforeForward(socket)` (optional, may be async) runs first. Each connection's forward
 * promise is pushed on `results` (in accept order); `result(i)` waits for the i-th one.
 * Closed in t.teardown.
 */
export async function startFront(t, pool, dest, { options, beforeForward, serverOptions } = {}) {
  const results = [];
  const waiters = [];
  const server = net.createServer(serverOptions ?? {}, (socket) => {
    socket.on('error', () => {});
    const p = (async () => {
      if (beforeForward) await beforeForward(socket);
      const d = typeof dest === 'function' ? dest(socket) : dest;
      const o = typeof options === 'function' ? options(socket) : options;
      return pool.forward(socket, d, o);
    })();
    p.catch(() => {});
    results.push(p);
    while (waiters.length > 0 && waiters[0].index < results.length) waiters.shift().resolve();
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const close = () => new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
  t.teardown(close);
  /** The i-th connection's forward promise, once that connection arrived (hang guard 20 s). */
  const result = async (index) => {
    if (index >= results.length) {
      await new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`front server: connection #${index} did not arrive`)), 20_000);
        waiters.push({ index, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    }
    return results[index];
  };
  return { server, port: server.address().port, results, result, close };
}

/** A client socket to 127.0.0.1:port, connected; destroyed in t.teardown. */
export function connect(t, port, { allowHalfOpen = false } = {}) {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen });
  socket.on('error', () => {});
  t.teardown(() => socket.destroy());
  return new Promise((resolve, reject) => {
    socket.once('connect', () => { socket.off('error', reject); resolve(socket); });
    socket.once('error', reject);
  });
}

/**
 * Reads `socket` to its end (flowing). Resolves on 'close' with
 * { bytes, hash, data (if keep), ended (an 'end' came), error (code or null) }.
 * Rejects after `timeout` (a hang guard).
 */
export function collect(socket, { keep = false, timeout = 30_000 } = {}) {
  const hash = crypto.createHash('sha256');
  const chunks = [];
  let bytes = 0;
  let ended = false;
  let error = null;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collect: socket not closed within ${timeout} ms (${bytes} bytes, ended ${ended})`)), timeout);
    socket.on('data', (chunk) => {
      bytes += chunk.length;
      hash.update(chunk);
      if (keep) chunks.push(chunk);
    });
    socket.on('end', () => { ended = true; });
    socket.on('error', (err) => { error = err.code ?? String(err); });
    const onClose = () => {
      clearTimeout(timer);
      resolve({ bytes, hash: hash.digest('hex'), data: keep ? Buffer.concat(chunks) : null, ended, error });
    };
    if (socket.destroyed) onClose();
    else socket.once('close', onClose);
    socket.resume();
  });
}

/** Resolves once `socket` has received at least `n` bytes in total (via 'data'), with them. */
export function readBytes(socket, n, { timeout = 20_000 } = {}) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let got = 0;
    const finish = (err, value) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= n) {
        socket.pause();
        finish(null, Buffer.concat(chunks));
      }
    };
    const onClose = () => finish(new Error(`readBytes: closed after ${got}/${n} bytes`));
    const timer = setTimeout(() => finish(new Error(`readBytes: ${got}/${n} bytes within ${timeout} ms`)), timeout);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.resume();
  });
}

/**
 * Writes `n` random bytes on `socket` with backpressure (1 MiB chunks), then ends it when
 * `end`. Resolves with { bytes, hash } of what was written (stops early if the socket goes);
 * `bytes` does not count `hashPrefix`.
 */
export async function writeRandom(socket, n, { end = true, chunk = MiB, hashPrefix } = {}) {
  const hash = crypto.createHash('sha256');
  // `hashPrefix`: bytes counted in the hash first but not written (e.g. a forward's head).
  if (hashPrefix !== undefined) hash.update(hashPrefix);
  let bytes = 0;
  while (bytes < n && !socket.destroyed) {
    const data = crypto.randomBytes(Math.min(chunk, n - bytes));
    hash.update(data);
    bytes += data.length;
    if (!socket.write(data)) {
      await new Promise((resolve) => {
        const done = () => { socket.off('drain', done); socket.off('close', done); resolve(); };
        socket.once('drain', done);
        socket.once('close', done);
      });
    }
  }
  if (end && !socket.destroyed) socket.end();
  return { bytes, hash: hash.digest('hex') };
}

/** Resolves once `socket` emitted 'close' (at once if already closed), with { hadError }. */
export function closed(socket, { timeout = 20_000 } = {}) {
  return new Promise((resolve, reject) => {
    if (socket.destroyed && socket.closed) return resolve({ hadError: false, already: true });
    const timer = setTimeout(() => reject(new Error(`socket not closed within ${timeout} ms`)), timeout);
    socket.once('close', (hadError) => { clearTimeout(timer); resolve({ hadError }); });
  });
}

/** The upstream connection figures for connection `id` (1-based, in accept order). */
export async function upstreamConn(upstream, id) {
  const s = await upstream.stats();
  return s.connections.find((c) => c.id === id);
}
