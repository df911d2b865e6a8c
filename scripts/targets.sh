# Sourced by check-targets.sh and cross-build.sh: the platforms berth publishes, and how cargo
# must be called for each.

# package.json "napi.targets", one per line, into the array `targets`.
mapfile -t targets < <(node -p 'require("./package.json").napi.targets.join("\n")')
# Windows (msvc, the published Windows binary) is checked too, whether or not package.json
# lists it yet: the workspace must lint for it (issue 19). Listed once either way.
grep -qx x86_64-pc-windows-msvc < <(printf '%s\n' "${targets[@]}") || targets+=(x86_64-pc-windows-msvc)

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
