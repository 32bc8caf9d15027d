#!/usr/bin/env python3
"""Runs every criterion benchmark of benches/ one at a time (so no row is
measured in the wake of another), REPS times in rotating order, and prints
a Markdown table: median throughput, spread (min-max over the repetitions)
and the ratio to the row's baseline.

    cargo bench --no-run && python3 benches/table.py [REPS] > /tmp/table.md

Each run: 0.5 s warm-up, 1.5 s measurement, 10 samples (criterion's own
median of the samples is taken per run, then the median over runs).
"""
import glob, os, re, statistics, subprocess, sys

REPS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

def binary(name):
    cands = [p for p in glob.glob(os.path.join(root, "target/release/deps", name + "-*"))
             if os.access(p, os.X_OK) and not p.endswith(".d")]
    return max(cands, key=os.path.getmtime)

def list_benches(b):
    out = subprocess.run([b, "--bench", "--list"], capture_output=True, text=True).stdout
    return [l.rsplit(": benchmark", 1)[0] for l in out.splitlines() if l.endswith(": benchmark")]

UNIT = {"elem/s": 1, "Kelem/s": 1e3, "Melem/s": 1e6, "Gelem/s": 1e9}

def run(b, name):
    args = [b, "--bench", "^" + re.escape(name) + "$", "--warm-up-time", "0.5",
            "--measurement-time", "1.5", "--sample-size", "10", "--noplot"]
    out = subprocess.run(args, capture_output=True, text=True).stdout
    m = re.search(r"thrpt:\s+\[\S+ \S+ (\S+) (\S+)", out)
    return float(m.group(1)) * UNIT[m.group(2)] if m else None

results = {}
for bench in ["codec", "blocking", "loopback"]:
    b = binary(bench)
    names = list_benches(b)
    for rep in range(REPS):
        order = names[rep % len(names):] + names[:rep % len(names)]
        for n in (order if rep % 2 == 0 else list(reversed(order))):
            v = run(b, n)
            if v:
                results.setdefault(n, []).append(v)
            print(f"[{rep}] {n}: {v}", file=sys.stderr, flush=True)

def size_bytes(group):
    m = re.search(r"/(\d+)B$", group)
    return int(m.group(1)) if m else 0

groups = {}
for n in results:
    g, f = n.split("/", 2)[:2], n.split("/", 2)[2]
    groups.setdefault("/".join(g), []).append(f)

BASE = ["LengthDelimitedCodec + crc32fast", "std BufReader + read_exact", "std BufWriter + write_all",
        "std BufWriter -> BufReader + crc32fast", "crc32fast::hash"]
print("| group | implementation | frames/s (median) | spread | payload MB/s | ratio to baseline |")
print("|---|---|---|---|---|---|")
for g, fs in groups.items():
    base = next((f for f in BASE if f in fs), None)
    bmed = statistics.median(results[f"{g}/{base}"]) if base else None
    for f in fs:
        vals = results[f"{g}/{f}"]
        med = statistics.median(vals)
        spread = f"{min(vals)/med*100-100:+.0f}% / {max(vals)/med*100-100:+.0f}%"
        mbs = med * size_bytes(g) / 1e6
        ratio = f"{med / bmed:.2f}x" if bmed else ""
        mark = " (baseline)" if f == base else ""
        print(f"| {g} | {f}{mark} | {med:,.0f} | {spread} | {mbs:,.0f} | {ratio} |")
