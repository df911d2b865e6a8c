// Load generator and upstream server for benchmark/proxy.mjs, in C so that neither end of the
// measurement costs much CPU on a 2-core machine (the proxy in between is what is measured).
// Built at run time by proxy.mjs with `cc -O2`; loopback only.
//
//   proxy-load server <sets> <req> <reply>
//                                     <sets> sets of three ports on 127.0.0.1 (reply, echo, sink),
//                                     printed as one line "ports r e s r e s ..."; serves until
//                                     stdin closes
//   proxy-load short <port> <conc> <sessions> <req> <reply> <close|keep>
//                                     <sessions> short sessions, <conc> at a time: connect, write
//                                     <req> bytes, read <reply> bytes, then
//                                       close: read on to the server's end-of-stream, then close
//                                       keep:  close at once (the client closes first)
//                                     prints JSON
//   proxy-load bulk <port> <bytes>    one connection: an 8-byte length header then <bytes>,
//                                     waits for the sink's 8-byte ack; prints JSON
//   proxy-load failover <port> <rate> <seconds> <req> <reply> <kill_pid> <kill_at> <max_conc>
//                                     open loop (benchmark/groups.mjs): starts <rate> short
//                                     sessions a second (close mode) for <seconds>, at most
//                                     <max_conc> in flight; <kill_at> seconds in, sends SIGKILL
//                                     to <kill_pid> (0: none); then waits up to 6 s for the
//                                     sessions in flight. Prints JSON: counts of failed sessions
//                                     by kind and relative to the kill, a timeline, and the
//                                     CLOCK_MONOTONIC times of the start and the kill (the
//                                     clock Node's process.hrtime() reads, so that the parent
//                                     can place its own observations on the same time line)
//
// Reply port: reads <req> bytes, writes <reply> bytes, closes (the server closes first, so no
// connecting side is left with TIME_WAIT sockets: a connect() never has to search for a port).
// Echo port: every byte read is written back, for as long as the connection lasts, so one
// upstream connection may serve several sessions (a proxy that reuses upstream connections).
// Sink port: reads the 8-byte little-endian length, counts that many bytes, then writes the
// count back (8 bytes) as the ack; then the next transfer's header may follow on the same
// connection (a reused upstream), until end-of-stream.
//
// In keep mode the client closes first, so its side of each connection stays in TIME_WAIT for
// a minute. Linux reuses such a local port for the same destination only once its last
// timestamp is a second old (tcp_tw_reuse, on for loopback), and connect() prefers even ports:
// once about 14k fresh pairs to one destination are taken, each connect() searches the rest of
// the range and costs up to milliseconds. proxy.mjs therefore keeps keep-mode runs below that
// (a few thousand sessions a run, runs of one destination seconds apart).

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void cpu_used(double *user, double *sys) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  *user = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  *sys = ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// ------------------------------------------------------------------ server

enum { L_ECHO = 1, L_SINK = 2, C_ECHO = 3, C_SINK = 4, STDIN_TAG = 5, L_REPLY = 6, C_REPLY = 7 };

static int g_req = 100, g_reply = 100;
static char *g_replybuf;

#define BUF (256 * 1024)

typedef struct conn {
  int fd, kind;
  // echo: bytes read but not yet written back
  char *pend;
  size_t pend_off, pend_len;
  // sink
  unsigned char hdr[8];
  int hdr_got;
  uint64_t want, got;
} conn;

static int ep;
static char iobuf[BUF];

static int listen_on(int kind) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = loopback(0);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (listen(fd, 4096) < 0) die("listen");
  conn *c = calloc(1, sizeof *c);
  c->fd = fd;
  c->kind = kind;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  socklen_t len = sizeof a;
  getsockname(fd, (struct sockaddr *)&a, &len);
  return ntohs(a.sin_port);
}

static void conn_close(conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c->pend);
  free(c);
}

