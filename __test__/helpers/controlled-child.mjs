// Fork a fixture server that reports { type: 'listening', ... } (or { type: 'error', code,
// message }) over IPC and then answers control messages { id, cmd, ... } with
// { id, ok, result } or { id, ok: false, error }. Shared by the test servers' helpers.
import { fork } from 'node:child_process';

const START_TIMEOUT = 15_000;
const CONTROL_TIMEOUT = 10_000;

/**
 * Forks `fixture` with `args` and waits until it listens. The child is killed (then
 * `cleanup()` runs) in t.teardown. `label` names it in errors. Resolves with
 * { hello, control(msg), kill() }; rejects with an Error carrying the listen error's `code`.
 */
export async function forkControlled(t, fixture, args, { label, cleanup } = {}) {
  // stdin ignored and stdout/stderr inherited: the only descriptor the test process gains is
  // the IPC channel, created before any pool exists.
  const child = fork(fixture, args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  t.teardown(async () => {
    await kill();
    cleanup?.();
  });

  let nextId = 0;
  const pending = new Map();
  child.on('message', (msg) => {
    const entry = msg?.id !== undefined && pending.get(msg.id);
    if (!entry) return;
    pending.delete(msg.id);
    if (msg.ok) entry.resolve(msg.result);
    else entry.reject(new Error(`${label}: ${msg.error}`));
  });
  exited.then(({ code, signal }) => {
    for (const { reject } of pending.values()) reject(new Error(`${label} exited (code ${code}, signal ${signal})`));
    pending.clear();
  });

  const hello = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} did not start listening in time`)), START_TIMEOUT);
    const onMessage = (msg) => {
      if (msg?.type !== 'listening' && msg?.type !== 'error') return;
      clearTimeout(timer);
      child.off('message', onMessage);
      resolve(msg);
    };
    child.on('message', onMessage);
    exited.then(({ code }) => { clearTimeout(timer); reject(new Error(`${label} exited before listening (code ${code})`)); });
  });
  if (hello.type === 'error') {
    throw Object.assign(new Error(`${label} could not listen: ${hello.message}`), { code: hello.code });
  }

  /** Send { cmd, ...args } and resolve with the child's result. */
  const control = (msg) => new Promise((resolve, reject) => {
    const id = ++nextId;
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`${label} did not answer ${JSON.stringify(msg)} in time`));
    }, CONTROL_TIMEOUT);
    pending.set(id, {
      resolve: (v) => { clearTimeout(timer); resolve(v); },
      reject: (e) => { clearTimeout(timer); reject(e); },
    });
    child.send({ ...msg, id });
  });

  return { hello, control, kill };
}
