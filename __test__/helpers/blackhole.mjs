// A TCP listener whose accept queue is full, so that a new connect to it hangs (SYN dropped):
// the way to make a dial time out on loopback. The listener is a Python child that binds
// 127.0.0.1:0 with listen(0) and never accepts; the test then fills its backlog with raw
// client connects until one of them hangs.
//
// BERTH_TEST_BLACKHOLE=<port>,<port>,...: such listeners already run on 127.0.0.1 (started by
// scripts/test-windows.sh on Linux for the tests under Windows Node, which has no python3).
// An accept queue, once full, stays full (nothing ever accepts), so tests share them: each
// call takes the next port of the list, so that a test asking for two gets two.
import net from 'node:net';
import { spawn } from 'node:child_process';

const PY = `
import socket, sys
s = socket.socket()
s.bind(('127.0.0.1', 0))
s.listen(0)
print(s.getsockname()[1], flush=True)
sys.stdin.read()  # never accept; exit when the parent closes our stdin or goes away
`;

const SHARED = (process.env.BERTH_TEST_BLACKHOLE ?? '').split(',').map(Number).filter((p) => p > 0);
let calls = 0;

/** Returns { port, dest }. Filler sockets and the child are cleaned up in t.teardown. */
export async function startBlackhole(t) {
  const port = SHARED.length > 0 ? SHARED[calls++ % SHARED.length] : await spawnListener(t);
  return fillQueue(t, port);
}

/** The python3 child listening with listen(0); resolves with its port. */
async function spawnListener(t) {
  const child = spawn('python3', ['-c', PY], { stdio: ['pipe', 'pipe', 'inherit'] });
  // 'error' too: a python3 that cannot start never exits, and the teardown must not wait for it.
  const exited = new Promise((resolve) => child.once('exit', resolve).once('error', resolve));
  t.teardown(async () => {
    child.stdin.destroy();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });

  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('python3 listener did not report its port')), 10_000);
    child.once('error', reject);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) {
        clearTimeout(timer);
        child.stdout.destroy();
        resolve(Number(out.trim()));
      }
    });
  });
}

/** Fills the accept queue of the listener on `port`: connects until one connect hangs. */
async function fillQueue(t, port) {
  const fillers = [];
  t.teardown(() => {
    for (const socket of fillers) socket.destroy();
  });
  for (let i = 0; ; i++) {
    if (i >= 32) throw new Error('could not fill the accept queue of the blackhole listener');
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    fillers.push(socket);
    const connected = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 500);
      socket.once('connect', () => { clearTimeout(timer); resolve(true); });
    });
    if (!connected) break;
  }
  return { port, dest: `127.0.0.1:${port}` };
}
