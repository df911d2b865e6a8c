#!/usr/bin/env bash
# The install test: what `npm install berth-pool` gives a user without Rust. Installs the tarballs
# from pack/ (npm run pack:local) into an empty temporary project with cargo and rustc off PATH,
# then requires berth (CommonJS) and imports it (ESM) there: each acquires a connection to a
# loopback echo server, round-trips bytes, releases it and prints pool.stats().
#
# The platform packages are not in the registry (the other five never are, here). npm resolves
# every optionalDependency of berth, gets a 404 (or, --offline, ENOTCACHED) for each and skips
# it: an optional dependency that cannot be fetched is not an error. berth-pool-linux-x64-gnu is
# installed from its tarball in the same `npm install`, as a direct dependency of the project;
# it is hoisted to node_modules/berth-pool-linux-x64-gnu, where berth's loader finds it, and its
# version satisfies berth's optionalDependency, so npm does not fetch it. `--offline` and an
# empty cache prove that nothing comes from the network.
#
# Also checks that berth alone (no platform package installed, as with --omit=optional) fails
# with the loader's message naming the platform and how to build from source.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
main_tgz=$(ls pack/berth-pool-[0-9]*.tgz 2>/dev/null | sed -n 1p)
platform_tgz=$(ls pack/berth-pool-linux-x64-gnu-[0-9]*.tgz 2>/dev/null | sed -n 1p)
if [ -z "$main_tgz" ] || [ -z "$platform_tgz" ]; then
  echo "install-test: pack/berth-pool-*.tgz missing: run npm run pack:local first" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# PATH without any directory that holds cargo or rustc (~/.cargo/bin, /usr/bin for a distro
# rust would go too: then its other tools go with it, so keep node's and npm's directories).
node_dir=$(dirname "$(command -v node)")
npm_dir=$(dirname "$(command -v npm)")
clean_path=""
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
  [ -n "$d" ] || continue
  if [ -e "$d/cargo" ] || [ -e "$d/rustc" ]; then continue; fi
  clean_path="${clean_path:+$clean_path:}$d"
done
for d in "$node_dir" "$npm_dir"; do
  if [ -e "$d/cargo" ] || [ -e "$d/rustc" ]; then
    # node next to cargo: expose node and npm alone through a directory of links.
    links=$work/bin-${#clean_path}
    mkdir -p "$links"
    ln -sf "$(command -v node)" "$links/node"
    ln -sf "$(command -v npm)" "$links/npm"
    d=$links
  fi
  case ":$clean_path:" in *":$d:"*) ;; *) clean_path="$d:$clean_path" ;; esac
done

cp "$main_tgz" "$platform_tgz" "$work/"
main_tgz=$(basename "$main_tgz")
platform_tgz=$(basename "$platform_tgz")

cat >"$work/smoke.cjs" <<'JS'
'use strict';
// Acquire a connection from a loopback echo server, round-trip bytes, release, print stats.
const net = require('node:net');

async function smoke(berth, label) {
  const { Pool } = berth;
  if (typeof Pool !== 'function') throw new Error(`${label}: berth.Pool is ${typeof Pool}`);
  const server = net.createServer((s) => s.on('error', () => {}).pipe(s));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const pool = new Pool({ maxPerDestination: 2 });
  try {
    const dest = `127.0.0.1:${server.address().port}`;
    for (let round = 0; round < 2; round++) {
      const lease = await pool.acquire(dest);
      const payload = Buffer.from(`berth ${label} round ${round} ` + 'x'.repeat(1000));
      const echoed = await new Promise((resolve, reject) => {
        const chunks = [];
        let n = 0;
        const onData = (d) => {
          chunks.push(d);
          n += d.length;
          if (n >= payload.length) {
            lease.socket.off('data', onData);
            resolve(Buffer.concat(chunks));
          }
        };
        lease.socket.on('data', onData);
        lease.socket.once('error', reject);
        lease.socket.write(payload);
      });
      if (!echoed.equals(payload)) throw new Error(`${label}: echoed bytes differ`);
      lease.release();
    }
    const stats = pool.stats();
    console.log(`${label}: 2 round trips ok; pool.stats() =`, JSON.stringify(stats));
  } finally {
    await pool.close();
    server.close();
  }
}

