// An HTTP CONNECT proxy: Node parses the CONNECT request, berth's engine moves the tunnel's
// bytes natively (pool.forward), and each finished tunnel is logged with its ForwardResult.
//
//   node examples/connect-proxy.mjs [port | host:port]       default 127.0.0.1:8080 (or $PROXY_ADDR)
//   curl -p -x http://127.0.0.1:8080 http://127.0.0.1:9000/  (any TCP service behind it)
//
// This example tunnels to any host:port it is asked for: put it behind an allow-list before
// exposing it to anyone.

import http from 'node:http';
import { Pool } from 'berth';

const arg = process.argv[2] ?? process.env.PROXY_ADDR ?? '127.0.0.1:8080';
const [host, port] = arg.includes(':') ? [arg.slice(0, arg.lastIndexOf(':')), arg.slice(arg.lastIndexOf(':') + 1)] : ['127.0.0.1', arg];

const pool = new Pool();

const server = http.createServer((req, res) => res.writeHead(405, { allow: 'CONNECT' }).end('CONNECT only\n'));
server.on('connect', async (req, socket, head) => {
  // TCP 'host:port' / '[v6]:port' only: a berth destination may also be 'unix:/path', which a
  // CONNECT client must never be able to reach.
  if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+):\d{1,5}$/i.test(req.url)) return socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
  const client = `${socket.remoteAddress}:${socket.remotePort}`; // read now: the engine takes the socket over
  // req.url is the CONNECT target, 'host:port' (or '[v6]:port'): a berth destination as is.
  // On connect-failed the engine closes the client without writing `reply`.
  const result = await pool
    .forward(socket, req.url, { head, reply: 'HTTP/1.1 200 Connection Established\r\n\r\n' })
    .catch((err) => {
      // Rejected before the engine took the socket (e.g. a malformed target): answer and close.
      socket.end(`HTTP/1.1 400 Bad Request\r\n\r\n${err.message}\n`);
      return { end: 'rejected', error: err };
    });
  const { bytesIn, bytesOut, upstreamReused, durationMs, end, error } = result;
  console.log(
    `${client} CONNECT ${req.url} -> ${end}` +
      (bytesIn === undefined ? '' : `, ${bytesIn} B up, ${bytesOut} B down, ${durationMs.toFixed(1)} ms${upstreamReused ? ', reused upstream' : ''}`) +
      (error ? ` (${error.code ?? error.name}: ${error.message})` : ''),
  );
});

server.listen(Number(port), host, () => console.log(`CONNECT proxy on ${host}:${server.address().port}`));

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    server.close();
    await pool.close(); // ends the tunnels in progress
    process.exit(0);
  });
}
