// An HTTP CONNECT proxy: Node parses the CONNECT request, berth's engine moves the tunnel's
// bytes natively (pool.forward), and each finished tunnel is logged with its ForwardResult.
//
//   node examples/connect-proxy.mjs [port | host:port]       default 127.0.0.1:8080 (or $PROXY_ADDR)
//   curl -p -x http://127.0.0.1:8080 http://example.com/
//
// Clients choose the destination, so the pool's addressPolicy keeps them away from this host
// and its networks: loopback, private and link-local addresses (cloud metadata at
// 169.254.169.254), Unix sockets (unix:/var/run/docker.sock). The engine checks every address
// a name resolves to, right before connect, so 127.1, 2130706433 or a DNS name pointing at
// 127.0.0.1 are refused too. To try the proxy against a service on this machine, run it with
// PROXY_ALLOW_LOOPBACK=1 (loopback is then allowed; the rest stays denied).
//
// Errors go to this process's log, never to the client: a message may name internal hosts.

import http from 'node:http';
import { Pool } from 'berth-pool';

const arg = process.argv[2] ?? process.env.PROXY_ADDR ?? '127.0.0.1:8080';
const [host, port] = arg.includes(':') ? [arg.slice(0, arg.lastIndexOf(':')), arg.slice(arg.lastIndexOf(':') + 1)] : ['127.0.0.1', arg];

const deny = ['loopback', 'private', 'linkLocal', 'uniqueLocal', 'unspecified', 'multicast', 'unix'];
const pool = new Pool({
  addressPolicy: { deny: process.env.PROXY_ALLOW_LOOPBACK === '1' ? deny.filter((c) => c !== 'loopback') : deny },
});

const server = http.createServer((req, res) => res.writeHead(405, { allow: 'CONNECT' }).end('CONNECT only\n'));
server.on('connect', async (req, socket, head) => {
  const client = `${socket.remoteAddress}:${socket.remotePort}`; // read now: the engine takes the socket over
  // req.url is the CONNECT target, 'host:port' (or '[v6]:port'): a berth destination as is.
  // An invalid one (a URL, credentials, CR/LF ...) is a TypeError before the engine takes the
  // socket; a denied one (unix:/path included) or an unreachable one ends 'connect-failed':
  // the engine then writes `failReply` instead of `reply`, and closes the client.
  const result = await pool
    .forward(socket, req.url, {
      head,
      reply: 'HTTP/1.1 200 Connection Established\r\n\r\n',
      failReply: 'HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n',
    })
    .catch((err) => {
      // A generic status line only: the reason stays in this log.
      socket.end(err instanceof TypeError ? 'HTTP/1.1 400 Bad Request\r\n\r\n' : 'HTTP/1.1 503 Service Unavailable\r\n\r\n');
      return { end: 'rejected', error: err };
    });
  const { bytesIn, bytesOut, upstreamReused, durationMs, end, error } = result;
  // berth masks credentials in its messages; the target as the client sent it is not masked.
  console.log(
    `${client} CONNECT ${JSON.stringify(mask(req.url))} -> ${end}` +
      (bytesIn === undefined ? '' : `, ${bytesIn} B up, ${bytesOut} B down, ${durationMs.toFixed(1)} ms${upstreamReused ? ', reused upstream' : ''}`) +
      (error ? ` (${error.code ?? error.name}: ${error.message})` : ''),
  );
});

/** `target` with anything before an '@' (a user:password) masked, cut to 200 characters. */
function mask(target) {
  const at = target.lastIndexOf('@');
  return (at < 0 ? target : `***${target.slice(at)}`).slice(0, 200);
}

server.listen(Number(port), host, () => console.log(`CONNECT proxy on ${host}:${server.address().port}`));

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    server.close();
    await pool.close(); // ends the tunnels in progress
    process.exit(0);
  });
}
