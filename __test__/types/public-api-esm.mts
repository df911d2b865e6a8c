// The "import" side of the type test: an ES module resolves 'berth-pool' and 'berth-pool/generic-pool'
// through the "import" conditions of "exports", named and default imports alike (dist/*.mjs
// re-export the CommonJS build, so the default import is the module object).
import berth, { Pool, ResourcePool, probe, completions, pooled, BerthError } from 'berth-pool';
import type { PoolStats, ProbeResult } from 'berth-pool';
import genericPool, { createPool, TimeoutError, Pool as GenericPool } from 'berth-pool/generic-pool';
import prometheus, { registerBerthMetrics } from 'berth-pool/prometheus';
import { metrics } from 'berth-pool';

type Equals<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false;
function assert<T extends true>(): void {}

assert<Equals<typeof berth.Pool, typeof Pool>>();
assert<Equals<typeof berth.ResourcePool, typeof ResourcePool>>();
assert<Equals<typeof berth.probe, typeof probe>>();
assert<Equals<typeof berth.completions, typeof completions>>();
assert<Equals<typeof berth.pooled, typeof pooled>>();
assert<Equals<typeof berth.BerthError, typeof BerthError>>();
assert<Equals<ReturnType<Pool['stats']>, PoolStats>>();
assert<Equals<ReturnType<typeof probe> extends AsyncIterable<infer R> ? R : never, ProbeResult>>();
assert<Equals<typeof genericPool.createPool, typeof createPool>>();
assert<Equals<typeof genericPool.Pool, typeof GenericPool>>();
assert<Equals<InstanceType<typeof TimeoutError>, TimeoutError>>();
assert<Equals<typeof prometheus.registerBerthMetrics, typeof registerBerthMetrics>>();
assert<Equals<typeof berth.metrics, typeof metrics>>();

// Top-level await: this is an ES module.
await using pool = new Pool({ maxPerDestination: 2 });
const lease = await pool.acquire('127.0.0.1:6379');
lease.release();
// @ts-expect-error misspelled option
new berth.Pool({ maxTotl: 1 });
const generic = createPool({ create: () => ({ id: 1 }), destroy: () => undefined }, { max: 2 });
// @ts-expect-error not an event of generic-pool's Pool
generic.on('drain', () => {});
