// The listening side of benchmark/probe.mjs: one helper process holding thousands of TCP
// listeners on 127.0.0.1 (one descriptor per port, in no contender's process). The prober closes
// (or resets) each connection first, as against a real server: any TIME_WAIT is on its side.
//
// Two implementations of the same helper:
//   - C (preferred): the small program in LISTENER_C below, built once with `cc -O2` into the
//     temporary directory (keyed by a hash of its source). It accepts nothing while a contender
//     runs, and drains the accept queues between runs: so the helper takes no CPU from the
//     contender being measured, and does not contend with the kernel for the listening sockets
//     (a helper that accepts as fast as it can, in C or in Node, slowed nmap's scans by 10-40% on
//     2 cores).
//   - Node (fallback when no C compiler): this file run as a script (`node probe-listeners.mjs`,
//     IPC): net.createServer() per port, accepting as connections come, each socket destroyed
//     on 'end' (errors ignored).
//
// startListeners(host, ports) -> { pid, impl, listening, failed, nofile, accepted(), stop() };
// accepted() resolves to the number of connections accepted so far (the C helper drains first).
// Both run under `ulimit -n` raised to the number of ports plus a margin (up to the hard limit).

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const BACKLOG = 511;

// ---------------------------------------------------------------- the C helper

// Usage: probe-listeners <host> <backlog>; ports on stdin, one a line, then an empty line.
// Prints "ready <listening> <failed>" then one "failed <port> <errno name>" line per failure,
// then "limits <soft> <hard>". Afterwards it sleeps in a blocking read of stdin: each "d"
// drains every listener's accept queue (accept4 + close until EAGAIN) and is answered with
// "accepted <total so far>"; end of stdin -> exit. So while a contender runs, the helper does
// nothing at all: the kernel completes each handshake (the probe sees the port open) and queues
// the connection (backlog 511 per port, one connection per port per run); probe.mjs drains the
// queues between runs. The prober closes (or resets) first, as against a real server.
const LISTENER_C = String.raw`
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *errname(int e) {
  switch (e) {
    case EADDRINUSE: return "EADDRINUSE";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EACCES: return "EACCES";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    default: return "EOTHER";
  }
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: %s host backlog < ports\n", argv[0]); return 2; }
  struct in_addr addr;
  if (inet_pton(AF_INET, argv[1], &addr) != 1) { fprintf(stderr, "bad host %s\n", argv[1]); return 2; }
  int backlog = atoi(argv[2]);
  int n = 0, cap = 1024, failedn = 0, fcap = 1024;
  int *fds = malloc(sizeof(int) * cap);
  int *failed = malloc(sizeof(int) * 2 * fcap);
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    if (line[0] == '\n') break;
    int port = atoi(line);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int err = 0;
    if (fd < 0) err = errno;
    else {
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr = addr };
      if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, backlog) < 0) { err = errno; close(fd); }
    }
    if (err) {
      if (failedn == fcap) { fcap *= 2; failed = realloc(failed, sizeof(int) * 2 * fcap); }
      failed[2 * failedn] = port; failed[2 * failedn + 1] = err; failedn++;
    } else {
      if (n == cap) { cap *= 2; fds = realloc(fds, sizeof(int) * cap); }
      fds[n++] = fd;
    }
  }
  struct rlimit rl; getrlimit(RLIMIT_NOFILE, &rl);
  printf("ready %d %d\n", n, failedn);
  for (int i = 0; i < failedn; i++) printf("failed %d %s\n", failed[2 * i], errname(failed[2 * i + 1]));
  printf("limits %llu %llu\n", (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
  fflush(stdout);
  // Blocking reads of commands from stdin; the listeners are only touched on "d".
  unsigned long long accepted = 0;
  int ch;
  while ((ch = getchar()) != EOF) {
    if (ch != 'd') continue;
    for (int i = 0; i < n; i++) {
      for (;;) {
        int c = accept4(fds[i], NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) break; // EAGAIN
        close(c);
        accepted++;
      }
    }
    printf("accepted %llu\n", accepted);
    fflush(stdout);
  }
  return 0;
}
`;

function buildC() {
  const cc = process.env.CC ?? 'cc';
  const hash = crypto.createHash('sha1').update(LISTENER_C).digest('hex').slice(0, 12);
  const bin = path.join(os.tmpdir(), `berth-probe-listeners-${hash}`);
  if (fs.existsSync(bin)) return { bin };
  const src = `${bin}.c`;
  fs.writeFileSync(src, LISTENER_C);
  const r = spawnSync(cc, ['-O2', '-Wall', '-o', `${bin}.tmp`, src], { encoding: 'utf8' });
  fs.rmSync(src, { force: true });
  if (r.error || r.status !== 0) return { why: `${cc} failed: ${r.error?.message ?? r.stderr.trim().slice(0, 500)}` };
  fs.renameSync(`${bin}.tmp`, bin);
  return { bin };
}

// ---------------------------------------------------------------- process plumbing

const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/**
 * spawn() under `ulimit -n` raised to `want` descriptors (or to the hard limit if lower): the
 * listener process needs one per listening port, a prober one per probe in flight.
 */
