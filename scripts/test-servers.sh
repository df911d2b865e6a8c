#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis servers for the tests that need real ones
# (__test__/resource-*.test.mjs) and for the `resource` benchmark.
#
#   scripts/test-servers.sh available pg|redis     exit 0 if the binaries are here, else print why, exit 1
#   scripts/test-servers.sh versions               print the versions of the servers found
#   scripts/test-servers.sh start [pg] [redis] [--owner PID]
#                                                  start them (both by default); print on stdout
#                                                  export BERTH_TEST_PG=postgres://berth@127.0.0.1:PORT/postgres
#                                                  export BERTH_TEST_REDIS=redis://127.0.0.1:PORT
#                                                  export BERTH_TEST_SERVERS_DIR=/tmp/berth-servers.XXXXXX
#   scripts/test-servers.sh stop DIR               stop what `start` started in DIR and remove DIR
#                                                  (idempotent)
#
# Both listen on 127.0.0.1 only, on free ports, with every file (data, sockets, logs) in one
# temporary directory. PostgreSQL refuses to run as root, so as root its commands run as the
# `postgres` user (Debian's package creates it). The cluster is a test cluster: trust
# authentication on loopback, fsync off. With --owner PID a detached watchdog stops the servers
# once process PID has gone, should the caller die without calling `stop`.
#
# Binaries: PostgreSQL from $BERTH_PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian),
# else initdb on PATH; redis-server and redis-cli on PATH.
set -euo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
PG_USER=berth # the cluster's superuser (a role name, not an OS user)

log() { printf 'test-servers: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

pg_bindir() {
  if [ -n "${BERTH_PG_BIN:-}" ]; then
    [ -x "$BERTH_PG_BIN/initdb" ] && { echo "$BERTH_PG_BIN"; return 0; }
    return 1
  fi
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
    return 0
  fi
  return 1
}

# Why `kind` cannot be started here, or nothing (and status 0) if it can.
unavailable_reason() {
  case "$1" in
    pg)
      pg_bindir >/dev/null || { echo "PostgreSQL binaries not found (no initdb/pg_ctl in /usr/lib/postgresql/*/bin, \$BERTH_PG_BIN or PATH); install Debian's 'postgresql' package"; return 1; }
      if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "running as root, and there is no 'postgres' user to run PostgreSQL as"
        return 1
      fi
      ;;
    redis)
      command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 ||
        { echo "redis-server/redis-cli not found on PATH; install Debian's 'redis-server' package"; return 1; }
      ;;
    *) echo "unknown server kind '$1' (pg or redis)"; return 1 ;;
  esac
}

# Run a command as the user PostgreSQL runs as: ourselves, or `postgres` when we are root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    if command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"
    else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
    fi
  else
    "$@"
  fi
}

free_port() {
  node -e 'const s = require("net").createServer(); s.listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });'
}

start_pg() { # $1 = dir; prints the URL
  local dir=$1 bin port attempt
  bin=$(pg_bindir)
  mkdir -p "$dir/pg"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/pg"; fi
  as_pg "$bin/initdb" -D "$dir/pg/data" -U "$PG_USER" --auth=trust -E UTF8 --locale=C -N \
    >"$dir/pg/initdb.log" 2>&1 </dev/null ||
    { cat "$dir/pg/initdb.log" >&2; die "initdb failed"; }
  for attempt in 1 2 3; do
    port=$(free_port)
    # -w: return once the server accepts connections. The server's own output goes to its log
    # file; nothing keeps our stdout or stderr open (callers read them to the end).
    if as_pg "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >"$dir/pg/pg_ctl.log" 2>&1 </dev/null; then
      echo "postgres://$PG_USER@127.0.0.1:$port/postgres"
      return 0
    fi
    log "PostgreSQL did not start on port $port (attempt $attempt):"
    if [ -s "$dir/pg/server.log" ]; then tail -5 "$dir/pg/server.log" >&2; fi
  done
  die "PostgreSQL did not start"
}

