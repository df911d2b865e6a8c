// One proxy of benchmark/proxy.mjs, run in its own child process so that its CPU time can be
// measured alone (the parent reads /proc/<pid>/stat around each measured phase; this process
// also answers 'cpu' with process.cpuUsage() as a cross-check).
//
//   node benchmark/proxy-node.mjs <variant> <upstream host:port> [<upstream host:port> ...]
//
// variants:
//   berth-listen        pool.listen(): the engine accepts, asks JS for the route once, moves bytes
//   berth-listen-reuse  the same with reuseUpstream: true
//   berth-listen-fixed  pool.listen() with a fixed destination string: no JS call per connection
//   berth-listen-memo   pool.listen() with a route function whose result the engine remembers
//                       ({ dest, cacheFor, key: 'localPort' }): JS is called once per listener
//   berth-forward       a Node net server; each accepted socket handed to pool.forward()
//   node-pipe           a plain Node proxy: net.connect() per client, socket.pipe() both ways
//
// Several upstreams: one listening port per upstream, in order. Sends { ready, ports } over
// IPC when listening; answers { cmd: 'stats' } and { cmd: 'cpu' }; exits on { cmd: 'close' }
// or when the parent goes away.

import net from 'node:net';

const [variant, ...upstreams] = process.argv.slice(2);
if (!variant || upstreams.length === 0) {
  console.error('usage: node benchmark/proxy-node.mjs <variant> <host:port>...');
  process.exit(2);
}

// Pool limits wide enough that the pool never throttles a benchmark session (the peers have no
// such limits): 32 concurrent clients each need a fresh upstream dial when nothing is reused.
const POOL_OPTIONS = { maxPerDestination: 1024, maxIdlePerDestination: 256, maxTotal: 4096, maxConcurrentDials: 256 };

let pool = null;
const listeners = [];
let closeAll = async () => {};

function hostPort(dest) {
  const i = dest.lastIndexOf(':');
  return { host: dest.slice(0, i), port: Number(dest.slice(i + 1)) };
}

if (variant.startsWith('berth-')) {
  const { Pool } = await import('berth-pool');
  pool = new Pool(POOL_OPTIONS);
  if (variant === 'berth-listen' || variant === 'berth-listen-reuse' || variant === 'berth-listen-fixed' || variant === 'berth-listen-memo') {
    const reuseUpstream = variant === 'berth-listen-reuse';
    for (const dest of upstreams) {
      // berth-listen-fixed: the destination as a string, so the engine never calls JS.
      const route =
        variant === 'berth-listen-fixed' ? dest : variant === 'berth-listen-memo' ? () => ({ dest, cacheFor: 3_600_000, key: 'localPort' }) : () => dest;
      const proxy = await pool.listen({ host: '127.0.0.1', port: 0, reuseUpstream, backlog: 4096 }, route);
      listeners.push({ port: proxy.address().port, stats: () => proxy.stats(), close: () => proxy.close() });
    }
  } else if (variant === 'berth-forward') {
    for (const dest of upstreams) {
      const counts = { sessions: 0, failed: 0, bytesIn: 0, bytesOut: 0, upstreamReused: 0, ends: {} };
      const server = net.createServer({ noDelay: true }, (socket) => {
        counts.sessions++;
        pool.forward(socket, dest).then(
          (r) => {
            counts.bytesIn += r.bytesIn;
            counts.bytesOut += r.bytesOut;
            if (r.upstreamReused) counts.upstreamReused++;
            counts.ends[r.end] = (counts.ends[r.end] ?? 0) + 1;
          },
          () => counts.failed++,
        );
      });
      await new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve));
      listeners.push({
        port: server.address().port,
        stats: () => counts,
        close: () => new Promise((resolve) => server.close(() => resolve())),
      });
    }
  } else {
    throw new Error(`unknown variant ${variant}`);
  }
  closeAll = async () => {
    await Promise.allSettled(listeners.map((l) => l.close()));
    await pool.close();
  };
} else if (variant === 'node-pipe') {
  for (const dest of upstreams) {
    const target = hostPort(dest);
    const counts = { sessions: 0, errors: 0 };
    const open = new Set();
    // allowHalfOpen both ways, so that a client's FIN is passed on as a FIN (socket.pipe() calls
    // end()) while the other direction keeps flowing, as a TCP proxy should.
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
      counts.sessions++;
      const upstream = net.connect({ ...target, allowHalfOpen: true, noDelay: true });
      open.add(client);
      client.pipe(upstream);
      upstream.pipe(client);
      const fail = () => {
        counts.errors++;
        client.destroy();
        upstream.destroy();
      };
      client.on('error', fail);
      upstream.on('error', fail);
      client.on('close', () => {
        open.delete(client);
        upstream.destroy();
      });
      upstream.on('close', () => client.destroy());
    });
    await new Promise((resolve) => server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, resolve));
    listeners.push({
      port: server.address().port,
      stats: () => counts,
      close: () =>
        new Promise((resolve) => {
          for (const s of open) s.destroy();
          server.close(() => resolve());
        }),
    });
  }
  closeAll = () => Promise.allSettled(listeners.map((l) => l.close()));
} else {
  console.error(`unknown variant ${variant}`);
  process.exit(2);
}

process.on('message', async (msg) => {
  if (msg.cmd === 'stats') {
    process.send({ id: msg.id, stats: listeners.map((l) => l.stats()), pool: pool?.stats() ?? null });
  } else if (msg.cmd === 'cpu') {
    process.send({ id: msg.id, cpu: process.cpuUsage() });
  } else if (msg.cmd === 'close') {
    await closeAll();
    process.send({ id: msg.id, closed: true }, () => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true, variant, ports: listeners.map((l) => l.port) });
