// The berth proxy of benchmark/groups.mjs, in its own child process so that its CPU time can
// be read alone from /proc.
//
//   node benchmark/groups-node.mjs group <host:port> <host:port> <host:port>
//       pool.group('backends', members, { balance: 'round-robin', healthCheck: { interval:
//       2000 } }) (outlier ejection and retries: the defaults) and pool.listen(opts,
//       'group:backends'): the engine routes every connection to the group itself
//   node benchmark/groups-node.mjs single <host:port>
//       pool.listen(opts, 'host:port'): the single-destination listener the group's figures are
//       compared with
//
// Sends { ready: true, ports: [port], poolOptions, groupOptions } over IPC once listening, or { ready: false, why } when
// this build has no group API. Answers { cmd: 'stats' }, { cmd: 'watch' } (start recording the
// members' states and `picked` counters every 10 ms, and the group's events, on the
// CLOCK_MONOTONIC time line of process.hrtime(), which proxy-load.c uses too) and
// { cmd: 'watched' } (stop, and send what was recorded); exits on { cmd: 'close' } or when the
// parent goes away.

const [variant, ...members] = process.argv.slice(2);
if (!['group', 'single'].includes(variant) || members.length === 0) {
  console.error('usage: node benchmark/groups-node.mjs group|single <host:port>...');
  process.exit(2);
}

// As in proxy-node.mjs: limits wide enough that the pool never throttles a benchmark session.
const POOL_OPTIONS = { maxPerDestination: 1024, maxIdlePerDestination: 256, maxTotal: 4096, maxConcurrentDials: 256 };
const GROUP_OPTIONS = { balance: 'round-robin', healthCheck: { interval: 2000 } };
const LISTEN = { host: '127.0.0.1', port: 0, backlog: 4096 };

/** Seconds on CLOCK_MONOTONIC (what proxy-load.c's now_s() reads). */
const mono = () => Number(process.hrtime.bigint()) / 1e9;

const { Pool } = await import('berth-pool');
const pool = new Pool(POOL_OPTIONS);
let group = null;
if (variant === 'group') {
  if (typeof pool.group !== 'function') {
    process.send({ ready: false, why: 'group API unavailable (this build has no pool.group())' }, () => process.exit(0));
    await new Promise(() => {});
  }
  group = pool.group('backends', members, GROUP_OPTIONS);
}
const listener = await pool.listen(LISTEN, variant === 'group' ? 'group:backends' : members[0]);

// ---- watching the members (phase 2 of the suite only: it costs the proxy a little CPU)
const events = [];
let samples = null; // per member: { states: [{ at, state }], lastPickedAt, picked }
let timer = null;
if (group) {
  for (const event of ['memberDown', 'memberUp', 'memberEjected']) {
    group.on(event, (e) => {
      if (samples) events.push({ event, at: mono(), member: e.member, reason: e.reason, ejectedFor: e.ejectedFor ?? null });
    });
  }
}
function sample() {
  const at = mono();
  for (const m of group.stats().members) {
    const s = (samples[m.dest] ??= { states: [], picked: m.picked, lastPickedAt: null });
    if (s.states.length === 0 || s.states.at(-1).state !== m.state) s.states.push({ at, state: m.state });
    if (m.picked !== s.picked) {
      s.picked = m.picked;
      s.lastPickedAt = at;
    }
  }
}

process.on('message', async (msg) => {
  if (msg.cmd === 'stats') {
    process.send({ id: msg.id, stats: [listener.stats()], pool: pool.stats(), group: group?.stats() ?? null });
  } else if (msg.cmd === 'watch') {
    events.length = 0;
    samples = {};
    if (group) {
      sample();
      timer = setInterval(sample, 10);
    }
    process.send({ id: msg.id, at: mono() });
  } else if (msg.cmd === 'watched') {
    clearInterval(timer);
    if (group) sample();
    process.send({ id: msg.id, events, members: samples, group: group?.stats() ?? null, listener: listener.stats() });
    samples = null;
  } else if (msg.cmd === 'close') {
    await listener.close();
    await pool.close();
    process.send({ id: msg.id, closed: true }, () => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true, variant, ports: [listener.address().port], poolOptions: POOL_OPTIONS, groupOptions: group ? GROUP_OPTIONS : null });
