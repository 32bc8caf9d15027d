#!/usr/bin/env bash
# Bytes allocated and bytes moved per payload byte on the tokio read path
# (benches/read_memory.rs), counts that do not swing with the machine's
# load:
# - allocations, bytes allocated and bytes a realloc had to preserve: the
#   bench's counting allocator;
# - bytes moved by memcpy/memmove inside the read path (BytesMut growth and
#   reclaim, decoder copies; not the reader's own copy of each byte into the
#   buffer): valgrind's DHAT in copy mode, attributed by call stack.
#
#   bash benches/read_memory.sh            # the table of BENCHMARKS.md
#   bash benches/read_memory.sh lpf 8388608 65536
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)"; exit 1; }
cargo bench -q --bench read_memory --no-run 2>/dev/null
bin=$(ls -t target/release/deps/read_memory-* | grep -v '\.d$' | head -1)
frames() { echo $(( (64 << 20) / $1 < 8 ? 8 : ( (64 << 20) / $1 > 1024 ? 1024 : (64 << 20) / $1 ) )); }
cell() {
  local mode=$1 size=$2 read=$3 n out json
  n=$(frames "$size"); json=$(mktemp)
  out=$(valgrind --tool=dhat --mode=copy --dhat-out-file="$json" "$bin" "$mode" "$size" "$read" "$n" 2>/dev/null)
  python3 - "$json" "$mode" "$size" "$read" "$n" "$out" <<'PY'
import json, re, sys
path, mode, size, read, n, out = sys.argv[1:]
size, read, n = int(size), int(read), int(n)
d = json.load(open(path))
moved = 0
for pp in d["pps"]:
    stack = " ".join(d["ftbl"][i] for i in pp["fs"])
    if "FramedImpl" in stack and "Chunked" not in stack:
        moved += pp["tb"]
c = dict(re.findall(r"(\w+) (\d+)", out.split(":", 1)[1]))
total = size * n
print(f"| {size >> 10} KiB | {read >> 10} KiB | {mode} | {int(c['allocs']) / n:.2f} | "
      f"{int(c['alloc_bytes']) / total:.3f} | {int(c['realloc_moved']) / total:.3f} | "
      f"{moved / total:.3f} | {int(c['peak']):,} |")
PY
  rm -f "$json"
}
if [ $# -eq 3 ]; then cell "$1" "$2" "$3"; exit; fi
modes=${MODES:-"lpf ldc"}
echo "| payload | read | path | allocations / frame | bytes allocated / payload byte | bytes preserved by realloc / payload byte | bytes memmoved / payload byte | peak live bytes |"
echo "|---|---|---|---|---|---|---|---|"
for size in 65536 1048576 8388608; do
  for read in 8192 65536; do
    for m in $modes; do cell "$m" "$size" "$read"; done
  done
done
