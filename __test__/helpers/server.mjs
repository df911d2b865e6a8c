// Start the fixture server (fixtures/server.mjs) in a child process and talk to it over IPC.
import { forkControlled } from './controlled-child.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// roundTrip(socket, buf) lives in ./net.mjs (the child-process fixtures use it too).
export { roundTrip } from './net.mjs';

const FIXTURE = fileURLToPath(new URL('../fixtures/server.mjs', import.meta.url));

/**
 * Fork a server and wait until it listens. The child is killed (and a Unix socket's directory
 * removed) in t.teardown.
 *
 * opts.unix   true: listen on a Unix socket under os.tmpdir()
 * opts.host   TCP host to listen on (default 127.0.0.1)
 * opts.port   TCP port to listen on (default 0: an ephemeral one)
 * opts.mode   'echo' (default) | 'silent'
 *
 * Returns { host, port, path, dest, stats(), control(msg), kill() } where dest is the berth
 * destination string: '127.0.0.1:PORT', '[::1]:PORT' or 'unix:/path'.
 * If the server cannot listen, rejects with an Error carrying the listen error's `code`.
 */
export async function startServer(t, { unix = false, host = '127.0.0.1', port = 0, mode = 'echo' } = {}) {
  let dir = null;
  let socketPath = null;
  if (unix) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-test-'));
    socketPath = path.join(dir, 'server.sock');
  }
  const args = unix ? ['--unix', socketPath] : ['--host', host, '--port', String(port)];
  args.push('--mode', mode);
  const cleanup = () => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); };
  const { hello, control, kill } = await forkControlled(t, FIXTURE, args, { label: 'server', cleanup });

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
