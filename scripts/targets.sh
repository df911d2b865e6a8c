# Sourced by check-targets.sh and cross-build.sh: the platforms berth publishes, and how cargo
# must be called for each.

# package.json "napi.targets", one per line, into the array `targets`.
mapfile -t targets < <(node -p 'require("./package.json").napi.targets.join("\n")')

# True when the standard library for target $1 is installed (rustup target list --installed).
installed_targets=$(rustup target list --installed 2>/dev/null || true)
has_std() { grep -qx "$1" <<<"$installed_targets"; }

# Extra cargo flags for target $1, into the array `target_flags`. musl: as `napi build` does,
# link against a dynamic musl (a cdylib cannot be crt-static).
set_target_flags() {
  target_flags=()
  if [[ "$1" == *-musl ]]; then
    target_flags=(--config "target.$1.rustflags=['-C','target-feature=-crt-static']")
  fi
}