static void set_events(conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

// Writes the pending echo bytes; returns 0 when all written, 1 when blocked, -1 on error.
static int echo_flush(conn *c) {
  while (c->pend_off < c->pend_len) {
    ssize_t n = write(c->fd, c->pend + c->pend_off, c->pend_len - c->pend_off);
    if (n < 0) {
      if (errno == EAGAIN) return 1;
      return -1;
    }
    c->pend_off += n;
  }
  c->pend_off = c->pend_len = 0;
  return 0;
}

static void on_echo(conn *c, uint32_t events) {
  if (c->pend_len) {  // waiting for EPOLLOUT
    int r = echo_flush(c);
    if (r < 0) return conn_close(c);
    if (r == 0) set_events(c, EPOLLIN);
    return;
  }
  (void)events;
  for (;;) {
    ssize_t n = read(c->fd, iobuf, BUF);
    if (n == 0) return conn_close(c);
    if (n < 0) {
      if (errno == EAGAIN) return;
      return conn_close(c);
    }
    ssize_t w = write(c->fd, iobuf, n);
    if (w < 0 && errno != EAGAIN) return conn_close(c);
    if (w < 0) w = 0;
    if (w < n) {
      if (!c->pend) c->pend = malloc(BUF);
      memcpy(c->pend, iobuf + w, n - w);
      c->pend_off = 0;
      c->pend_len = n - w;
      set_events(c, EPOLLOUT);
      return;
    }
  }
}

static void on_reply(conn *c) {
  for (;;) {
    ssize_t n = read(c->fd, iobuf, BUF);
    if (n == 0) return conn_close(c);
    if (n < 0) {
      if (errno == EAGAIN) return;
      return conn_close(c);
    }
    c->got += n;
    if (c->got >= (uint64_t)g_req) {
      // small enough to fit the socket buffer at once; then the server closes first
      if (write(c->fd, g_replybuf, g_reply) != g_reply) {}
      return conn_close(c);
    }
  }
}

static void on_sink(conn *c) {
  for (;;) {
    ssize_t n = read(c->fd, iobuf, BUF);
    if (n == 0) return conn_close(c);
    if (n < 0) {
      if (errno == EAGAIN) return;
      return conn_close(c);
    }
    size_t off = 0;
    while (off < (size_t)n) {
      if (c->hdr_got < 8) {  // a transfer's length header
        c->hdr[c->hdr_got++] = iobuf[off++];
        if (c->hdr_got == 8) {
          c->want = 0;
          for (int i = 7; i >= 0; i--) c->want = (c->want << 8) | c->hdr[i];
          c->got = 0;
        }
        continue;
      }
      size_t take = n - off;
      if (take > c->want - c->got) take = c->want - c->got;
      c->got += take;
      off += take;
      if (c->got == c->want) {
        // the whole transfer: ack it; the connection may carry another one (a reused upstream)
        unsigned char ack[8];
        for (int i = 0; i < 8; i++) ack[i] = (c->got >> (8 * i)) & 0xff;
        if (write(c->fd, ack, 8) != 8) return conn_close(c);
        c->hdr_got = 0;
      }
    }
  }
}

static int serve(int sets, int req, int reply) {
  signal(SIGPIPE, SIG_IGN);
  g_req = req;
  g_reply = reply;
  g_replybuf = malloc(reply);
  memset(g_replybuf, 'r', reply);
  ep = epoll_create1(0);
  printf("ports");
  for (int i = 0; i < sets; i++) {
    int r = listen_on(L_REPLY);
    int e = listen_on(L_ECHO);
    int k = listen_on(L_SINK);
    printf(" %d %d %d", r, e, k);
  }
  printf("\n");
  conn stdin_conn = {.fd = 0, .kind = STDIN_TAG};
  struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &stdin_conn};
  epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev);
  fflush(stdout);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      if (c->kind == STDIN_TAG) {
        char b[64];
        ssize_t r = read(0, b, sizeof b);
        if (r <= 0) return 0;  // parent went away or closed our stdin
        continue;
      }
      if (c->kind == L_ECHO || c->kind == L_SINK || c->kind == L_REPLY) {
        for (;;) {
          int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK);
          if (fd < 0) break;
          int one = 1;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          conn *k = calloc(1, sizeof *k);
          k->fd = fd;
          k->kind = c->kind == L_ECHO ? C_ECHO : c->kind == L_SINK ? C_SINK : C_REPLY;
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = k};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      if (c->kind == C_ECHO) on_echo(c, evs[i].events);
      else if (c->kind == C_REPLY) on_reply(c);
      else on_sink(c);
    }
  }
}

// ------------------------------------------------------------------ short sessions

typedef struct slot {
  int fd, state;  // 1 connecting, 2 reading
  size_t got;
  double t0;
} slot;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int g_keep;  // keep mode: the client closes first

static int start_session(slot *s, int port) {
  struct sockaddr_in a = loopback(port);
  s->t0 = now_s();
  s->got = 0;
  s->state = 1;
  for (int tries = 0;; tries++) {
    s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s->fd < 0) die("socket");
    int one = 1;
    setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int r = connect(s->fd, (struct sockaddr *)&a, sizeof a);
    if (r == 0 || errno == EINPROGRESS) break;
    // no free local port for this destination yet (TIME_WAIT pairs too young): try again
    int again = errno == EADDRNOTAVAIL && tries < 1000;
    close(s->fd);
    if (!again) return -1;
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
  epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
  return 0;
}

