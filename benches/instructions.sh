#!/usr/bin/env bash
# Instructions per frame, counted by valgrind's callgrind (repeatable on a
# noisy machine): for each mode and payload size, the instructions of a run
# with 6,000 frames minus a run with 1,000, minus the same difference for
# the stream setup alone ("none"), divided by 5,000.
#
#   bash benches/instructions.sh                 # the table of BENCHMARKS.md
#   bash benches/instructions.sh lpf-decode 64   # one cell
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)"; exit 1; }
cargo bench -q --bench instructions --no-run 2>/dev/null
bin=$(ls -t target/release/deps/instructions-* | grep -v '\.d$' | head -1)
ir() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" "$3" 2>&1 | grep -oP 'Collected : \K[0-9]+'; }
per_frame() {
  local a b c d
  a=$(ir "$1" 6000 "$2"); b=$(ir "$1" 1000 "$2"); c=$(ir none 6000 "$2"); d=$(ir none 1000 "$2")
  echo $(( ((a - b) - (c - d)) / 5000 ))
}
if [ $# -eq 2 ]; then per_frame "$1" "$2"; exit; fi
modes="lpf-decode lpf-decoder lpf-payload-decode lpf-slice ldc-decode ldc-crc-decode lpf-encode lpf-encode-bytes ldc-encode ldc-crc-encode"
echo "| payload | $(echo $modes | sed 's/ / | /g') |"
echo "|---|$(for m in $modes; do printf -- '---|'; done)"
for size in 16 64 1024; do
  row="| $size B |"
  for m in $modes; do row="$row $(per_frame $m $size) |"; done
  echo "$row"
done
# Writing through a Sink into a writer that copies what it is given (as the
# kernel does): FramedWrite + FrameCodec, FrameSink, FramedWrite + LDC.
modes="lpf-framed-write lpf-sink ldc-framed-write"
echo
echo "| payload | $(echo $modes | sed 's/ / | /g') |"
echo "|---|$(for m in $modes; do printf -- '---|'; done)"
for size in 16 64 1024 4096 65536; do
  row="| $size B |"
  for m in $modes; do row="$row $(per_frame $m $size) |"; done
  echo "$row"
done
