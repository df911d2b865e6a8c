// nginx (Debian's package) as a TLS upstream for the tests: a non-daemon child on 127.0.0.1 with
// a temporary prefix and config, the test certificates (helpers/tls-certs.mjs), a shared session
// cache and session tickets, and optionally a second port with HTTP/2.
//
//   const { test } = useNginx(anyTest);       // test.skip (reason printed) where nginx is missing;
//                                             // under CI (CI=true) the tests fail instead
//   const nginx = await startNginxTls(t, { requestCert: true, http2: true, keepaliveTimeout: 200 });
//   nginx.dest / nginx.port / nginx.h2Dest    // '127.0.0.1:PORT'
//   await nginx.stats()                       // what its access log says (see below)
//
// Every path answers 200 with JSON about the connection it came on:
//   { connection, requestOnConnection, tls: { protocol, alpn, resumed, clientVerify, clientSubject } }
// (clientVerify: nginx's $ssl_client_verify, SUCCESS / NONE / FAILED:reason). A client without a
// certificate where one is required gets nginx's 400 ("No required SSL certificate was sent"):
// nginx checks the client certificate after the handshake.
//
// nginx runs under a small bash watchdog that stops it when the test process goes away without
// its teardown (nginx cannot notice its parent dying), with stdio ignored so that the test
// process gains no descriptor.
import { canConnect, needsBinary } from './needs-binary.mjs';
import { freePort } from './net.mjs';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeCerts } from './tls-certs.mjs';

const START_TIMEOUT = 10_000;
const CERT_NAMES = { server: 'server', expired: 'expired', 'wrong-host': 'other', other: 'other', 'self-signed': 'selfSigned', selfSigned: 'selfSigned' };


let cachedVersion;
/** nginx's version as [major, minor, patch], or a string saying why nginx cannot run here. */
function nginxVersion() {
  if (cachedVersion !== undefined) return cachedVersion;
  const r = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  if (r.error) {
    cachedVersion = r.error.code === 'ENOENT' ? 'nginx is not installed (apt-get install nginx)' : `cannot run nginx: ${r.error.message}`;
  } else {
    const m = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(`${r.stderr}${r.stdout}`);
    if (!m) cachedVersion = `cannot tell nginx's version from: ${(r.stderr || r.stdout).trim()}`;
    else {
      const v = m.slice(1).map(Number);
      const modules = spawnSync('nginx', ['-V'], { encoding: 'utf8' }).stderr ?? '';
      cachedVersion = modules.includes('--with-http_ssl_module') ? v : 'this nginx has no http_ssl_module';
    }
  }
  return cachedVersion;
}

/** Why nginx cannot be started here, or null if it can. */
export function nginxUnavailableReason() {
  const v = nginxVersion();
  return typeof v === 'string' ? v : null;
}

/** nginx's version string ('1.22.1'), or null when it is not available. */
export function nginxVersionString() {
  const v = nginxVersion();
  return typeof v === 'string' ? null : v.join('.');
}

/**
 * Declares tests that need nginx. Returns { test }: ava's `test`, or `test.skip` (with the
 * reason printed) when nginx is missing outside CI; under CI each such test fails with the
 * reason instead. Declare the nginx tests with the returned `test` (plain calls only).
 */
export function useNginx(test) {
  return needsBinary(test, 'nginx', nginxUnavailableReason());
}



