// Writes dist/index.mjs: the ESM entry re-exports the CommonJS build, so that `import` and
// `require` share one module instance (one engine, one set of classes).
import { writeFileSync } from 'node:fs';

writeFileSync(
  new URL('../dist/index.mjs', import.meta.url),
  `import berth from './index.js';\n\nexport const { Pool, Lease, BerthError, DEFAULTS, HttpAgent, ProxyListener } = berth;\nexport default berth;\n`,
);
