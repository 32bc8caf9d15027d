#!/usr/bin/env python3
"""Writes every test vector of tests/vectors/lpf-v1.txt as a seed into
fuzz/corpus/{decode_stream,differential,header}/ (file names vec-NAME).

The byte-level targets read a first byte that seeds the chunking, then the
stream; the header target reads the first 16 bytes.
"""
import os

here = os.path.dirname(os.path.abspath(__file__))
vectors = os.path.join(here, "..", "tests", "vectors", "lpf-v1.txt")
name, data, count = None, b"", 0
for line in open(vectors):
    line = line.strip()
    if line.startswith("vector "):
        name, data = line.split(" ", 1)[1], b""
    elif line.startswith("input "):
        data += bytes.fromhex(line.split(" ", 1)[1])
    elif line == "end":
        for target, blob in (("decode_stream", b"\x00" + data), ("differential", b"\x01" + data),
                             ("header", data[:16]), ("recover", b"\x02" + data)):
            if target == "header" and len(blob) < 16:
                continue
            d = os.path.join(here, "corpus", target)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "vec-" + name), "wb") as f:
                f.write(blob)
        count += 1
print("seeded %d vectors" % count)