function config({ dir, port, h2Port, version, leaf, caPath, requestCert, keepaliveTimeout, sessionTickets, sessionCache, protocols }) {
  const [major, minor, patch] = version;
  // `http2 on;` exists from 1.25.1; older nginx (Debian 12 has 1.22) takes it on `listen`.
  const http2Directive = major > 1 || minor > 25 || (minor === 25 && patch >= 1);
  const json = [
    '{"connection":$connection,"requestOnConnection":$connection_requests,',
    '"tls":{"protocol":"$ssl_protocol","alpn":"$ssl_alpn_protocol","resumed":$berth_resumed,',
    '"clientVerify":"$ssl_client_verify","clientSubject":"$ssl_client_s_dn"}}',
  ].join('');
  const server = (listenPort, h2) => `
    server {
      listen 127.0.0.1:${listenPort} ssl${h2 && !http2Directive ? ' http2' : ''};
      ${h2 && http2Directive ? 'http2 on;' : ''}
      ssl_certificate ${leaf.certPath};
      ssl_certificate_key ${leaf.keyPath};
      ssl_protocols ${protocols.join(' ')};
      ${requestCert ? `ssl_client_certificate ${caPath};\n      ssl_verify_client ${requestCert === 'optional' ? 'optional' : 'on'};` : ''}
      location / {
        default_type application/json;
        return 200 '${json}\\n';
      }
    }`;
  return `
daemon off;
master_process off;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  client_body_temp_path ${path.join(dir, 'body')};
  proxy_temp_path ${path.join(dir, 'proxy')};
  fastcgi_temp_path ${path.join(dir, 'fastcgi')};
  uwsgi_temp_path ${path.join(dir, 'uwsgi')};
  scgi_temp_path ${path.join(dir, 'scgi')};
  keepalive_timeout ${keepaliveTimeout}ms;
  keepalive_requests 100000;
  ${sessionCache ? 'ssl_session_cache shared:berth_tls:1m;' : 'ssl_session_cache off;'}
  ssl_session_timeout 5m;
  ssl_session_tickets ${sessionTickets ? 'on' : 'off'};
  map $ssl_session_reused $berth_resumed { r true; default false; }
  log_format berth '$connection\\t$connection_requests\\t$ssl_session_reused\\t$ssl_protocol\\t$ssl_alpn_protocol\\t$ssl_client_verify\\t$ssl_client_s_dn\\t$status\\t$server_port';
  access_log ${path.join(dir, 'access.log')} berth;
  ${server(port, false)}
  ${h2Port ? server(h2Port, true) : ''}
}
`;
}

// bash watchdog: runs nginx ($1 -p $2 -c nginx.conf), stops it on TERM and when process $3 (the
// test process) is gone; exits with nginx's status.
const WATCHDOG = `
"$1" -p "$2/" -c nginx.conf -e error.log &
n=$!
trap 'kill -TERM $n 2>/dev/null; wait $n; exit 0' TERM INT
while kill -0 "$3" 2>/dev/null && kill -0 $n 2>/dev/null; do sleep 0.5 & wait $!; done
kill -TERM $n 2>/dev/null
wait $n
`;

/**
 * Starts nginx with TLS on 127.0.0.1 (stopped in t.teardown when `t` is given).
 *
 * opts:
 *   cert              'server' (default), 'expired', 'wrong-host' or 'self-signed' (tls-certs.mjs)
 *   requestCert       false (default), true (ssl_verify_client on, against the test CA) or 'optional'
 *   http2             true: a second port (h2Port) with HTTP/2 (ALPN h2, http/1.1); the main port
 *                     offers http/1.1 only
 *   keepaliveTimeout  ms an idle connection is kept (nginx's keepalive_timeout; default 5000)
 *   sessionTickets    default true (ssl_session_tickets)
 *   sessionCache      default true (ssl_session_cache shared:...:1m)
 *   protocols         default ['TLSv1.2', 'TLSv1.3'] (ssl_protocols)
 *
 * Resolves with { host, port, dest, origin, h2Port, h2Dest, h2Origin, version, certs, stats(),
 * stop() }. stats() reads the access log: { requests, connections, fullHandshakes,
 * resumedHandshakes, alpn: { proto: n }, protocols: { TLSv1.3: n }, clientSubjects: { DN: n },
 * statuses: { 200: n } } where the connection counts are over connections that made at least one
 * request. Rejects with the error log's tail if nginx does not start.
 */
