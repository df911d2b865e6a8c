// Start the fixture server (fixtures/server.mjs) in a child process and talk to it over IPC.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// roundTrip(socket, buf) lives in ./net.mjs (the child-process fixtures use it too).
export { roundTrip } from './net.mjs';

const FIXTURE = fileURLToPath(new URL('../fixtures/server.mjs', import.meta.url));
const START_TIMEOUT = 15_000;
const CONTROL_TIMEOUT = 10_000;

/**
 * Fork a server and wait until it listens. The child is killed (and a Unix socket's directory
 * removed) in t.teardown.
 *
 * opts.unix   true: listen on a Unix socket under os.tmpdir()
 * opts.host   TCP host to listen on (default 127.0.0.1)
 * opts.mode   'echo' (default) | 'silent'
 *
 * Returns { host, port, path, dest, stats(), control(msg), kill() } where dest is the berth
 * destination string: '127.0.0.1:PORT', '[::1]:PORT' or 'unix:/path'.
 * If the server cannot listen, rejects with an Error carrying the listen error's `code`.
 */
export async function startServer(t, { unix = false, host = '127.0.0.1', mode = 'echo' } = {}) {
  let dir = null;
  let socketPath = null;
  if (unix) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-'));
    socketPath = path.join(dir, 'server.sock');
  }
  const args = unix ? ['--unix', socketPath] : ['--host', host];
  args.push('--mode', mode);
  // stdin ignored and stdout/stderr inherited: the only descriptor the test process gains is
  // the IPC channel, created before any pool exists.
  const child = fork(FIXTURE, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });

  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  t.teardown(async () => {
    await kill();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  let nextId = 0;
  const pending = new Map();
  child.on('message', (msg) => {
    if (msg?.id === undefined || !pending.has(msg.id)) return;
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.ok) resolve(msg.result);
    else reject(new Error(`server: ${msg.error}`));
  });
  exited.then(({ code, signal }) => {
    for (const { reject } of pending.values()) reject(new Error(`server exited (code ${code}, signal ${signal})`));
    pending.clear();
  });

  const hello = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start listening in time')), START_TIMEOUT);
    const onMessage = (msg) => {
      if (msg?.type !== 'listening' && msg?.type !== 'error') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(msg);
    };
    child.on('message', onMessage);
    exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`server exited before listening (code ${code})`)); });
  });
  if (hello.type === 'error') {
    throw Object.assign(new Error(`server could not listen: ${hello.message}`), { code: hello.code });
  }

  /** Send { cmd, ...args } and resolve with the server's result. */
  const control = (msg) => new Promise((resolve, reject) => {
    const id = ++nextId;
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`server did not answer ${JSON.stringify(msg)} in time`));
    }, CONTROL_TIMEOUT);
    pending.set(id, {
      resolve: (v) => { clearTimeout(timer); resolve(v); },
      reject: (e) => { clearTimeout(timer); reject(e); },
    });
    child.send({ ...msg, id });
  });

  let dest;
  if (unix) dest = `unix:${hello.path}`;
  else if (hello.family === 'IPv6') dest = `[${hello.host}]:${hello.port}`;
  else dest = `${hello.host}:${hello.port}`;

  return {
    host: hello.host ?? null,
    port: hello.port ?? null,
    path: hello.path ?? null,
    dest,
    /** { accepted, current, maxConcurrent, closed, connections: [{ id, remotePort, bytesIn, bytesOut }] } */
    stats: () => control({ cmd: 'stats' }),
    control,
    kill,
  };
}
