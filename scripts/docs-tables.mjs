#!/usr/bin/env node
// The performance tables of README.md and docs/performance.md, generated from
// benchmark/results/*.json (what `npm run bench` writes), so that no figure is retyped.
//
//   node scripts/docs-tables.mjs           rewrite the generated regions in place
//   node scripts/docs-tables.mjs --check   exit 1, naming each stale region, if a page differs
//                                          from what the results give (run by npm test)
//
// A region is delimited in the Markdown by
//   <!-- generated: NAME (scripts/docs-tables.mjs from benchmark/results; do not edit) -->
//   ...
//   <!-- end generated: NAME -->
// and NAME is one of the generators below. Text outside the regions is hand-written.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PAGES = ['README.md', 'docs/performance.md'];

const results = (suite) =>
  JSON.parse(fs.readFileSync(path.join(ROOT, 'benchmark', 'results', `${suite}.json`), 'utf8'));

// ------------------------------------------------------------------ formatting

const int = (n) => Math.round(n).toLocaleString('en-US');
const ms = (us) => (us / 1000).toFixed(2);
const x = (r) => `${Number(r).toFixed(2)}×`;
const met = (ok) => (ok ? '**met**' : '**not met**');
const row = (cells) => `| ${cells.join(' | ')} |`;
const table = (head, align, rows) => [row(head), row(align), ...rows.map(row)].join('\n');

function find(list, name, what) {
  const r = list.find((e) => e.name === name || e.id === name);
  if (!r) throw new Error(`docs-tables: ${what}: no entry ${JSON.stringify(name)} in the results`);
  return r;
}

/** "measured 2026-12-01 on Intel(R) Xeon(R) Processor, 2 cores, Linux 6.18 x64, Node v20.20.2" */
function machine(j) {
  const m = j.machine;
  const os = m.os.replace(/^(Linux \d+\.\d+)\.\S+/, '$1');
  const rounds = j.method?.rounds;
  return (
    `Measured ${m.date.slice(0, 10)} on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), ${os}, ` +
    `Node ${m.node}` +
    (rounds ? `; median of ${rounds} rounds, the contenders' order rotated each round.` : '.')
  );
}

// ------------------------------------------------------------------ the tables

