#!/usr/bin/env python3
"""Writes lpf-v1.txt, the LPF v1 test vectors, from the rules in PROTOCOL.md.

Standard library only (struct, zlib), independent of the Rust crate: the
vectors check the implementation, so they must not come from it.
Run from anywhere: python3 tests/vectors/generate.py
"""
import os
import struct
import zlib

MAGIC = b"\xc1\x4c"
DEFAULT_MAX = 8 * 1024 * 1024


def crc(data):
    return zlib.crc32(data) & 0xFFFFFFFF


def header(length, payload_crc, version=1, flags=0, magic=MAGIC, header_crc=None):
    covered = magic + bytes([version, flags]) + struct.pack(">II", length, payload_crc)
    if header_crc is None:
        header_crc = crc(covered)
    return covered + struct.pack(">I", header_crc)


def frame(payload):
    return header(len(payload), crc(payload)) + payload


def hexs(data):
    return data.hex()


vectors = []


def vector(name, note, data, events, max_len=None, recover=False):
    vectors.append((name, note, data, events, max_len, recover))


def ok(payload):
    return ("frame", payload)


def err(text):
    return ("error", text)


# ---- valid ----------------------------------------------------------------
vector("empty_payload", "the smallest frame: 16 header bytes, no payload, payload_crc 0",
       frame(b""), [ok(b"")])
vector("hello", "payload 'hello'", frame(b"hello"), [ok(b"hello")])
b256 = bytes(range(256))
vector("binary_256", "every byte value once", frame(b256), [ok(b256)])
p1k = bytes((i * 7 + 3) & 0xFF for i in range(1024))
vector("payload_1024", "1 KiB payload, byte i = (7*i + 3) mod 256", frame(p1k), [ok(p1k)])
multi = [b"first", b"", b"\xc1\x4c\x01\x00 magic bytes inside a payload are just data", b"last"]
vector("multi_frame_stream", "four frames back to back, one empty, one containing the magic",
       b"".join(frame(p) for p in multi), [ok(p) for p in multi])
vector("max_len_exact", "a payload exactly at the receiver's limit is accepted",
       frame(b"12345"), [ok(b"12345")], max_len=5)

# ---- invalid: magic ---------------------------------------------------------
zeros = bytes(16)
vector("bad_magic_zero", "16 zero bytes", zeros, [err("BadMagic found=0x0000")])
http = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
vector("bad_magic_http", "an HTTP/1.1 request on an LPF port", http, [err("BadMagic found=0x4745")])
tls = bytes.fromhex("160301 00a5 01 0000a1 0303") + bytes(range(21))
vector("bad_magic_tls", "the start of a TLS ClientHello record", tls, [err("BadMagic found=0x1603")])
ssh = b"SSH-2.0-OpenSSH_9.6\r\n"
vector("bad_magic_ssh", "an SSH identification banner", ssh, [err("BadMagic found=0x5353")])

# ---- invalid: version -------------------------------------------------------
vector("unsupported_version_2", "version 2 with a header CRC valid for those bytes",
       header(5, crc(b"hello"), version=2) + b"hello", [err("UnsupportedVersion found=2 supported=1")])
vector("unsupported_version_0", "version 0",
       header(0, 0, version=0), [err("UnsupportedVersion found=0 supported=1")])
vector("version_before_header_crc", "version 2 and a wrong header CRC: the version is checked first",
       header(0, 0, version=2, header_crc=0xDEADBEEF), [err("UnsupportedVersion found=2 supported=1")])

# ---- invalid: header CRC ----------------------------------------------------
good = frame(b"hello")
flipped = bytearray(good)
flipped[7] ^= 0x01  # length 5 -> 4
covered = bytes(flipped[:12])
vector("header_checksum_length_bitflip", "the 'hello' frame with the low bit of the length flipped (5 -> 4)",
       bytes(flipped), [err("HeaderChecksum expected=0x%08x actual=0x%08x" % (crc(good[:12]), crc(covered)))])
