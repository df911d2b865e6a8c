// Prometheus (Debian's package) as a real consumer of berth's metrics: a child on 127.0.0.1
// with a temporary config and storage, scraping one target every second, under a small bash
// watchdog that stops it when the test process goes away without its teardown (as
// helpers/haproxy.mjs does for HAProxy).
//
//   const { test } = usePrometheus(anyTest);  // test.skip (reason printed) where prometheus is
//                                             // missing; under CI (CI=true) those tests fail
//   const prom = await startPrometheus(t, '127.0.0.1:9100');   // the target to scrape
//   await prom.query('berth_connections_open')                 // the API's `data.result`
import { needsBinary } from './needs-binary.mjs';
import { freePort } from './net.mjs';
import { spawnSync } from 'node:child_process';
import { spawnWatched } from './watched-child.mjs';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const START_TIMEOUT = 20_000;
const BINARY = 'prometheus';

let cachedReason;

/** Why Prometheus cannot run here, or null if it can. */
export function prometheusUnavailableReason() {
  if (cachedReason !== undefined) return cachedReason;
  const r = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  if (r.error) {
    cachedReason = r.error.code === 'ENOENT' ? 'prometheus is not installed (apt-get install prometheus)' : `cannot run prometheus: ${r.error.message}`;
  } else {
    const m = /prometheus, version (\d+)\./.exec(`${r.stdout}${r.stderr}`);
    // The HTTP API's query endpoints and the flags used here are those of 2.x and later.
    cachedReason = m !== null && Number(m[1]) >= 2 ? null : `cannot tell prometheus's version from: ${`${r.stdout}${r.stderr}`.trim()}`;
  }
  return cachedReason;
}

/**
 * Declares tests that need Prometheus: returns { test }, ava's `test`, or `test.skip` (reason
 * printed) when it is missing outside CI; under CI each such test fails with the reason.
 */
export function usePrometheus(test) {
  return needsBinary(test, 'prometheus', prometheusUnavailableReason());
}

/**
 * Starts Prometheus scraping `target` ('127.0.0.1:port', path /metrics) every second (stopped
 * in t.teardown). Resolves with { port, query(expr), series(expr), stop() } once it is ready;
 * rejects with its stderr if it does not start.
 */
export async function startPrometheus(t, target) {
  const reason = prometheusUnavailableReason();
  if (reason !== null) throw new Error(`startPrometheus: ${reason}`);
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-prometheus-'));
    const port = await freePort();
    const config = path.join(dir, 'prometheus.yml');
    const errors = path.join(dir, 'stderr.log');
    fs.writeFileSync(
      config,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: berth',
        '    static_configs:',
        `      - targets: ['${target}']`,
        '',
      ].join('\n'),
    );
    const args = [
      BINARY,
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ];
    const { stop, stderr, exitedEarly } = spawnWatched('prometheus-test', args, dir, errors);
    const base = `http://127.0.0.1:${port}`;
    const until = Date.now() + START_TIMEOUT;
    let up = false;
    while (!up && exitedEarly() === null && Date.now() < until) {
      up = await fetch(`${base}/-/ready`).then((r) => r.ok, () => false);
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    if (up && exitedEarly() === null) {
      t?.teardown(stop);
      const api = async (endpoint, params) => {
        const response = await fetch(`${base}/api/v1/${endpoint}?${new URLSearchParams(params)}`);
        const body = await response.json();
        if (body.status !== 'success') throw new Error(`prometheus ${endpoint} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
        return body.data;
      };
      return {
        port,
        stop,
        /** An instant query: the `result` of `/api/v1/query` (at `time`, in seconds, when given). */
        query: async (expr, time) => (await api('query', time === undefined ? { query: expr } : { query: expr, time: String(time) })).result,
        /** The scrape targets' health as Prometheus sees them (`/api/v1/targets`). */
        targets: async () => (await api('targets', {})).activeTargets,
      };
    }
    const log = stderr();
    await stop();
    lastError = new Error(`prometheus did not start${exitedEarly() ? ` (exit code ${exitedEarly().code})` : ' in time'}: ${log || 'no output'}`);
    if (!/address already in use/i.test(log)) break;
  }
  throw lastError;
}
