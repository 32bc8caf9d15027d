#!/usr/bin/env bash
# Instructions per 64-byte frame on the blocking path (BENCHMARKS.md,
# "Blocking small frames"), counted by callgrind: a run of 6,000 frames
# minus one of 1,000, minus the same for the setup alone, / 5,000.
#   bash benches/blocking_instructions.sh [SIZE]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-64}
cargo bench -q --bench blocking --no-run 2>/dev/null
bin=$(ls -t target/release/deps/blocking-* | grep -v '\.d$' | head -1)
ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" count "$1" "$2" "$size" 2>&1 | grep -oP 'Collected : \K[0-9]+'; }
c=$(ir none 6000); d=$(ir none 1000)
for m in ref owned std-crc writer std-crc-writer; do
  a=$(ir $m 6000); b=$(ir $m 1000)
  echo "$m: $(( ((a - b) - (c - d)) / 5000 )) instructions per frame"
done
