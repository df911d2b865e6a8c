// A SOCKS5 proxy (RFC 1928: no authentication, the CONNECT command, IPv4, IPv6 and domain
// addresses): Node reads the short handshake, berth's engine connects and moves the bytes
// (pool.forward). The success reply is `reply` (written once the upstream is connected), the
// refusal is `failReply` (written when it cannot be: the reply code comes from the error).
//
//   node examples/socks5-proxy.mjs [port | host:port]       default 127.0.0.1:1080 (or $PROXY_ADDR)
//   curl --socks5-hostname 127.0.0.1:1080 http://example.com/
//
// Clients choose the destination, so the pool's addressPolicy keeps them away from this host
// and its networks (loopback, private, link-local: cloud metadata at 169.254.169.254); the
// engine checks every address a name resolves to, right before connect. A denied destination
// gets reply code 0x02 ("connection not allowed by ruleset"). PROXY_ALLOW_LOOPBACK=1 allows
// loopback, to try the proxy against a service on this machine.
//
// Errors go to this process's log, never to the client: a message may name internal hosts.

import net from 'node:net';
import { Pool } from 'berth-pool';

const arg = process.argv[2] ?? process.env.PROXY_ADDR ?? '127.0.0.1:1080';
const [host, port] = arg.includes(':') ? [arg.slice(0, arg.lastIndexOf(':')), arg.slice(arg.lastIndexOf(':') + 1)] : ['127.0.0.1', arg];

const deny = ['loopback', 'private', 'linkLocal', 'uniqueLocal', 'unspecified', 'multicast', 'unix'];
const pool = new Pool({
  addressPolicy: { deny: process.env.PROXY_ALLOW_LOOPBACK === '1' ? deny.filter((c) => c !== 'loopback') : deny },
});

// RFC 1928 section 6 reply codes.
const SUCCEEDED = 0x00;
const GENERAL_FAILURE = 0x01;
const NOT_ALLOWED = 0x02;
const HOST_UNREACHABLE = 0x04;
const CONNECTION_REFUSED = 0x05;
const COMMAND_NOT_SUPPORTED = 0x07;
const ADDRESS_TYPE_NOT_SUPPORTED = 0x08;

/** A reply: version, code, reserved, and a bound address of 0.0.0.0:0 (clients ignore it). */
const socksReply = (code) => Buffer.from([0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);

/** The reply code for a BerthError of a session that got no upstream. */
function replyCode(error) {
  switch (error.code) {
    case 'DESTINATION_DENIED':
      return NOT_ALLOWED;
    case 'CONNECT_REFUSED':
      return CONNECTION_REFUSED;
    case 'DNS_FAILED':
    case 'CONNECT_TIMEOUT':
      return HOST_UNREACHABLE;
    default: // CONNECT_FAILED, ACQUIRE_TIMEOUT, NO_HEALTHY_MEMBER...
      return GENERAL_FAILURE;
  }
}

/** Reads exactly n bytes of the handshake (paused mode); null if the client went away. */
function reader(socket) {
  let buffered = Buffer.alloc(0);
  const read = async (n) => {
    while (buffered.length < n) {
      const chunk = socket.read();
      if (chunk !== null) {
        buffered = Buffer.concat([buffered, chunk]);
        continue;
      }
      if (socket.destroyed || socket.readableEnded) return null;
      await new Promise((resolve) => {
        const done = () => {
          socket.off('readable', done).off('end', done).off('close', done);
          resolve();
        };
        socket.on('readable', done).on('end', done).on('close', done);
      });
      if (socket.destroyed) return null;
    }
    const out = buffered.subarray(0, n);
    buffered = buffered.subarray(n);
    return out;
  };
  // Whatever the client sent after its request goes upstream first.
  return { read, rest: () => buffered };
}

/** The CONNECT request's destination as a berth destination, or a reply code to refuse it. */
async function readRequest(read) {
  const head = await read(4); // VER CMD RSV ATYP
  if (head === null || head[0] !== 0x05) return null;
  if (head[1] !== 0x01) return COMMAND_NOT_SUPPORTED; // only CONNECT (no BIND, no UDP ASSOCIATE)
  let address;
  if (head[3] === 0x01) {
    address = (await read(4))?.join('.');
  } else if (head[3] === 0x04) {
    const v6 = await read(16);
    address = v6 && `[${ipv6(v6)}]`;
  } else if (head[3] === 0x03) {
    const length = await read(1);
    address = length && (await read(length[0]))?.toString('latin1');
  } else {
    return ADDRESS_TYPE_NOT_SUPPORTED;
  }
  const portBytes = await read(2);
  if (address == null || portBytes === null) return null;
  return `${address}:${portBytes.readUInt16BE(0)}`;
}

/** Sixteen bytes as IPv6 text (uncompressed groups; berth accepts any valid form). */
function ipv6(bytes) {
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(':');
}

const server = net.createServer(async (socket) => {
  const client = `${socket.remoteAddress}:${socket.remotePort}`; // read now: the engine takes the socket over
  socket.on('error', () => {});
  socket.setTimeout(10_000, () => socket.destroy()); // a client must finish the handshake in 10 s
  socket.pause();
  const { read, rest } = reader(socket);
  // Greeting: VER NMETHODS METHODS...; only "no authentication" (0x00) is offered back.
  const greeting = await read(2);
  const methods = greeting && greeting[0] === 0x05 ? await read(greeting[1]) : null;
  if (methods === null) return socket.destroy();
  if (!methods.includes(0x00)) return socket.end(Buffer.from([0x05, 0xff]));
  socket.write(Buffer.from([0x05, 0x00]));
  const target = await readRequest(read);
  if (target === null) return socket.destroy();
  if (typeof target === 'number') return socket.end(socksReply(target));
  socket.setTimeout(0);
  const result = await pool
    .forward(socket, target, {
      head: rest(),
      reply: socksReply(SUCCEEDED),
      // Told the error once no upstream can be had; the engine writes the refusal and closes.
      failReply: (error) => socksReply(replyCode(error)),
    })
    .catch((err) => {
      // An invalid destination (a TypeError) is refused before the engine takes the socket.
      socket.end(socksReply(err instanceof TypeError ? HOST_UNREACHABLE : GENERAL_FAILURE));
      return { end: 'rejected', error: err };
    });
  const { bytesIn, bytesOut, durationMs, end, error } = result;
  console.log(
    `${client} CONNECT ${JSON.stringify(target.slice(0, 200))} -> ${end}` +
      (bytesIn === undefined ? '' : `, ${bytesIn} B up, ${bytesOut} B down, ${durationMs.toFixed(1)} ms`) +
      (error ? ` (${error.code ?? error.name}: ${error.message})` : ''),
  );
});

server.listen(Number(port), host, () => console.log(`SOCKS5 proxy on ${host}:${server.address().port}`));

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, async () => {
    server.close();
    await pool.close(); // ends the tunnels in progress
    process.exit(0);
  });
}
