#!/usr/bin/env bash
# Streaming and service figures that the machine's placement of threads and
# allocations cannot decide (issue 22): every configuration in its own
# process, REPS runs each in rotating order, the payload at a different
# address from run to run, CPU time per payload GB beside wall time.
#
#   bash benches/stream.sh [REPS] [SIZES] [OFFSETS]
#     REPS     runs per configuration (default 9)
#     SIZES    payload sizes (default "65536 1048576 8388608"; "64 4096"
#              and the others can be added)
#     OFFSETS  payload offsets in its allocation, cycled over the runs
#              (default "64 1040 2064": no copy within 32 bytes of its
#              source modulo 4096 for any implementation; see
#              BENCHMARKS.md, "Why the 64 KiB runs were bimodal"; "12" puts
#              every copying sender in that window)
#   SERVICE=1  also the echo service (64 clients x 1,000 round trips)
#   RT=multi|spawn|current  the tokio runtime of every run (default multi)
#   OUT=file   where the raw RESULT lines go (default target/stream-results.txt)
#
# Each run is `service one MODE SIZE N OFFSET RT` (benches/service.rs): one
# process, one cell, bounded by a 60 s timeout inside it. It prints the
# timed section's wall time (as a rate), the CPU time of all its threads
# (both ends, /proc/self/task/*/schedstat), minor faults, context switches,
# socket reads and writes and how often each found nothing to do, and where
# the sender's payload copy landed. The summary prints Markdown rows:
# median [min-max] of CPU ms per GB of payload (10^9 bytes) and of wall
# time, and the ratios of the medians.
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${1:-9}
SIZES=${2:-"65536 1048576 8388608"}
OFFSETS=${3:-"64 1040 2064"}
RT=${RT:-multi}
OUT=${OUT:-target/stream-results.txt}

BIN=$(cargo bench --bench service --no-run 2>&1 | grep -o 'target/[^)]*/service-[0-9a-f]*' | tail -1)
[ -x "$BIN" ] || { echo "no service bench binary" >&2; exit 1; }

frames() { # frames per run: 64 B x 2,000,000; 4 KiB x 100,000; else 512 MiB
  case $1 in
    64) echo 2000000 ;;
    4096) echo 100000 ;;
    *) echo $(( (512 << 20) / $1 )) ;;
  esac
}

read -r -a offs <<< "$OFFSETS"
configs=()
for size in $SIZES; do
  for mode in 0 1 2 3; do configs+=("$mode $size"); done
  # The ceiling: raw loopback bytes in chunks of the payload size (not at
  # 64 B, where it would be 2,000,000 write calls, not a ceiling).
  # Read 64 KiB at a time; at 1 MiB also in chunk-sized reads, which on
  # this machine cost more CPU (see BENCHMARKS.md).
  if [ "$size" -ge 4096 ]; then configs+=("4 $size"); fi
  if [ "$size" = 1048576 ]; then configs+=("5 $size"); fi
done
if [ "${SERVICE:-0}" = 1 ]; then
  for mode in 0 1 2 3; do configs+=("$mode service"); done
fi

