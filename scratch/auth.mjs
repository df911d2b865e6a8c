import { Pool } from 'berth-pool';
import { fork } from 'node:child_process';
const child = fork('/work/main/__test__/fixtures/tls-echo-server.mjs', ['--kind', 'auth', '--secret', 's'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const hello = await new Promise(r => child.once('message', r));
const dest = `127.0.0.1:${hello.port}`;
const pool = new Pool({ handshakeTimeout: 2000 });
try {
const lease = await pool.acquire(dest, { handshake: async (socket) => {
  console.log('hs: socket', socket.readable, socket.writable, socket.readableFlowing, socket.pending, socket.connecting);
  socket.write('AUTH s\n', (e) => console.log('written', e));
  socket.on('data', d => console.log('data', String(d)));
  await new Promise(r => setTimeout(r, 500));
}});
console.log('ok');
} catch (e) { console.log(e); }
child.kill(); await pool.close();
