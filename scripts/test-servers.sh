#!/usr/bin/env bash
# Throwaway PostgreSQL, Redis and MongoDB-protocol (FerretDB) servers for the tests that need
# real ones (__test__/resource-*.test.mjs) and for the `resource` benchmark.
#
#   scripts/test-servers.sh available pg|redis|mongo
#                                                  exit 0 if it can start here, else print why, exit 1
#   scripts/test-servers.sh build mongo            build FerretDB into target/ferretdb/ (once; a no-op
#                                                  when it is there)
#   scripts/test-servers.sh versions [pg] [redis] [mongo]
#                                                  print the versions of the servers found (all by default)
#   scripts/test-servers.sh start [pg] [redis] [mongo] [--owner PID]
#                                                  start them (pg and redis by default); print on stdout
#                                                  export BERTH_TEST_PG=postgres://berth@127.0.0.1:PORT/postgres
#                                                  export BERTH_TEST_PG_CA=DIR/pg/tls/ca.crt
#                                                  export BERTH_TEST_REDIS=redis://127.0.0.1:PORT
#                                                  export BERTH_TEST_MONGO=mongodb://127.0.0.1:PORT/
#                                                  export BERTH_TEST_SERVERS_DIR=/tmp/berth-servers.XXXXXX
#   scripts/test-servers.sh restart mongo DIR      start FerretDB again in DIR (stopped or killed), on the
#                                                  same port, with its data; prints the URL
#   scripts/test-servers.sh stop DIR               stop what `start` started in DIR and remove DIR
#                                                  (idempotent)
#
# All listen on 127.0.0.1 only, on free ports, with every file (data, sockets, logs) in one
# temporary directory. PostgreSQL refuses to run as root, so as root its commands run as the
# `postgres` user (Debian's package creates it). The cluster is a test cluster: trust
# authentication on loopback, fsync off; it accepts plaintext and TLS on the same port (ssl=on,
# a server certificate for 127.0.0.1 and localhost signed by a private CA made with openssl at
# start; BERTH_TEST_PG_CA is that CA's certificate). With --owner PID a detached watchdog stops
# the servers once process PID has gone, should the caller die without calling `stop`.
#
# Binaries: PostgreSQL from $BERTH_PG_BIN, else the newest /usr/lib/postgresql/*/bin (Debian),
# else initdb on PATH; openssl on PATH (the TLS certificates); redis-server and redis-cli on
# PATH. MongoDB: Debian packages no MongoDB server, so `mongo` is FerretDB (the MongoDB wire
# protocol over SQLite), built with Go from the Go module proxy (/work/shared/RECIPES.md) and
# cached in target/ferretdb/ (or $BERTH_FERRETDB_DIR), so it is built once per checkout.
set -euo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
ROOT="$(dirname "$(dirname "$SELF")")"
PG_USER=berth # the cluster's superuser (a role name, not an OS user)
FERRETDB_VERSION=v1.24.2
FERRETDB_DIR=${BERTH_FERRETDB_DIR:-$ROOT/target/ferretdb}
FERRETDB_BIN=$FERRETDB_DIR/ferretdb-$FERRETDB_VERSION # the version in the name: a bump rebuilds

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
      command -v openssl >/dev/null 2>&1 ||
        { echo "openssl not found on PATH (it makes the cluster's TLS certificates); install Debian's 'openssl' package"; return 1; }
      ;;
    redis)
      command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 ||
        { echo "redis-server/redis-cli not found on PATH; install Debian's 'redis-server' package"; return 1; }
      ;;
    mongo)
      [ -x "$FERRETDB_BIN" ] && return 0
      command -v go >/dev/null 2>&1 ||
        { echo "FerretDB is not built ($FERRETDB_BIN) and Go is not on PATH to build it; install Go (https://go.dev/dl/), then run scripts/test-servers.sh build mongo"; return 1; }
      echo "FerretDB is not built yet ($FERRETDB_BIN); run scripts/test-servers.sh build mongo (Go and the Go module proxy, ~2 min once)"
      return 1
      ;;
    *) echo "unknown server kind '$1' (pg, redis or mongo)"; return 1 ;;
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

