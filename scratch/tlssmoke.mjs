import { makeCerts } from '/work/main/__test__/helpers/tls-certs.mjs';
import tls from 'node:tls';
import { Pool } from 'berth-pool';
const c = makeCerts();
let full = 0, resumed = 0;
const srv = tls.createServer({ key: c.server.key, cert: c.server.cert, ALPNProtocols: ['h2', 'http/1.1'] }, (s) => {
  if (s.isSessionReused()) resumed++; else full++;
  s.on('data', d => s.write(d)); s.on('error', () => {});
});
await new Promise(r => srv.listen(0, '127.0.0.1', r));
const dest = `127.0.0.1:${srv.address().port}`;
const pool = new Pool();
const opts = { tls: { ca: c.ca, ALPNProtocols: ['http/1.1'] } };
for (let i = 0; i < 3; i++) {
  const lease = await pool.acquire(dest, opts);
  console.log('alpn', lease.socket.alpnProtocol, 'authorized', lease.socket.authorized, 'reused', lease.reused, lease.socket.constructor.name);
  lease.socket.write('ping');
  const d = await new Promise(r => lease.socket.once('data', r));
  console.log('echo', String(d));
  lease.release();
}
// second identity
const l2 = await pool.acquire(dest, { tls: { ca: c.ca, servername: 'localhost' } });
console.log('other identity reused?', l2.reused); l2.socket.write('x'); await new Promise(r => l2.socket.once('data', r)); l2.release();
const l3 = await pool.acquire(dest, { tls: { ca: c.ca, servername: 'localhost' } });
console.log('l3 reused', l3.reused, 'sessionReused', l3.socket.isSessionReused()); l3.destroy();
const l4 = await pool.acquire(dest, { tls: { ca: c.ca, servername: 'localhost' } });
console.log('l4 reused', l4.reused, 'sessionReused', l4.socket.isSessionReused()); l4.release();
try { await pool.acquire(dest, { tls: true }); } catch (e) { console.log('default CA:', e.code, e.message, e.cause?.code); }
console.log(pool.stats().connect, JSON.stringify(pool.snapshot().destinations.map(d => [d.destination, d.profile, d.open, d.idle])));
console.log('server full', full, 'resumed', resumed);
await pool.close(); srv.close();
console.log('closed');
