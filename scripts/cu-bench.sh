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

# The .so: scripts/build-sbf.sh (the same order of toolchains), installing the sbf-kit first when
# neither the official toolchain nor the kit is there.
if [ -z "${MICROLIQ_SO:-}" ] && ! command -v cargo-build-sbf >/dev/null 2>&1 \
  && [ ! -x "${SBF_HOME:-$HOME/.sbf}/bin/sbpf-linker" ]; then
  echo "cu-bench: installing the sbf-kit into ${SBF_HOME:-$HOME/.sbf}" >&2
  SBF_HOME=${SBF_HOME:-$HOME/.sbf} "${SBF_KIT:-$ROOT/../shared/sbf-kit}/install.sh" >&2
fi
SO=$(scripts/build-sbf.sh)
echo "cu-bench: $SO, built in $((SECONDS - t0))s" >&2

CARGO_TARGET_DIR=${CU_BENCH_TARGET_DIR:-$ROOT/target/cu-bench} \
  cargo run --release --locked --manifest-path tests/cu-bench/Cargo.toml -- "$SO" "$@"
