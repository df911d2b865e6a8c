// Breaking out of a probe loop, cancel() and an abort close every socket the run opened:
// afterwards the process has exactly the descriptors it had before. Alone in its file and
// serial (as close-fds.test.mjs), so that nothing else opens descriptors while we count.
import test from 'ava';
import { probe } from 'berth-pool';
import { openPort, closedTarget, filteredTarget, udpPeer, collect, stopLater } from './helpers/probe.mjs';
import { fdCount, waitFor } from './helpers/net.mjs';

/** Targets, listeners and a warm runtime: every descriptor the test itself keeps is open by now. */
async function setup(t) {
  const open = await openPort(t);
  const closed = await closedTarget();
  const filtered = await filteredTarget(t);
  const silent = await udpPeer(t, 'silent');
  // The process-wide runtime may keep descriptors of its own once started: not the run's.
  await collect(probe([open.target, closed, filtered], { timeout: 200 }));
  await collect(probe([silent.target], { protocol: 'udp', timeout: 100 }));
  return { open, closed, filtered, silent };
}

/**
 * Many probes that hang (filtered) plus a few fast ones: sockets stay open until the run stops.
 * The fast ones come after the first 80 hanging ones, so that the first result arrives with
 * those 80 sockets open however busy the machine is (probes start in input order).
 */
function slowTargets({ closed, filtered }, n = 200) {
  return Array.from({ length: n }, (_, i) => (i >= 80 && i % 5 === 0 ? closed : filtered));
}

/**
 * The run's own sockets are closed once `break` / the loop's end / its throw comes back: the
 * engine's final batch is sent only after every one is closed.
 */
function assertClosedNow(t, before, label) {
  t.is(fdCount(), before, `${label}: no descriptor left open`);
}

/** Waits until the count is back to `before` (the listener's side of the connections closes on its own time). */
async function assertBackTo(t, before, label) {
  let last;
  await waitFor(() => (last = fdCount()) === before, {
    message: () => `${label}: descriptors back to ${before} (now ${last})`,
  }).catch(() => {});
  t.is(last, before, `${label}: no descriptor left open`);
}

test.serial('break closes every socket of the run', async (t) => {
  const targets = await setup(t);
  const before = fdCount();
  const run = stopLater(t, probe(slowTargets(targets), { concurrency: 100, timeout: 60_000 }));
  let during = 0;
  for await (const r of run) {
    t.is(r.state, 'closed');
    during = fdCount();
    break;
  }
  t.true(during > before + 50, `the run had sockets open (${during - before})`);
  assertClosedNow(t, before, 'after break');
});

test.serial('cancel() closes every socket of the run', async (t) => {
  const targets = await setup(t);
  const before = fdCount();
  const run = stopLater(t, probe(slowTargets(targets), { concurrency: 100, timeout: 60_000 }));
  let during = 0;
  let seen = 0;
  for await (const r of run) {
    t.is(r.state, 'closed');
    seen++;
    during = fdCount();
    run.cancel();
  }
  t.is(seen, 1);
  t.true(during > before + 50, `the run had sockets open (${during - before})`);
  assertClosedNow(t, before, 'after cancel()');
});

test.serial('an abort closes every socket of the run, then the loop throws', async (t) => {
  const targets = await setup(t);
  const before = fdCount();
  const controller = new AbortController();
  const run = stopLater(t, probe(slowTargets(targets), { concurrency: 100, timeout: 60_000, signal: controller.signal }));
  let during = 0;
  await t.throwsAsync(async () => {
    for await (const r of run) {
      t.is(r.state, 'closed');
      during = fdCount();
      controller.abort(new Error('stop'));
    }
  }, { message: 'stop' });
  t.true(during > before + 50, `the run had sockets open (${during - before})`);
  assertClosedNow(t, before, 'after abort');
});

test.serial('UDP probes: break closes every socket', async (t) => {
  const { silent } = await setup(t);
  const echo = await udpPeer(t, 'echo');
  const before = fdCount();
  const input = Array.from({ length: 200 }, (_, i) => (i === 150 ? echo.target : silent.target));
  const run = stopLater(t, probe(input, { protocol: 'udp', concurrency: 200, timeout: 60_000 }));
  let during = 0;
  for await (const r of run) {
    t.is(r.state, 'open');
    during = fdCount();
    break;
  }
  t.true(during > before + 50, `the run had sockets open (${during - before})`);
  assertClosedNow(t, before, 'after break (udp)');
});

test.serial('a run that completes leaves no descriptor', async (t) => {
  const { open, closed, filtered } = await setup(t);
  const before = fdCount();
  const targets = Array.from({ length: 2000 }, (_, i) => (i % 500 === 0 ? filtered : i % 2 ? closed : open.target));
  const results = await collect(probe(targets, { concurrency: 300, timeout: 300 }));
  t.is(results.length, targets.length);
  await assertBackTo(t, before, 'after a full run');
});
