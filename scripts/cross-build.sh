#!/usr/bin/env bash
# Builds the release addon for every platform berth publishes (package.json "napi.targets")
# on this one Linux machine, linking with zig through cargo-zigbuild (`napi build -x`), as the
# release workflow does for musl: so that a target which compiles but does not link (a missing
# symbol, a wrong library) fails here and not at release. The glibc targets are linked against
# glibc 2.17, the floor napi-rs's own cross toolchain gives the published binaries.
#
#   bash scripts/cross-build.sh [--install]    binaries and a size table in pack/cross/
#
# Needs each target's rust-std (scripts/check-targets.sh --install adds them) and
# cargo-zigbuild with zig on PATH; --install puts both (PyPI: cargo-zigbuild, ziglang) into a
# virtualenv under target/. A target or tool that is missing is reported as skipped; every
# target that is built must link.
#
# Windows (x86_64-pc-windows-msvc) is not built here: cargo-zigbuild does not link msvc targets,
# and the addon links against node.exe's Node-API exports. scripts/test-windows.sh builds the
# windows-gnu addon with mingw-w64 and runs it in Windows Node under Wine; the release workflow
# builds the published msvc binary on a Windows runner.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v cargo-zigbuild >/dev/null 2>&1; then
  venv=target/zigbuild-venv
  if [ ! -x "$venv/bin/cargo-zigbuild" ] && [ "${1:-}" = "--install" ]; then
    python3 -m venv "$venv" && timeout 300 "$venv/bin/pip" install --quiet cargo-zigbuild ||
      echo "cross-build: could not install cargo-zigbuild from PyPI"
  fi
  [ -x "$venv/bin/cargo-zigbuild" ] && export PATH="$PWD/$venv/bin:$PATH"
fi
if ! command -v cargo-zigbuild >/dev/null 2>&1; then
  echo "cross-build: skipped: cargo-zigbuild is not installed (bash scripts/cross-build.sh --install)"
  exit 0
fi
echo "cargo-zigbuild $(cargo-zigbuild --version | awk '{print $2}'), zig $(python-zig version 2>/dev/null || zig version)"

out=pack/cross
rm -rf "$out"
mkdir -p "$out"
# shellcheck source=scripts/targets.sh
. scripts/targets.sh
built=() skipped=()
for target in "${targets[@]}"; do
  if [[ "$target" == *-windows-* ]]; then
    echo "skipped $target: built by scripts/test-windows.sh (mingw-w64) and the release workflow"
    skipped+=("$target")
    continue
  fi
  if ! has_std "$target"; then
    echo "skipped $target: its rust-std is not installed"
    skipped+=("$target")
    continue
  fi
  # cargo-zigbuild's glibc version suffix; napi build takes only plain triples, so the glibc
  # targets go through cargo zigbuild itself (same release profile: LTO, strip).
  zig_target=$target
  [[ "$target" == *-linux-gnu ]] && zig_target=$target.2.17
  set_target_flags "$target"
  echo "== $zig_target"
  cargo zigbuild "${target_flags[@]}" --quiet --release -p berth-node --target "$zig_target"
  lib=target/$target/release/libberth_node.so
  [[ "$target" == *-apple-darwin ]] && lib=target/$target/release/libberth_node.dylib
  platform=$(node -e '
    const [arch, , os, abi] = process.argv[1].split("-");
    const a = { x86_64: "x64", aarch64: "arm64" }[arch];
    console.log(os === "darwin" ? `darwin-${a}` : `linux-${a}-${abi}`);' "$target")
  cp "$lib" "$out/berth.$platform.node"
  built+=("$platform")
done

printf '\n%-28s %12s  %s\n' binary bytes kind
for platform in "${built[@]}"; do
  f=$out/berth.$platform.node
  kind=$(file -b "$f" | sed -E 's/, (version|flags).*//; s/ dynamically linked shared library//')
  floor=$(objdump -T "$f" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 || true)
  printf '%-28s %12s  %s%s\n' "berth.$platform.node" "$(wc -c <"$f")" "$kind" "${floor:+, needs $floor}"
done
echo "built: ${built[*]:-none}; skipped: ${skipped[*]:-none}"

# The binary of this machine's own platform is run too: loaded instead of the build in
# native/, it round-trips bytes through a pooled connection to a loopback echo server.
host=$(node -p 'process.platform === "linux" ? `linux-${process.arch}-${process.report.getReport().header.glibcVersionRuntime ? "gnu" : "musl"}` : `${process.platform}-${process.arch}`')
if [ -f "$out/berth.$host.node" ] && [ -f dist/index.js ]; then
  NAPI_RS_NATIVE_LIBRARY_PATH="$PWD/$out/berth.$host.node" node -e '
    const net = require("node:net");
    const { Pool } = require("./dist/index.js");
    const server = net.createServer((s) => s.pipe(s)).listen(0, "127.0.0.1", async () => {
      const pool = new Pool();
      const lease = await pool.acquire(`127.0.0.1:${server.address().port}`);
      lease.socket.write("ping");
      const reply = await new Promise((resolve) => lease.socket.once("data", resolve));
      lease.release();
      await pool.close();
      server.close();
      if (String(reply) !== "ping") throw new Error(`echo: got ${reply}`);
      console.log(`berth.'"$host"'.node loads and round-trips bytes: ${JSON.stringify(pool.stats().created)} connection`);
    });'
fi
