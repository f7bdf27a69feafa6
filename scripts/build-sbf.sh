#!/usr/bin/env bash
# Builds an SBF program of programs/ and prints the path of its .so on stdout (logs on stderr):
# Microliq (programs/microliq -> microliq.so) unless SBF_PROGRAM names another directory of
# programs/ (localnet-oracle -> microliq_localnet_oracle.so, the local validator's price stand-in).
# SBPF_ARCH=v0 builds for runtimes of the agave 2.x line (the local validator; sbf-kit only).
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
PROGRAM=${SBF_PROGRAM:-microliq}
case "$PROGRAM" in
  microliq) LIB=microliq ;;
  localnet-oracle) LIB=microliq_localnet_oracle ;;
  *) echo "build-sbf: unknown program $PROGRAM" >&2; exit 1 ;;
esac

if [ "$PROGRAM" = microliq ] && [ -n "${MICROLIQ_SO:-}" ]; then
  SO=$MICROLIQ_SO
elif command -v anchor >/dev/null 2>&1 && command -v cargo-build-sbf >/dev/null 2>&1; then
  echo "build-sbf: anchor build (official toolchain)" >&2
  if [ "$PROGRAM" = microliq ]; then anchor build -p microliq >&2
  else cargo build-sbf --manifest-path "programs/$PROGRAM/Cargo.toml" >&2; fi
  SO=$ROOT/target/deploy/$LIB.so
elif command -v cargo-build-sbf >/dev/null 2>&1; then
  echo "build-sbf: cargo build-sbf (official toolchain)" >&2
  cargo build-sbf --manifest-path "programs/$PROGRAM/Cargo.toml" >&2
  SO=$ROOT/target/deploy/$LIB.so
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
  (cd "programs/$PROGRAM" && CARGO_TARGET_DIR=$SBF_TARGET_DIR "$KIT/build.sh" \
    --config "patch.crates-io.solana-define-syscall.path=\"$SBF_HOME/solana-define-syscall-2.3.0\"" \
    -Zlockfile-path --config "resolver.lockfile-path=\"$SBF_TARGET_DIR/lock/Cargo.lock\"") >&2
  SO=$SBF_TARGET_DIR/deploy/$LIB.so
fi
[ -f "$SO" ] || { echo "build-sbf: $SO not found" >&2; exit 1; }
echo "build-sbf: $SO ($(stat -c %s "$SO") bytes) in $((SECONDS - t0))s" >&2
echo "$SO"
