// Tests that need a server binary from Debian (nginx, HAProxy): run them when it is there, skip
// them (with the reason printed) when it is missing outside CI, and fail them under CI, where
// `.ci/run` installs it, so a missing package never turns into silently skipped coverage.
import net from 'node:net';

const inCI = () => Boolean(process.env.CI) && !['false', '0'].includes(process.env.CI.toLowerCase());

/**
 * Returns { test }: ava's `test` when `reason` is null; otherwise `test.skip` (outside CI) or a
 * `test` that fails with the reason (under CI). `what` names the binary in messages.
 */
export function needsBinary(test, what, reason) {
  if (reason === null) return { test };
  if (inCI()) {
    // Fail each of them (not a before hook: the file's other tests still run).
    const failing = (title) => test(title, (t) => { t.fail(`this test needs ${what}: ${reason} (.ci/run installs it)`); });
    return { test: failing };
  }
  console.log(`skipped: these tests need ${what}: ${reason}`);
  return { test: test.skip };
}

/** Whether something accepts a TCP connection on 127.0.0.1:port now. */
export function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}
