/**
 * `pool.httpAgent()` and `pool.httpsAgent()`: the agents are built on the pool, so the pool does
 * not import them; this module adds the methods to `Pool` (a module augmentation for their
 * type, the prototype for their value) and is loaded by the package entry, so every `Pool` has
 * them.
 */
import { Pool } from '../pool/pool';
import { HttpAgent } from './agent';
import { HttpsAgent, type HttpsAgentOptions } from './https-agent';
import type { HttpAgentOptions } from './options';

declare module '../pool/pool' {
  interface Pool {
    /**
     * An `http.Agent` for `http.request` / `http.get` and libraries that take an `agent`, whose
     * keep-alive sockets are this pool's connections (its limits, timers and stats).
     */
    httpAgent(options?: HttpAgentOptions): HttpAgent;
    /**
     * An `https.Agent` for `https.request` / `https.get` and libraries that take an `agent`,
     * whose keep-alive connections are this pool's TLS connections (verified; keyed by each
     * request's TLS identity), with the HTTP agent's behaviour.
     */
    httpsAgent(options?: HttpsAgentOptions): HttpsAgent;
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

Object.defineProperty(Pool.prototype, 'httpsAgent', {
  value: function httpsAgent(this: Pool, options?: HttpsAgentOptions): HttpsAgent {
    return new HttpsAgent(this, options);
  },
  writable: true,
  configurable: true,
  enumerable: false,
});