export async function startNginxTls(t, {
  cert = 'server',
  requestCert = false,
  http2 = false,
  keepaliveTimeout = 5000,
  sessionTickets = true,
  sessionCache = true,
  protocols = ['TLSv1.2', 'TLSv1.3'],
} = {}) {
  const reason = nginxUnavailableReason();
  if (reason !== null) throw new Error(`startNginxTls: ${reason}`);
  const certs = makeCerts();
  const leaf = certs[CERT_NAMES[cert]];
  if (!leaf) throw new TypeError(`startNginxTls: unknown cert ${JSON.stringify(cert)} (one of ${Object.keys(CERT_NAMES).join(', ')})`);
  if (![true, false, 'optional'].includes(requestCert)) throw new TypeError(`startNginxTls: requestCert must be true, false or 'optional'`);

  // A port picked free can be taken before nginx binds it: try again with others.
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-nginx-'));
    const port = await freePort();
    const h2Port = http2 ? await freePort() : null;
    fs.writeFileSync(path.join(dir, 'nginx.conf'), config({
      dir, port, h2Port, version: nginxVersion(), leaf, caPath: certs.caPath, requestCert, keepaliveTimeout,
      sessionTickets, sessionCache, protocols,
    }));
    const child = spawn('bash', ['-c', WATCHDOG, 'nginx-tls', 'nginx', dir, String(process.pid)], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    // Should the process end without stop() (a crash), nginx's files go with it all the same
    // (the watchdog stops nginx itself).
    const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
    process.once('exit', removeDir);
    let stopped = false;
    const stop = async () => {
      if (!stopped) {
        stopped = true;
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
        process.off('exit', removeDir);
        removeDir();
      }
    };
    const errorLog = () => {
      try { return fs.readFileSync(path.join(dir, 'error.log'), 'utf8').trim().split('\n').slice(-5).join('\n'); } catch { return ''; }
    };

    let exitedEarly = null;
    exited.then((e) => { exitedEarly = e; });
    const until = Date.now() + START_TIMEOUT;
    let up = false;
    // Up once this nginx has bound its ports (it writes its pid file after that) and they answer:
    // a connect alone could reach another server that took the port first (another test's
    // nginx, picked the same free port), while this one failed to bind and is exiting.
    const pidFile = path.join(dir, 'nginx.pid');
    while (!up && exitedEarly === null && Date.now() < until) {
      up = fs.existsSync(pidFile) && (await canConnect(port)) && (h2Port === null || (await canConnect(h2Port)));
      if (!up) await new Promise((r) => setTimeout(r, 20));
    }
    if (up) {
      t?.teardown(stop);
      const dest = `127.0.0.1:${port}`;
      return {
        host: '127.0.0.1',
        port,
        dest,
        origin: `https://${dest}`,
        h2Port,
        h2Dest: h2Port ? `127.0.0.1:${h2Port}` : null,
        h2Origin: h2Port ? `https://127.0.0.1:${h2Port}` : null,
        version: nginxVersionString(),
        certs,
        stats: () => accessStats(path.join(dir, 'access.log')),
        stop,
      };
    }
    const log = errorLog();
    await stop();
    lastError = new Error(`nginx did not start${exitedEarly ? ` (exit code ${exitedEarly.code})` : ' in time'}: ${log || 'no error log'}`);
    if (!/Address already in use/.test(log)) break;
  }
  throw lastError;
}

function accessStats(file) {
  let text = '';
  try { text = fs.readFileSync(file, 'utf8'); } catch { /* no request yet */ }
  const s = { requests: 0, connections: 0, fullHandshakes: 0, resumedHandshakes: 0, alpn: {}, protocols: {}, clientSubjects: {}, statuses: {} };
  const bump = (map, key) => { map[key] = (map[key] ?? 0) + 1; };
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [, requestNo, reused, protocol, alpn, , subject, status] = line.split('\t');
    s.requests++;
    bump(s.statuses, status);
    if (requestNo !== '1') continue;
    s.connections++;
    if (reused === 'r') s.resumedHandshakes++;
    else s.fullHandshakes++;
    bump(s.alpn, alpn === '-' || alpn === '' ? 'none' : alpn);
    bump(s.protocols, protocol);
    if (subject !== '-' && subject !== '') bump(s.clientSubjects, subject);
  }
  return s;
}