static int run_short(int port, int conc, long total, int req, int reply, int keep) {
  signal(SIGPIPE, SIG_IGN);
  g_keep = keep;
  ep = epoll_create1(0);
  char *reqbuf = malloc(req);
  memset(reqbuf, 'q', req);
  double *lat = malloc(sizeof(double) * total);
  slot *slots = calloc(conc, sizeof(slot));
  long started = 0, done = 0, errors = 0;
  double t0 = now_s();
  for (int i = 0; i < conc && started < total; i++, started++)
    if (start_session(&slots[i], port) < 0) die("connect");
  struct epoll_event evs[256];
  while (done < total) {
    int n = epoll_wait(ep, evs, 256, 10000);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    if (n == 0) {
      fprintf(stderr, "short: no progress for 10 s (%ld of %ld done)\n", done, total);
      return 1;
    }
    for (int i = 0; i < n; i++) {
      slot *s = evs[i].data.ptr;
      int fail = 0, finished = 0;
      if (s->state == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || (evs[i].events & (EPOLLERR | EPOLLHUP))) fail = 1;
        else if (write(s->fd, reqbuf, req) != req) fail = 1;
        else {
          s->state = 2;
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
          epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
        }
      } else {
        for (;;) {
          ssize_t r = read(s->fd, iobuf, BUF);
          if (r > 0) {
            s->got += r;
            if (s->got > (size_t)reply) {
              fail = 1;  // more than the reply
              break;
            }
            if (g_keep && s->got == (size_t)reply) {
              finished = 1;
              break;
            }
            continue;
          }
          if (r < 0 && errno == EAGAIN) break;
          // end-of-stream: the end of a session in close mode, if the whole reply came
          finished = r == 0 && !g_keep && s->got == (size_t)reply;
          fail = !finished;
          break;
        }
      }
      if (!fail && !finished) continue;
      close(s->fd);  // closing also removes it from the epoll set
      if (finished) lat[done++] = now_s() - s->t0;
      else errors++;
      if (errors > total) {
        fprintf(stderr, "short: too many failed sessions (%ld)\n", errors);
        return 1;
      }
      if (started < total || fail) {
        if (!fail) started++;
        if (start_session(s, port) < 0) die("connect");
      }
    }
  }
  double elapsed = now_s() - t0;
  double cu, cs;
  cpu_used(&cu, &cs);
  qsort(lat, done, sizeof(double), cmp_double);
  printf("{\"sessions\":%ld,\"errors\":%ld,\"elapsedSec\":%.6f,\"sessionsPerSec\":%.1f,"
         "\"latencyUs\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},"
         "\"clientCpuSec\":%.4f}\n",
         done, errors, elapsed, done / elapsed, lat[done / 2] * 1e6, lat[(long)(done * 0.99)] * 1e6,
         lat[done - 1] * 1e6, cu + cs);
  return 0;
}

// ------------------------------------------------------------------ bulk

static int run_bulk(int port, uint64_t bytes) {
  signal(SIGPIPE, SIG_IGN);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(port);
  double t0 = now_s();
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  unsigned char hdr[8];
  for (int i = 0; i < 8; i++) hdr[i] = (bytes >> (8 * i)) & 0xff;
  if (write(fd, hdr, 8) != 8) die("write header");
  memset(iobuf, 'b', BUF);
  uint64_t sent = 0;
  while (sent < bytes) {
    size_t chunk = bytes - sent < BUF ? bytes - sent : BUF;
    ssize_t n = write(fd, iobuf, chunk);
    if (n < 0) die("write");
    sent += n;
  }
  unsigned char ack[8];
  size_t got = 0;
  while (got < 8) {
    ssize_t n = read(fd, ack + got, 8 - got);
    if (n <= 0) {
      fprintf(stderr, "bulk: connection closed before the ack\n");
      return 1;
    }
    got += n;
  }
  double elapsed = now_s() - t0;
  uint64_t counted = 0;
  for (int i = 7; i >= 0; i--) counted = (counted << 8) | ack[i];
  close(fd);
  double cu, cs;
  cpu_used(&cu, &cs);
  printf("{\"bytes\":%llu,\"counted\":%llu,\"elapsedSec\":%.6f,\"MBps\":%.1f,\"clientCpuSec\":%.4f}\n",
         (unsigned long long)sent, (unsigned long long)counted, elapsed, sent / elapsed / 1e6, cu + cs);
  return counted == bytes ? 0 : 1;
}