grown = bytearray(good)
grown[6] ^= 0x01  # length 5 -> 261, more than the 5 payload bytes that follow
vector("header_checksum_length_grows",
       "the 'hello' frame with its length raised 5 -> 261 and the header CRC left: refused from the header alone, never Truncated after waiting for 261 bytes",
       bytes(grown), [err("HeaderChecksum expected=0x%08x actual=0x%08x" % (crc(good[:12]), crc(bytes(grown[:12]))))])
bad_field = bytearray(good)
bad_field[15] ^= 0xFF
vector("header_checksum_field_corrupt", "the 'hello' frame with the last header_crc byte inverted",
       bytes(bad_field), [err("HeaderChecksum expected=0x%08x actual=0x%08x"
                               % (struct.unpack(">I", bytes(bad_field[12:16]))[0], crc(good[:12])))])
h = header(0, 0, flags=0x80, header_crc=0x12345678)
vector("header_crc_before_flags", "flags 0x80 and a wrong header CRC: the CRC is checked before the flags",
       h, [err("HeaderChecksum expected=0x12345678 actual=0x%08x" % crc(h[:12]))])

# ---- invalid: flags ---------------------------------------------------------
vector("reserved_flags", "flags 0x01 with a valid header CRC",
       header(1, crc(b"x"), flags=0x01) + b"x", [err("ReservedFlags flags=0x01")])

# ---- invalid: length --------------------------------------------------------
vector("frame_too_large_4gib", "length 0xFFFFFFFF, valid header CRC, no payload: rejected before any wait",
       header(0xFFFFFFFF, 0), [err("FrameTooLarge len=4294967295 max=%d" % DEFAULT_MAX)])
vector("frame_too_large_limit", "a 5-byte payload against a limit of 4",
       frame(b"12345"), [err("FrameTooLarge len=5 max=4")], max_len=4)

# ---- invalid: payload CRC (not fatal) -----------------------------------------
bad_payload = bytearray(frame(b"hello"))
bad_payload[16] ^= 0x01  # 'h' -> 'i'
vector("payload_checksum_then_valid",
       "one payload bit flipped, then a valid frame: the bad frame is reported and skipped, the next delivered",
       bytes(bad_payload) + frame(b"next"),
       [err("PayloadChecksum expected=0x%08x actual=0x%08x len=5" % (crc(b"hello"), crc(b"iello"))),
        ok(b"next")])

# ---- invalid: truncation ----------------------------------------------------
vector("truncated_header", "the first 10 bytes of a header, then EOF",
       frame(b"hello")[:10], [err("Truncated part=header missing=6")])
vector("truncated_payload", "a header declaring 10 bytes, then 4 bytes, then EOF",
       frame(b"0123456789")[:20], [err("Truncated part=payload missing=6")])
vector("truncated_after_valid_frame", "a valid frame, then 3 bytes of the next header",
       frame(b"ok") + frame(b"next")[:3], [ok(b"ok"), err("Truncated part=header missing=13")])
vector("short_bad_magic", "5 bytes of a text protocol, then EOF: the received bytes already fail check 1, so BadMagic wins over Truncated",
       b"GET\r\n", [err("BadMagic found=0x4745")])
vector("short_bad_version", "magic and a wrong version byte, then EOF: check 2 already fails",
       bytes.fromhex("c14c02"), [err("UnsupportedVersion found=2 supported=1")])
vector("single_zero_byte", "one byte cannot fail check 1 yet: Truncated",
       b"\x00", [err("Truncated part=header missing=15")])
vector("truncated_payload_none", "a header declaring 3 bytes, then EOF before any payload byte",
       frame(b"abc")[:16], [err("Truncated part=payload missing=3")])
