// Start fixtures/tls-echo-server.mjs (a TLS, auth-preamble, SOCKS5 or mute echo server) in a
// child process: see that file for the kinds and options.
import { forkControlled } from './controlled-child.mjs';
import { fileURLToPath } from 'node:url';
import { makeCerts } from './tls-certs.mjs';

const FIXTURE = fileURLToPath(new URL('../fixtures/tls-echo-server.mjs', import.meta.url));

/**
 * Resolves with { dest, port, stats(), closeIdle(), dropAll(), sendAll(data) }. `options`: { kind, cert,
 * requestCert, maxVersion, alpn, noTickets, secret, target }.
 */
export async function startTlsEcho(t, { kind = 'tls', cert = 'server', requestCert = false, maxVersion, alpn, noTickets = false, secret, target } = {}) {
  const args = ['--kind', kind];
  if (kind === 'tls') args.push('--cert-dir', makeCerts().dir, '--cert', cert);
  if (requestCert) args.push('--request-cert');
  if (maxVersion) args.push('--max-version', maxVersion);
  if (alpn) args.push('--alpn', alpn.join(','));
  if (noTickets) args.push('--no-tickets');
  if (secret !== undefined) args.push('--secret', secret);
  if (target !== undefined) args.push('--target', target);
  const { hello, control } = await forkControlled(t, FIXTURE, args, { label: `${kind} echo server` });
  return {
    dest: `${hello.host}:${hello.port}`,
    port: hello.port,
    stats: () => control({ cmd: 'stats' }),
    closeIdle: () => control({ cmd: 'closeIdle' }),
    dropAll: () => control({ cmd: 'dropAll' }),
    sendAll: (data) => control({ cmd: 'sendAll', data }),
  };
}
