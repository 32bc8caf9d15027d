"""Tests of lpframe.py, the independent Python implementation of LPF v1.

Run from the repository root::

    python3 -m unittest discover -s interop/python -v

The live tests talk to the Rust reference ``echo`` example: the binary named by
the environment variable ``LPFRAME_ECHO`` if set, otherwise
``cargo run -q -p lpframe-testkit --example reference_server -- ...`` in the repository root.
"""

from __future__ import annotations

import io
import os
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
VECTORS = ROOT / "tests" / "vectors" / "lpf-v1.txt"
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import lpframe  # noqa: E402
from lpframe import (  # noqa: E402
    DEFAULT_MAX_FRAME_LEN, BadMagic, Decoder, Frame, FrameReader, FrameTooLarge, FrameWriter,
    HeaderChecksum, LpfError, LpfTimeout, PayloadChecksum, ReservedFlags, Skipped,
    PartialFrameLost, StreamUnusable, Truncated, UnsupportedVersion, crc32, decode, encode_frame,
    encode_header, read_frame,
)

SOCKET_TIMEOUT = 30.0          # every socket in these tests has a timeout
FIRST_LINE_TIMEOUT = 300.0     # cargo may have to compile the example first
CLIENT_TIMEOUT = 300.0


def pattern(n: int) -> bytes:
    """The echo demo's payload: byte i = i % 251."""
    return bytes(i % 251 for i in range(n)) if n < 4096 else (bytes(range(251)) * (n // 251 + 1))[:n]


# ======================================================================================
# Test vectors
# ======================================================================================

@dataclass
class Vector:
    """One case of lpf-v1.txt."""

    name: str
    notes: List[str] = field(default_factory=list)
    max_len: int = DEFAULT_MAX_FRAME_LEN
    recover: bool = False  # "mode recover": decoded in recovery mode (section 8)
    data: bytes = b""
    events: List[Tuple[str, Any]] = field(default_factory=list)  # ("frame", bytes) | ("error", text)


def load_vectors(path: Path = VECTORS) -> List[Vector]:
    """Parse the vector file (format: tests/vectors/README.md); strict."""
    vectors: List[Vector] = []
    cur: Optional[Vector] = None
    chunks: List[bytes] = []
    for lineno, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        where = f"{path.name}:{lineno}"
        if word == "vector":
            if cur is not None or not re.fullmatch(r"[a-z0-9_]+", rest):
                raise ValueError(f"{where}: bad 'vector' line")
            cur, chunks = Vector(rest), []
            continue
        if cur is None:
            raise ValueError(f"{where}: '{word}' outside a vector")
        if word == "note":
            cur.notes.append(rest)
        elif word == "max":
            cur.max_len = int(rest)
        elif word == "mode":
            if rest != "recover":
                raise ValueError(f"{where}: unknown mode {rest!r}")
            cur.recover = True
        elif word == "input":
            chunks.append(bytes.fromhex(rest))
        elif word == "frame":
            cur.events.append(("frame", bytes.fromhex(rest)))
        elif word == "error":
            cur.events.append(("error", rest))
        elif word == "end":
            cur.data = b"".join(chunks)
            vectors.append(cur)
            cur = None
        else:
            raise ValueError(f"{where}: unknown directive {word!r}")
    if cur is not None:
        raise ValueError(f"{path.name}: vector {cur.name} has no 'end'")
    return vectors


def normalise(events: Sequence[Any]) -> List[Tuple[str, Any]]:
    """Events as the vector file writes them: ("frame", payload) / ("error", text)."""
    out: List[Tuple[str, Any]] = []
    for ev in events:
        if isinstance(ev, Frame):
            out.append(("frame", ev.payload))
        elif isinstance(ev, LpfError):
            out.append(("error", str(ev)))
        else:
            raise AssertionError(f"unexpected event {ev!r}")
    return out


def parse_error_text(text: str) -> Tuple[str, Dict[str, Any]]:
    """'Kind a=1 b=0x02 c=word' -> ("Kind", {"a": 1, "b": 2, "c": "word"})."""
    kind, *pairs = text.split(" ")
    fields: Dict[str, Any] = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if value.startswith("0x"):
            fields[key] = int(value, 16)
        elif value.isdigit():
            fields[key] = int(value)
        else:
            fields[key] = value
    return kind, fields


def error_fields(err: LpfError) -> Dict[str, Any]:
    """The numbers an error object carries, keyed like its canonical text."""
    if isinstance(err, BadMagic):
        return {"found": err.found_value}
    if isinstance(err, UnsupportedVersion):
        return {"found": err.found, "supported": err.supported}
    if isinstance(err, HeaderChecksum):
        return {"expected": err.expected, "actual": err.actual}
    if isinstance(err, ReservedFlags):
        return {"flags": err.flags}
    if isinstance(err, FrameTooLarge):
        return {"len": err.length, "max": err.limit}
    if isinstance(err, PayloadChecksum):
        return {"expected": err.expected, "actual": err.actual, "len": err.length}
    if isinstance(err, Truncated):
        return {"part": err.part, "missing": err.missing}
    raise AssertionError(f"no field map for {err!r}")


def decode_chunks(chunks: Sequence[bytes], max_len: int, recover: bool = False) -> List[Any]:
    """Feed ``chunks`` to a fresh Decoder, then EOF; collect events up to the first fatal."""
    d = Decoder(max_len, recover=recover)
    out: List[Any] = []
    for chunk in chunks:
        d.feed(chunk)
        for ev in d.events():
            out.append(ev)
            if isinstance(ev, LpfError) and ev.fatal:
                return out
    d.feed_eof()
    out.extend(d.events())
    return out


def read_all_exact(stream: Any, max_len: int) -> List[Any]:
    """Events from repeated calls of the exact read_frame() (bounded)."""
    out: List[Any] = []
    for _ in range(10_000):
        try:
            frame = read_frame(stream, max_len)
        except LpfError as err:
            out.append(err)
            if err.fatal:
                return out
            continue
        if frame is None:
            return out
        out.append(frame)
    raise AssertionError("read loop did not end")


def read_all_buffered(reader: FrameReader) -> List[Any]:
    """Events from a FrameReader until the end or the first fatal error (bounded)."""
    out: List[Any] = []
    for _ in range(10_000):
        ev = reader.read_event()
        if ev is None:
            return out
        out.append(ev)
        if isinstance(ev, LpfError) and ev.fatal:
            return out
    raise AssertionError("read loop did not end")


def socketpair_with(data: bytes) -> Tuple[socket.socket, socket.socket]:
    """A connected pair; ``data`` written into one end, which is then shut for writing."""
    a, b = socket.socketpair()
    a.settimeout(SOCKET_TIMEOUT)
    b.settimeout(SOCKET_TIMEOUT)
    a.sendall(data)
    a.shutdown(socket.SHUT_WR)
    return a, b


class VectorTests(unittest.TestCase):
    """(a) Every vector through every decoding path and chunking."""

    vectors: List[Vector] = []

    @classmethod
    def setUpClass(cls) -> None:
        # Recovery-mode vectors have their own class below.
        cls.vectors = [v for v in load_vectors() if not v.recover]

    def check_events(self, v: Vector, got: List[Any], how: str) -> None:
        self.assertEqual(normalise(got), v.events, f"{v.name} ({how})")
        for ev, (kind, expected) in zip(got, v.events):
            if kind == "error":
                want_kind, want_fields = parse_error_text(expected)
                self.assertEqual(ev.kind, want_kind, f"{v.name} ({how})")
                self.assertEqual(error_fields(ev), want_fields, f"{v.name} ({how})")
                self.assertEqual(ev.fatal, want_kind != "PayloadChecksum")

    def test_vector_file_is_complete(self) -> None:
        names = [v.name for v in self.vectors]
        self.assertEqual(len(names), len(set(names)), "duplicate vector names")
        # every vector of the file is listed in the table of PROTOCOL.md section 10
        spec = (ROOT / "PROTOCOL.md").read_text(encoding="utf-8")
        listed = set(re.findall(r"^\| `([a-z0-9_]+)` \|", spec, re.M))
        every = {v.name for v in load_vectors()}
        self.assertEqual(every, listed & every)
        self.assertEqual(every - listed, set())
        kinds = {parse_error_text(t)[0] for v in self.vectors for k, t in v.events if k == "error"}
        self.assertEqual(kinds, {"BadMagic", "UnsupportedVersion", "HeaderChecksum", "ReservedFlags",
                                 "FrameTooLarge", "PayloadChecksum", "Truncated"})

    def test_whole(self) -> None:
        for v in self.vectors:
            with self.subTest(v.name):
                self.check_events(v, decode_chunks([v.data], v.max_len), "whole")
                self.check_events(v, decode(v.data, v.max_len), "decode()")

    def test_every_split_point(self) -> None:
        for v in self.vectors:
            with self.subTest(v.name):
                for i in range(len(v.data) + 1):
                    self.check_events(v, decode_chunks([v.data[:i], v.data[i:]], v.max_len), f"split {i}")

    def test_events_come_as_soon_as_decided(self) -> None:
        """Section 10: after any prefix, before more bytes or the end of the
        stream, every event that prefix decides has come: the events of the
        prefix ended there, less a last Truncated (only the end decides it)."""
        for v in load_vectors():
            with self.subTest(v.name):
                for i in range(len(v.data) + 1):
                    d = Decoder(v.max_len, recover=v.recover)
                    d.feed(v.data[:i])
                    now = [str(e) if isinstance(e, LpfError) else e for e in d.events()]
                    ended = decode(v.data[:i], v.max_len, recover=v.recover)
                    if v.recover:
                        # The range the end closes waits for it.
                        if ended and isinstance(ended[-1], Skipped):
                            ended = ended[:-1]
                    elif ended and isinstance(ended[-1], Truncated):
                        ended = ended[:-1]
                    want = [str(e) if isinstance(e, LpfError) else e for e in ended]
                    self.assertEqual(now, want, f"{v.name}: after {i} of {len(v.data)} bytes")

    def test_byte_by_byte(self) -> None:
        for v in self.vectors:
            with self.subTest(v.name):
                chunks = [v.data[i:i + 1] for i in range(len(v.data))]
                self.check_events(v, decode_chunks(chunks, v.max_len), "byte by byte")

    def test_next_frame_raises(self) -> None:
        """The raising API gives the same sequence; fatal errors repeat forever."""
        for v in self.vectors:
            with self.subTest(v.name):
                d = Decoder(v.max_len)
                d.feed(v.data)
                d.feed_eof()
                got: List[Any] = []
                for _ in range(1000):
                    try:
                        frame = d.next_frame()
                    except LpfError as err:
                        got.append(err)
                        if err.fatal:
                            for _ in range(3):
                                with self.assertRaises(type(err)) as again:
                                    d.next_frame()
                                self.assertEqual(str(again.exception), str(err))
                            self.assertIs(d.error, err)
                            break
                        continue
                    if frame is None:
                        self.assertTrue(d.finished)
                        break
                    got.append(frame)
                self.check_events(v, got, "next_frame")

    def test_fatal_is_sticky(self) -> None:
        """After a fatal error, valid frames fed later are never delivered."""
        extra = encode_frame(b"must not be delivered")
        for v in self.vectors:
            if not v.events or v.events[-1][0] != "error" or v.events[-1][1].startswith("PayloadChecksum"):
                continue
            with self.subTest(v.name):
                d = Decoder(v.max_len)
                d.feed(v.data)
                d.feed_eof()
                got = list(d.events())
                fatal = got[-1]
                if isinstance(fatal, Truncated):
                    continue  # EOF already seen: nothing can be fed any more
                d2 = Decoder(v.max_len)
                d2.feed(v.data)
                evs = list(d2.events())
                self.assertIs(evs[-1].fatal, True)
                d2.feed(extra)
                self.assertEqual(d2.buffered, 0)
                self.assertEqual(str(d2.next_event()), str(fatal))
                d2.feed_eof()
                self.assertEqual(str(d2.next_event()), str(fatal))

    def test_exact_socket_reader(self) -> None:
        for v in self.vectors:
            with self.subTest(v.name):
                a, b = socketpair_with(v.data)
                try:
                    self.check_events(v, read_all_exact(b, v.max_len), "read_frame(socket)")
                finally:
                    a.close()
                    b.close()

    def test_exact_file_reader(self) -> None:
        for v in self.vectors:
            with self.subTest(v.name):
                self.check_events(v, read_all_exact(io.BytesIO(v.data), v.max_len), "read_frame(file)")

    def test_buffered_socket_reader(self) -> None:
        for v in self.vectors:
            for recv_size in (1, 7, 65536):
                with self.subTest(v.name, recv_size=recv_size):
                    a, b = socketpair_with(v.data)
                    try:
                        reader = FrameReader(b, v.max_len, idle_timeout=5, stall_timeout=5,
                                             recv_size=recv_size)
                        self.check_events(v, read_all_buffered(reader), f"FrameReader({recv_size})")
                    finally:
                        a.close()
                        b.close()

    def test_recovery_mode_on_vectors(self) -> None:
        """In recovery mode a fatal error E at offset S becomes Skipped(S, rest, E)
        (no vector but ``fatal_then_valid_frame`` hides a valid header after its
        error; that one must be found)."""
        for v in self.vectors:
            if v.name == "fatal_then_valid_frame":
                got = decode_chunks([v.data], v.max_len, recover=True)
                self.assertEqual(normalise(got), [("error", "Skipped offset=0 len=2 cause=BadMagic found=0x0000"),
                                                  ("frame", b"after")])
                continue
            with self.subTest(v.name):
                for chunks in ([v.data], [v.data[i:i + 1] for i in range(len(v.data))]):
                    got = decode_chunks(chunks, v.max_len, recover=True)
                    offset = 0
                    for ev, (kind, expected) in zip(got, v.events):
                        if kind == "frame":
                            self.assertEqual(ev, Frame(expected))
                            offset += 16 + len(expected)
                        elif expected.startswith("PayloadChecksum"):
                            self.assertEqual(str(ev), expected)
                            offset += 16 + ev.length
                        else:
                            self.assertIsInstance(ev, Skipped)
                            self.assertEqual((ev.offset, ev.length), (offset, len(v.data) - offset))
                            self.assertEqual(str(ev.cause), expected)
                            self.assertFalse(ev.fatal)
                    self.assertEqual(len(got), len(v.events))


# ======================================================================================
# Encoding, worked examples, receiver rules
# ======================================================================================

def reference_crc32(data: bytes) -> int:
    """The table-driven CRC-32 of PROTOCOL.md section 2.1, verbatim."""
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0xEDB88320 if c & 1 else c >> 1
        table.append(c)
    c = 0xFFFFFFFF
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


class EncodeTests(unittest.TestCase):
    """(b) Encoding, the worked examples of section 5, CRC parameters."""

    def test_crc(self) -> None:
        self.assertEqual(crc32(b"123456789"), 0xCBF43926)
        self.assertEqual(crc32(b""), 0)
        self.assertEqual(crc32(b"hello"), 0x3610A686)
        rng = random.Random(1)
        for n in (0, 1, 2, 3, 12, 100, 1000):
            data = bytes(rng.randrange(256) for _ in range(n))
            self.assertEqual(crc32(data), reference_crc32(data))
        self.assertEqual(crc32(bytes.fromhex("c14c0100" "00000000" "00000000")), 0x8344B206)
        self.assertEqual(crc32(bytes.fromhex("c14c0100" "00000005" "3610a686")), 0x7E440401)

    def test_worked_example_empty(self) -> None:
        self.assertEqual(encode_frame(b""), bytes.fromhex("c14c0100 00000000 00000000 8344b206"))
        self.assertEqual(lpframe.HEADER_LEN, 16)
        self.assertEqual(lpframe.MAGIC, b"\xc1\x4c")

    def test_worked_example_hello(self) -> None:
        wire = bytes([0xC1, 0x4C, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, 0x36, 0x10, 0xA6, 0x86,
                      0x7E, 0x44, 0x04, 0x01]) + b"hello"
        self.assertEqual(encode_frame(b"hello"), wire)
        self.assertEqual(encode_frame(bytearray(b"hello")), wire)
        self.assertEqual(encode_frame(memoryview(b"hello")), wire)
        buf = io.BytesIO()
        lpframe.write_frame(buf, b"hello")
        self.assertEqual(buf.getvalue(), wire)

    def test_worked_example_payload_bit(self) -> None:
        wire = bytearray(encode_frame(b"hello") + encode_frame(b"next"))
        wire[16] ^= 0x01
        r = io.BytesIO(bytes(wire))
        with self.assertRaises(PayloadChecksum) as cm:
            read_frame(r)
        err = cm.exception
        self.assertEqual((err.expected, err.actual, err.length), (0x3610A686, crc32(b"iello"), 5))
        self.assertFalse(err.fatal)
        self.assertEqual(read_frame(r), Frame(b"next"))
        self.assertIsNone(read_frame(r))

    def test_worked_example_length_bit(self) -> None:
        wire = bytearray(encode_frame(b"hello"))
        wire[7] ^= 0x01
        with self.assertRaises(HeaderChecksum) as cm:
            read_frame(io.BytesIO(bytes(wire)))
        self.assertEqual(cm.exception.expected, 0x7E440401)
        with self.assertRaises(Truncated) as cm2:
            read_frame(io.BytesIO(bytes(wire[:10])))
        self.assertEqual((cm2.exception.part, cm2.exception.missing), ("header", 6))

    def test_round_trips(self) -> None:
        rng = random.Random(7)
        payloads = [b"", b"\x00", b"\xc1\x4c", encode_frame(b"inner frame"), pattern(251), pattern(1 << 20)]
        payloads += [bytes(rng.randrange(256) for _ in range(rng.randrange(300))) for _ in range(50)]
        wire = b"".join(encode_frame(p) for p in payloads)
        self.assertEqual(decode(wire), [Frame(p) for p in payloads])
        small = b"".join(encode_frame(p) for p in payloads[:-1] if len(p) < 300)
        expected = [Frame(p) for p in payloads[:-1] if len(p) < 300]
        for size in (1, 3, 16, 17, 100):
            chunks = [small[i:i + size] for i in range(0, len(small), size)]
            self.assertEqual(decode_chunks(chunks, DEFAULT_MAX_FRAME_LEN), expected)

    def test_sender_limit(self) -> None:
        self.assertEqual(len(encode_frame(b"12345", 5)), 21)
        with self.assertRaises(FrameTooLarge) as cm:
            encode_frame(b"123456", 5)
        self.assertEqual(str(cm.exception), "FrameTooLarge len=6 max=5")
        self.assertEqual(encode_frame(b"", 0), encode_frame(b""))
        with self.assertRaises(FrameTooLarge):
            encode_frame(b"x", 0)
        with self.assertRaises(FrameTooLarge):
            encode_frame(bytes(DEFAULT_MAX_FRAME_LEN + 1))
        for bad in (-1, 1 << 32):
            with self.assertRaises(ValueError):
                Decoder(bad)
            with self.assertRaises(ValueError):
                encode_frame(b"", bad)
        Decoder(0xFFFFFFFF)

    def test_writer_refuses_before_writing(self) -> None:
        a, b = socket.socketpair()
        a.settimeout(SOCKET_TIMEOUT)
        b.settimeout(0.2)
        try:
            w = FrameWriter(a, max_frame_len=4)
            with self.assertRaises(FrameTooLarge):
                w.write(b"12345")
            with self.assertRaises(TimeoutError):
                b.recv(100)  # nothing was written
            w.write(b"1234")  # still usable
            b.settimeout(SOCKET_TIMEOUT)
            self.assertEqual(read_frame(b, 4), Frame(b"1234"))
        finally:
            a.close()
            b.close()

    NOT_PAYLOADS = (5, 0, True, 2.5, "hello", "", None, [1, 2, 3], (104, 105), {1: 2}, object())

    def test_encode_refuses_non_bytes_payloads(self) -> None:
        """encode_frame(5) used to return a frame of five zero bytes (bytes(5))
        and encode_frame([1, 2, 3]) a frame of those three bytes."""
        for bad in self.NOT_PAYLOADS:
            with self.subTest(payload=bad):
                with self.assertRaises(TypeError):
                    encode_frame(bad)
                with self.assertRaises(TypeError):
                    encode_frame(bad, 0xFFFFFFFF)
        for good in (b"abc", bytearray(b"abc"), memoryview(b"xabcx")[1:4]):
            self.assertEqual(encode_frame(good), encode_frame(b"abc"))

    def test_write_frame_refuses_non_bytes_payloads_before_writing(self) -> None:
        for bad in self.NOT_PAYLOADS:
            with self.subTest(payload=bad):
                buf = io.BytesIO()
                with self.assertRaises(TypeError):
                    lpframe.write_frame(buf, bad)
                self.assertEqual(buf.getvalue(), b"")

    def test_frame_writer_refuses_non_bytes_payloads_before_writing(self) -> None:
        a, b = socket.socketpair()
        a.settimeout(SOCKET_TIMEOUT)
        b.settimeout(0.2)
        try:
            w = FrameWriter(a)
            for bad in self.NOT_PAYLOADS:
                with self.subTest(payload=bad):
                    with self.assertRaises(TypeError):
                        w.write(bad)
                    self.assertIsNone(w.broken)  # a refused payload does not break the writer
            with self.assertRaises(TimeoutError):
                b.recv(100)  # nothing was written
            w.write(b"ok")
            b.settimeout(SOCKET_TIMEOUT)
            self.assertEqual(read_frame(b), Frame(b"ok"))
        finally:
            a.close()
            b.close()

    def test_writer_unusable_after_failure(self) -> None:
        a, b = socket.socketpair()
        a.settimeout(SOCKET_TIMEOUT)
        b.close()
        try:
            w = FrameWriter(a)
            with self.assertRaises(OSError):
                for _ in range(100):  # the first write may still be buffered
                    w.write(pattern(100_000))
            self.assertIsNotNone(w.broken)
            with self.assertRaises(StreamUnusable):
                w.write(b"x")
        finally:
            a.close()


class ReceiverRuleTests(unittest.TestCase):
    """Receiver rules of section 4 and limits of section 6 beyond the vectors."""

    def test_single_corruption_consequences(self) -> None:
        """Section 4: which error a single corrupted byte gives, for every bit."""
        good = encode_frame(b"hello")
        for pos in range(len(good)):
            for bit in range(8):
                wire = bytearray(good)
                wire[pos] ^= 1 << bit
                (ev,) = decode(bytes(wire))
                want = (BadMagic if pos < 2 else UnsupportedVersion if pos == 2
                        else HeaderChecksum if pos < 16 else PayloadChecksum)
                self.assertIsInstance(ev, want, f"byte {pos} bit {bit}")

    def test_every_up_to_two_bit_header_error_detected(self) -> None:
        good = encode_frame(b"")
        for i in range(128):
            for j in range(i, 128):
                wire = bytearray(good)
                wire[i // 8] ^= 1 << (i % 8)
                if j != i:
                    wire[j // 8] ^= 1 << (j % 8)
                (ev,) = decode(bytes(wire))
                self.assertIsInstance(ev, LpfError)

    def test_early_checks(self) -> None:
        d = Decoder()
        self.assertEqual(d.bytes_needed, 2)
        d.feed(b"\x00")
        self.assertIsNone(d.next_event())  # one byte cannot fail check 1
        self.assertEqual(d.bytes_needed, 1)
        d.feed(b"\x00")
        self.assertEqual(str(d.next_event()), "BadMagic found=0x0000")  # no EOF needed
        d = Decoder()
        d.feed(b"\xc1\x4c")
        self.assertIsNone(d.next_event())
        self.assertEqual(d.bytes_needed, 1)
        d.feed(b"\x07")
        self.assertEqual(str(d.next_event()), "UnsupportedVersion found=7 supported=1")

    def test_exact_reader_reads_no_further(self) -> None:
        d = Decoder()
        needed = []
        wire = encode_frame(b"abc") + b"NEXT"
        pos = 0
        event = None
        for _ in range(100):
            event = d.next_event()
            if event is not None:
                break
            n = d.bytes_needed
            needed.append(n)
            d.feed(wire[pos:pos + n])
            pos += n
        self.assertEqual(needed, [2, 1, 13, 3])
        self.assertEqual(event, Frame(b"abc"))
        self.assertEqual(pos, len(wire) - 4)
        r = io.BytesIO(wire)
        self.assertEqual(read_frame(r), Frame(b"abc"))
        self.assertEqual(r.read(), b"NEXT")

    def test_no_allocation_by_declared_length(self) -> None:
        d = Decoder()
        d.feed(encode_header(DEFAULT_MAX_FRAME_LEN, 0) + b"x" * 100)
        self.assertIsNone(d.next_event())
        self.assertEqual(d.buffered, 116)
        self.assertEqual(d.bytes_needed, DEFAULT_MAX_FRAME_LEN - 100)
        d = Decoder()
        d.feed(encode_header(0xFFFFFFFF, 0))
        self.assertEqual(str(d.next_event()), f"FrameTooLarge len=4294967295 max={DEFAULT_MAX_FRAME_LEN}")
        self.assertEqual(d.buffered, 0)

    def test_limit_configurable(self) -> None:
        wire = encode_frame(b"")
        self.assertEqual(decode(wire, 0), [Frame(b"")])
        self.assertEqual(str(decode(encode_frame(b"a"), 0)[0]), "FrameTooLarge len=1 max=0")
        big = encode_header(0xFFFFFFFF, 0)
        self.assertEqual(str(decode(big, 0xFFFFFFFF)[0]), "Truncated part=payload missing=4294967295")

    def test_empty_payload_with_nonzero_crc(self) -> None:
        wire = encode_header(0, 0x12345678) + encode_frame(b"after")
        self.assertEqual([str(e) for e in decode(wire)],
                         ["PayloadChecksum expected=0x12345678 actual=0x00000000 len=0", "Frame(payload=b'after', flags=0)"])

    def test_frame_containing_frames_is_opaque(self) -> None:
        inner = encode_frame(b"inner") + b"\xc1\x4c\x01"
        self.assertEqual(decode(encode_frame(inner)), [Frame(inner)])

    def test_feed_after_eof_rejected(self) -> None:
        d = Decoder()
        d.feed_eof()
        self.assertIsNone(d.next_event())
        self.assertTrue(d.finished)
        with self.assertRaises(ValueError):
            d.feed(b"x")


class RecoveryVectorTests(unittest.TestCase):
    """The ``mode recover`` vectors (section 8) through the recovering
    decoder and FrameReader, whole, at every split point and byte by byte."""

    def test_recovery_vectors(self) -> None:
        vectors = [v for v in load_vectors() if v.recover]
        self.assertGreaterEqual(len(vectors), 9)
        for v in vectors:
            with self.subTest(v.name):
                self.assertTrue(v.name.startswith("recover_"))
                runs = [("whole", [v.data]),
                        ("byte by byte", [v.data[i:i + 1] for i in range(len(v.data))])]
                runs += [(f"split {i}", [v.data[:i], v.data[i:]]) for i in range(len(v.data) + 1)]
                for how, chunks in runs:
                    got = decode_chunks(chunks, v.max_len, recover=True)
                    self.assertEqual(normalise(got), v.events, f"{v.name} ({how})")
                    self.assertFalse(any(isinstance(e, LpfError) and e.fatal for e in got))
                for recv_size in (1, 7, 65536):
                    a, b = socketpair_with(v.data)
                    try:
                        reader = FrameReader(b, v.max_len, idle_timeout=5, stall_timeout=5,
                                             recv_size=recv_size, recover=True)
                        got = read_all_buffered(reader)
                    finally:
                        a.close()
                        b.close()
                    self.assertEqual(normalise(got), v.events, f"{v.name} (FrameReader {recv_size})")


class TimeoutTests(unittest.TestCase):
    """Section 6: timeouts are not protocol errors; the position is kept."""

    def setUp(self) -> None:
        self.a, self.b = socket.socketpair()
        self.a.settimeout(SOCKET_TIMEOUT)
        self.b.settimeout(SOCKET_TIMEOUT)

    def tearDown(self) -> None:
        self.a.close()
        self.b.close()

    def test_idle_timeout_then_resume(self) -> None:
        r = FrameReader(self.b, idle_timeout=0.1, stall_timeout=0.1)
        with self.assertRaises(LpfTimeout) as cm:
            r.read_frame()
        self.assertEqual(cm.exception.phase, "idle")
        self.assertTrue(cm.exception.resumable)
        self.assertIsInstance(cm.exception, TimeoutError)
        self.assertEqual(self.b.gettimeout(), SOCKET_TIMEOUT)  # restored
        self.a.sendall(encode_frame(b"late"))
        self.assertEqual(r.read_frame(), Frame(b"late"))

    def test_stall_timeout_then_resume(self) -> None:
        wire = encode_frame(b"0123456789")
        r = FrameReader(self.b, idle_timeout=5, stall_timeout=0.2)
        for cut in (5, 16, 20):
            self.a.sendall(wire[:cut])
            t0 = time.monotonic()
            with self.assertRaises(LpfTimeout) as cm:
                r.read_frame()
            self.assertEqual(cm.exception.phase, "stall")
            self.assertLess(time.monotonic() - t0, 3)
            self.a.sendall(wire[cut:])
            self.assertEqual(r.read_frame(), Frame(b"0123456789"))

    def test_stall_is_a_deadline_for_the_frame(self) -> None:
        """A peer trickling bytes cannot keep a frame open past stall_timeout."""
        wire = encode_frame(b"x" * 50)
        stop = threading.Event()

        def trickle() -> None:
            for byte in wire:
                if stop.is_set():
                    return
                try:
                    self.a.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.02)

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        try:
            r = FrameReader(self.b, idle_timeout=5, stall_timeout=0.3)
            with self.assertRaises(LpfTimeout) as cm:
                r.read_frame()
            self.assertEqual(cm.exception.phase, "stall")
        finally:
            stop.set()
            t.join(5)

    def test_exact_reader_idle_timeout_is_retryable(self) -> None:
        """A timeout before any byte of the frame: a plain, resumable timeout."""
        self.b.settimeout(0.1)
        with self.assertRaises(LpfTimeout) as cm:
            read_frame(self.b)
        self.assertIsInstance(cm.exception, TimeoutError)
        self.assertNotIsInstance(cm.exception, StreamUnusable)
        self.assertTrue(cm.exception.resumable)
        self.assertEqual(cm.exception.phase, "idle")
        self.a.sendall(encode_frame(b"abc"))
        self.assertEqual(read_frame(self.b), Frame(b"abc"))  # nothing was lost

    def test_exact_reader_timeout_mid_frame_is_not_a_timeout(self) -> None:
        """Half a frame, then the timeout strikes: the bytes read are lost, so
        the error says the stream is unusable and is no TimeoutError (a caller
        retrying on timeouts would read the rest as a new header)."""
        wire = encode_frame(b"0123456789")
        for cut in (1, 2, 3, 10, 16, 20):  # inside the header, at its end, inside the payload
            with self.subTest(cut=cut):
                a, b = socket.socketpair()
                try:
                    b.settimeout(0.1)
                    a.sendall(wire[:cut])
                    t0 = time.monotonic()
                    with self.assertRaises(StreamUnusable) as cm:
                        read_frame(b)
                    self.assertLess(time.monotonic() - t0, 5)
                    err = cm.exception
                    self.assertIsInstance(err, PartialFrameLost)
                    self.assertNotIsInstance(err, TimeoutError)
                    self.assertEqual(err.consumed, cut)
                    self.assertEqual(err.timeout, 0.1)
                    self.assertIsInstance(err.__cause__, TimeoutError)
                    self.assertIn("no longer usable", str(err))
                finally:
                    a.close()
                    b.close()

    def test_exact_reader_refuses_non_blocking_socket(self) -> None:
        """setblocking(False) and settimeout(0) are the same state; both are
        refused before any byte is read, so the half frame already sent is
        still there for a blocking read afterwards."""
        wire = encode_frame(b"kept")
        for make_non_blocking in (lambda s: s.setblocking(False), lambda s: s.settimeout(0)):
            a, b = socket.socketpair()
            try:
                a.settimeout(SOCKET_TIMEOUT)
                a.sendall(wire[:5])
                make_non_blocking(b)
                self.assertEqual(b.gettimeout(), 0)
                with self.assertRaises(ValueError) as cm:
                    read_frame(b)
                self.assertIn("non-blocking", str(cm.exception))
                with self.assertRaises(ValueError):
                    read_frame(b)  # still nothing read
                b.settimeout(SOCKET_TIMEOUT)
                a.sendall(wire[5:])
                self.assertEqual(read_frame(b), Frame(b"kept"))
            finally:
                a.close()
                b.close()

    def test_exact_reader_refuses_non_blocking_descriptor(self) -> None:
        """A descriptor made non-blocking behind Python's back (the socket
        object says timeout None; a pipe read would return None)."""
        a, b = socket.socketpair()
        try:
            a.settimeout(SOCKET_TIMEOUT)
            a.sendall(encode_frame(b"x")[:5])
            b.settimeout(None)
            os.set_blocking(b.fileno(), False)
            with self.assertRaises(ValueError):
                read_frame(b)
            os.set_blocking(b.fileno(), True)
            b.settimeout(SOCKET_TIMEOUT)
            self.assertEqual(recv_exact(b, 5), encode_frame(b"x")[:5])  # nothing was consumed
        finally:
            a.close()
            b.close()
        r, w = os.pipe()
        with open(r, "rb", buffering=0) as rf, open(w, "wb", buffering=0) as wf:
            wf.write(encode_frame(b"pipe")[:7])
            os.set_blocking(r, False)
            with self.assertRaises(ValueError):
                read_frame(rf)
            os.set_blocking(r, True)
            wf.write(encode_frame(b"pipe")[7:])
            self.assertEqual(read_frame(rf), Frame(b"pipe"))


class RecoveryTests(unittest.TestCase):
    """Section 8 (optional recovery mode), which the vectors do not cover."""

    def decode_all_ways(self, wire: bytes, max_len: int = DEFAULT_MAX_FRAME_LEN) -> List[Any]:
        whole = decode_chunks([wire], max_len, recover=True)
        for chunks in ([wire[i:i + 1] for i in range(len(wire))],
                       [wire[i:i + 7] for i in range(0, len(wire), 7)]):
            self.assertEqual([str(e) if isinstance(e, LpfError) else e
                              for e in decode_chunks(chunks, max_len, recover=True)],
                             [str(e) if isinstance(e, LpfError) else e for e in whole])
        return whole

    def test_garbage_then_frame(self) -> None:
        wire = b"GET / HTTP/1.1\r\n\xc1" + encode_frame(b"ok")
        got = self.decode_all_ways(wire)
        self.assertEqual(str(got[0]), "Skipped offset=0 len=17 cause=BadMagic found=0x4745")
        self.assertEqual(got[1:], [Frame(b"ok")])

    def test_corrupt_header_between_frames(self) -> None:
        f1, f2, f3 = encode_frame(b"one"), bytearray(encode_frame(b"two")), encode_frame(b"three")
        f2[7] ^= 1
        got = self.decode_all_ways(f1 + bytes(f2) + f3)
        self.assertEqual(got[0], Frame(b"one"))
        self.assertIsInstance(got[1], Skipped)
        self.assertEqual((got[1].offset, got[1].length), (len(f1), len(f2)))
        self.assertIsInstance(got[1].cause, HeaderChecksum)
        self.assertEqual(got[2:], [Frame(b"three")])

    def test_rejected_candidates(self) -> None:
        bad_version = b"\xc1\x4c\x02"
        bad_crc = encode_header(1, 0, header_crc=0)
        too_large = encode_header(100, 0)
        wire = b"\x00" + bad_version + bad_crc + too_large + encode_frame(b"ok")
        got = self.decode_all_ways(wire, max_len=50)
        self.assertEqual(str(got[0]), f"Skipped offset=0 len={len(wire) - 18} cause=BadMagic found=0x00c1")
        self.assertEqual(got[1:], [Frame(b"ok")])

    def test_wrong_version_candidate_rejected_without_waiting(self) -> None:
        d = Decoder(recover=True)
        d.feed(b"junk" * 100 + b"\xc1\x4c\x02")
        self.assertIsNone(d.next_event())
        self.assertEqual(d.buffered, 0)  # ruled-out bytes released at once
        d.feed(b"xx\xc1")
        self.assertIsNone(d.next_event())
        self.assertEqual(d.buffered, 1)

    def test_eof_while_scanning_and_inside_frame(self) -> None:
        got = self.decode_all_ways(b"garbage" + encode_frame(b"abc")[:10])
        self.assertEqual([str(e) for e in got], ["Skipped offset=0 len=17 cause=BadMagic found=0x6761"])
        got = self.decode_all_ways(encode_frame(b"ok") + encode_frame(b"abcdef")[:19])
        self.assertEqual(got[0], Frame(b"ok"))
        self.assertEqual(str(got[1]), "Skipped offset=18 len=19 cause=Truncated part=payload missing=3")
        self.assertEqual(len(got), 2)

    def test_bad_payload_in_recovery(self) -> None:
        f = bytearray(encode_frame(b"hello"))
        f[-1] ^= 1
        got = self.decode_all_ways(b"zz" + bytes(f) + encode_frame(b"ok"))
        self.assertEqual([type(e).__name__ for e in got], ["Skipped", "PayloadChecksum", "Frame"])

    def test_every_byte_accounted_for(self) -> None:
        rng = random.Random(42)
        for trial in range(200):
            payloads = [bytes(rng.randrange(256) for _ in range(rng.randrange(40))) for _ in range(6)]
            wire = bytearray(b"".join(encode_frame(p) for p in payloads))
            for _ in range(rng.randrange(1, 4)):
                wire[rng.randrange(len(wire))] ^= 1 << rng.randrange(8)
            if rng.random() < 0.3:
                del wire[rng.randrange(len(wire)):]
            got = self.decode_all_ways(bytes(wire))
            total = 0
            for ev in got:
                if isinstance(ev, Frame):
                    total += 16 + len(ev.payload)
                elif isinstance(ev, PayloadChecksum):
                    total += 16 + ev.length
                else:
                    self.assertIsInstance(ev, Skipped)
                    self.assertEqual(ev.offset, total)
                    total += ev.length
            self.assertEqual(total, len(wire), f"trial {trial}")

    def test_magic_flood_is_linear(self) -> None:
        wire = b"\x00" + b"\xc1\x4c" * 50_000
        d = Decoder(recover=True)
        for i in range(0, len(wire), 4096):
            d.feed(wire[i:i + 4096])
            self.assertEqual(list(d.events()), [])
        d.feed_eof()
        (ev,) = list(d.events())
        self.assertEqual((ev.offset, ev.length), (0, len(wire)))
        # Linear work is shown by counting candidates, not by timing.
        self.assertLessEqual(d.candidates, len(wire) // 2 + 1)


# ======================================================================================
# Live interoperability with the Rust reference echo example
# ======================================================================================

def echo_command(*args: str) -> Tuple[List[str], Optional[str]]:
    """The command running the Rust echo example with ``args``, and its cwd."""
    exe = os.environ.get("LPFRAME_ECHO")
    if exe:
        return [exe, *args], None
    if shutil.which("cargo") is None:
        if os.environ.get("LPFRAME_REQUIRE_LIVE"):  # CI: a skip would hide the cross test
            raise RuntimeError("LPFRAME_REQUIRE_LIVE is set but neither LPFRAME_ECHO nor cargo is available")
        raise unittest.SkipTest("neither LPFRAME_ECHO nor cargo is available")
    return ["cargo", "run", "-q", "-p", "lpframe-testkit", "--example", "reference_server", "--", *args], str(ROOT)


class Child:
    """A child process whose stdout and stderr are drained by threads."""

    def __init__(self, *args: str, command: Optional[List[str]] = None) -> None:
        cmd, cwd = (command, None) if command is not None else echo_command(*args)
        self.proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, errors="replace")
        self.lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self.stdout: List[str] = []
        self.stderr: List[str] = []
        self.threads = [threading.Thread(target=self._drain, args=(self.proc.stdout, self.stdout, True), daemon=True),
                        threading.Thread(target=self._drain, args=(self.proc.stderr, self.stderr, False), daemon=True)]
        for t in self.threads:
            t.start()

    def _drain(self, pipe: Any, log: List[str], to_queue: bool) -> None:
        for line in pipe:
            log.append(line)
            if to_queue:
                self.lines.put(line)
        if to_queue:
            self.lines.put(None)

    def wait_for(self, regex: str, timeout: float) -> re.Match:
        """The first stdout line matching ``regex``, waiting at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {regex!r} within {timeout} s: {self.output()}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"child exited before printing {regex!r}: {self.output()}")
            m = re.search(regex, line)
            if m:
                return m

    def wait_for_stderr(self, regex: str, timeout: float) -> re.Match:
        """The first stderr line matching ``regex``, waiting at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            for line in list(self.stderr):
                m = re.search(regex, line)
                if m:
                    return m
            if time.monotonic() >= deadline:
                raise AssertionError(f"no stderr line matching {regex!r} within {timeout} s: {self.output()}")
            time.sleep(0.02)

    def wait(self, timeout: float) -> int:
        """Wait for the child to exit; return its exit code."""
        rc = self.proc.wait(timeout=timeout)
        for t in self.threads:
            t.join(5)
        return rc

    def output(self) -> str:
        return f"\n--- stdout ---\n{''.join(self.stdout)}--- stderr ---\n{''.join(self.stderr)}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for t in self.threads:
            t.join(5)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()


def recv_exact(sock: socket.socket, n: int) -> bytes:
    """Read exactly ``n`` bytes (bounded by the socket timeout)."""
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise AssertionError(f"connection closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


class LiveRustServerTests(unittest.TestCase):
    """(c) Live test A: Python client, Rust echo server."""

    SIZES = [0, 1, 2, 15, 16, 17, 100, 251, 4096, 16384, 65535, 65536, 65537,
             1 << 20, (1 << 20) + 3, DEFAULT_MAX_FRAME_LEN]

    def setUp(self) -> None:
        self.child = Child("--listen", "127.0.0.1:0")
        self.addCleanup(self.child.kill)
        m = self.child.wait_for(r"listening on (127\.0\.0\.1):(\d+)", FIRST_LINE_TIMEOUT)
        self.addr = (m.group(1), int(m.group(2)))

    def connect(self) -> socket.socket:
        sock = socket.create_connection(self.addr, timeout=SOCKET_TIMEOUT)
        self.addCleanup(sock.close)
        return sock

    def test_sizes_byte_for_byte(self) -> None:
        sock = self.connect()
        writer = FrameWriter(sock)
        for size in self.SIZES:
            with self.subTest(size=size):
                payload = pattern(size)
                writer.write(payload)
                raw = recv_exact(sock, 16 + size)
                self.assertEqual(raw, encode_frame(payload))    # the Rust encoder, byte for byte
                self.assertEqual(decode(raw), [Frame(payload)])

    def test_frame_reader_and_pipelining(self) -> None:
        sock = self.connect()
        writer = FrameWriter(sock)
        reader = FrameReader(sock, idle_timeout=SOCKET_TIMEOUT, stall_timeout=SOCKET_TIMEOUT)
        for size in (0, 1, 100, 16384, 65536, 1 << 20):
            writer.write(pattern(size))
            self.assertEqual(reader.read_frame(), Frame(pattern(size)))
        burst = [b"", b"\xc1\x4c\x01\x00", encode_frame(b"inner")] + [b"%d" % i for i in range(100)]
        sock.sendall(b"".join(encode_frame(p) for p in burst))
        for p in burst:
            self.assertEqual(reader.read_frame(), Frame(p))
        writer.write(b"exact reader")
        self.assertEqual(read_frame(sock), Frame(b"exact reader"))

    def test_corrupt_payload_costs_one_frame(self) -> None:
        sock = self.connect()
        reader = FrameReader(sock, idle_timeout=SOCKET_TIMEOUT, stall_timeout=SOCKET_TIMEOUT)
        bad = bytearray(encode_frame(b"this frame gets corrupted"))
        bad[-1] ^= 0x20
        sock.sendall(bytes(bad) + encode_frame(b"still connected?"))
        self.assertEqual(reader.read_frame(), Frame(b"still connected?"))
        bad_empty = encode_header(0, 0x12345678)
        sock.sendall(bad_empty + encode_frame(b"and still"))
        self.assertEqual(reader.read_frame(), Frame(b"and still"))
        FrameWriter(sock).write(pattern(65536))
        self.assertEqual(reader.read_frame(), Frame(pattern(65536)))

    def test_header_errors_close_the_connection(self) -> None:
        cases = {
            "http": b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
            "version": encode_header(0, 0, version=2),
            "header_crc": encode_header(0, 0, header_crc=0),
            "flags": encode_header(0, 0, flags=1),
            "too_large": encode_header(DEFAULT_MAX_FRAME_LEN + 1, 0),
        }
        for name, garbage in cases.items():
            with self.subTest(name):
                sock = self.connect()
                sock.sendall(encode_frame(b"first") + garbage)
                reader = FrameReader(sock, idle_timeout=SOCKET_TIMEOUT, stall_timeout=SOCKET_TIMEOUT)
                self.assertEqual(reader.read_frame(), Frame(b"first"))
                self.assertIsNone(reader.read_frame())      # closed by the server
                sock.close()


@dataclass
class ConnRecord:
    """What the Python echo server saw on one connection."""

    peer: Any
    events: List[Tuple[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, value: Any) -> None:
        with self.lock:
            self.events.append((kind, value))


class PyEchoServer:
    """A threaded LPF echo server on 127.0.0.1 (ephemeral port) using lpframe.py.

    Valid frames are echoed; a PayloadChecksum is recorded and the connection
    kept; any fatal error is recorded and the connection closed (FIN, after a
    bounded drain so that the peer does not get a reset)."""

    MAX_CONNECTIONS = 16
    MAX_EVENTS = 100_000

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.addr = self.listener.getsockname()
        self.conns: List[ConnRecord] = []
        self.stop_event = threading.Event()
        self.threads: List[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self) -> "PyEchoServer":
        self.acceptor.start()
        return self

    def _accept_loop(self) -> None:
        while not self.stop_event.is_set() and len(self.conns) < self.MAX_CONNECTIONS:
            try:
                conn, peer = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            rec = ConnRecord(peer)
            self.conns.append(rec)
            t = threading.Thread(target=self._serve, args=(conn, rec), daemon=True)
            self.threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket, rec: ConnRecord) -> None:
        conn.settimeout(SOCKET_TIMEOUT)
        reader = FrameReader(conn, idle_timeout=SOCKET_TIMEOUT, stall_timeout=SOCKET_TIMEOUT)
        writer = FrameWriter(conn)
        try:
            for _ in range(self.MAX_EVENTS):
                if self.stop_event.is_set():
                    rec.add("stopped", None)
                    break
                try:
                    ev = reader.read_event()
                except (LpfTimeout, OSError) as exc:
                    rec.add("io", exc)
                    break
                if ev is None:
                    rec.add("eof", None)
                    break
                if isinstance(ev, Frame):
                    rec.add("frame", ev.payload if len(ev.payload) <= 64 else len(ev.payload))
                    writer.write(ev.payload)
                    continue
                rec.add("error", ev)
                if ev.fatal:
                    break
        except OSError as exc:
            rec.add("io", exc)
        finally:
            self._close(conn)

    @staticmethod
    def _close(conn: socket.socket) -> None:
        try:
            conn.shutdown(socket.SHUT_WR)
            conn.settimeout(1.0)
            for _ in range(1000):
                if not conn.recv(65536):
                    break
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.listener.close()
        self.acceptor.join(5)
        for t in self.threads:
            t.join(5)


class LiveRustClientTests(unittest.TestCase):
    """(d) Live test B: Rust echo client (--connect), Python echo server."""

    def test_rust_client_against_python_server(self) -> None:
        server = PyEchoServer().start()
        self.addCleanup(server.stop)
        child = Child("--connect", "%s:%d" % server.addr)
        self.addCleanup(child.kill)
        try:
            rc = child.wait(CLIENT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("Rust client did not finish" + child.output())
        self.assertEqual(rc, 0, "Rust client failed" + child.output())
        for _ in range(100):  # let the handlers record the clients' final close
            if len(server.conns) >= 2 and all(r.events and r.events[-1][0] in ("eof", "error", "io")
                                              for r in server.conns):
                break
            time.sleep(0.05)

        self.assertEqual(len(server.conns), 2, [r.events for r in server.conns])
        first, second = server.conns

        kinds = [k for k, _ in first.events]
        errors = [v for k, v in first.events if k == "error"]
        self.assertEqual(len(errors), 1, first.events)
        err = errors[0]
        self.assertIsInstance(err, PayloadChecksum)
        corrupted = bytearray(b"this frame gets corrupted")
        corrupted[-1] ^= 0x20
        self.assertEqual((err.expected, err.actual, err.length),
                         (crc32(b"this frame gets corrupted"), crc32(bytes(corrupted)), 25))
        i = kinds.index("error")
        self.assertEqual(first.events[i + 1], ("frame", b"still connected?"))  # kept open
        self.assertEqual(first.events[-1], ("eof", None))
        frames = [v for k, v in first.events if k == "frame"]
        self.assertEqual(frames[:3], [b"hello", b"", b"lpframe checks every byte"])
        self.assertEqual([v if isinstance(v, int) else len(v) for v in frames[3:9]],
                         [0, 1, 100, 16384, 65536, 1048576])

        self.assertEqual(len(second.events), 1, second.events)
        kind, err2 = second.events[0]
        self.assertEqual(kind, "error")
        self.assertIsInstance(err2, BadMagic)
        self.assertEqual(str(err2), "BadMagic found=0x4745")


# ======================================================================================
# The echo-server mode: python3 lpframe.py echo-server
# ======================================================================================

LPFRAME_PY = HERE / "lpframe.py"
SERVER_START_TIMEOUT = 30.0


def start_py_echo_server(test: unittest.TestCase, *args: str) -> Tuple[Child, Tuple[str, int]]:
    """Start ``lpframe.py echo-server --listen 127.0.0.1:0 ARGS`` (killed at cleanup);
    return it and the address of its ``listening on`` line."""
    child = Child(command=[sys.executable, str(LPFRAME_PY), "echo-server", "--listen", "127.0.0.1:0", *args])
    test.addCleanup(child.kill)
    m = child.wait_for(r"^listening on (127\.0\.0\.1):(\d+)$", SERVER_START_TIMEOUT)
    port = int(m.group(2))
    test.assertNotEqual(port, 0)
    return child, (m.group(1), port)


def read_to_eof(sock: socket.socket, timeout: float, limit: int = 64 << 20) -> Tuple[bytes, float]:
    """Everything the peer sends until its FIN, within ``timeout`` s (bounded in
    bytes too); returns the bytes and the time taken.  A reset or a timeout
    fails the test."""
    data = bytearray()
    t0 = time.monotonic()
    deadline = t0 + timeout
    while len(data) <= limit:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no end of stream within {timeout} s (got {len(data)} bytes)")
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(1 << 20)
        except ConnectionResetError:
            raise AssertionError(f"connection reset instead of an orderly close (after {len(data)} bytes)") from None
        except TimeoutError:
            continue
        if not chunk:
            return bytes(data), time.monotonic() - t0
        data += chunk
    raise AssertionError("more data than expected")


class PyEchoServerTests(unittest.TestCase):
    """``lpframe.py echo-server`` run as a subprocess, checked against its contract."""

    def connect(self, addr: Tuple[str, int]) -> socket.socket:
        sock = socket.create_connection(addr, timeout=SOCKET_TIMEOUT)
        self.addCleanup(sock.close)
        return sock

    def test_echoes_frames_in_order(self) -> None:
        child, addr = start_py_echo_server(self)
        sock = self.connect(addr)
        for payload in (b"hello", b"", b"\xc1\x4c\x01\x00", pattern(251), pattern(70_000), b"last"):
            sock.sendall(encode_frame(payload))
            self.assertEqual(recv_exact(sock, 16 + len(payload)), encode_frame(payload))
        sock.shutdown(socket.SHUT_WR)                # clean end on a frame boundary
        rest, _ = read_to_eof(sock, 5)
        self.assertEqual(rest, b"")

    def test_pipelined_frames(self) -> None:
        child, addr = start_py_echo_server(self)
        sock = self.connect(addr)
        payloads = [b"%d" % i for i in range(300)] + [b"", pattern(100_000), encode_frame(b"inner")]
        wire = b"".join(encode_frame(p) for p in payloads)
        sock.sendall(wire)
        sock.shutdown(socket.SHUT_WR)                # the echoes owed are still sent, then FIN
        echoed, _ = read_to_eof(sock, 20)
        self.assertEqual(echoed, wire)

    def test_many_connections_at_once(self) -> None:
        child, addr = start_py_echo_server(self)
        socks = [self.connect(addr) for _ in range(20)]
        for rnd in range(3):
            for i, sock in enumerate(socks):
                sock.sendall(encode_frame(b"conn %d round %d" % (i, rnd)))
            for i, sock in enumerate(socks):
                want = encode_frame(b"conn %d round %d" % (i, rnd))
                self.assertEqual(recv_exact(sock, len(want)), want)

    def test_corrupt_payload_skipped_and_connection_kept(self) -> None:
        child, addr = start_py_echo_server(self)
        sock = self.connect(addr)
        bad = bytearray(encode_frame(b"this frame gets corrupted"))
        bad[-1] ^= 0x20
        sock.sendall(bytes(bad) + encode_frame(b"next"))
        self.assertEqual(recv_exact(sock, 20), encode_frame(b"next"))
        sock.sendall(encode_header(0, 0x12345678) + encode_frame(b"and still"))  # empty payload, bad CRC
        self.assertEqual(recv_exact(sock, 25), encode_frame(b"and still"))
        child.wait_for_stderr(r"PayloadChecksum expected=0x%08x actual=0x%08x len=25"
                              % (crc32(b"this frame gets corrupted"), crc32(bytes(bad[16:]))), 5)
        child.wait_for_stderr(r"PayloadChecksum expected=0x12345678 actual=0x00000000 len=0", 5)
        sock.shutdown(socket.SHUT_WR)
        self.assertEqual(read_to_eof(sock, 5)[0], b"")

    def test_foreign_protocol_closed_at_once_with_fin(self) -> None:
        """Checks 1 and 2 early: a short foreign request, the client then waiting
        (no FIN from it), is refused at once, with FIN rather than RST."""
        child, addr = start_py_echo_server(self)
        cases = [(b"GET /\r\n", "BadMagic found=0x4745"),
                 (b"\x16\x03", "BadMagic found=0x1603"),
                 (b"\xc1\x4c\x02", "UnsupportedVersion found=2 supported=1")]
        for data, text in cases:
            with self.subTest(data=data):
                sock = self.connect(addr)
                sock.sendall(data)
                got, took = read_to_eof(sock, 5)
                self.assertEqual(got, b"")
                self.assertLess(took, 1.0)
                child.wait_for_stderr(re.escape(text), 5)

    def test_nothing_echoed_after_a_fatal_error(self) -> None:
        child, addr = start_py_echo_server(self)
        after = encode_frame(b"must not be echoed")
        cases = {
            "bad magic": b"\x00\x00" + after,
            "version": encode_header(0, 0, version=2),
            "header crc": encode_header(0, 0, header_crc=0),
            "flags": encode_header(0, 0, flags=1),
            "too large": encode_header(DEFAULT_MAX_FRAME_LEN + 1, 0),
        }
        for name, fatal in cases.items():
            with self.subTest(name):
                sock = self.connect(addr)
                sock.sendall(encode_frame(b"before") + fatal + after + after)
                got, _ = read_to_eof(sock, 5)
                self.assertEqual(got, encode_frame(b"before"))  # the echo owed, then FIN

    def test_truncated_at_end_of_stream(self) -> None:
        child, addr = start_py_echo_server(self)
        cases = [(encode_frame(b"abcdef")[:19], "Truncated part=payload missing=3"),
                 (encode_frame(b"abcdef")[:10], "Truncated part=header missing=6"),
                 (b"\xc1", "Truncated part=header missing=15")]
        for partial, text in cases:
            with self.subTest(text):
                sock = self.connect(addr)
                sock.sendall(encode_frame(b"whole") + partial)
                sock.shutdown(socket.SHUT_WR)
                got, _ = read_to_eof(sock, 5)
                self.assertEqual(got, encode_frame(b"whole"))
                child.wait_for_stderr(re.escape(text), 5)

    def test_stall_timeout_is_a_deadline_for_the_frame(self) -> None:
        child, addr = start_py_echo_server(self, "--stall-timeout", "0.5")
        sock = self.connect(addr)
        sock.sendall(encode_header(10, 0))             # a header, then nothing
        got, took = read_to_eof(sock, 10)
        self.assertEqual(got, b"")
        self.assertGreater(took, 0.3)
        self.assertLess(took, 3.0)
        child.wait_for_stderr(r"stall timeout", 5)
        # A trickling peer cannot extend it: one byte every 0.1 s of a 116-byte frame.
        sock = self.connect(addr)
        wire = encode_frame(pattern(100))
        t0 = time.monotonic()
        closed_after: Optional[float] = None
        sock.settimeout(0.1)
        for byte in wire:
            try:
                sock.sendall(bytes([byte]))
                if sock.recv(1) == b"":
                    closed_after = time.monotonic() - t0
                    break
            except TimeoutError:
                continue
            except OSError:
                closed_after = time.monotonic() - t0
                break
        self.assertIsNotNone(closed_after, "a trickled frame was never cut off")
        self.assertLess(closed_after, 3.0)
        # Re-armed for each frame, also when a frame ends and the next one starts
        # in the same read: 5 frames of 0.25 s each (1.25 s in all) pass.
        sock = self.connect(addr)
        frames = [encode_frame(b"frame %d" % i) for i in range(6)]
        sock.sendall(frames[0][:8])
        for i in range(5):
            time.sleep(0.25)
            sock.sendall(frames[i][8:] + frames[i + 1][:8])
            self.assertEqual(recv_exact(sock, len(frames[i])), frames[i])

    def test_idle_timeout(self) -> None:
        child, addr = start_py_echo_server(self, "--idle-timeout", "0.5")
        sock = self.connect(addr)
        sock.sendall(encode_frame(b"one"))
        self.assertEqual(recv_exact(sock, 19), encode_frame(b"one"))
        got, took = read_to_eof(sock, 10)              # then silence
        self.assertEqual(got, b"")
        self.assertGreater(took, 0.3)
        self.assertLess(took, 3.0)
        child.wait_for_stderr(r"idle timeout", 5)

    def test_max_frame_len(self) -> None:
        child, addr = start_py_echo_server(self, "--max", "100")
        sock = self.connect(addr)
        sock.sendall(encode_frame(pattern(100)))
        self.assertEqual(recv_exact(sock, 116), encode_frame(pattern(100)))
        sock.sendall(encode_frame(pattern(101), 101) + encode_frame(b"after"))
        got, _ = read_to_eof(sock, 5)
        self.assertEqual(got, b"")
        child.wait_for_stderr(r"FrameTooLarge len=101 max=100", 5)
        # Refused from its header while the client is still sending the payload:
        # the server drains what follows, so the client sees FIN, not a reset.
        sock = self.connect(addr)
        sock.sendall(encode_frame(pattern(4 << 20), 4 << 20))
        sock.shutdown(socket.SHUT_WR)
        self.assertEqual(read_to_eof(sock, 10)[0], b"")
        for bad in ("-1", "4294967296", "x"):
            with self.subTest(max=bad):
                proc = subprocess.run([sys.executable, str(LPFRAME_PY), "echo-server", "--max", bad],
                                      capture_output=True, text=True, timeout=30)
                self.assertEqual(proc.returncode, 2)
                self.assertEqual(proc.stdout, "")

    @unittest.skipUnless(Path("/proc/self/status").exists(), "needs /proc")
    def test_memory_follows_bytes_received(self) -> None:
        """Headers declaring 4 GiB - 1 (accepted with --max 4294967295) and a few
        payload bytes cost a few bytes each, not the declared length."""
        child, addr = start_py_echo_server(self, "--max", "4294967295")

        def rss_kib() -> int:
            status = Path(f"/proc/{child.proc.pid}/status").read_text()
            return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.M).group(1))

        sock = self.connect(addr)                      # the server has started its threads
        sock.sendall(encode_frame(b"warm up"))
        recv_exact(sock, 23)
        before = rss_kib()
        socks = [self.connect(addr) for _ in range(20)]
        for s in socks:
            s.sendall(encode_header(0xFFFFFFFF, 0) + b"abc")
        sock.sendall(encode_frame(b"still served"))    # and the server still answers
        self.assertEqual(recv_exact(sock, 28), encode_frame(b"still served"))
        time.sleep(0.2)
        self.assertLess(rss_kib() - before, 64 * 1024, "memory grew with the declared lengths")

    def test_client_that_never_reads_does_not_block_others(self) -> None:
        child, addr = start_py_echo_server(self, "--write-timeout", "1")
        hog = self.connect(addr)
        big = encode_frame(pattern(1 << 20))
        outcome: Dict[str, Any] = {}

        def flood() -> None:           # sends 1 MiB frames and never reads an echo
            hog.settimeout(20)
            t0 = time.monotonic()
            try:
                for _ in range(512):
                    hog.sendall(big)
                outcome["result"] = "sent everything"
            except OSError as exc:
                outcome["result"] = exc
            outcome["after"] = time.monotonic() - t0

        t = threading.Thread(target=flood, daemon=True)
        t.start()
        time.sleep(0.3)
        other = self.connect(addr)
        t0 = time.monotonic()
        for i in range(5):
            other.sendall(encode_frame(b"served %d" % i))
            self.assertEqual(recv_exact(other, 24), encode_frame(b"served %d" % i))
        self.assertLess(time.monotonic() - t0, 2.0)
        t.join(60)
        self.assertFalse(t.is_alive())
        self.assertIsInstance(outcome["result"], OSError)        # the server dropped the hog ...
        self.assertNotIsInstance(outcome["result"], TimeoutError)  # ... rather than just stopping
        self.assertLess(outcome["after"], 15)
        child.wait_for_stderr(r"write timeout", 5)
        other.sendall(encode_frame(b"after"))
        self.assertEqual(recv_exact(other, 21), encode_frame(b"after"))

    def test_signals_end_it_quietly_with_status_0(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=sig.name):
                child, addr = start_py_echo_server(self)
                idle = self.connect(addr)               # open connections do not hold it
                busy = self.connect(addr)
                busy.sendall(encode_header(10, 0) + b"abc")
                idle.sendall(encode_frame(b"x"))
                self.assertEqual(recv_exact(idle, 17), encode_frame(b"x"))
                child.proc.send_signal(sig)
                self.assertEqual(child.wait(10), 0, child.output())
                self.assertEqual(child.stdout, [f"listening on {addr[0]}:{addr[1]}\n"])
                self.assertNotIn("Traceback", "".join(child.stderr))

    def test_listen_address_is_checked(self) -> None:
        for bad in (":0", "127.0.0.1", "127.0.0.1:x", "127.0.0.1:65536"):
            with self.subTest(listen=bad):
                proc = subprocess.run([sys.executable, str(LPFRAME_PY), "echo-server", "--listen", bad],
                                      capture_output=True, text=True, timeout=30)
                self.assertEqual(proc.returncode, 1, proc.stderr)
                self.assertEqual(proc.stdout, "")


class PyEchoServerAgainstRustTests(LiveRustServerTests):
    """Test A again, against ``lpframe.py echo-server`` instead of the Rust
    server: the two servers meet the same expectations."""

    def setUp(self) -> None:
        self.child, self.addr = start_py_echo_server(self)


class RustClientAgainstPyEchoServerTests(unittest.TestCase):
    """The Rust ``echo --connect`` demo client against ``lpframe.py echo-server``."""

    def test_rust_client_succeeds(self) -> None:
        server, addr = start_py_echo_server(self)
        client = Child("--connect", "%s:%d" % addr)
        self.addCleanup(client.kill)
        try:
            rc = client.wait(CLIENT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("Rust client did not finish" + client.output())
        self.assertEqual(rc, 0, "Rust client failed" + client.output() + server.output())
        server.wait_for_stderr(r"PayloadChecksum .* len=25", 5)
        server.wait_for_stderr(r"BadMagic found=0x4745", 5)


if __name__ == "__main__":
    unittest.main()
