// A server binary run for a test (HAProxy, Prometheus) under a small bash watchdog that stops it
// when the test process goes away without its teardown: a killed ava worker leaves no server
// behind. The server's files live in `dir`, removed when it is stopped or the process exits.
import { spawn } from 'node:child_process';
import fs from 'node:fs';

// bash watchdog: runs the command ($3 and after; stderr to $1), stops it on TERM and when
// process $2 (the test process) is gone; exits with its status.
const WATCHDOG = `
"\${@:3}" 2>"$1" &
n=$!
trap 'kill -TERM $n 2>/dev/null; wait $n; exit 0' TERM INT
while kill -0 "$2" 2>/dev/null && kill -0 $n 2>/dev/null; do sleep 0.5 & wait $!; done
kill -TERM $n 2>/dev/null
wait $n
`;

/**
 * Starts `argv` (stderr to `stderrFile`) under the watchdog. Returns { stop(), stderr(),
 * exitedEarly() }: stop() ends it and removes `dir` (once); stderr() is the last lines it
 * wrote; exitedEarly() is { code } once it exited, else null.
 */
export function spawnWatched(name, argv, dir, stderrFile) {
  const child = spawn('bash', ['-c', WATCHDOG, name, stderrFile, String(process.pid), ...argv], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', (code) => resolve({ code })));
  let exitedEarly = null;
  exited.then((e) => {
    exitedEarly = e;
  });
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
  process.once('exit', removeDir);
  let stopped = false;
  return {
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      process.off('exit', removeDir);
      removeDir();
    },
    stderr() {
      try {
        return fs.readFileSync(stderrFile, 'utf8').trim().split('\n').slice(-5).join('\n');
      } catch {
        return '';
      }
    },
    exitedEarly: () => exitedEarly,
  };
}
