#!/usr/bin/env bash
# Builds Microliq's SBF program and measures compute units per instruction in litesvm
# (tests/cu-bench; one JSON line per measurement on stdout). Not part of .ci/run.
#
#   scripts/cu-bench.sh [bench args, e.g. --no-budgets]
#
# The .so comes from, in order:
#   1. $MICROLIQ_SO if set (no build);
#   2. `anchor build` when the official toolchain is installed (anchor + cargo-build-sbf)
#      -> target/deploy/microliq.so;
#   3. `cargo build-sbf` when only the Solana CLI is installed -> target/deploy/microliq.so;
#   4. otherwise the sbf-kit stand-in (Debian rustc-web + sbpf-linker, see docs/PERFORMANCE.md):
#      $SBF_KIT (default ../shared/sbf-kit), installed into $SBF_HOME (default ~/.sbf) on first
#      use; output in $SBF_TARGET_DIR (default target/sbf-kit)/deploy/microliq.so.
# The bench builds with the stable toolchain into $CU_BENCH_TARGET_DIR (default target/cu-bench).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
t0=$SECONDS

if [ -n "${MICROLIQ_SO:-}" ]; then
  SO=$MICROLIQ_SO
elif command -v anchor >/dev/null 2>&1 && command -v cargo-build-sbf >/dev/null 2>&1; then
  echo "cu-bench: anchor build (official toolchain)" >&2
  anchor build -p microliq >&2
  SO=$ROOT/target/deploy/microliq.so
elif command -v cargo-build-sbf >/dev/null 2>&1; then
  echo "cu-bench: cargo build-sbf (official toolchain)" >&2
  cargo build-sbf --manifest-path programs/microliq/Cargo.toml >&2
  SO=$ROOT/target/deploy/microliq.so
else
  KIT=${SBF_KIT:-$ROOT/../shared/sbf-kit}
  export SBF_HOME=${SBF_HOME:-$HOME/.sbf}
  SBF_TARGET_DIR=${SBF_TARGET_DIR:-$ROOT/target/sbf-kit}
  if [ ! -x "$KIT/build.sh" ]; then
    echo "cu-bench: no anchor/cargo-build-sbf and no sbf-kit at $KIT (set SBF_KIT or MICROLIQ_SO)" >&2
    exit 1
  fi
  if [ ! -x "$SBF_HOME/bin/sbpf-linker" ]; then
    echo "cu-bench: installing the sbf-kit into $SBF_HOME" >&2
    "$KIT/install.sh" >&2
  fi
  echo "cu-bench: sbf-kit build (Debian rustc-web + sbpf-linker, not the official toolchain)" >&2
  # The kit patches solana-define-syscall 2.3.0 on the command line only; cargo would record the
  # patch in Cargo.lock, so the build resolves against a private copy of the lock file.
  mkdir -p "$SBF_TARGET_DIR/lock"
  cp Cargo.lock "$SBF_TARGET_DIR/lock/Cargo.lock"
  (cd programs/microliq && CARGO_TARGET_DIR=$SBF_TARGET_DIR "$KIT/build.sh" \
    --config "patch.crates-io.solana-define-syscall.path=\"$SBF_HOME/solana-define-syscall-2.3.0\"" \
    -Zlockfile-path --config "resolver.lockfile-path=\"$SBF_TARGET_DIR/lock/Cargo.lock\"") >&2
  SO=$SBF_TARGET_DIR/deploy/microliq.so
fi
[ -f "$SO" ] || { echo "cu-bench: $SO not found" >&2; exit 1; }
echo "cu-bench: $SO ($(stat -c %s "$SO") bytes), built in $((SECONDS - t0))s" >&2

CARGO_TARGET_DIR=${CU_BENCH_TARGET_DIR:-$ROOT/target/cu-bench} \
  cargo run --release --locked --manifest-path tests/cu-bench/Cargo.toml -- "$SO" "$@"
