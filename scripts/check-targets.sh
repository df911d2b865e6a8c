#!/usr/bin/env bash
# Type-checks and lints the Rust workspace for every platform berth publishes (package.json
# "napi.targets"), from this one Linux machine: `cargo clippy --target T -- -D warnings` needs
# only the target's standard library, no linker or SDK of that platform. It catches what the
# host build cannot, such as a Linux-only libc call on macOS, before the release workflow runs.
#
#   bash scripts/check-targets.sh            check the targets whose rust-std is installed
#   bash scripts/check-targets.sh --install  first `rustup target add` the missing ones
#
# A target whose standard library is missing (and cannot be added: rustup needs the network)
# is reported as skipped; any target that is checked must pass.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

install=false
[ "${1:-}" = "--install" ] && install=true

# shellcheck source=scripts/targets.sh
. scripts/targets.sh

checked=() skipped=()
for target in "${targets[@]}"; do
  if ! has_std "$target"; then
    if $install && timeout 180 rustup target add "$target" >/dev/null 2>&1; then
      echo "added rust-std for $target"
    else
      echo "skipped $target: its rust-std is not installed (rustup target add $target)"
      skipped+=("$target")
      continue
    fi
  fi
  set_target_flags "$target"
  echo "== cargo clippy --target $target"
  cargo clippy "${target_flags[@]}" --quiet --target "$target" --workspace --all-targets -- -D warnings
  checked+=("$target")
done
echo "targets checked: ${checked[*]:-none}; skipped: ${skipped[*]:-none}"
