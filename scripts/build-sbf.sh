#!/usr/bin/env bash
# Builds Microliq's SBF program and prints the path of microliq.so on stdout (logs on stderr).
#
# The .so comes from, in order (as scripts/cu-bench.sh):
#   1. $MICROLIQ_SO if set (no build);
#   2. `anchor build` when the official toolchain is installed -> target/deploy/microliq.so;
#   3. `cargo build-sbf` when only the Solana CLI is installed -> target/deploy/microliq.so;
#   4. otherwise the sbf-kit stand-in (Debian rustc-web + sbpf-linker, docs/PERFORMANCE.md):
#      $SBF_KIT (default ../shared/sbf-kit), installed in $SBF_HOME (default ~/.sbf; .ci/run
#      installs it); output in $SBF_TARGET_DIR (default target/sbf-kit)/deploy/microliq.so.
#      Cargo only rebuilds what changed: a second run without program changes takes seconds.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
t0=$SECONDS

if [ -n "${MICROLIQ_SO:-}" ]; then
  SO=$MICROLIQ_SO
elif command -v anchor >/dev/null 2>&1 && command -v cargo-build-sbf >/dev/null 2>&1; then
  echo "build-sbf: anchor build (official toolchain)" >&2
  anchor build -p microliq >&2
  SO=$ROOT/target/deploy/microliq.so
elif command -v cargo-build-sbf >/dev/null 2>&1; then
  echo "build-sbf: cargo build-sbf (official toolchain)" >&2
  cargo build-sbf --manifest-path programs/microliq/Cargo.toml >&2
  SO=$ROOT/target/deploy/microliq.so
else
  KIT=${SBF_KIT:-$ROOT/../shared/sbf-kit}
  export SBF_HOME=${SBF_HOME:-$HOME/.sbf}
  SBF_TARGET_DIR=${SBF_TARGET_DIR:-$ROOT/target/sbf-kit}
  if [ ! -x "$KIT/build.sh" ]; then
    echo "build-sbf: no anchor/cargo-build-sbf and no sbf-kit at $KIT (set SBF_KIT or MICROLIQ_SO)" >&2
    exit 1
  fi
  if [ ! -x "$SBF_HOME/bin/sbpf-linker" ]; then
    echo "build-sbf: the sbf-kit is not installed in $SBF_HOME: run $KIT/install.sh (.ci/run does)" >&2
    exit 1
  fi
  echo "build-sbf: sbf-kit build (Debian rustc-web + sbpf-linker, not the official toolchain)" >&2
  # The kit patches solana-define-syscall 2.3.0 on the command line only; cargo would record the
  # patch in Cargo.lock, so the build resolves against a private copy of the lock file.
  mkdir -p "$SBF_TARGET_DIR/lock"
  cp Cargo.lock "$SBF_TARGET_DIR/lock/Cargo.lock"
  (cd programs/microliq && CARGO_TARGET_DIR=$SBF_TARGET_DIR "$KIT/build.sh" \
    --config "patch.crates-io.solana-define-syscall.path=\"$SBF_HOME/solana-define-syscall-2.3.0\"" \
    -Zlockfile-path --config "resolver.lockfile-path=\"$SBF_TARGET_DIR/lock/Cargo.lock\"") >&2
  SO=$SBF_TARGET_DIR/deploy/microliq.so
fi
[ -f "$SO" ] || { echo "build-sbf: $SO not found" >&2; exit 1; }
echo "build-sbf: $SO ($(stat -c %s "$SO") bytes) in $((SECONDS - t0))s" >&2
echo "$SO"