vector("empty_input", "no bytes at all: the clean end of an empty stream, no event", b"", [])
last_bad = bytearray(frame(b"last"))
last_bad[-1] ^= 0x80
vector("payload_checksum_last_frame", "a valid frame, then a last frame with a corrupt payload, then a clean end",
       frame(b"ok") + bytes(last_bad),
       [ok(b"ok"), err("PayloadChecksum expected=0x%08x actual=0x%08x len=4" % (crc(b"last"), crc(bytes(last_bad[16:]))))])
vector("flags_before_length", "flags 0x02 and a length over the limit, valid header CRC: flags are checked first",
       header(1 << 31, 0, flags=0x02), [err("ReservedFlags flags=0x02")])
vector("valid_then_bad_magic", "a valid frame, then garbage",
       frame(b"ok") + b"garbage!garbage!", [ok(b"ok"), err("BadMagic found=0x6761")])


# ---- added after the independent Python implementation's review -----------
vector("fatal_then_valid_frame", "a bad magic, then a valid frame: nothing after a fatal error is delivered",
       b"\x00\x00" + frame(b"after"), [err("BadMagic found=0x0000")])
vector("empty_payload_nonzero_crc", "length 0 with payload_crc 0x12345678 (the empty payload's CRC is 0): the frame is skipped, the stream stays in sync",
       header(0, 0x12345678) + frame(b"after"),
       [err("PayloadChecksum expected=0x12345678 actual=0x00000000 len=0"), ok(b"after")])
vector("magic_byte_then_eof", "the first magic byte, then EOF: check 1 needs both bytes",
       b"\xc1", [err("Truncated part=header missing=15")])
vector("magic_then_eof", "both magic bytes, then EOF", MAGIC, [err("Truncated part=header missing=14")])
vector("bad_second_magic_byte", "the first magic byte right, the second wrong",
       b"\xc1\x00" + frame(b"x")[2:], [err("BadMagic found=0xc100")])
vector("header_15_bytes", "15 of 16 header bytes, then EOF: Truncated, not a header CRC error",
       frame(b"hello")[:15], [err("Truncated part=header missing=1")])
vector("max_zero_empty_frame", "a limit of 0 accepts empty frames", frame(b""), [ok(b"")], max_len=0)
vector("max_zero_rejects_one_byte", "a limit of 0 rejects a 1-byte payload from the header",
       frame(b"a"), [err("FrameTooLarge len=1 max=0")], max_len=0)

# ---- recovery mode (PROTOCOL.md section 8) ----------------------------------
A, B, C = frame(b"alpha"), frame(b"bravo"), frame(b"charlie")


def skipped(offset, length, cause):
    return err("Skipped offset=%d len=%d cause=%s" % (offset, length, cause))


def no_candidate(data):
    assert MAGIC not in data, "a vector's damaged bytes must not contain a stray candidate"
    return data


vector("recover_garbage_between_frames", "8 bytes of text between two frames: one skipped range, caused by the first error",
       A + no_candidate(b"garbage!") + B,
       [ok(b"alpha"), skipped(len(A), 8, "BadMagic found=0x6761"), ok(b"bravo")], recover=True)
Bc = bytearray(B)
Bc[7] ^= 0x01  # length 5 -> 4: the header CRC fails
Bc = bytes(Bc)
no_candidate(Bc[2:])
vector("recover_corrupt_header", "the middle frame's length bit flipped: its header fails check 3 and its bytes are skipped",
       A + Bc + C,
       [ok(b"alpha"),
        skipped(len(A), len(B), "HeaderChecksum expected=0x%08x actual=0x%08x" % (crc(B[:12]), crc(Bc[:12]))),
        ok(b"charlie")], recover=True)
vector("recover_false_candidate", "c1 4c with version 7 at the start: rejected at its third byte",
       b"\xc1\x4c\x07" + A,
       [skipped(0, 3, "UnsupportedVersion found=7 supported=1"), ok(b"alpha")], recover=True)
X = header(5, crc(b"alpha"), header_crc=0xDEADBEEF)
vector("recover_rejected_full_candidate", "2 bytes of text, then a complete candidate header whose CRC fails, then a frame",
       no_candidate(b"zz") + X + A,
       [skipped(0, 2 + len(X), "BadMagic found=0x7a7a"), ok(b"alpha")], recover=True)
