#!/usr/bin/env bash
# The keeper's end-to-end tests on a real local validator (app/localnet/tests/e2e.rs): each test
# starts a validator on 127.0.0.1 with the SBF program and drives the event-driven keeper through
# JSON-RPC and websockets. Installs what a fresh machine lacks (see scripts/localnet-deps.sh).
# Not part of scripts/test.sh: the validator's cold build alone took 27 minutes on 2 cores
# (docs/KEEPER.md), which would take .ci/run past its hour.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
t0=$SECONDS
# shellcheck source=localnet-deps.sh
source scripts/localnet-deps.sh
t_deps=$((SECONDS - t0))
cargo build --locked --profile perf --manifest-path app/localnet/Cargo.toml --tests --bins
t_build=$((SECONDS - t0 - t_deps))
status=0
cargo test --locked --profile perf --manifest-path app/localnet/Cargo.toml -- --test-threads=1 "$@" || status=$?
echo "times: dependencies and SBF builds ${t_deps}s, validator and tests build ${t_build}s, tests $((SECONDS - t0 - t_deps - t_build))s"
exit "$status"
