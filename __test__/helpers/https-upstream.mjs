// Test-side helpers for the TLS tests: start the HTTPS upstream (fixtures/https-server.mjs, the
// twin of fixtures/http-server.mjs) in a child process with the test certificates
// (helpers/tls-certs.mjs), and make requests with a hang guard. No ava import: the benchmark may
// use these too (pass any `t` with a teardown(fn) method).
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import { forkControlled } from './controlled-child.mjs';
import { makeCerts } from './tls-certs.mjs';
import { requestWith, targetOf } from '../fixtures/http-upstream.mjs';

export { makeCerts, targetOf };

const FIXTURE = fileURLToPath(new URL('../fixtures/https-server.mjs', import.meta.url));

/** The server certificates by name: the names of the issue, and those of tls-certs.mjs. */
const CERT_NAMES = {
  server: 'server',
  expired: 'expired',
  'wrong-host': 'other',
  other: 'other',
  'self-signed': 'selfSigned',
  selfSigned: 'selfSigned',
};

/**
 * Fork the HTTPS upstream and wait until it listens; killed in t.teardown.
 *
 * opts:
 *   cert              'server' (default: CA-signed, localhost/127.0.0.1/::1), 'expired',
 *                     'wrong-host' (SAN other.test only) or 'self-signed'
 *   requestCert       false (default), true (a client certificate signed by the test CA is
 *                     required) or 'optional' (asked for, any accepted and recorded)
 *   alpn              ALPN protocols offered, e.g. ['h2', 'http/1.1'] (default: none; the
 *                     server speaks HTTP/1.1 whatever is negotiated)
 *   minVersion, maxVersion   'TLSv1.2' / 'TLSv1.3'
 *   tickets           false: no session tickets (default true)
 *   sessionCache      true: a server-side session cache (TLS 1.2 resumption by session ID,
 *                     without tickets; TLS 1.3 resumes by ticket only)
 *   host, keepAliveTimeout, noHint, forgetAfter   as for startHttpServer (the idle close is
 *                     close_notify + FIN; a forgotten connection is reset on its next request)
 *
 * Returns { host, port, origin, dest, certs, stats(), reset(), set(values), kill() } where certs
 * is makeCerts() (certs.ca verifies the server, certs.client is a client certificate) and stats()
 * resolves to { accepted, open, maxOpen, requests, forgotten, handshakes, fullHandshakes,
 * resumedHandshakes, alpn, protocols, clientSubjects, unauthorizedClients, tlsErrors }.
 * In TLS 1.3 the client's handshake ends before the server's: a connection that made no request
 * yet may not be counted in handshakes when the client already has it; poll (eventually()) for
 * counts of such connections.
 */
export async function startHttpsServer(t, {
  cert = 'server',
  requestCert = false,
  alpn,
  minVersion,
  maxVersion,
  tickets = true,
  sessionCache = false,
  host,
  keepAliveTimeout,
  noHint = false,
  forgetAfter,
} = {}) {
  const certs = makeCerts();
  const leaf = certs[CERT_NAMES[cert]];
  if (!leaf) throw new TypeError(`startHttpsServer: unknown cert ${JSON.stringify(cert)} (one of ${Object.keys(CERT_NAMES).join(', ')})`);
  const args = ['--cert', leaf.certPath, '--key', leaf.keyPath, '--ca', certs.caPath];
  if (requestCert === true) args.push('--request-cert', 'require');
  else if (requestCert === 'optional') args.push('--request-cert', 'optional');
  else if (requestCert !== false) throw new TypeError(`startHttpsServer: requestCert must be true, false or 'optional'`);
  if (alpn !== undefined) args.push('--alpn', alpn.join(','));
  if (minVersion !== undefined) args.push('--min-version', minVersion);
  if (maxVersion !== undefined) args.push('--max-version', maxVersion);
  if (!tickets) args.push('--no-tickets');
  if (sessionCache) args.push('--session-cache');
  if (host !== undefined) args.push('--host', host);
  if (keepAliveTimeout !== undefined) args.push('--keep-alive-timeout', String(keepAliveTimeout));
  if (noHint) args.push('--no-hint');
  if (forgetAfter !== undefined) args.push('--forget-after', String(forgetAfter));
  const { hello, control, kill } = await forkControlled(t, FIXTURE, args, { label: 'https server' });

  const hostPart = hello.family === 'IPv6' ? `[${hello.host}]` : hello.host;
  return {
    host: hello.host,
    port: hello.port,
    path: null,
    origin: `https://${hostPart}:${hello.port}`,
    dest: `${hostPart}:${hello.port}`,
    certs,
    stats: () => control({ cmd: 'stats' }),
    reset: () => control({ cmd: 'reset' }),
    set: (values) => control({ cmd: 'set', ...values }),
    kill,
  };
}

/**
 * One HTTPS request through `agent` (see request() in fixtures/http-upstream.mjs): resolves with
 * { status, headers, json, text, reusedSocket, events, req } once the body is read; rejects with
 * the request's 'error' (a TLS failure included). TLS options (ca, servername, cert, key,
 * rejectUnauthorized, ALPNProtocols, ...) go in `options` like any other https.request option.
 */
export function request(agent, target, options = {}) {
  return requestWith(https.request, agent, target, options);
}
