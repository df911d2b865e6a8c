#!/usr/bin/env bash
# npm run pack:local: build the linux-x64-gnu release binary and dist/, then pack, with
# `npm pack`, the platform package (berth-pool-linux-x64-gnu: the .node only) and the main package
# (berth-pool: dist/, the generated loader and its types) into pack/ in the repo root.
#
# Both are packed from staged copies (the repo's files are not changed), as `napi pre-publish`
# would publish them: the platform package gets the binary copied in, and the main package's
# package.json gets "optionalDependencies" = every napi target's berth-pool-<platform> at this
# version (the repo's package.json does not list them: they are not in the registry yet, and
# `npm ci` refuses a lock that lacks them). Fails if either tarball holds a forbidden path.
#
#   PACK_SKIP_BUILD=1   reuse the binary and dist/ already built (e.g. by `npm test`)
#   PACK_PLATFORM=P     pack berth-pool-P (an npm/P dir) instead of linux-x64-gnu; implies
#                       PACK_SKIP_BUILD=1 (scripts/test-windows.sh: win32-x64-msvc)
#   PACK_BINARY=F       the .node file for it (default native/berth.P.node)
#   PACK_OUT=D          write the tarballs into D instead of pack/
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
target=${PACK_PLATFORM:-linux-x64-gnu}
node_file=${PACK_BINARY:-native/berth.${target}.node}
out=${PACK_OUT:-pack}
[ "$target" = linux-x64-gnu ] || PACK_SKIP_BUILD=1

if [ "${PACK_SKIP_BUILD:-}" != 1 ]; then
  npm run build:native
  npm run build:ts
fi
[ -f "$node_file" ] || { echo "pack:local: $node_file missing (npm run build:native)" >&2; exit 1; }
[ -f dist/index.js ] || { echo "pack:local: dist/index.js missing (npm run build:ts)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out"/*.tgz

# ---- the platform package: npm/<platform>/ plus the binary (what `napi artifacts` copies in)
mkdir -p "$stage/platform"
cp "npm/$target/package.json" "npm/$target/README.md" "$stage/platform/"
cp "$node_file" "$stage/platform/berth.${target}.node"

# ---- the main package: package.json (+ optionalDependencies), README, LICENSE, "files"
mkdir -p "$stage/main/native"
cp -r dist "$stage/main/dist"
cp native/index.js native/index.d.ts "$stage/main/native/"
cp README.md "$stage/main/"
for f in LICENSE LICENSE.md LICENSE-MIT; do [ -f "$f" ] && cp "$f" "$stage/main/"; done
node -e '
const fs = require("fs");
const p = JSON.parse(fs.readFileSync("package.json", "utf8"));
const abi = { "x86_64-unknown-linux-gnu": "linux-x64-gnu", "aarch64-unknown-linux-gnu": "linux-arm64-gnu",
  "x86_64-unknown-linux-musl": "linux-x64-musl", "x86_64-apple-darwin": "darwin-x64",
  "aarch64-apple-darwin": "darwin-arm64", "x86_64-pc-windows-msvc": "win32-x64-msvc" };
p.optionalDependencies = {};
for (const t of p.napi.targets) {
  if (!abi[t]) throw new Error("pack:local: no npm/ dir mapping for napi target " + t);
  const dir = "npm/" + abi[t];
  const q = JSON.parse(fs.readFileSync(dir + "/package.json", "utf8"));
  if (q.name !== p.name + "-" + abi[t] || q.version !== p.version)
    throw new Error(`pack:local: ${dir}/package.json is ${q.name}@${q.version}, want ${p.name}-${abi[t]}@${p.version}`);
  p.optionalDependencies[q.name] = p.version;
}
fs.writeFileSync(process.argv[1] + "/package.json", JSON.stringify(p, null, 2) + "\n");
' "$stage/main"

# ---- check the contents (npm pack --dry-run), then pack
# $1 = package dir, $2 = label, $3 = regex of allowed paths; anything else fails.
check() {
  local listing
  listing=$(cd "$1" && npm pack --dry-run --json --ignore-scripts | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      for (const f of JSON.parse(s)[0].files) console.log(f.path);
    });')
  local bad
  bad=$(printf '%s\n' "$listing" | grep -Ev "$3" || true)
  if [ -n "$bad" ]; then
    echo "pack:local: forbidden paths in the $2 tarball:" >&2
    printf '  %s\n' $bad >&2
    exit 1
  fi
  printf '%s: %d files\n' "$2" "$(printf '%s\n' "$listing" | wc -l)"
}
check "$stage/platform" "platform" "^(package\.json|README\.md|berth\.${target}\.node)$"
check "$stage/main" "main" '^(package\.json|README\.md|LICENSE(\.md|-MIT)?|native/index\.(js|d\.ts)|dist/([a-z-]+/)*[^/]+\.(js|mjs|d\.ts))$'
# The binary must be in the platform tarball, and nowhere else.
(cd "$stage/platform" && npm pack --dry-run --json --ignore-scripts) | grep -q "\"berth\.${target}\.node\"" ||
  { echo "pack:local: berth.${target}.node missing from the platform tarball" >&2; exit 1; }

platform_tgz=$(cd "$stage/platform" && npm pack --ignore-scripts --silent --pack-destination "$out")
main_tgz=$(cd "$stage/main" && npm pack --ignore-scripts --silent --pack-destination "$out")

size() { stat -c %s "$1"; }
echo
echo "${out#"$root"/}/$platform_tgz  $(size "$out/$platform_tgz") bytes"
echo "${out#"$root"/}/$main_tgz  $(size "$out/$main_tgz") bytes"
echo "$node_file  $(size "$node_file") bytes (unpacked, in the platform tarball)"
