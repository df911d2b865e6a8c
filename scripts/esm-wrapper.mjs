// Writes the ESM entries: each re-exports its CommonJS build, so that `import` and `require`
// share one module instance (one engine, one set of classes).
import { writeFileSync } from 'node:fs';

writeFileSync(
  new URL('../dist/index.mjs', import.meta.url),
  `import berth from './index.js';\n\nexport const { Pool, Lease, BerthError, DEFAULTS, HttpAgent, HttpsAgent, ProxyListener, ResourcePool, ResourceLease, pooled, RESOURCE_DEFAULTS, completions, probe, metrics, METRICS_CONTENT_TYPE, DIAGNOSTICS_CHANNELS } = berth;\nexport default berth;\n`,
);

// berth/generic-pool: the default export is the module object, as `import genericPool from 'generic-pool'` gives.
writeFileSync(
  new URL('../dist/generic-pool/index.mjs', import.meta.url),
  `import genericPool from './index.js';\n\nexport const { Pool, Deque, PriorityQueue, DefaultEvictor, createPool, TimeoutError } = genericPool;\nexport default genericPool;\n`,
);

// berth/prometheus: prom-client's registry integration.
writeFileSync(
  new URL('../dist/prometheus/index.mjs', import.meta.url),
  `import prometheus from './index.js';\n\nexport const { registerBerthMetrics, BERTH_METRIC_NAMES } = prometheus;\nexport default prometheus;\n`,
);