start_redis() { # $1 = dir; prints the URL
  local dir=$1 port attempt i
  mkdir -p "$dir/redis"
  for attempt in 1 2 3; do
    port=$(free_port)
    redis-server --bind 127.0.0.1 --port "$port" --protected-mode yes --dir "$dir/redis" \
      --daemonize yes --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/server.log" \
      --save '' --appendonly no \
      </dev/null >"$dir/redis/start.log" 2>&1 || true
    for i in $(seq 1 100); do
      if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
        echo "redis://127.0.0.1:$port"
        return 0
      fi
      [ -f "$dir/redis/redis.pid" ] || [ "$i" -lt 20 ] || break # never wrote its pid: gave up
      sleep 0.1
    done
    log "Redis did not start on port $port (attempt $attempt):"
    for f in "$dir/redis/server.log" "$dir/redis/start.log"; do
      if [ -s "$f" ]; then tail -5 "$f" >&2; fi
    done
    stop_redis "$dir"
  done
  die "Redis did not start"
}

stop_pg() {
  local dir=$1 bin
  [ -f "$dir/pg/data/postmaster.pid" ] || return 0
  bin=$(pg_bindir) || { log "cannot find pg_ctl to stop $dir/pg/data"; return 1; }
  as_pg "$bin/pg_ctl" -D "$dir/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 </dev/null ||
    log "pg_ctl stop failed for $dir/pg/data"
}

stop_redis() {
  local dir=$1 pid i
  [ -f "$dir/redis/redis.pid" ] || return 0
  pid=$(cat "$dir/redis/redis.pid" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  # Only a redis-server that this directory started (the pid file names it).
  if [ -r "/proc/$pid/cmdline" ] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q redis-server; then
    return 0
  fi
  kill "$pid" 2>/dev/null || return 0
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}

cmd_stop() {
  local dir=${1:-}
  [ -n "$dir" ] || die "usage: $0 stop DIR"
  [ -d "$dir" ] || return 0
  [ -f "$dir/.berth-test-servers" ] || die "$dir was not made by $0 start; not touching it"
  stop_pg "$dir"
  stop_redis "$dir"
  rm -rf "$dir"
}

cmd_start() {
  local kinds=() owner="" kind reason dir url
  while [ $# -gt 0 ]; do
    case "$1" in
      --owner) owner=$2; shift 2 ;;
      pg|redis) kinds+=("$1"); shift ;;
      *) die "unknown argument '$1'" ;;
    esac
  done
  [ ${#kinds[@]} -gt 0 ] || kinds=(pg redis)
  for kind in "${kinds[@]}"; do
    reason=$(unavailable_reason "$kind") || die "$reason"
  done
  dir=$(mktemp -d "${TMPDIR:-/tmp}/berth-servers.XXXXXX")
  touch "$dir/.berth-test-servers"
  chmod 755 "$dir" # the postgres user must reach its directory inside
  trap 'cmd_stop "$dir"' ERR
  for kind in "${kinds[@]}"; do
    case "$kind" in
      pg) url=$(start_pg "$dir"); echo "export BERTH_TEST_PG=$url" ;;
      redis) url=$(start_redis "$dir"); echo "export BERTH_TEST_REDIS=$url" ;;
    esac
    log "$kind listening at $url (files in $dir)"
  done
  trap - ERR
  echo "export BERTH_TEST_SERVERS_DIR=$dir"
  if [ -n "$owner" ]; then
    setsid bash -c 'while kill -0 "$1" 2>/dev/null && [ -d "$2" ]; do sleep 1; done; exec bash "$3" stop "$2"' \
      watchdog "$owner" "$dir" "$SELF" </dev/null >/dev/null 2>&1 &
  fi
}

case "${1:-}" in
  available)
    reason=$(unavailable_reason "${2:-}") || { echo "$reason"; exit 1; }
    ;;
  versions)
    if bin=$(pg_bindir); then "$bin/postgres" --version; else echo "postgres: not found"; fi
    if command -v redis-server >/dev/null 2>&1; then redis-server --version; else echo "redis-server: not found"; fi
    ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) die "usage: $0 available pg|redis | versions | start [pg] [redis] [--owner PID] | stop DIR" ;;
esac