// ------------------------------------------------------------------ failover (open loop)

// Open loop, so that every proxy is offered the same sessions at the same times whatever it
// does with them: a proxy that holds sessions (retrying a dead server) must not be offered
// fewer sessions, and so fewer chances to fail, than one that answers at once.

enum { F_CONNECT, F_RESET, F_EMPTY, F_SHORT, F_OVER, F_KINDS };
static const char *F_NAMES[F_KINDS] = {"connect", "reset", "empty", "short", "over"};

typedef struct fslot {
  int fd, state;  // 0 free, 1 connecting, 2 reading
  size_t got;
  double t0;
} fslot;

static int fstart(fslot *s, int port, double now) {
  struct sockaddr_in a = loopback(port);
  s->t0 = now;
  s->got = 0;
  s->state = 1;
  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (s->fd < 0) die("socket");
  int one = 1;
  setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int r = connect(s->fd, (struct sockaddr *)&a, sizeof a);
  if (r < 0 && errno != EINPROGRESS) return -1;  // refused at once: a connect failure
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = s};
  epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev);
  return 0;
}

static int run_failover(int port, double rate, double seconds, int req, int reply, int kill_pid, double kill_at,
                        int maxconc) {
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;  // a descriptor per session in flight
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)maxconc + 64) {
    rl.rlim_cur = rl.rlim_max < (rlim_t)maxconc + 64 ? rl.rlim_max : (rlim_t)maxconc + 64;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  ep = epoll_create1(0);
  char *reqbuf = malloc(req);
  memset(reqbuf, 'q', req);
  const double bucket = 0.25;
  int nb = (int)((seconds + 7) / bucket) + 1;
  long *tl_ok = calloc(nb, sizeof(long)), *tl_fail = calloc(nb, sizeof(long));
  long cap = (long)(rate * seconds) + 16;
  double *lat = malloc(sizeof(double) * cap);
  fslot *slots = calloc(maxconc, sizeof(fslot));
  int *freelist = malloc(sizeof(int) * maxconc), nfree = maxconc;
  for (int i = 0; i < maxconc; i++) freelist[i] = maxconc - 1 - i;
  long started = 0, ok = 0, failed = 0, skipped = 0, inflight = 0, kinds[F_KINDS] = {0};
  long failed_after_kill = 0, failed_started_after_kill = 0;
  double first_fail_end = -1, last_fail_end = -1, last_fail_start = -1;  // after the kill, s
  double t0 = now_s(), tkill = -1, end = t0 + seconds, drain_end = end + 6;
  struct epoll_event evs[256];

  // one session's end: ok or a failure of the given kind
  #define FINISH(s, kind, now)                                                   \
    do {                                                                         \
      close((s)->fd);                                                            \
      int b_ = (int)(((now) - t0) / bucket);                                     \
      if (b_ >= nb) b_ = nb - 1;                                                 \
      if ((kind) < 0) {                                                          \
        if (ok < cap) lat[ok] = (now) - (s)->t0;                                 \
        ok++;                                                                    \
        tl_ok[b_]++;                                                             \
      } else {                                                                   \
        failed++;                                                                \
        kinds[(kind)]++;                                                         \
        tl_fail[b_]++;                                                           \
        if (tkill >= 0) {                                                        \
          failed_after_kill++;                                                   \
          if ((s)->t0 >= tkill) failed_started_after_kill++;                     \
          if (first_fail_end < 0) first_fail_end = (now) - tkill;                \
          last_fail_end = (now) - tkill;                                         \
          if ((s)->t0 - tkill > last_fail_start) last_fail_start = (s)->t0 - tkill; \
        }                                                                        \
      }                                                                          \
      (s)->state = 0;                                                            \
      freelist[nfree++] = (int)((s) - slots);                                    \
      inflight--;                                                                \
    } while (0)

  for (;;) {
    double now = now_s();
    if (kill_pid > 0 && tkill < 0 && now >= t0 + kill_at) {
      kill(kill_pid, SIGKILL);
      tkill = now_s();
    }
    // every session due by now (the schedule is fixed: t0 + k / rate)
    while (t0 + started / rate < end && t0 + started / rate <= now) {
      started++;
      if (nfree == 0) {
        skipped++;
        continue;
      }
      fslot *s = &slots[freelist[--nfree]];
      inflight++;
      if (fstart(s, port, now) < 0) FINISH(s, F_CONNECT, now);
    }
    if (t0 + started / rate >= end && (inflight == 0 || now >= drain_end)) break;
    double next = t0 + started / rate < end ? t0 + started / rate : drain_end;
    if (kill_pid > 0 && tkill < 0 && t0 + kill_at < next) next = t0 + kill_at;
    // rounded up: a 0 ms wait would spin; sessions start up to 1 ms late, a few at once
    int timeout = (int)((next - now) * 1000) + 1;
    if (next <= now) timeout = 0;
    int n = epoll_wait(ep, evs, 256, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die("epoll_wait");
    now = now_s();
    for (int i = 0; i < n; i++) {
      fslot *s = evs[i].data.ptr;
      if (s->state == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || (evs[i].events & (EPOLLERR | EPOLLHUP))) {
          FINISH(s, F_CONNECT, now);
          continue;
        }
        if (write(s->fd, reqbuf, req) != req) {
          FINISH(s, F_RESET, now);
          continue;
        }
        s->state = 2;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
        epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
        continue;
      }
      for (;;) {
        ssize_t r = read(s->fd, iobuf, BUF);
        if (r > 0) {
          s->got += r;
          if (s->got > (size_t)reply) {
            FINISH(s, F_OVER, now);
            break;
          }
          continue;
        }
        if (r < 0 && errno == EAGAIN) break;
        if (r < 0) FINISH(s, F_RESET, now);
        else if (s->got == (size_t)reply) FINISH(s, -1, now);
        else FINISH(s, s->got == 0 ? F_EMPTY : F_SHORT, now);
        break;
      }
    }
  }
  double cu, cs;
  cpu_used(&cu, &cs);
  long nl = ok < cap ? ok : cap;
  qsort(lat, nl, sizeof(double), cmp_double);
  printf("{\"startMono\":%.6f,\"killMono\":", t0);
  if (tkill >= 0) printf("%.6f", tkill);
  else printf("null");
  printf(",\"rate\":%.1f,\"seconds\":%.3f,\"offered\":%ld,\"ok\":%ld,\"failed\":%ld,\"skipped\":%ld,\"unfinished\":%ld,",
         rate, seconds, started, ok, failed, skipped, inflight);
  printf("\"failedByKind\":{");
  for (int k = 0; k < F_KINDS; k++) printf("%s\"%s\":%ld", k ? "," : "", F_NAMES[k], kinds[k]);
  printf("},\"failedAfterKill\":%ld,\"failedStartedAfterKill\":%ld,", failed_after_kill, failed_started_after_kill);
  printf("\"firstFailureEndAfterKillMs\":%.1f,\"lastFailureEndAfterKillMs\":%.1f,\"lastFailedStartAfterKillMs\":%.1f,",
         first_fail_end < 0 ? -1 : first_fail_end * 1e3, last_fail_end < 0 ? -1 : last_fail_end * 1e3,
         last_fail_start < 0 ? -1 : last_fail_start * 1e3);
  printf("\"latencyUs\":{\"p50\":%.1f,\"p99\":%.1f,\"max\":%.1f},", nl ? lat[nl / 2] * 1e6 : 0,
         nl ? lat[(long)(nl * 0.99)] * 1e6 : 0, nl ? lat[nl - 1] * 1e6 : 0);
  int last = nb - 1;
  while (last > 0 && !tl_ok[last] && !tl_fail[last]) last--;
  printf("\"timeline\":{\"bucketMs\":%d,\"ok\":[", (int)(bucket * 1000));
  for (int b = 0; b <= last; b++) printf("%s%ld", b ? "," : "", tl_ok[b]);
  printf("],\"failed\":[");
  for (int b = 0; b <= last; b++) printf("%s%ld", b ? "," : "", tl_fail[b]);
  printf("]},\"clientCpuSec\":%.4f}\n", cu + cs);
  #undef FINISH
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "server")) return serve(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]));
  if (argc == 8 && !strcmp(argv[1], "short"))
    return run_short(atoi(argv[2]), atoi(argv[3]), atol(argv[4]), atoi(argv[5]), atoi(argv[6]), !strcmp(argv[7], "keep"));
  if (argc == 4 && !strcmp(argv[1], "bulk")) return run_bulk(atoi(argv[2]), strtoull(argv[3], NULL, 10));
  if (argc == 10 && !strcmp(argv[1], "failover"))
    return run_failover(atoi(argv[2]), atof(argv[3]), atof(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]),
                        atof(argv[8]), atoi(argv[9]));
  fprintf(stderr, "usage: proxy-load server <sets> <req> <reply> | short <port> <conc> <sessions> <req> <reply> <close|keep> | bulk <port> <bytes> | failover <port> <rate> <seconds> <req> <reply> <kill_pid> <kill_at> <max_conc>\n");
  return 2;
}
