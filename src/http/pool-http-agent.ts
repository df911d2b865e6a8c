/**
 * `pool.httpAgent()`: the HTTP agent is built on the pool, so the pool does not import it; this
 * module adds the method to `Pool` (a module augmentation for its type, the prototype for its
 * value) and is loaded by the package entry, so every `Pool` has it.
 */
import { Pool } from '../pool/pool';
import { HttpAgent } from './agent';
import type { HttpAgentOptions } from './options';

declare module '../pool/pool' {
  interface Pool {
    /**
     * An `http.Agent` for `http.request` / `http.get` and libraries that take an `agent`, whose
     * keep-alive sockets are this pool's connections (its limits, timers and stats).
     */
    httpAgent(options?: HttpAgentOptions): HttpAgent;
  }
}

Object.defineProperty(Pool.prototype, 'httpAgent', {
  value: function httpAgent(this: Pool, options?: HttpAgentOptions): HttpAgent {
    return new HttpAgent(this, options);
  },
  writable: true,
  configurable: true,
  enumerable: false,
});