# The cluster's TLS files in $1/pg/tls: a private CA (ca.crt, printed as BERTH_TEST_PG_CA) and a
# server certificate for 127.0.0.1 and localhost signed by it. Made fresh at each start: nothing
# checked in, nothing that expires in the repository.
make_pg_certs() {
  local tls=$1/pg/tls
  mkdir -p "$tls"
  (
    cd "$tls"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
      -subj "/CN=berth test CA" -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign -keyout ca.key -out ca.crt
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=localhost" -keyout server.key -out server.csr
    printf '%s\n' 'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature,keyEncipherment' \
      'extendedKeyUsage=serverAuth' 'subjectAltName=IP:127.0.0.1,DNS:localhost' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile server.ext -out server.crt
    rm -f ca.key server.csr ca.srl # the CA signs nothing else
    chmod 600 server.key # PostgreSQL refuses a key others can read
  ) >"$1/pg/openssl.log" 2>&1 || { cat "$1/pg/openssl.log" >&2; die "openssl failed to make the TLS certificates"; }
  chmod 644 "$tls/ca.crt"
  if [ "$(id -u)" = 0 ]; then chown -R postgres: "$tls"; fi
}

start_pg() { # $1 = dir; prints the URL
  local dir=$1 bin port attempt
  bin=$(pg_bindir)
  mkdir -p "$dir/pg"
  make_pg_certs "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir/pg"; fi
  as_pg "$bin/initdb" -D "$dir/pg/data" -U "$PG_USER" --auth=trust -E UTF8 --locale=C -N \
    >"$dir/pg/initdb.log" 2>&1 </dev/null ||
    { cat "$dir/pg/initdb.log" >&2; die "initdb failed"; }
  for attempt in 1 2 3; do
    port=$(free_port)
    # -w: return once the server accepts connections. The server's own output goes to its log
    # file; nothing keeps our stdout or stderr open (callers read them to the end).
    if as_pg "$bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c ssl=on -c ssl_cert_file=$dir/pg/tls/server.crt -c ssl_key_file=$dir/pg/tls/server.key" \
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

# FerretDB from the Go module proxy, as /work/shared/RECIPES.md does it: `go install` of the
# module builds a binary that panics at start (the module's build/version/version.txt is
# empty), so build from a writable copy with that file written. Built into a temporary name and
# renamed, so an interrupted build never leaves a half-written binary where `available` looks.
build_mongo() {
  [ -x "$FERRETDB_BIN" ] && return 0
  command -v go >/dev/null 2>&1 ||
    die "Go is not on PATH: it builds FerretDB, the MongoDB-protocol server of the tests (https://go.dev/dl/)"
  local moddir work
  log "building FerretDB $FERRETDB_VERSION into $FERRETDB_DIR (once; ~2 min)"
  moddir=$(go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [ -n "$moddir" ] && [ -d "$moddir" ] || die "go mod download of FerretDB $FERRETDB_VERSION gave no module directory"
  mkdir -p "$FERRETDB_DIR"
  work=$(mktemp -d "$FERRETDB_DIR/build.XXXXXX")
  FERRETDB_WORK=$work
  trap 'rm -rf "$FERRETDB_WORK"' EXIT # interrupted (e.g. by a timeout): no half build left
  cp -r "$moddir" "$work/src"
  chmod -R u+w "$work/src"
  echo "$FERRETDB_VERSION" >"$work/src/build/version/version.txt"
  if ! (cd "$work/src" && go build -o "$work/ferretdb" ./cmd/ferretdb) >&2; then
    rm -rf "$work"
    die "go build of FerretDB failed"
  fi
  mv "$work/ferretdb" "$FERRETDB_BIN"
  rm -rf "$work"
  log "built $FERRETDB_BIN"
}

# True once something accepts TCP connections on 127.0.0.1:$1.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start_mongo() { # $1 = dir, $2 = port (optional: a free one); prints the URL
  local dir=$1 fixed=${2:-} port attempt i pid
  build_mongo
  mkdir -p "$dir/mongo/data"
  for attempt in 1 2 3; do
    port=${fixed:-$(free_port)}
    # SQLite handler (no other server needed), loopback only, no telemetry, no debug HTTP
    # listener (its default port would clash between two instances). setsid: out of the
    # caller's process group; nothing keeps our stdout or stderr open.
    setsid "$FERRETDB_BIN" --handler=sqlite --sqlite-url="file:$dir/mongo/data/" \
      --listen-addr="127.0.0.1:$port" --state-dir="$dir/mongo" --debug-addr=- \
      --telemetry=disable --log-level=warn \
      </dev/null >>"$dir/mongo/server.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/mongo/ferretdb.pid"
    echo "$port" >"$dir/mongo/port"
    for i in $(seq 1 200); do
      if port_open "$port"; then
        echo "mongodb://127.0.0.1:$port/"
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break # exited: the port was taken, or worse
      sleep 0.1
    done
    log "FerretDB did not start on port $port (attempt $attempt):"
    if [ -s "$dir/mongo/server.log" ]; then tail -5 "$dir/mongo/server.log" >&2; fi
    stop_mongo "$dir"
  done
  die "FerretDB did not start"
}

# FerretDB again in `dir`, on the port it had and with its data, after it was stopped or killed
# (the tests kill it to see what clients do when their server goes away). Prints the URL.
cmd_restart() {
  local kind=${1:-} dir=${2:-}
  [ "$kind" = mongo ] && [ -n "$dir" ] || die "usage: $0 restart mongo DIR"
  [ -f "$dir/.berth-test-servers" ] && [ -f "$dir/mongo/port" ] || die "$dir has no FerretDB started by $0 start mongo"
  stop_mongo "$dir"
  start_mongo "$dir" "$(cat "$dir/mongo/port")"
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

stop_mongo() {
  local dir=$1 pid i
  [ -f "$dir/mongo/ferretdb.pid" ] || return 0
  pid=$(cat "$dir/mongo/ferretdb.pid" 2>/dev/null || true)
  rm -f "$dir/mongo/ferretdb.pid"
  [ -n "$pid" ] || return 0
  # Only the FerretDB this directory started (its command line names the directory).
  if [ -r "/proc/$pid/cmdline" ] && ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/mongo"; then
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
  stop_mongo "$dir"
  rm -rf "$dir"
}

cmd_start() {
  local kinds=() owner="" kind reason dir url
  while [ $# -gt 0 ]; do
    case "$1" in
      --owner) owner=$2; shift 2 ;;
      pg|redis|mongo) kinds+=("$1"); shift ;;
      *) die "unknown argument '$1'" ;;
    esac
  done
  [ ${#kinds[@]} -gt 0 ] || kinds=(pg redis)
  for kind in "${kinds[@]}"; do
    # mongo: start builds FerretDB when it is missing and Go is here.
    if [ "$kind" = mongo ] && ! [ -x "$FERRETDB_BIN" ] && command -v go >/dev/null 2>&1; then continue; fi
    reason=$(unavailable_reason "$kind") || die "$reason"
  done
  dir=$(mktemp -d "${TMPDIR:-/tmp}/berth-servers.XXXXXX")
  touch "$dir/.berth-test-servers"
  chmod 755 "$dir" # the postgres user must reach its directory inside
  trap 'cmd_stop "$dir"' ERR
  for kind in "${kinds[@]}"; do
    case "$kind" in
      pg) url=$(start_pg "$dir"); echo "export BERTH_TEST_PG=$url"; echo "export BERTH_TEST_PG_CA=$dir/pg/tls/ca.crt" ;;
      redis) url=$(start_redis "$dir"); echo "export BERTH_TEST_REDIS=$url" ;;
      mongo) url=$(start_mongo "$dir"); echo "export BERTH_TEST_MONGO=$url" ;;
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
  build)
    [ "${2:-}" = mongo ] || die "usage: $0 build mongo"
    build_mongo
    ;;
  versions)
    shift
    [ $# -gt 0 ] || set -- pg redis mongo
    for kind in "$@"; do
      case "$kind" in
        pg) if bin=$(pg_bindir); then "$bin/postgres" --version; else echo "postgres: not found"; fi ;;
        redis) if command -v redis-server >/dev/null 2>&1; then redis-server --version; else echo "redis-server: not found"; fi ;;
        mongo)
          if [ -x "$FERRETDB_BIN" ]; then
            echo "FerretDB $FERRETDB_VERSION ($FERRETDB_BIN; MongoDB wire protocol, SQLite handler)"
          else
            echo "FerretDB $FERRETDB_VERSION: not built ($(unavailable_reason mongo || true))"
          fi
          ;;
        *) die "unknown server kind '$kind' (pg, redis or mongo)" ;;
      esac
    done
    ;;
  start) shift; cmd_start "$@" ;;
  restart) shift; cmd_restart "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  *) die "usage: $0 available pg|redis|mongo | build mongo | versions [pg] [redis] [mongo] | start [pg] [redis] [mongo] [--owner PID] | restart mongo DIR | stop DIR" ;;
esac
