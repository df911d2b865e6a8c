/**
 * An `http.Agent` whose keep-alive sockets live in a berth pool (placeholder: being built).
 */
import * as http from 'node:http';
import type { Pool } from './pool';

export interface HttpAgentOptions {}

export class HttpAgent extends http.Agent {
  readonly pool: Pool;

  constructor(pool: Pool, options?: HttpAgentOptions) {
    super({ keepAlive: true });
    void options;
    this.pool = pool;
  }
}
