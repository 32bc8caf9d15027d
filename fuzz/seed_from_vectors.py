#!/usr/bin/env python3
"""Writes every test vector of tests/vectors/lpf-v1.txt as a seed into
fuzz/corpus/{decode_stream,differential,header,recover}/ (file names
vec-NAME).

The byte-level targets read a first byte that seeds the chunking, then the
stream; the header target reads the first 16 bytes. `vectors()` and
`put()` are also the seed helpers of seed_new_targets.py.
"""
import os

here = os.path.dirname(os.path.abspath(__file__))


def vectors():
    """(name, input bytes) of every vector in the file, in order."""
    out, name, data = [], None, b""
    for line in open(os.path.join(here, "..", "tests", "vectors", "lpf-v1.txt")):
        line = line.strip()
        if line.startswith("vector "):
            name, data = line.split(" ", 1)[1], b""
        elif line.startswith("input "):
            data += bytes.fromhex(line.split(" ", 1)[1])
        elif line == "end":
            out.append((name, data))
    return out


def put(target, name, blob):
    """Writes `blob` as fuzz/corpus/TARGET/NAME."""
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(bytes(blob))


def main():
    count = 0
    for name, data in vectors():
        for target, blob in (("decode_stream", b"\x00" + data), ("differential", b"\x01" + data),
                             ("header", data[:16]), ("recover", b"\x02" + data)):
            if target == "header" and len(blob) < 16:
                continue
            put(target, "vec-" + name, blob)
        count += 1
    print("seeded %d vectors" % count)


if __name__ == "__main__":
    main()