export function spawnWithNofile(want, cmd, args, opts) {
  const script = 'n="$1"; shift; h=$(ulimit -Hn); if [ "$h" != unlimited ] && [ "$h" -lt "$n" ]; then n="$h"; fi; ulimit -n "$n" 2>/dev/null; exec "$@"';
  const child = spawn('sh', ['-c', script, 'sh', String(want), cmd, ...args], opts);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function lineReader(stream) {
  let buf = '';
  const waiting = [];
  const lines = [];
  stream.setEncoding('utf8').on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (waiting.length) waiting.shift().resolve(l);
      else lines.push(l);
    }
  });
  stream.on('close', () => {
    for (const w of waiting.splice(0)) w.reject(new Error('probe listeners: the helper exited'));
  });
  return () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((resolve, reject) => waiting.push({ resolve, reject })));
}

async function startC(bin, host, ports) {
  const child = spawnWithNofile(ports.length + 2048, bin, [host, String(BACKLOG)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const next = lineReader(child.stdout);
  child.stdin.write(ports.join('\n') + '\n\n');
  const [, nListening, nFailed] = (await next()).split(' ').map(Number);
  const failed = [];
  for (let i = 0; i < nFailed; i++) {
    const [, port, code] = (await next()).split(' ');
    failed.push({ port: Number(port), code });
  }
  const [, soft, hard] = (await next()).split(' ');
  const failedSet = new Set(failed.map((f) => f.port));
  const listening = ports.filter((p) => !failedSet.has(p));
  if (listening.length !== nListening) throw new Error('probe listeners: inconsistent report from the C helper');
  let queue = Promise.resolve();
  return {
    pid: child.pid,
    impl: 'C: accepts nothing during a run (the kernel completes the handshakes and queues them), drains the queues between runs',
    listening,
    failed,
    nofile: { soft: Number(soft), hard: Number(hard) },
    accepted: () =>
      (queue = queue.then(async () => {
        child.stdin.write('d\n');
        return Number((await next()).split(' ')[1]);
      })),
    stop: async () => {
      const exited = new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      child.stdin.end();
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      child.kill();
    },
  };
}

async function startNode(host, ports) {
  const child = spawnWithNofile(ports.length + 2048, process.execPath, [SELF], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waitFor = (cmd) =>
    new Promise((resolve, reject) => {
      const onMsg = (m) => {
        if (m.cmd === cmd) {
          child.off('message', onMsg);
          child.off('exit', onExit);
          resolve(m);
        }
      };
      const onExit = (code) => reject(new Error(`probe listeners exited (${code})`));
      child.on('message', onMsg);
      child.once('exit', onExit);
    });
  const ready = waitFor('listening');
  child.send({ cmd: 'listen', host, ports });
  const m = await ready;
  let queue = Promise.resolve();
  return {
    pid: child.pid,
    impl: "Node (net.createServer; destroy on 'end')",
    listening: m.listening,
    failed: m.failed,
    nofile: m.nofile,
    accepted: () =>
      (queue = queue.then(async () => {
        const s = waitFor('stats');
        child.send({ cmd: 'stats' });
        return (await s).accepted;
      })),
    stop: async () => {
      const exited = new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      child.send({ cmd: 'close' });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      child.kill();
    },
  };
}

/** Starts the helper (C if it builds, else Node; BENCH_PROBE_LISTENERS=node forces Node). */
export async function startListeners(host, ports) {
  let note = null;
  if (process.env.BENCH_PROBE_LISTENERS !== 'node') {
    const c = buildC();
    if (c.bin) return startC(c.bin, host, ports);
    note = `C listener helper not built (${c.why}): using the Node one`;
  }
  const l = await startNode(host, ports);
  l.note = note;
  return l;
}

// ---------------------------------------------------------------- the Node helper (child side)

function nofileLimit() {
  try {
    const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
    const [soft, hard] = line.trim().split(/\s+/).slice(3, 5);
    return { soft: Number(soft) || soft, hard: Number(hard) || hard };
  } catch {
    return null;
  }
}

function nodeChild() {
  const servers = [];
  let accepted = 0;
  const onConnection = (socket) => {
    accepted++;
    socket.on('error', () => {}); // ECONNRESET from a prober that resets (SO_LINGER 0)
    socket.on('end', () => socket.destroy());
    socket.resume();
  };
  const listenOne = (host, port) =>
    new Promise((resolve) => {
      const server = net.createServer(onConnection);
      server.once('error', (err) => resolve({ port, code: err.code ?? String(err) }));
      server.listen({ host, port, backlog: BACKLOG, exclusive: true }, () => {
        server.removeAllListeners('error');
        server.on('error', () => {});
        servers.push(server);
        resolve(null);
      });
    });
  process.on('message', async (m) => {
    if (m.cmd === 'listen') {
      const failed = [];
      const listening = [];
      const CHUNK = 500; // listen() calls in flight at once
      for (let i = 0; i < m.ports.length; i += CHUNK) {
        const chunk = m.ports.slice(i, i + CHUNK);
        const res = await Promise.all(chunk.map((p) => listenOne(m.host, p)));
        res.forEach((r, j) => (r ? failed.push(r) : listening.push(chunk[j])));
      }
      process.send({ cmd: 'listening', listening, failed, nofile: nofileLimit() });
    } else if (m.cmd === 'stats') {
      process.send({ cmd: 'stats', accepted });
    } else if (m.cmd === 'close') {
      for (const s of servers) s.close();
      process.exit(0);
    }
  });
  process.on('disconnect', () => process.exit(0));
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) nodeChild();