const GENERATORS = {
  /** README: one table, the headline figure of each product against its nearest peer. */
  summary() {
    const acq = results('acquire');
    const res = results('resource');
    const http = results('http');
    const proxy = results('proxy');
    const probe = results('probe');
    const acqC = find(acq.cases, 'concurrent', 'acquire');
    const resC = find(res.cases, 'concurrent', 'resource');
    const resPg = find(res.cases, 'pg', 'resource');
    const h64 = find(http.cases, 'c64', 'http');
    const https = results('https');
    const s64 = find(https.cases, 'c64', 'https');
    const reqs = (c, n) => c.results.find((r) => r.name === n)?.reqPerSec;
    const pa = find(proxy.results, 'berth-listen', 'proxy');
    const pipe = find(proxy.results, 'node-pipe', 'proxy');
    const hap = find(proxy.results, 'haproxy', 'proxy');
    const pb = find(probe.results, 'berth', 'probe');
    const nmap = find(probe.results, 'nmap', 'probe');
    const byName = (c, n) => find(c.results, n, c.id).cyclesPerSec;
    const rows = [
      ['`Pool`: acquire→release, 100 callers, max 10', `${int(byName(acqC, 'berth'))}/s`, `generic-pool ${acq.libraries['generic-pool']}: ${int(byName(acqC, 'generic-pool'))}/s`, x(acqC.ratioToBestPeer)],
      ['`ResourcePool`: acquire→release, 100 callers, max 10', `${int(byName(resC, 'berth'))}/s`, `generic-pool ${res.libraries['generic-pool']}: ${int(byName(resC, 'generic-pool'))}/s`, x(resC.ratios.berth.ratio)],
      ['`ResourcePool` of `pg` clients: `SELECT 1`, 32 callers, max 8', `${int(byName(resPg, 'berth'))}/s`, `generic-pool ${res.libraries['generic-pool']}: ${int(byName(resPg, 'generic-pool'))}/s`, x(resPg.ratios.berth.ratio)],
      ['HTTP agent: GET, 64 concurrent', `${int(byName(h64, 'berth'))} req/s`, `\`http.Agent\`: ${int(byName(h64, 'http.Agent'))} req/s`, x(h64.ratioToHttpAgent)],
      ['HTTPS agent: GET, 64 concurrent', `${int(reqs(s64, 'berth'))} req/s`, `\`https.Agent\`: ${int(reqs(s64, 'https.Agent'))} req/s`, x(s64.ratioToHttpsAgent)],
      ['proxy, `pool.listen()`: short sessions', `${int(pa.short.sessionsPerSec)}/s`, `Node \`pipe()\` proxy: ${int(pipe.short.sessionsPerSec)}/s`, x(pa.short.sessionsPerSec / pipe.short.sessionsPerSec)],
      ['proxy, `pool.listen()`: 1 GiB bulk', `${int(pa.bulk.MBps)} MB/s`, `HAProxy ${proxy.versions.haproxy.split('-')[0]}: ${int(hap.bulk.MBps)} MB/s`, x(pa.bulk.MBps / hap.bulk.MBps)],
      ['`probe()`: 20,000 ports, concurrency 1,000', `${int(pb.probesPerSec)} probes/s`, `nmap -sT ${probe.versions.nmap}: ${int(nmap.probesPerSec)}/s`, x(pb.probesPerSec / nmap.probesPerSec)],
    ];
    const dates = [acq, res, http, https, proxy, probe].map((j) => j.machine.date.slice(0, 10)).sort();
    return [
      table(['workload', 'berth', 'peer', 'berth / peer'], ['---', '---:', '---:', '---:'], rows),
      '',
      `2 cores, Linux, Node ${acq.machine.node}, loopback; measured ${dates[0]} to ${dates.at(-1)} (the machine of each suite, the method and every other figure: [docs/performance.md](docs/performance.md)).`,
    ].join('\n');
  },

  /** README's proxy section: proxy CPU per short session by routing kind, against HAProxy. */
  'proxy-routes'() {
    const j = results('proxy');
    const ha1 = find(j.results, 'haproxy-1t', 'proxy');
    const rows = [
      ['berth, JS route', 'berth-listen'],
      ['berth, JS route + `cacheFor`', 'berth-listen-memo'],
      ["berth, fixed `'host:port'`", 'berth-listen-fixed'],
      ['HAProxy `nbthread 1`', 'haproxy-1t'],
    ].map(([label, name]) => {
      const r = find(j.results, name, 'proxy');
      return [label, int(r.short.sessionsPerSec), `${r.short.proxyCpuUsPerSession} µs`, x(r.short.proxyCpuUsPerSession / ha1.short.proxyCpuUsPerSession)];
    });
    return [
      table(['short sessions', 'sessions/s', 'proxy CPU/session', 'vs HAProxy'], ['---', '---:', '---:', '---:'], rows),
      '',
      `${j.machine.date.slice(0, 10)}, 2 cores ([more](docs/performance.md#proxy-benchmarkproxymjs)).`,
    ].join('\n');
  },

  proxy() {
    const j = results('proxy');
    const labels = {
      direct: 'none (direct)',
      'berth-listen': '(a) berth `pool.listen(opts, route)`',
      'berth-listen-reuse': "(a') the same, `reuseUpstream: true`",
      'berth-listen-fixed': "(a'') berth `pool.listen(opts, 'host:port')`",
      'berth-listen-memo': "(a''') berth `pool.listen(opts, route)`, answer remembered (`cacheFor`)",
      'berth-forward': '(b) `net.Server` + berth `pool.forward()`',
      'node-pipe': '(c) Node `socket.pipe()` proxy',
      haproxy: `(d) HAProxy ${j.versions.haproxy.split('-')[0]} (${j.method.haproxy.variants.haproxy.threads} threads)`,
      'haproxy-1t': '(d1) HAProxy (`nbthread 1`)',
    };
    const cpu = (v, unit) => (v === null ? '–' : `${v} ${unit}`);
    const rows = j.results.map((r) => [
      labels[r.name] ?? r.label,
      int(r.short.sessionsPerSec),
      `${ms(r.short.latencyP50Us)} / ${ms(r.short.latencyP99Us)} ms`,
      cpu(r.short.proxyCpuUsPerSession, 'µs'),
      `${int(r.keep.sessionsPerSec)}, ${cpu(r.keep.proxyCpuUsPerSession, 'µs')}`,
      `${int(r.bulk.MBps)} MB/s`,
      cpu(r.bulk.proxyCpuSecPerGiB, 's'),
    ]);
    return [
      table(
        ['proxy', 'short sessions/s', 'p50 / p99', 'proxy CPU per session', 'keep: sessions/s, CPU per session', 'bulk', 'proxy CPU per GiB'],
        ['---', '---:', '---:', '---:', '---:', '---:', '---:'],
        rows,
      ),
      '',
      machine(j),
      '',
      targets(j.targets),
    ].join('\n');
  },

  groups() {
    const j = results('groups');
    const ha = j.versions.haproxy ? `HAProxy ${j.versions.haproxy.split('-')[0]}` : 'HAProxy';
    const labels = {
      'berth-group': "berth `pool.listen(opts, 'group:backends')`, round-robin over 3",
      'berth-single': "berth `pool.listen(opts, 'host:port')`, one destination",
      haproxy: `${ha} \`balance roundrobin\` over 3, \`check\` (${j.method.haproxy?.threads.haproxy ?? '?'} threads)`,
      'haproxy-1t': `${ha}, the same with \`nbthread 1\``,
    };
    const dash = (v, f) => (v === null || v === undefined ? '–' : f(v));
    const duration = (v) => (v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(2)} s`);
    const rows = j.results.map((r) => [
      labels[r.name] ?? r.label,
      int(r.steady.sessionsPerSec),
      `${ms(r.steady.latencyP50Us)} / ${ms(r.steady.latencyP99Us)} ms`,
      `${r.steady.proxyCpuUsPerSession} µs`,
      r.kill ? `${int(r.kill.failedAfterKill)} of ${int(r.kill.offered)}` : '–',
      dash(r.kill?.timeToEjectMs, duration),
      dash(r.kill?.lastSentAfterKillMs, duration),
    ]);
    const skipped = j.skipped.filter((s) => s.variant.startsWith('berth'));
    return [
      table(
        ['proxy', 'sessions/s', 'p50 / p99', 'proxy CPU per session', 'failed sessions after a member dies', 'time to eject', 'last session sent to it'],
        ['---', '---:', '---:', '---:', '---:', '---:', '---:'],
        rows,
      ),
      '',
      `Member killed: ${j.method.kill}.`,
      ...skipped.map((s) => `\n${s.variant} not measured in this run: ${s.why}.`),
      '',
      machine(j),
      ...(j.targets.length ? ['', targets(j.targets)] : []),
    ].join('\n');
  },

  http() {
    const j = results('http');
    const names = ['berth', 'http.Agent', 'agentkeepalive', 'undici.Pool'];
    const rows = j.cases.map((c) => {
      const cells = names.map((n) => {
        const r = find(c.results, n, c.id);
        return n === 'berth' ? `${int(r.reqPerSec)} req/s (p99 ${r.p99Ms} ms)` : `${int(r.reqPerSec)} (${r.p99Ms} ms)`;
      });
      const ratio = x(c.ratioToHttpAgent) + (c.target ? ` (target ${x(c.target)}: ${met(c.meetsTarget)})` : '');
      return [c.title, ...cells, ratio];
    });
    for (const [id, s] of Object.entries(j.stale)) {
      rows.push([`stale (${id}): failed of ${find(s.results, 'berth', id).requests}`, ...names.map((n) => {
        const f = find(s.results, n, id).failures;
        return n === 'berth' ? `**${f}**` : String(f);
      }), '']);
    }
    return [
      table(
        ['case', 'berth agent', '`http.Agent({ keepAlive: true })`', `agentkeepalive ${j.libraries.agentkeepalive}`, `undici ${j.libraries.undici} \`Pool\``, 'berth / http.Agent'],
        ['---', '---:', '---:', '---:', '---:', '---:'],
        rows,
      ),
      '',
      `Stale (a): ${j.stale.a.title}. Stale (b): ${j.stale.b.title}.`,
      '',
      machine(j),
    ].join('\n');
  },

  https() {
    const j = results('https');
    const names = ['berth', 'https.Agent', 'agentkeepalive', 'undici.Pool'];
    // berth's column is empty ('–') in a run without it (--peers-only, or no Pool#httpsAgent).
    const of = (list, n) => list.find((r) => r.name === n);
    const rows = j.cases.map((c) => {
      const cells = names.map((n) => {
        const r = of(c.results, n);
        if (!r) return '–';
        return n === 'berth' ? `${int(r.reqPerSec)} req/s (p99 ${r.p99Ms} ms)` : `${int(r.reqPerSec)} (${r.p99Ms} ms)`;
      });
      const ratio = c.ratioToHttpsAgent === null ? `– (target ${x(c.target)})` : `${x(c.ratioToHttpsAgent)} (target ${x(c.target)}: ${met(c.meetsTarget)})`;
      return [c.title, ...cells, ratio];
    });
    for (const [id, s] of Object.entries(j.stale)) {
      rows.push([`stale (${id}): failed of ${s.results[0].requests}`, ...names.map((n) => {
        const r = of(s.results, n);
        if (!r) return '–';
        return n === 'berth' ? `**${r.failures}**` : String(r.failures);
      }), '']);
    }
    for (const h of j.handshakes) {
      rows.push([`full (resumed) handshakes: ${h.title}`, ...names.map((n) => {
        const r = of(h.results, n);
        if (!r) return '–';
        return n === 'berth' ? `**${r.fullHandshakes}** (${r.resumedHandshakes})` : `${r.fullHandshakes} (${r.resumedHandshakes})`;
      }), '']);
    }
    const skipped = j.berthSkipped ?? (j.libraries.berth ? null : 'berth not measured');
    return [
      table(
        ['case', 'berth HTTPS agent', '`https.Agent({ keepAlive: true })`', `agentkeepalive ${j.libraries.agentkeepalive} \`HttpsAgent\``, `undici ${j.libraries.undici} \`Pool\``, 'berth / https.Agent'],
        ['---', '---:', '---:', '---:', '---:', '---:'],
        rows,
      ),
      '',
      `Stale (a): ${j.stale.a.title}. Stale (b): ${j.stale.b.title}.`,
      ...(skipped ? ['', `Berth's column is empty in this run: ${skipped}.`] : []),
      '',
      `${machine(j)} OpenSSL ${j.libraries.openssl}.`,
      '',
      targets(j.targets),
    ].join('\n');
  },

  acquire() {
    const j = results('acquire');
    const rows = j.cases.map((c) => [
      c.title,
      ...['berth', 'generic-pool', 'tarn'].map((n) => `${int(find(c.results, n, c.id).cyclesPerSec)}/s`),
      `${x(c.ratioToBestPeer)} (target ${x(c.target)}: ${met(c.meetsTarget)})`,
    ]);
    return [
      table(
        ['case', 'berth', `generic-pool ${j.libraries['generic-pool']}`, `tarn ${j.libraries.tarn}`, 'berth / faster peer'],
        ['---', '---:', '---:', '---:', '---:'],
        rows,
      ),
      '',
      machine(j),
    ].join('\n');
  },

  resource() {
    const j = results('resource');
    const names = ['berth', 'berth/generic-pool', 'generic-pool', 'tarn'];
    const rows = j.cases.map((c) => [
      c.title,
      ...names.map((n) => `${int(find(c.results, n, c.id).cyclesPerSec)}/s`),
      `${x(c.ratios.berth.ratio)} and ${x(c.ratios['berth/generic-pool'].ratio)} (${x(c.target)}: ${met(c.ratios.berth.meetsTarget && c.ratios['berth/generic-pool'].meetsTarget)})`,
    ]);
    return [
      table(
        ['case', '`ResourcePool`', '`berth-pool/generic-pool`', `generic-pool ${j.libraries['generic-pool']}`, `tarn ${j.libraries.tarn}`, 'berth / faster peer (target)'],
        ['---', '---:', '---:', '---:', '---:', '---'],
        rows,
      ),
      '',
      `${machine(j)} PostgreSQL ${j.postgres.serverVersion.split(" ")[0]} from ${j.postgres.source}.`,
    ].join('\n');
  },

  probe() {
    const j = results('probe');
    const labels = {
      berth: 'berth `probe()`',
      node: 'Node `net.connect` prober, same concurrency and timeout',
      nmap: `\`nmap -sT\` ${j.versions.nmap} (\`-Pn -n -T5 --max-retries 0 --min/max-parallelism ${j.method.concurrency}\`)`,
    };
    const rows = j.results.map((r) => [
      labels[r.name] ?? r.label,
      int(r.probesPerSec),
      `${int(r.durationMs)} ms`,
      `${(r.peakRssKiB / 1024).toFixed(1)} MiB`,
      `${r.cpuSec.toFixed(2)} s`,
      r.agreementWithNmapPercent === null ? '–' : `${r.agreementWithNmapPercent}%`,
    ]);
    return [
      table(['prober', 'probes/s', 'scan', 'peak RSS', 'CPU', 'states vs nmap'], ['---', '---:', '---:', '---:', '---:', '---:'], rows),
      '',
      machine(j),
      '',
      targets(j.targets),
    ].join('\n');
  },
};

