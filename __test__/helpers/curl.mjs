// Real clients for the proxy tests: curl run as a child process, and a Node server listening
// on a free loopback port until the test ends.
import { execFile } from 'node:child_process';

export const CURL = '/usr/bin/curl';

/** Runs curl; resolves with { code, killed, stdout, stderr } (never rejects; 20 s hang guard). */
export function curl(args) {
  return new Promise((resolve) => {
    execFile(CURL, args, { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (error.code ?? error.signal ?? 'error') : 0, killed: error?.killed ?? false, stdout, stderr });
    });
  });
}

/** Listens on 127.0.0.1 (any free port), closed with its connections in t.teardown; resolves to the port. */
export function listen(t, server) {
  t.teardown(() => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}
