// A real Prometheus (Debian's package) scrapes a pool's /metrics, and what it stored and
// computes is checked through its HTTP API: the consumer berth's exposition is written for.
import anyTest from 'ava';
import http from 'node:http';
import { Pool, METRICS_CONTENT_TYPE } from 'berth-pool';
import { startServer } from './helpers/server.mjs';
import { startPrometheus, usePrometheus } from './helpers/prometheus.mjs';
import { waitFor } from './helpers/net.mjs';

const { test } = usePrometheus(anyTest);

const POOL = 'prom-test';
const HELD = 3;
const BURST = 200;

/** The value of the one sample of `name` whose labels include `pool="prom-test"` in an exposition. */
function sampleOf(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`pool="${POOL}"`));
  if (line === undefined) throw new Error(`no ${name} sample for pool ${POOL} in:\n${text}`);
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** The sum of every `name` sample of the pool (one per destination for the gauges). */
function sumOf(text, name) {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(`pool="${POOL}"`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/**
 * `rate()` as Prometheus 2.x computes it from the samples of a range (promql/functions.go,
 * extrapolatedRate, for a counter without resets): the increase between the first and last
 * sample, extrapolated towards the range's edges, per second of the range.
 */
function expectedRate(samples, rangeStart, rangeEnd) {
  const [firstT, first] = samples[0];
  const [lastT, last] = samples[samples.length - 1];
  const increase = last - first;
  const sampled = lastT - firstT;
  const average = sampled / (samples.length - 1);
  let toStart = firstT - rangeStart;
  const toEnd = rangeEnd - lastT;
  if (increase > 0 && first >= 0) toStart = Math.min(toStart, sampled * (first / increase));
  const threshold = average * 1.1;
  let interval = sampled;
  interval += toStart < threshold ? toStart : average / 2;
  interval += toEnd < threshold ? toEnd : average / 2;
  return (increase * (interval / sampled)) / (rangeEnd - rangeStart);
}

test('a real Prometheus scrapes pool.metrics(): it stores what was served, and its rate() and irate() of berth_acquires_total are the expected values', async (t) => {
  t.timeout(60_000);
  const upstream = await startServer(t);
  const pool = new Pool({ name: POOL });
  t.teardown(() => pool.close());
  // Held for the whole test: HELD acquires, HELD connections open.
  const held = await Promise.all(Array.from({ length: HELD }, () => pool.acquire(upstream.dest)));

  // The scrape target: serves pool.metrics() and remembers what each scrape got. Right after the
  // second scrape, BURST acquires run (each released at once), long before the third: so the
  // counter is flat between scrapes 1 and 2 and rises by exactly BURST between scrapes 2 and 3.
  const served = [];
  let burst;
  const target = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    const body = pool.metrics();
    served.push({ acquires: sampleOf(body, 'berth_acquires_total'), open: sumOf(body, 'berth_connections_open') });
    res.writeHead(200, { 'content-type': METRICS_CONTENT_TYPE }).end(body);
    if (served.length === 2) {
      burst = (async () => {
        for (let i = 0; i < BURST; i++) (await pool.acquire(upstream.dest)).release();
      })();
    }
  });
  await new Promise((resolve) => target.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise((resolve) => target.close(resolve)));
  target.unref();

  const prom = await startPrometheus(t, `127.0.0.1:${target.address().port}`);
  // Five scrapes served: the first four are surely stored by the time the fifth is.
  await waitFor(() => served.length >= 5, { timeout: 30_000, message: 'five scrapes by Prometheus' });
  await burst;

  t.is(served[0].acquires, HELD);
  t.is(served[1].acquires, HELD);
  t.is(served[2].acquires, HELD + BURST, 'the burst ran between the second and third scrape');
  // The burst reused one connection it opened: HELD leased + 1 idle.
  t.is(served[2].open, HELD + 1);
  t.is(pool.stats().open, HELD + 1);

  const [up] = await prom.query('up{job="berth"}');
  t.is(up.value[1], '1', 'Prometheus sees the target up');

  // What Prometheus stored, sample by sample, is what was served.
  const [range] = await prom.query(`berth_acquires_total{pool="${POOL}"}[1m]`);
  const samples = range.values.map(([at, v]) => [at, Number(v)]);
  t.true(samples.length >= 4, `stored ${samples.length} samples`);
  t.deepEqual(samples.slice(0, 4).map(([, v]) => v), served.slice(0, 4).map((s) => s.acquires));

  // irate at the third sample: the last two samples' difference over their distance, exactly.
  const [t2, v2] = samples[1];
  const [t3, v3] = samples[2];
  const [irate] = await prom.query(`irate(berth_acquires_total{pool="${POOL}"}[10s])`, t3);
  t.true(Math.abs(Number(irate.value[1]) - (v3 - v2) / (t3 - t2)) < 1e-9, `irate ${irate.value[1]}`);

  // rate over 10 s: zero while the counter was flat, then the extrapolated increase per second.
  const [flat] = await prom.query(`rate(berth_acquires_total{pool="${POOL}"}[10s])`, t2);
  t.is(Number(flat.value[1]), 0);
  const [rate] = await prom.query(`rate(berth_acquires_total{pool="${POOL}"}[10s])`, t3);
  const inRange = samples.filter(([at]) => at >= t3 - 10 && at <= t3);
  const expected = expectedRate(inRange, t3 - 10, t3);
  t.true(expected > 0);
  t.true(Math.abs(Number(rate.value[1]) - expected) < 1e-9 * expected, `rate ${rate.value[1]}, expected ${expected}`);

  // The gauge: the connections open, summed over destinations, as the pool itself reports.
  const [open] = await prom.query(`sum(berth_connections_open{pool="${POOL}"})`, samples[3][0]);
  t.is(Number(open.value[1]), HELD + 1);

  for (const lease of held) lease.release();
});
