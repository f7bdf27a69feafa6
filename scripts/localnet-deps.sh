#!/usr/bin/env bash
# What the local validator needs on a fresh machine, shared by scripts/localnet.sh and
# scripts/localnet-e2e.sh: Debian's libclang-dev (RocksDB's bindings), libudev-dev and
# protobuf-compiler (the validator's -sys crates), the sbf-kit (as .ci/run installs it) unless the
# official toolchain is there, and Microliq's and the price stand-in's SBF builds for the agave 2.x
# runtime (SBPF v0) in target/sbf-kit-v0/deploy. Sourced, not run.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
missing=()
for pkg in libclang-dev libudev-dev protobuf-compiler pkg-config gcc g++; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "localnet: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}" >&2
fi
"$ROOT/scripts/install-sbf-kit.sh"
export SBF_HOME=${SBF_HOME:-$HOME/.sbf}
# SBPF v0: the solana-test-validator crate 2.3.13 refuses v3 programs ("Program is not deployed").
export SBPF_ARCH=v0
export SBF_TARGET_DIR=${SBF_TARGET_DIR_V0:-$ROOT/target/sbf-kit-v0}
MICROLIQ_SO_V0=$(SBF_PROGRAM=microliq MICROLIQ_SO= "$ROOT/scripts/build-sbf.sh")
ORACLE_SO_V0=$(SBF_PROGRAM=localnet-oracle "$ROOT/scripts/build-sbf.sh")
export MICROLIQ_SO_V0 ORACLE_SO_V0
unset SBPF_ARCH SBF_TARGET_DIR
# The validator's crate is its own workspace (app/localnet); its build shares the repository's
# target directory.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/localnet}
