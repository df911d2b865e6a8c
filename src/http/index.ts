/** The HTTP agent: `HttpAgent` and `pool.httpAgent()`. */
import './pool-http-agent';
export { HttpAgent } from './agent';
export type { HttpAgentOptions, HttpAgentOwnPoolOptions, HttpAgentRequestOptions, HttpAgentSystemError } from './agent';
