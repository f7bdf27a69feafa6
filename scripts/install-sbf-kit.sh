#!/usr/bin/env bash
# Installs the sbf-kit (Debian LLVM 22 and rustc-web, sbpf-linker from crates.io; ~3 min) into
# $SBF_HOME (default ~/.sbf) unless the official Solana toolchain is installed, and reinstalls it
# when the kit's files changed since it was installed (a plugin fix must reach the build). Used
# by .ci/run and scripts/localnet-deps.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if command -v cargo-build-sbf >/dev/null 2>&1; then
  exit 0
fi
KIT=${SBF_KIT:-$ROOT/../shared/sbf-kit}
SBF_HOME=${SBF_HOME:-$HOME/.sbf}
export SBF_HOME
stamp=$(cd "$KIT" && find . -type f ! -name '*.md' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)
if [ ! -x "$SBF_HOME/bin/sbpf-linker" ] || [ "$(cat "$SBF_HOME/.kit-stamp" 2>/dev/null)" != "$stamp" ]; then
  "$KIT/install.sh" >&2
  echo "$stamp" > "$SBF_HOME/.kit-stamp"
fi
