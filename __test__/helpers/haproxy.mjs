// HAProxy (Debian's package) as a real peer of the tests: a foreground child (`-db`) on
// 127.0.0.1 with a temporary config, under a small bash watchdog that stops it when the test
// process goes away without its teardown (as helpers/nginx-tls.mjs does for nginx).
//
//   const { test } = useHaproxy(anyTest);   // test.skip (reason printed) where haproxy is
//                                           // missing; under CI (CI=true) those tests fail
//   const ha = await startHaproxy(t, (port) => `frontend fe\n  bind 127.0.0.1:${port}\n ...`);
//   ha.port                                 // the port the config's `bind` got
//
// The config function gets the port to bind (picked free; tried again with another if it was
// taken meanwhile) and returns the proxies part: `global` and `defaults` (short timeouts) are
// added here, and a frontend on another port that only says HAProxy is up (every frontend is
// bound at start).
import { canConnect, needsBinary } from './needs-binary.mjs';
import { freePort } from './net.mjs';
import { spawnSync } from 'node:child_process';
import { spawnWatched } from './watched-child.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const START_TIMEOUT = 10_000;

let cachedReason;
// Debian installs it in /usr/sbin, which a non-root PATH may lack.
const BINARY = ['haproxy', '/usr/sbin/haproxy'].find((b) => !spawnSync(b, ['-v']).error) ?? 'haproxy';

/** Why HAProxy cannot run here, or null if it can. */
export function haproxyUnavailableReason() {
  if (cachedReason !== undefined) return cachedReason;
  const r = spawnSync(BINARY, ['-v'], { encoding: 'utf8' });
  if (r.error) {
    cachedReason = r.error.code === 'ENOENT' ? 'haproxy is not installed (apt-get install haproxy)' : `cannot run haproxy: ${r.error.message}`;
  } else if (!/HAProxy version (\d+)\.(\d+)/.test(r.stdout)) {
    cachedReason = `cannot tell haproxy's version from: ${(r.stdout || r.stderr).trim()}`;
  } else {
    const [, major, minor] = /HAProxy version (\d+)\.(\d+)/.exec(r.stdout).map(Number);
    // `http-request return ... lf-string` exists from 2.2.
    cachedReason = major > 2 || (major === 2 && minor >= 2) ? null : `haproxy ${major}.${minor} is older than 2.2`;
  }
  return cachedReason;
}

/**
 * Declares tests that need HAProxy: returns { test }, ava's `test`, or `test.skip` (reason
 * printed) when it is missing outside CI; under CI each such test fails with the reason.
 */
export function useHaproxy(test) {
  return needsBinary(test, 'haproxy', haproxyUnavailableReason());
}



/**
 * Starts HAProxy with `proxies(port)` (stopped in t.teardown). Resolves with { port, stop() }
 * once it answers on 127.0.0.1:port; rejects with its stderr if it does not start.
 */
export async function startHaproxy(t, proxies) {
  const reason = haproxyUnavailableReason();
  if (reason !== null) throw new Error(`startHaproxy: ${reason}`);
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-haproxy-'));
    const port = await freePort();
    // Readiness is probed on a port of its own: a probe on the test's port would reach the
    // test's backend (HAProxy connects to it on accept) and be seen by the test.
    const readyPort = await freePort();
    const config = path.join(dir, 'haproxy.cfg');
    const errors = path.join(dir, 'stderr.log');
    fs.writeFileSync(config, [
      'global',
      '  maxconn 256',
      'defaults',
      '  timeout connect 5s',
      '  timeout client 20s',
      '  timeout server 20s',
      proxies(port),
      'frontend berth_test_ready',
      '  mode tcp',
      `  bind 127.0.0.1:${readyPort}`,
      '  tcp-request connection reject',
      '',
    ].join('\n'));
    const { stop, stderr, exitedEarly } = spawnWatched('haproxy-test', [BINARY, '-f', config, '-db'], dir, errors);
    const until = Date.now() + START_TIMEOUT;
    let up = false;
    while (!up && exitedEarly() === null && Date.now() < until) {
      up = await canConnect(readyPort);
      if (!up) await new Promise((r) => setTimeout(r, 20));
    }
    // Bound by this HAProxy (not another server that took the port): it is still running.
    if (up && exitedEarly() === null) {
      t?.teardown(stop);
      return { port, stop };
    }
    const log = stderr();
    await stop();
    lastError = new Error(`haproxy did not start${exitedEarly() ? ` (exit code ${exitedEarly().code})` : ' in time'}: ${log || 'no output'}`);
    if (!/Address already in use|cannot bind/i.test(log)) break;
  }
  throw lastError;
}
