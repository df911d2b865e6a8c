// The plain-Node contender of benchmark/probe.mjs: a straightforward TCP connect prober built on
// net.connect(), `concurrency` probes in flight (a fixed set of workers pulling the next target),
// each with the same timeout as berth's probe(). Run in its own process so that its peak RSS
// (VmHWM) is its own.
//
//   node benchmark/probe-node.mjs <targets.json>
//
// Per target: net.connect({ host, port, timeout }); 'connect' -> open (socket.destroy() at once);
// 'error' ECONNREFUSED -> closed, EHOSTUNREACH / ENETUNREACH -> filtered, other codes -> error;
// 'timeout' (no outcome within timeoutMs) -> filtered. Prints one JSON line (probe-child.mjs).

import net from 'node:net';
import { memoryKiB, readTargets, report } from './probe-child.mjs';

const file = process.argv[2];
if (!file) {
  console.error('usage: node benchmark/probe-node.mjs <targets.json>');
  process.exit(2);
}
const { host, ports, concurrency, timeoutMs } = readTargets(file);

const OPEN = 0x6f; // 'o'
const CLOSED = 0x63; // 'c'
const FILTERED = 0x66; // 'f'
const ERROR = 0x65; // 'e'

const n = ports.length;
const states = new Uint8Array(n).fill(0x3f); // '?'
const rtts = new Float64Array(n);
const errors = [];

function probeOne(port) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const socket = net.connect({ host, port, timeout: timeoutMs });
    let done = false;
    const finish = (state, err) => {
      if (done) return;
      done = true;
      socket.destroy();
      if (err && state === ERROR) errors.push({ port, code: err.code, message: err.message });
      resolve([state, performance.now() - t0]);
    };
    socket.once('connect', () => finish(OPEN));
    socket.once('timeout', () => finish(FILTERED));
    socket.once('error', (err) => {
      if (err.code === 'ECONNREFUSED') finish(CLOSED);
      else if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH' || err.code === 'ETIMEDOUT') finish(FILTERED);
      else finish(ERROR, err);
    });
  });
}

let next = 0;
async function worker() {
  while (next < n) {
    const i = next++;
    const [state, rtt] = await probeOne(ports[i]);
    states[i] = state;
    rtts[i] = rtt;
  }
}

const baseline = memoryKiB();
const cpuStart = process.cpuUsage();
const t0 = performance.now();
await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
const durationMs = performance.now() - t0;
report({ name: 'node', durationMs, states, rtts, errors, baseline, cpuStart });