function loadedFrom() {
  return Object.keys(require.cache).filter((f) => f.endsWith('.node'));
}

module.exports = { smoke, loadedFrom };

if (require.main === module) {
  const guard = setTimeout(() => { console.error('cjs: timed out'); process.exit(1); }, 20000);
  guard.unref();
  const berth = require('berth-pool');
  const addons = loadedFrom();
  console.log('cjs: require("berth") loaded', addons.join(', '));
  if (!addons.some((f) => f.includes('/node_modules/berth-pool-linux-x64-gnu/'))) {
    console.error('cjs: the addon did not come from node_modules/berth-pool-linux-x64-gnu');
    process.exit(1);
  }
  smoke(berth, 'cjs').catch((e) => { console.error(e); process.exit(1); });
}
JS

cat >"$work/smoke.mjs" <<'JS'
import berth, { Pool } from 'berth-pool';
import helpers from './smoke.cjs';

const guard = setTimeout(() => { console.error('esm: timed out'); process.exit(1); }, 20000);
guard.unref();
if (Pool !== berth.Pool) throw new Error('esm: named and default exports differ');
console.log('esm: import "berth" loaded', helpers.loadedFrom().join(', '));
await helpers.smoke({ Pool }, 'esm');
JS

cat >"$work/no-binary.cjs" <<'JS'
try {
  require('berth-pool');
  console.error('no-binary: berth loaded without a platform package');
  process.exit(1);
} catch (e) {
  const want = [`berth: no native binary for ${process.platform}/${process.arch}`, 'berth-pool-linux-x64-gnu', 'npm install ./berth-pool-<version>.tgz', 'build from source', '`npm run build`'];
  const missing = want.filter((w) => !e.message.includes(w));
  if (missing.length) {
    console.error('no-binary: unexpected error (missing ' + JSON.stringify(missing) + '):', e);
    process.exit(1);
  }
  console.log('no-binary: ' + e.message.slice(0, 160) + '...');
}
JS

run_clean() { # run in $1 with the PATH without cargo/rustc and an empty npm cache
  (cd "$1" && env -u CARGO_HOME -u RUSTUP_HOME -u RUSTC -u CARGO PATH="$clean_path" \
    NPM_CONFIG_CACHE="$work/npm-cache" NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false bash -c "$2")
}

echo "install-test: PATH=$clean_path"
run_clean "$work" '
  set -euo pipefail
  if command -v cargo || command -v rustc; then echo "install-test: cargo/rustc still on PATH" >&2; exit 1; fi
  echo "cargo, rustc: not on PATH"
'

# 1. Both tarballs, one install.
mkdir -p "$work/app"
echo '{ "name": "berth-install-test", "version": "1.0.0", "private": true }' >"$work/app/package.json"
cp "$work/smoke.cjs" "$work/smoke.mjs" "$work/app/"
run_clean "$work/app" "npm install --offline --no-audit --no-fund ../$main_tgz ../$platform_tgz"
ls "$work/app/node_modules"
if [ -e "$work/app/node_modules/berth-pool/native/berth.linux-x64-gnu.node" ]; then
  echo "install-test: the main package carries a .node file" >&2
  exit 1
fi
run_clean "$work/app" "node smoke.cjs && node smoke.mjs"

# 2. The main tarball alone: the loader's error.
mkdir -p "$work/alone"
echo '{ "name": "berth-install-test-alone", "version": "1.0.0", "private": true }' >"$work/alone/package.json"
cp "$work/no-binary.cjs" "$work/alone/"
run_clean "$work/alone" "npm install --offline --no-audit --no-fund ../$main_tgz && node no-binary.cjs"

echo "install-test: ok"
