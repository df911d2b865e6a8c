/** The HTTP and HTTPS agents: `HttpAgent`, `HttpsAgent`, `pool.httpAgent()`, `pool.httpsAgent()`. */
import './pool-http-agent';
export { HttpAgent } from './agent';
export type { HttpAgentOptions, HttpAgentOwnPoolOptions, HttpAgentRequestOptions, HttpAgentSystemError } from './agent';
export { HttpsAgent } from './https-agent';
export type { HttpsAgentOptions, HttpsAgentOwnPoolOptions, HttpsAgentTlsOptions } from './https-agent';
