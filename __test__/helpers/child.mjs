// Run a Node script in a child process with a hang guard.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export function fixturePath(name) {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

/**
 * Spawn `node script ...args`, collect its output, resolve on exit with
 * { code, signal, stdout, stderr, hung }. If it has not exited after `guardMs` it is killed and
 * `hung` is true (the caller's assertion on `hung` then fails the test). `launcher` (a command
 * and its arguments, e.g. `['unshare', '-n', ...]`) runs node for it, given node's path, the
 * script and `args` after its own arguments.
 */
export function runNode(t, script, args = [], { guardMs = 20_000, launcher = [] } = {}) {
  const [command, ...lead] = launcher;
  const argv = [script, ...args];
  const child = spawn(command ?? process.execPath, command === undefined ? argv : [...lead, process.execPath, ...argv], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  let hung = false;
  const guard = setTimeout(() => { hung = true; child.kill('SIGKILL'); }, guardMs);
  return new Promise((resolve, reject) => {
    child.once('error', (err) => { clearTimeout(guard); reject(err); });
    child.once('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stdout, stderr, hung });
    });
  });
}

/** The last line of `stdout` that parses as JSON, or null. */
export function lastJsonLine(stdout) {
  const lines = stdout.trim().split('\n').reverse();
  for (const line of lines) {
    try { return JSON.parse(line); } catch { /* not JSON */ }
  }
  return null;
}
