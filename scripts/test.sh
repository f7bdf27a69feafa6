#!/usr/bin/env bash
# The README's test command: every test of the repository.
#   1. the Rust workspace (`cargo test --workspace --locked`: unit, integration, IDL check);
#   2. the program's SBF build (scripts/build-sbf.sh);
#   3. the TypeScript SDK in app/ts (`npm ci`; the golden vectors of its math, written by the
#      program's own code (tests/golden); then `npm test`: unit tests, the golden comparison and the
#      end-to-end story on that .so in npm litesvm).
# Needs the stable Rust toolchain, Node >= 20 with npm, and an SBF toolchain (the official one, or
# the sbf-kit installed by .ci/run). Prints one line of totals per part at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
t0=$SECONDS
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

echo "== cargo test --workspace --locked"
cargo --version
status=0
cargo test --workspace --locked 2>&1 | tee "$log/cargo" || status=$?
t_cargo=$((SECONDS - t0))
summary() {
  # cargo's last "test result" line belongs to an empty doc-test run and would read as "0 passed".
  awk '/^test result:/ { passed += $4; failed += $6 } END { printf "rust: %d passed, %d failed\n", passed, failed }' "$log/cargo"
  [ -f "$log/npm" ] && awk '/^# pass / { passed = $3 } /^# fail / { failed = $3 } END { printf "typescript: %d passed, %d failed\n", passed, failed }' "$log/npm"
  [ -f "$log/golden" ] && grep -h '^golden:' "$log/golden"
  echo "times: cargo test ${t_cargo}s, SBF build ${t_sbf:-0}s, npm ci ${t_npm_ci:-0}s, golden vectors ${t_golden:-0}s, npm test ${t_ts:-0}s, total $((SECONDS - t0))s"
}
if [ "$status" -ne 0 ]; then summary; exit "$status"; fi

echo "== SBF build"
MICROLIQ_SO=$(scripts/build-sbf.sh)
export MICROLIQ_SO
t_sbf=$((SECONDS - t0 - t_cargo))

echo "== app/ts: npm ci, npm test"
node --version
cd app/ts
npm ci --no-audit --no-fund
t_npm_ci=$((SECONDS - t0 - t_cargo - t_sbf))

echo "== golden vectors for the TypeScript math (tests/golden -> app/ts/test/golden/vectors.json)"
(cd "$ROOT" && cargo run -p microliq-tests --bin golden --locked -- app/ts/test/golden/vectors.json) 2>&1 \
  | tee "$log/golden" || status=$?
t_golden=$((SECONDS - t0 - t_cargo - t_sbf - t_npm_ci))
if [ "$status" -ne 0 ]; then summary; exit "$status"; fi

echo "== npm test"
npm test 2>&1 | tee "$log/npm" || status=$?
t_ts=$((SECONDS - t0 - t_cargo - t_sbf - t_npm_ci - t_golden))
summary
exit "$status"
