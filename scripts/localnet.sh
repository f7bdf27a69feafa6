#!/usr/bin/env bash
# Starts a real local validator with Microliq, its exchange and a price feeder, and keeps it
# running (Ctrl-C stops it; the ledger stays in target/localnet/ledger). Arguments go to
# `microliq-localnet` (e.g. --reset, --traders 100, --feed walk, --feed csv --prices FILE,
# or `reaction` for the end-to-end reaction benchmark). The first run builds the validator
# (27 minutes measured on 2 cores, see docs/KEEPER.md); later runs start in seconds.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=localnet-deps.sh
source scripts/localnet-deps.sh
exec cargo run --locked --profile perf --manifest-path app/localnet/Cargo.toml --bin microliq-localnet -- "$@"
