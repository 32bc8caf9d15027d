#!/usr/bin/env python3
"""Writes the seed corpora of the writer, sink, deadline and idle targets
into fuzz/corpus/TARGET/ (file names seed-*): hand-picked inputs that reach
every scripted step, operation and deadline mode, plus the test vectors as
streams for deadline (reader part) and idle. Deterministic; rerun after
changing the input formats (testkit/src/writers.rs, deadlines.rs, idle.rs).
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seed_from_vectors as seeds  # noqa: E402  (the one vectors parser of the seed scripts)

here = os.path.dirname(os.path.abspath(__file__))


def put(target, name, blob):
    seeds.put(target, "seed-" + name, blob)


vectors = seeds.vectors


# Writers: flags (bit 0 vectored, bits 1-2 mode), step count, steps, ops.
# Step bytes: b % 16 picks the kind (writers.rs WStep::from_byte).
# Op tags: 0-3 a frame (length byte follows), 4-6 flush, 7 boundary.
small = [0, 5, 1, 20, 2, 3, 4, 7]           # frames of 5, 180, 120, 300 bytes, then a flush
big = [2, 250, 3, 200, 1, 255, 3, 255, 4]   # 10000, 20000 (refused), 2295, 25500 (refused)
many = sum(([0, i, 1, 30] for i in range(24)), []) + [5]
boundary = [7, 1, 1, 100, 1, 100, 7, 0, 0, 9, 4]
step_sets = {
    "clean": [],
    "partial": [0x10, 0x20, 0x06, 0x30, 0x40],
    "pending": [8, 9, 0x16, 8, 0x26],
    "interrupted": [10, 0x10, 10, 10, 0x50],
    "timedout": [11, 0x10, 11, 0x30, 11],
    "wouldblock": [12, 0x20, 12, 0x06],
    "brokenpipe": [0x10, 13],
    "reset": [0x20, 0x4d],
    "other": [0x16, 0x8d],
    "denied": [0xcd],
    "zero": [0x10, 14],
    "over": [0x10, 15],
    "accept3": [0x8f, 0x8f, 0x8f],
    "bigaccept": [7, 0x37, 0xf7],
    "mixed": [0x10, 8, 11, 0x20, 10, 12, 0x06, 9, 0x30, 11],
}
for sname, steps in step_sets.items():
    for oname, ops in (("small", small), ("big", big), ("many", many), ("boundary", boundary)):
        for flags in (0, 1, 2, 4, 5):
            if flags not in (0, 1) and oname in ("many", "boundary"):
                continue
            blob = [flags, len(steps)] + steps + ops
            for target in ("writer", "sink"):
                put(target, "%s-%s-%d" % (sname, oname, flags), blob)
rng = random.Random(24)
for i in range(24):
    steps = [rng.randrange(256) for _ in range(rng.randrange(1, 24))]
    ops = [rng.randrange(256) for _ in range(rng.randrange(2, 40))]
    for target in ("writer", "sink"):
        put(target, "random-%02d" % i, [rng.randrange(8), len(steps)] + steps + ops)

# Deadline, part one (byte 0 even): deadlines byte, then (op, arg) pairs.
ops = [
    [0, 0x09, 0, 10, 1, 5, 0, 50, 2, 0, 0, 200],
    [0, 0x0a, 1, 10, 0, 30, 1, 3, 0, 90, 2, 6, 0, 100],
    [0, 0x4e, 4, 0, 0, 255, 3, 0x52, 1, 1, 5, 3, 3, 0],
    [0, 0x05, 0, 1, 3, 0x0d, 2, 7, 0, 0, 5, 1],
    [0, 0x00, 0, 200, 1, 9, 5, 255, 3, 0x11, 0, 0],
]
for i, blob in enumerate(ops):
    put("deadline", "tracker-%d" % i, blob)
for i in range(8):
    put("deadline", "tracker-random-%d" % i, [0] + [rng.randrange(256) for _ in range(40)])
# Part two (byte 0 odd, bits 1-3 the mode): seed byte, then a stream.
vs = vectors()
for k, (name, data) in enumerate(vs):
    if len(data) > 600:
        continue
    mode = k % 8
    put("deadline", "reader-%d-%s" % (mode, name), [1 | mode << 1, k & 255] + list(data))
    put("idle", name, [k & 255] + list(data))
print("seeded writer, sink, deadline, idle")
