#!/usr/bin/env bash
# The benchmarks must keep compiling (they are run by hand: see BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo bench --no-run
