#!/usr/bin/env bash
# Runs Node's own http.Agent tests (nodejs/node v20.x, test/parallel: test-http-agent-*,
# test-http-keepalive-*, test-http-client-agent*) against berth's HttpAgent, each file unchanged
# except that `http.Agent` is berth's (a preload, scripts/node-agent-tests/swap-agent.cjs), with a
# small stand-in for Node's test/common. A dev tool: not part of `npm test` or CI (Node's test
# files are not in this repository, and CI has no GitHub access).
#
#   bash scripts/node-agent-tests.sh [--agent berth|node] [--fetch] [DIR]
#
# DIR (default $NODE_AGENT_TESTS, else ../node-agent-tests next to the repository) holds
# test/parallel/<file>.js as in nodejs/node. --fetch downloads the missing files from the v20.x
# branch on GitHub (curl); without it nothing is downloaded and a missing file is reported as
# missing. --agent node runs them on Node's own http.Agent (the baseline). Needs `npm run build`.
# Each test has TEST_TIMEOUT seconds (default 30); one that runs longer counts as a hang.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
agent=berth fetch=false dir="${NODE_AGENT_TESTS:-$root/../node-agent-tests}"
while [ $# -gt 0 ]; do
  case "$1" in
    --agent) agent="$2"; shift 2 ;;
    --fetch) fetch=true; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) dir="$1"; shift ;;
  esac
done
case "$agent" in berth|node) ;; *) echo "--agent must be berth or node" >&2; exit 2 ;; esac
timeout_s="${TEST_TIMEOUT:-30}"

tests=(
  test-http-agent-abort-controller.js
  test-http-agent-close.js
  test-http-agent-destroyed-socket.js
  test-http-agent-domain-reused-gc.js
  test-http-agent-error-on-idle.js
  test-http-agent-false.js
  test-http-agent-getname.js
  test-http-agent-keepalive-delay.js
  test-http-agent-keepalive.js
  test-http-agent-maxsockets-respected.js
  test-http-agent-maxsockets.js
  test-http-agent-maxtotalsockets.js
  test-http-agent-no-protocol.js
  test-http-agent-null.js
  test-http-agent-remove.js
  test-http-agent-reuse-drained-socket-only.js
  test-http-agent-scheduling.js
  test-http-agent-timeout-option.js
  test-http-agent-timeout.js
  test-http-agent-uninitialized-with-handle.js
  test-http-agent-uninitialized.js
  test-http-client-agent-abort-close-event.js
  test-http-client-agent-end-close-event.js
  test-http-client-agent.js
  test-http-keepalive-free.js
  test-http-keepalive-maxsockets.js
  test-http-keepalive-override.js
  test-http-keepalive-request.js
)

mkdir -p "$dir/test/parallel" "$dir/test/common"
# The stand-in for test/common (only what these tests use), copied next to them.
cp "$root/scripts/node-agent-tests/index.js" "$root/scripts/node-agent-tests/countdown.js" \
  "$root/scripts/node-agent-tests/tmpdir.js" "$dir/test/common/"

if $fetch; then
  for t in "${tests[@]}"; do
    [ -f "$dir/test/parallel/$t" ] && continue
    curl -fsSL --max-time 30 -o "$dir/test/parallel/$t" \
      "https://raw.githubusercontent.com/nodejs/node/v20.x/test/parallel/$t" || rm -f "$dir/test/parallel/$t"
  done
fi

if [ "$agent" = berth ] && [ ! -f "$root/dist/index.js" ]; then
  echo "dist/ is missing: run npm run build first" >&2
  exit 2
fi

pass=0 fail=0 hang=0 missing=0 failed=()
log="$dir/logs-$agent"
mkdir -p "$log"
for t in "${tests[@]}"; do
  file="$dir/test/parallel/$t"
  if [ ! -f "$file" ]; then
    echo "MISSING $t"; missing=$((missing + 1)); continue
  fi
  # Node's tests declare the flags they need on a "// Flags:" line.
  flags=$(sed -n 's#^// Flags: ##p' "$file" | sed -n 1p)
  preload=()
  [ "$agent" = berth ] && preload=(--require "$root/scripts/node-agent-tests/swap-agent.cjs")
  # shellcheck disable=SC2086
  (cd "$dir/test/parallel" && BERTH_ROOT="$root" timeout -k 5 "$timeout_s" node $flags "${preload[@]}" "$t") \
    >"$log/${t%.js}.log" 2>&1
  rc=$?
  if [ $rc -eq 0 ]; then
    echo "pass    $t"; pass=$((pass + 1))
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    echo "HANG    $t (killed after ${timeout_s}s)"; hang=$((hang + 1)); failed+=("$t")
  else
    echo "FAIL    $t (exit $rc)"; fail=$((fail + 1)); failed+=("$t")
  fi
done
total=$((pass + fail + hang))
echo "$agent: $pass/$total passed, $fail failed, $hang hung${missing:+, $missing missing} (logs in $log)"
[ $((fail + hang)) -eq 0 ]