Bp = B[:-1] + bytes([B[-1] ^ 0x01])
vector("recover_payload_checksum", "a bad payload under a good header is reported and skipped as in normal mode, not scanned",
       A + Bp + C,
       [ok(b"alpha"),
        err("PayloadChecksum expected=0x%08x actual=0x%08x len=5" % (crc(b"bravo"), crc(Bp[16:]))),
        ok(b"charlie")], recover=True)
vector("recover_damaged_tail", "a frame, then the first 10 bytes of a header, then EOF",
       A + B[:10], [ok(b"alpha"), skipped(len(A), 10, "Truncated part=header missing=6")], recover=True)
vector("recover_truncated_payload", "a frame, then a verified header and 2 of its 5 payload bytes, then EOF",
       A + B[:18], [ok(b"alpha"), skipped(len(A), 18, "Truncated part=payload missing=3")], recover=True)
vector("recover_eof_while_scanning", "a frame, 2 bytes of text, then an incomplete candidate and EOF: one range, the first cause",
       A + b"zz" + b"\xc1\x4c\x01\x00\x00",
       [ok(b"alpha"), skipped(len(A), 7, "BadMagic found=0x7a7a")], recover=True)
inner = bytes.fromhex("c14c0100") + A[:12]  # a candidate whose version and flags pass; A starts at its fifth byte
assert crc(inner[:12]) != struct.unpack(">I", inner[12:16])[0], "the outer candidate must fail its header CRC"
vector("recover_frame_inside_failed_candidate",
       "2 bytes of text, a candidate c1 4c 01 00 whose header CRC fails, and a frame starting at its fifth byte: the scan resumes one byte after the failed candidate's first byte",
       no_candidate(b"zz") + bytes.fromhex("c14c0100") + A,
       [skipped(0, 6, "BadMagic found=0x7a7a"), ok(b"alpha")], recover=True)
vector("recover_eof_after_bad_magic", "two bytes that fail check 1, then EOF: one range, cause BadMagic",
       no_candidate(b"zz"), [skipped(0, 2, "BadMagic found=0x7a7a")], recover=True)
vector("recover_eof_after_one_byte", "one byte, then EOF: no check could run, a header not yet checked, cause Truncated",
       b"z", [skipped(0, 1, "Truncated part=header missing=15")], recover=True)
big = frame(b"x" * 20)
no_candidate(big[2:])
vector("recover_frame_too_large", "limit 8: a genuine 20-byte frame is over it; the scan runs through its payload to the next frame",
       big + A,
       [skipped(0, len(big), "FrameTooLarge len=20 max=8"), ok(b"alpha")], max_len=8, recover=True)


def main():
    out = [
        "# LPF v1 test vectors. Generated by tests/vectors/generate.py; do not edit by hand.",
        "# Format: see tests/vectors/README.md and PROTOCOL.md, section 'Test vectors'.",
        "# Events are listed in the order a receiver produces them decoding 'input' from start to end;",
        "# decoding uses max_frame_len = %d unless a 'max' line says otherwise." % DEFAULT_MAX,
        "",
    ]
    for name, note, data, events, max_len, recover in vectors:
        out.append("vector " + name)
        out.append("note " + note)
        if max_len is not None:
            out.append("max %d" % max_len)
        if recover:
            out.append("mode recover")
        for i in range(0, len(data), 32):
            out.append("input " + hexs(data[i:i + 32]))
        for kind, value in events:
            if kind == "frame":
                out.append(("frame " + hexs(value)).rstrip())
            else:
                out.append("error " + value)
        out.append("end")
        out.append("")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lpf-v1.txt")
    with open(path, "w") as f:
        f.write("\n".join(out))
    print("wrote %d vectors to %s" % (len(vectors), path))


if __name__ == "__main__":
    main()