{
  echo "# $(date -u '+%F %T UTC') commit $(git rev-parse --short HEAD) rt=$RT reps=$REPS offsets=$OFFSETS"
  echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cpus, flags: $(grep -o 'avx512f\|vpclmulqdq' /proc/cpuinfo | sort -u | xargs)"
  echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT"
total=${#configs[@]}
for ((rep = 0; rep < REPS; rep++)); do
  off=${offs[$((rep % ${#offs[@]}))]}
  for ((k = 0; k < total; k++)); do
    read -r mode size <<< "${configs[$(((rep + k) % total))]}"
    if [ "$size" = service ]; then
      echo "$("$BIN" one-service "$mode" "$RT") rep=$rep load=$(cut -d' ' -f1 /proc/loadavg)" >> "$OUT"
    else
      echo "$("$BIN" one "$mode" "$size" "$(frames "$size")" "$off" "$RT") rep=$rep load=$(cut -d' ' -f1 /proc/loadavg)" >> "$OUT"
    fi
  done
  echo "repetition $((rep + 1))/$REPS done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT"

python3 - "$OUT" <<'EOF'
import re, statistics, sys
from collections import defaultdict

lines = open(sys.argv[1]).read().splitlines()
for l in lines:
    if l.startswith("#"):
        print(l)
runs = defaultdict(list)
for l in lines:
    if not l.startswith("RESULT"):
        continue
    kv = dict(re.findall(r'(\w+)=("[^"]*"|\S+)', l))
    imp = kv["impl"].strip('"')
    if l.startswith("RESULT service"):
        key = ("service", imp)
        n = 64000
    else:
        key = (int(kv["size"]), imp)
        n = int(kv["n"])
    rate = float(kv["rate"])
    runs[key].append({
        "wall_ms": n / rate * 1e3,
        "cpu_ms": float(kv["cpu_ms"]),
        "cpu_gb": float(kv["cpu_ms_per_gb"]),
        "ctxsw": int(kv["ctxsw"]) / n,
        "pend": int(kv["read_pending"]) / n,
        "minflt": int(kv["minflt"]) / n,
        "near": int(kv.get("near_copies", 0)) / n,
        "rate": rate,
        "n": n,
        "rep": int(kv.get("rep", -1)),
    })

def mmm(v, fmt="{:,.0f}"):
    v = sorted(v)
    return f"{fmt.format(statistics.median(v))} [{fmt.format(v[0])}–{fmt.format(v[-1])}]"

order = ["lpframe FrameSink + FrameCodec", "lpframe FrameCodec", "LDC", "LDC + crc32fast", "raw", "raw, chunk-sized reads"]
def label(size):
    if size == "service":
        return "service"
    return f"{size >> 20} MiB" if size >= 1 << 20 else (f"{size >> 10} KiB" if size >= 1024 else f"{size} B")

print()
print("| cell | implementation | runs | CPU ms / GB payload | wall ms per run | CPU / LDC's (medians) | wall / raw's (medians) | context switches / frame | reads found empty / frame | copies in the 4K-alias window |")
print("|---|---|---|---|---|---|---|---|---|---|")
sizes = sorted({k[0] for k in runs if k[0] != "service"}) + (["service"] if any(k[0] == "service" for k in runs) else [])
for size in sizes:
    med = lambda imp, f: statistics.median([r[f] for r in runs[(size, imp)]]) if (size, imp) in runs else None
    ldc_cpu = med("LDC", "cpu_ms")
    raw_wall = med("raw", "wall_ms")
    for imp in order:
        rs = runs.get((size, imp))
        if not rs:
            continue
        cpu = mmm([r["cpu_gb"] for r in rs]) if size != "service" else mmm([r["cpu_ms"] for r in rs]) + " ms/run"
        wall = mmm([r["wall_ms"] for r in rs], "{:,.1f}")
        c = statistics.median([r["cpu_ms"] for r in rs])
        w = statistics.median([r["wall_ms"] for r in rs])
        cr = f"{c / ldc_cpu:.2f}×" if ldc_cpu else ""
        wr = f"{w / raw_wall:.2f}×" if raw_wall else ""
        print(f"| {label(size)} | {imp} | {len(rs)} | {cpu} | {wall} | {cr} | {wr} | "
              f"{statistics.median([r['ctxsw'] for r in rs]):.3f} | {statistics.median([r['pend'] for r in rs]):.3f} | "
              f"{statistics.median([r['near'] for r in rs]):.2f} |")

# Per-repetition ratios: each run against LDC's (or raw's) run of the same
# repetition (minutes apart at most), so a slow spell that spans a
# repetition cancels.
print()
print("| cell | implementation | wall / LDC's, per repetition | CPU / LDC's, per repetition | wall / raw's, per repetition |")
print("|---|---|---|---|---|")
for size in sizes:
    base = {r["rep"]: r for r in runs.get((size, "LDC"), [])}
    raw = {r["rep"]: r for r in runs.get((size, "raw"), [])}
    for imp in order:
        rs = runs.get((size, imp))
        if not rs or imp == "LDC":
            continue
        w = [r["wall_ms"] / base[r["rep"]]["wall_ms"] for r in rs if r["rep"] in base]
        c = [r["cpu_ms"] / base[r["rep"]]["cpu_ms"] for r in rs if r["rep"] in base]
        x = [r["wall_ms"] / raw[r["rep"]]["wall_ms"] for r in rs if r["rep"] in raw]
        f = lambda v: mmm(v, "{:.2f}") + "×" if v else ""
        print(f"| {label(size)} | {imp} | {f(w)} | {f(c)} | {f(x)} |")
EOF
