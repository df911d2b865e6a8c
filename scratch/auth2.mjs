import { Pool } from 'berth-pool';
import { fork } from 'node:child_process';
const child = fork('/work/main/__test__/fixtures/tls-echo-server.mjs', ['--kind', 'auth', '--secret', 's'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const hello = await new Promise(r => child.once('message', r));
const dest = `127.0.0.1:${hello.port}`;
const pool = new Pool({ handshakeTimeout: 2000 });
function readBytes(socket, n) {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk) => { console.log('chunk', chunk);
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length < n) return;
      done(); socket.pause();
      if (buffered.length > n) socket.unshift(buffered.subarray(n));
      resolve(buffered.subarray(0, n));
    };
    const onEnd = (e) => { console.log('end/err', e); done(); reject(new Error('closed')); };
    const done = () => { socket.off('data', onData); socket.off('end', onEnd); socket.off('error', onEnd); };
    socket.on('data', onData); socket.on('end', onEnd); socket.on('error', onEnd);
  });
}
try {
const lease = await pool.acquire(dest, { handshake: async (socket) => {
  socket.write('AUTH s\n');
  const a = await readBytes(socket, 3);
  console.log('answer', String(a));
}});
console.log('ok');
} catch (e) { console.log(e); }
child.kill(); await pool.close();
