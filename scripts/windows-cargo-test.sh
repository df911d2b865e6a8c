#!/usr/bin/env bash
# Runs berth-core's cargo tests (unit and integration, real loopback sockets) built for
# x86_64-pc-windows-gnu, under Wine: the engine's Winsock paths (tokio TcpStream/TcpListener/
# UdpSocket, the copy relay, the liveness peek, probes) tested as on Linux.
#
#   WINEPREFIX=/path/to/prefix bash scripts/windows-cargo-test.sh
#
# WINEPREFIX: a Wine prefix with the ProcessPrng shim in system32 (scripts/test-windows.sh
# makes one; /work/shared/RECIPES.md says how). Needs the mingw-w64 linker (.cargo/config.toml)
# and the target's rust-std. The output goes to a file ($OUT): Wine programs cannot always
# write to a pipe; the summary lines are printed from it. Each test binary is bounded (5 min).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
: "${WINEPREFIX:?set WINEPREFIX to a Wine prefix with the ProcessPrng shim}"
wine=${WINE:-/usr/lib/wine/wine64}
out=${OUT:-target/windows/cargo-test.txt}
mkdir -p "$(dirname "$out")"
export WINEDEBUG=-all WINEPREFIX
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="timeout 300 $wine"
rc=0
timeout 30m cargo test --target x86_64-pc-windows-gnu -p berth-core -- --test-threads=1 >"$out" 2>&1 || rc=$?
grep -E '^(test result:|     Running)|FAILED|panicked' "$out" || true
echo "windows cargo tests: exit $rc (full output: $out)"
exit "$rc"
