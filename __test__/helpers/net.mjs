// Small, dependency-free helpers shared by the tests and by the child-process fixtures
// (so nothing here may import ava).
import net from 'node:net';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/**
 * Write `data` on `socket` and resolve with the echoed reply once as many bytes as were sent
 * have come back. Listeners are removed afterwards and a socket that was not flowing before
 * is paused again, so the socket is left as we found it (what a well-behaved user does).
 * Rejects if the socket errors, ends or closes first, or after `timeout` ms (a hang guard).
 */
export function roundTrip(socket, data, { timeout = 10_000 } = {}) {
  const request = Buffer.isBuffer(data) ? data : Buffer.from(String(data));
  return new Promise((resolve, reject) => {
    const wasFlowing = socket.readableFlowing === true;
    const chunks = [];
    let received = 0;
    const finish = (error, value) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      if (!wasFlowing && !socket.destroyed) socket.pause();
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(buf);
      received += buf.length;
      if (received >= request.length) finish(null, Buffer.concat(chunks));
    };
    const onError = (err) => finish(err);
    const onEnd = () => finish(new Error(`socket ended after ${received}/${request.length} echoed bytes`));
    const onClose = () => finish(new Error(`socket closed after ${received}/${request.length} echoed bytes`));
    const timer = setTimeout(
      () => finish(new Error(`roundTrip: no complete echo within ${timeout} ms (${received}/${request.length} bytes)`)),
      timeout,
    );
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('end', onEnd);
    socket.on('close', onClose);
    socket.write(request);
  });
}

/**
 * Poll `check` (sync or async) until it returns a truthy value, which is returned.
 * `timeout` is only a hang guard: on expiry it throws, describing the last observed value.
 */
export async function waitFor(check, { timeout = 10_000, interval = 10, message = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > deadline) {
      const what = typeof message === 'function' ? message() : message;
      throw new Error(`waitFor: ${what} not reached within ${timeout} ms`);
    }
    await sleep(interval);
  }
}

/** 'pending' | 'fulfilled' | 'rejected', without waiting for the promise. */
export async function promiseState(promise) {
  const pending = {};
  const result = await Promise.race([
    promise.then(() => 'fulfilled', () => 'rejected'),
    new Promise((resolve) => setImmediate(() => resolve(pending))),
  ]);
  return result === pending ? 'pending' : result;
}

/**
 * Mark a promise as handled right away (so a rejection that happens before the test awaits it
 * is not reported as unhandled) and return the same promise for later assertions.
 */
export function track(promise) {
  promise.catch(() => {});
  return promise;
}

/** A TCP port on 127.0.0.1 that nothing listens on: bind an ephemeral port, then close it. */
export async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * A port on 127.0.0.1 that nothing listens on, for a destination that refuses. Not a freed
 * ephemeral port (`freePort`): test files run side by side, and another file's listener on
 * port 0 can be given that same port a moment later (a refusing destination that suddenly
 * accepts). This one lies below the ephemeral range, where listeners on port 0 and connects'
 * source ports never land, and is checked free now.
 */
export async function refusedPort() {
  const low = Math.min(ephemeralLow(), 32768);
  const span = Math.min(12000, low - 1025);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low - 1 - Math.floor(Math.random() * span);
    if (await canListen(port)) return port;
  }
  throw new Error('no free port below the ephemeral range');
}

/** The first port of the kernel's ephemeral range (Linux; elsewhere Windows' 49152). */
function ephemeralLow() {
  try {
    return Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 49152;
  }
}

function canListen(port) {
  const server = net.createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Number of descriptors this process has open right now (Linux). */
export function fdCount() {
  // Windows has no list of a process's descriptors: 0, so a test's "no more than before" check
  // holds trivially there and its other assertions still run (the *-fds.test.mjs files, whose
  // point is the count, are in scripts/windows-skip.txt).
  if (process.platform === 'win32') return 0;
  // /proc/self/fd on Linux; /dev/fd lists the calling process's descriptors on macOS too.
  return fs.readdirSync(process.platform === 'linux' ? '/proc/self/fd' : '/dev/fd').length;
}

/** 0..n-1 */
export function range(n) {
  return Array.from({ length: n }, (_, i) => i);
}
