// Child process for probe.test.mjs: runs probes that finish, break, cancel, or never start,
// then returns from the module: the process must exit by itself (no run keeps it alive).
// argv: a closed target, a filtered target.
import { probe } from 'berth-pool';

const [closed, filtered] = process.argv.slice(2);
const out = [];

let n = 0;
for await (const r of probe([closed, closed], { timeout: 60_000 })) if (r.state === 'closed') n++;
out.push(`finished ${n}`);

n = 0;
for await (const r of probe([filtered, closed, filtered], { timeout: 60_000 })) {
  if (r.state === 'closed') n++;
  break;
}
out.push(`broken ${n}`);

n = 0;
const run = probe([filtered, closed, filtered], { timeout: 60_000 });
for await (const r of run) {
  if (r.state === 'closed') n++;
  run.cancel();
}
out.push(`cancelled ${n}`);

probe([filtered], { timeout: 60_000 });
out.push('idle');
console.log(out.join(' '));