/** The suite's targets as a list: what, value, target, met. */
function targets(list) {
  return list
    .map((t) => (t.value === null
      ? `- ${t.what}: not measured (target ${t.cmp} ${t.target})`
      : `- ${t.what}: ${t.value} (target ${t.cmp} ${t.target}: ${met(t.met)})`))
    .join('\n');
}

// ------------------------------------------------------------------ regions

const START = /<!-- generated: ([\w-]+) \(scripts\/docs-tables\.mjs from benchmark\/results; do not edit\) -->\n/g;

/** The page with every region regenerated. */
export function regenerate(text, page) {
  let out = '';
  let at = 0;
  for (const m of text.matchAll(START)) {
    const name = m[1];
    const gen = GENERATORS[name];
    if (!gen) throw new Error(`${page}: unknown generated region ${JSON.stringify(name)}`);
    const bodyStart = m.index + m[0].length;
    const endMarker = `<!-- end generated: ${name} -->`;
    const end = text.indexOf(endMarker, bodyStart);
    if (end < 0) throw new Error(`${page}: region ${name} has no ${endMarker}`);
    out += text.slice(at, bodyStart) + gen() + '\n';
    at = end;
  }
  return out + text.slice(at);
}

function main() {
  const check = process.argv.includes('--check');
  const stale = [];
  for (const page of PAGES) {
    const file = path.join(ROOT, page);
    const text = fs.readFileSync(file, 'utf8');
    const next = regenerate(text, page);
    if (next === text) continue;
    if (check) stale.push(page);
    else {
      fs.writeFileSync(file, next);
      console.log(`docs-tables: ${page} updated`);
    }
  }
  if (stale.length) {
    console.error(`docs-tables: stale performance tables in ${stale.join(', ')}: run \`npm run docs:tables\``);
    process.exit(1);
  }
  if (check) console.log(`docs-tables: ${PAGES.join(', ')} match benchmark/results`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
