"""lpframe.py - an independent Python implementation of LPF v1 (Length-Prefixed Frames).

Written from ``PROTOCOL.md`` alone (standard library only).  Contents:

* :func:`encode_frame`, :func:`encode_header`, :func:`write_frame`, :class:`FrameWriter`
  - the sender side (section 3 of the spec);
* :class:`Decoder` - an incremental, sans-I/O stream decoder: feed it bytes in any
  chunking, pull :class:`Frame` objects or errors out of it.  It performs the
  receiver checks of section 4 in the spec's order, makes checks 1 and 2 as soon
  as two / three header bytes are there, reports end of stream (section 4.1), keeps
  memory proportional to the bytes actually received (section 6) and optionally
  implements the recovery mode of section 8 (``recover=True``);
* :func:`read_frame` - an *exact* blocking reader: it never reads a byte past the
  frame it returns (so it cannot resynchronise, section 8);
* :class:`FrameReader` - a buffered blocking reader with the idle / stall timeouts
  of section 6 and optional recovery;
* :func:`serve_echo` and the command line ``python3 lpframe.py echo-server`` - an
  echo server for conformance testing (see the README for its contract).

Errors are exceptions, one class per error kind of section 4.2, all derived from
:class:`LpfError`.  They carry their numbers as attributes and their ``str()`` is
the canonical text of the spec (``BadMagic found=0x4745`` ...).  ``err.fatal``
tells whether the stream is finished (every kind except :class:`PayloadChecksum`
and the recovery-mode report :class:`Skipped`).

Events
------
The decoder produces *events*: a :class:`Frame` (a delivered frame) or an
:class:`LpfError` instance.  Errors are *returned* by :meth:`Decoder.next_event`
and *raised* by :meth:`Decoder.next_frame` / :meth:`FrameReader.read_frame`.
After a fatal error every later call reports the same error again; bytes that
follow are never decoded (spec section 4, "Fatal").
"""

from __future__ import annotations

import argparse
import errno
import os
import selectors
import signal
import socket
import stat
import struct
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Union

__all__ = [
    "MAGIC", "VERSION", "HEADER_LEN", "DEFAULT_MAX_FRAME_LEN", "MAX_FRAME_LEN_LIMIT", "PAYLOAD_TYPES",
    "crc32", "encode_header", "encode_frame", "write_frame", "read_frame", "decode",
    "Frame", "Decoder", "FrameReader", "FrameWriter",
    "LpfError", "BadMagic", "UnsupportedVersion", "HeaderChecksum", "ReservedFlags",
    "FrameTooLarge", "PayloadChecksum", "Truncated", "Skipped",
    "LpfTimeout", "StreamUnusable", "PartialFrameLost", "Event",
    "EchoConfig", "serve_echo", "main",
]

#: The two magic bytes every LPF header starts with (section 2).
MAGIC = b"\xc1\x4c"
#: The protocol version this module speaks and writes.
VERSION = 1
#: Size of the fixed header in bytes.
HEADER_LEN = 16
#: Flag bits defined by version 1 (none).
DEFINED_FLAGS = 0x00
#: Default ``max_frame_len`` for reading and writing (lpframe's default, section 6).
DEFAULT_MAX_FRAME_LEN = 8 * 1024 * 1024
#: Largest configurable ``max_frame_len`` (the length field is 32 bits).
MAX_FRAME_LEN_LIMIT = 0xFFFFFFFF

_HEADER_FIELDS = struct.Struct(">2sBBII")  # magic, version, flags, length, payload_crc
_U32 = struct.Struct(">I")
_RECV_CHUNK = 64 * 1024          # default read size of the buffered reader
_MAX_RECV = 256 * 1024           # cap of a single read


def crc32(data: Any) -> int:
    """CRC-32/ISO-HDLC (zlib's CRC) of a bytes-like object, as an unsigned int."""
    return zlib.crc32(data) & 0xFFFFFFFF


def _check_max_frame_len(max_frame_len: int) -> int:
    """Validate a ``max_frame_len`` setting (0 to 2^32 - 1) and return it."""
    if isinstance(max_frame_len, bool) or not isinstance(max_frame_len, int):
        raise TypeError("max_frame_len must be an int")
    if not 0 <= max_frame_len <= MAX_FRAME_LEN_LIMIT:
        raise ValueError(f"max_frame_len must be between 0 and {MAX_FRAME_LEN_LIMIT}")
    return max_frame_len


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------

class LpfError(Exception):
    """Base class of the LPF receiver errors (section 4.2).

    ``str(err)`` is the canonical text of the spec; ``err.kind`` the error name;
    ``err.fatal`` whether the stream can be read any further.
    """

    #: Whether the error ends the stream (section 4: "fatal").
    fatal: bool = True

    @property
    def kind(self) -> str:
        """The error's name as the spec spells it (``"BadMagic"``, ...)."""
        return type(self).__name__

    def canonical(self) -> str:  # pragma: no cover - overridden
        """The canonical text of section 4.2."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.canonical()

    def __repr__(self) -> str:
        return f"<{self.canonical()}>"


class BadMagic(LpfError):
    """Check 1 failed: the first two header bytes are not ``c1 4c``.

    Attributes: ``found`` (the two bytes received, as ``bytes``).
    """

    def __init__(self, found: bytes) -> None:
        self.found = bytes(found)
        super().__init__(self.canonical())

    @property
    def found_value(self) -> int:
        """The two received bytes as a big-endian 16-bit number."""
        return int.from_bytes(self.found, "big")

    def canonical(self) -> str:
        return f"BadMagic found=0x{self.found.hex()}"


class UnsupportedVersion(LpfError):
    """Check 2 failed: byte 2 is not a version this receiver speaks.

    Attributes: ``found`` (the version byte), ``supported`` (1).
    """

    def __init__(self, found: int, supported: int = VERSION) -> None:
        self.found = found
        self.supported = supported
        super().__init__(self.canonical())

    def canonical(self) -> str:
        return f"UnsupportedVersion found={self.found} supported={self.supported}"


class HeaderChecksum(LpfError):
    """Check 3 failed: bytes 12-15 are not the CRC-32 of bytes 0-11.

    Attributes: ``expected`` (the value carried in the header), ``actual``
    (the CRC computed over the 12 received bytes).
    """

    def __init__(self, expected: int, actual: int) -> None:
        self.expected = expected
        self.actual = actual
        super().__init__(self.canonical())

    def canonical(self) -> str:
        return f"HeaderChecksum expected=0x{self.expected:08x} actual=0x{self.actual:08x}"


class ReservedFlags(LpfError):
    """Check 4 failed: a flag bit that version 1 does not define is set.

    Attributes: ``flags`` (the whole flags byte).
    """

    def __init__(self, flags: int) -> None:
        self.flags = flags
        super().__init__(self.canonical())

    def canonical(self) -> str:
        return f"ReservedFlags flags=0x{self.flags:02x}"


class FrameTooLarge(LpfError):
    """Check 5 failed (or a sender refused a payload): ``length`` > ``limit``.

    Attributes: ``length`` (declared or attempted payload length), ``limit``
    (the ``max_frame_len`` in force).
    """

    def __init__(self, length: int, limit: int) -> None:
        self.length = length
        self.limit = limit
        super().__init__(self.canonical())

    def canonical(self) -> str:
        return f"FrameTooLarge len={self.length} max={self.limit}"


class PayloadChecksum(LpfError):
    """Check 6 failed: the payload does not match ``payload_crc``.  Not fatal:
    the frame is skipped and decoding continues with the next frame.

    Attributes: ``expected`` (header value), ``actual`` (computed), ``length``.
    """

    fatal = False

    def __init__(self, expected: int, actual: int, length: int) -> None:
        self.expected = expected
        self.actual = actual
        self.length = length
        super().__init__(self.canonical())

    def canonical(self) -> str:
        return (f"PayloadChecksum expected=0x{self.expected:08x} "
                f"actual=0x{self.actual:08x} len={self.length}")


class Truncated(LpfError):
    """The stream ended inside a frame (section 4.1).

    Attributes: ``part`` (``"header"`` or ``"payload"``), ``missing`` (how many
    bytes of that part were still expected).
    """

    def __init__(self, part: str, missing: int) -> None:
        if part not in ("header", "payload"):
            raise ValueError("part must be 'header' or 'payload'")
        self.part = part
        self.missing = missing
        super().__init__(self.canonical())

    def canonical(self) -> str:
        return f"Truncated part={self.part} missing={self.missing}"


class Skipped(LpfError):
    """Recovery mode only (section 8): ``length`` bytes from stream offset
    ``offset`` were skipped because of ``cause`` (the error that started the
    skip, or :class:`Truncated` for a partial frame at end of stream).  Not fatal.

    The spec defines no canonical text for this report; ours is
    ``Skipped offset=S len=N cause=<canonical text of the cause>``.
    """

    fatal = False

    def __init__(self, offset: int, length: int, cause: LpfError) -> None:
        self.offset = offset
        self.length = length
        self.cause = cause
        super().__init__(self.canonical())

    def canonical(self) -> str:
        return f"Skipped offset={self.offset} len={self.length} cause={self.cause.canonical()}"


class LpfTimeout(TimeoutError):
    """A read timed out (section 6).  Not a protocol error, and resumable: the
    reader's position is unchanged and the read may simply be retried.

    ``phase`` is ``"idle"`` (waiting for the first byte of a frame) or
    ``"stall"`` (inside a frame, :class:`FrameReader` only).  ``resumable`` is
    always true for the timeouts this module raises: when the exact
    :func:`read_frame` times out after part of a frame was read, the stream is
    no longer usable and it raises :class:`PartialFrameLost` instead, which is
    not a ``TimeoutError``.
    """

    def __init__(self, phase: str, timeout: Optional[float], resumable: bool = True) -> None:
        self.phase = phase
        self.timeout = timeout
        self.resumable = resumable
        what = "waiting for a frame" if phase == "idle" else "inside a frame"
        extra = "" if resumable else "; the stream is unusable"
        super().__init__(f"{phase} timeout ({timeout} s) {what}{extra}")


class StreamUnusable(OSError):
    """The stream can no longer carry frames and must be closed.

    Raised by :class:`FrameWriter` after a write failed part-way through a frame
    (section 3, rule 4): no further frame may be written on that stream.  Its
    subclass :class:`PartialFrameLost` is raised by :func:`read_frame` when the
    stream's read position is lost."""


class PartialFrameLost(StreamUnusable):
    """The exact :func:`read_frame` had read part of a frame when a read failed
    (its socket's timeout struck, or a non-blocking descriptor had no data).

    The bytes read so far are lost, so the stream is no longer at a frame
    boundary and cannot be read any further: close it.  This is deliberately
    *not* a ``TimeoutError``: a caller that retries on timeouts would read the
    rest of the broken frame as a new header (or, if the lost bytes were a
    header, deliver bytes of a payload as frames).  A timeout before the first
    byte of a frame is a plain, resumable :class:`LpfTimeout` instead.

    Attributes: ``consumed`` (bytes of the frame read and lost), ``timeout``
    (the socket's timeout, or ``None``).  ``__cause__`` is the original error.
    """

    def __init__(self, consumed: int, timeout: Optional[float], what: str = "timeout") -> None:
        self.consumed = consumed
        self.timeout = timeout
        when = f" ({timeout} s)" if timeout is not None else ""
        super().__init__(f"read_frame: {what}{when} after {consumed} byte(s) of a frame were read; "
                         "those bytes are lost and the stream is no longer usable: close it")


Event = Union["Frame", LpfError]


# --------------------------------------------------------------------------------------
# Sender side
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Frame:
    """A delivered frame: its payload and its flags (always 0 in version 1)."""

    payload: bytes
    flags: int = 0


def encode_header(length: int, payload_crc: int, *, version: int = VERSION, flags: int = 0,
                  magic: bytes = MAGIC, header_crc: Optional[int] = None) -> bytes:
    """Build a 16-byte header.  The keyword arguments exist to forge *invalid*
    headers in tests; a conforming sender uses :func:`encode_frame`."""
    covered = _HEADER_FIELDS.pack(magic, version, flags, length, payload_crc)
    if header_crc is None:
        header_crc = crc32(covered)
    return covered + _U32.pack(header_crc)


#: The payload types every sending entry point accepts.
PAYLOAD_TYPES = (bytes, bytearray, memoryview)


def _payload_bytes(payload: Any) -> bytes:
    """``payload`` as ``bytes``; :class:`TypeError` unless it is bytes-like.

    Only ``bytes``, ``bytearray`` and ``memoryview`` (and their subclasses) are
    payloads.  ``bytes(payload)`` alone would turn the int 5 into five zero
    bytes and a list of ints into their bytes, so a wrong argument would be
    sent as a well-formed frame instead of being refused.
    """
    if not isinstance(payload, PAYLOAD_TYPES):
        raise TypeError("payload must be bytes, bytearray or memoryview, "
                        f"not {type(payload).__name__}")
    return bytes(payload)


def encode_frame(payload: Any, max_frame_len: int = DEFAULT_MAX_FRAME_LEN) -> bytes:
    """Return the wire bytes of one version-1 frame carrying ``payload``.

    ``payload`` must be ``bytes``, ``bytearray`` or ``memoryview``; anything
    else (an int, a str, None, a list ...) raises :class:`TypeError`.  Raises
    :class:`FrameTooLarge` if the payload is longer than ``max_frame_len`` (the
    receiver's limit, section 3 rule 3).  Both checks happen before anything
    is produced.
    """
    _check_max_frame_len(max_frame_len)
    data = _payload_bytes(payload)
    if len(data) > max_frame_len:
        raise FrameTooLarge(len(data), max_frame_len)
    return encode_header(len(data), crc32(data)) + data


def _sender(stream: Any) -> Callable[[bytes], None]:
    """A function writing all bytes to a socket (``sendall``) or a file (``write``)."""
    if hasattr(stream, "sendall"):
        return stream.sendall

    def write_all(data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = stream.write(view)
            if n is None:  # BufferedWriter / TextIO-like: wrote everything
                break
            view = view[n:]
        flush = getattr(stream, "flush", None)
        if flush is not None:
            flush()
    return write_all


def write_frame(stream: Any, payload: Any, max_frame_len: int = DEFAULT_MAX_FRAME_LEN) -> None:
    """Write one frame to a socket or binary file.

    The type check (:class:`TypeError` unless ``payload`` is bytes-like) and
    the length check happen before any byte is written.  If the write itself
    fails, the stream may hold half a frame: the caller MUST NOT write more
    frames on it (use :class:`FrameWriter` to have that enforced).
    """
    _sender(stream)(encode_frame(payload, max_frame_len))


class FrameWriter:
    """Writes frames to a socket or binary file and enforces sender rule 4: once
    a write has failed, every later :meth:`write` raises :class:`StreamUnusable`."""

    def __init__(self, stream: Any, max_frame_len: int = DEFAULT_MAX_FRAME_LEN) -> None:
        self.stream = stream
        self.max_frame_len = _check_max_frame_len(max_frame_len)
        self.broken: Optional[BaseException] = None
        self._send = _sender(stream)

    def write(self, payload: Any) -> None:
        """Write one frame.  Raises :class:`TypeError` (``payload`` is not
        bytes-like) or :class:`FrameTooLarge` (nothing written, the writer stays
        usable), the transport's ``OSError`` (the writer becomes
        unusable) or :class:`StreamUnusable` after an earlier failure."""
        if self.broken is not None:
            raise StreamUnusable(f"an earlier write failed part-way: {self.broken!r}")
        data = encode_frame(payload, self.max_frame_len)
        try:
            self._send(data)
        except BaseException as exc:  # includes timeouts: unknown how much was written
            self.broken = exc
            raise


# --------------------------------------------------------------------------------------
# Decoder (sans I/O)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Header:
    """A header that passed checks 1 to 5."""

    flags: int
    length: int
    payload_crc: int


def _check_header(buf: bytearray, max_frame_len: int) -> Union[_Header, LpfError, None]:
    """Run checks 1-5 on the header at the start of ``buf``.

    Checks 1 and 2 are made as soon as 2 / 3 bytes are available, the others
    once 16 bytes are there.  Returns the first failing check's error, a
    :class:`_Header` if all five pass, or ``None`` if more bytes are needed.
    """
    n = len(buf)
    if n >= 2 and (buf[0] != MAGIC[0] or buf[1] != MAGIC[1]):
        return BadMagic(bytes(buf[0:2]))                                   # check 1
    if n >= 3 and buf[2] != VERSION:
        return UnsupportedVersion(buf[2])                                   # check 2
    if n < HEADER_LEN:
        return None
    covered = bytes(buf[0:12])
    (expected,) = _U32.unpack_from(buf, 12)
    actual = crc32(covered)
    if expected != actual:
        return HeaderChecksum(expected, actual)                             # check 3
    _magic, _version, flags, length, payload_crc = _HEADER_FIELDS.unpack(covered)
    if flags & ~DEFINED_FLAGS & 0xFF:
        return ReservedFlags(flags)                                         # check 4
    if length > max_frame_len:
        return FrameTooLarge(length, max_frame_len)                         # check 5
    return _Header(flags, length, payload_crc)


class Decoder:
    """Incremental LPF v1 stream decoder (no I/O).

    Usage::

        d = Decoder()
        d.feed(chunk)            # any chunking, including byte by byte
        ...
        d.feed_eof()             # the stream has ended
        while (ev := d.next_event()) is not None: ...

    :meth:`next_event` returns a :class:`Frame`, a non-fatal error
    (:class:`PayloadChecksum`; :class:`Skipped` in recovery mode), a fatal error
    (then returned again by every later call), or ``None`` when it needs more
    bytes - or, once :attr:`finished` is true, at the clean end of the stream.

    Memory: the decoder buffers only the bytes fed to it and not yet consumed;
    it never allocates according to a declared length.  After a fatal error the
    buffer is released and later input is discarded.

    ``recover=True`` enables the optional recovery mode of section 8: header
    errors (checks 1-5) and end of stream inside a frame do not end the stream;
    the damaged bytes are reported as :class:`Skipped` and decoding resumes at
    the next header that verifies.
    """

    def __init__(self, max_frame_len: int = DEFAULT_MAX_FRAME_LEN, *, recover: bool = False) -> None:
        self.max_frame_len = _check_max_frame_len(max_frame_len)
        self.recover = recover
        self._buf = bytearray()
        self._base = 0                     # stream offset of self._buf[0]
        self._header: Optional[_Header] = None
        self._fatal: Optional[LpfError] = None
        self._eof = False
        self._finished = False
        # recovery state
        self._scanning = False
        self._skip_start = 0
        self._skip_cause: Optional[LpfError] = None
        #: number of resynchronisation candidates verified (recovery mode).
        self.candidates = 0

    # -- input ---------------------------------------------------------------------
    def feed(self, data: Any) -> None:
        """Append received bytes.  Ignored after a fatal error."""
        if self._eof:
            raise ValueError("feed() after feed_eof()")
        if self._fatal is not None:
            return
        self._buf += data

    def feed_eof(self) -> None:
        """Signal the end of the stream."""
        self._eof = True

    # -- state ---------------------------------------------------------------------
    @property
    def error(self) -> Optional[LpfError]:
        """The fatal error that ended the stream, if any."""
        return self._fatal

    @property
    def finished(self) -> bool:
        """True once the stream ended cleanly (or, in recovery mode, ended)."""
        return self._finished

    @property
    def buffered(self) -> int:
        """Bytes held by the decoder (received, not yet consumed)."""
        return len(self._buf)

    @property
    def offset(self) -> int:
        """Stream offset of the first buffered (unconsumed) byte."""
        return self._base

    @property
    def in_frame(self) -> bool:
        """True if the decoder is inside a frame (or a damaged region) rather
        than at a frame boundary with nothing buffered."""
        return bool(self._buf) or self._header is not None or self._scanning

    @property
    def bytes_needed(self) -> int:
        """How many more bytes :meth:`next_event` needs before it can make
        progress (0: an event is ready or the decoder is done).  Reading exactly
        this many bytes never reads past the end of the current frame."""
        if self._fatal is not None or self._finished or self._eof:
            return 0
        n = len(self._buf)
        if self._scanning:
            if n < 2 or bytes(self._buf[:2]) != MAGIC:
                return 1
            return 3 - n if n < 3 else max(1, HEADER_LEN - n)
        if self._header is None:
            for step in (2, 3, HEADER_LEN):
                if n < step:
                    return step - n
            return 0
        return max(0, HEADER_LEN + self._header.length - n)

    # -- output --------------------------------------------------------------------
    def next_event(self) -> Optional[Event]:
        """Decode as far as the buffered bytes allow and return the next event,
        or ``None`` (more bytes needed, or the stream has ended: see
        :attr:`finished`)."""
        while True:
            if self._fatal is not None:
                return self._fatal
            if self._finished:
                return None
            if self._scanning:
                skipped = self._scan()
                if skipped is not None:
                    return skipped
                if self._eof:
                    return self._end_scan()
                return None
            if self._header is None:
                res = _check_header(self._buf, self.max_frame_len)
                if isinstance(res, LpfError):
                    if not self.recover:
                        return self._fail(res)
                    self._start_scan(res)
                    continue
                if res is None:            # header incomplete
                    return self._at_eof() if self._eof else None
                self._header = res
            h = self._header
            total = HEADER_LEN + h.length
            if len(self._buf) < total:
                return self._at_eof() if self._eof else None
            payload = bytes(self._buf[HEADER_LEN:total])
            self._consume(total)
            self._header = None
            actual = crc32(payload)
            if actual != h.payload_crc:                                     # check 6
                return PayloadChecksum(h.payload_crc, actual, h.length)
            return Frame(payload, h.flags)

    def next_frame(self) -> Optional[Frame]:
        """Like :meth:`next_event` but raises errors instead of returning them."""
        ev = self.next_event()
        if isinstance(ev, LpfError):
            raise ev
        return ev

    def events(self) -> Iterator[Event]:
        """Yield every event available now; stops after a fatal error (yielded once)."""
        while True:
            ev = self.next_event()
            if ev is None:
                return
            yield ev
            if isinstance(ev, LpfError) and ev.fatal:
                return

    # -- internals -----------------------------------------------------------------
    def _consume(self, n: int) -> None:
        """Drop ``n`` bytes from the front of the buffer (in place)."""
        if n:
            del self._buf[:n]
            self._base += n

    def _fail(self, err: LpfError) -> LpfError:
        """Enter the fatal state: remember ``err`` and release the buffer."""
        self._fatal = err
        self._base += len(self._buf)
        self._buf = bytearray()
        self._header = None
        return err

    def _at_eof(self) -> Optional[LpfError]:
        """End of stream while not scanning: clean end, or Truncated."""
        n = len(self._buf)
        if n == 0 and self._header is None:
            self._finished = True
            return None
        if self._header is None:
            err = Truncated("header", HEADER_LEN - n)
        else:
            err = Truncated("payload", HEADER_LEN + self._header.length - n)
        if not self.recover:
            return self._fail(err)
        start = self._base
        self._consume(n)
        self._header = None
        self._finished = True
        return Skipped(start, n, err)

    def _start_scan(self, cause: LpfError) -> None:
        """Recovery step 1: a header error at the current frame boundary."""
        self._scanning = True
        self._skip_start = self._base
        self._skip_cause = cause
        self._consume(1)

    def _scan(self) -> Optional[Skipped]:
        """Recovery step 2-3: look for the next header that verifies.

        Returns the :class:`Skipped` report when one is found (decoding then
        resumes at it), ``None`` if more bytes are needed.  Ruled-out bytes are
        released at once and never rescanned.
        """
        buf = self._buf
        while True:
            i = buf.find(MAGIC)
            if i < 0:
                keep = 1 if buf and buf[-1] == MAGIC[0] else 0   # may start a magic
                self._consume(len(buf) - keep)
                return None
            self._consume(i)
            res = _check_header(buf, self.max_frame_len)
            if res is None:
                return None                                      # wait for 16 bytes
            self.candidates += 1
            if isinstance(res, LpfError):
                self._consume(1)                                 # reject the candidate
                continue
            assert self._skip_cause is not None
            skipped = Skipped(self._skip_start, self._base - self._skip_start, self._skip_cause)
            self._scanning = False
            self._skip_cause = None
            self._header = res
            return skipped

    def _end_scan(self) -> Skipped:
        """Recovery step 5: end of stream while scanning."""
        assert self._skip_cause is not None
        self._consume(len(self._buf))
        skipped = Skipped(self._skip_start, self._base - self._skip_start, self._skip_cause)
        self._scanning = False
        self._finished = True
        return skipped


def decode(data: Any, max_frame_len: int = DEFAULT_MAX_FRAME_LEN, *, recover: bool = False) -> List[Event]:
    """Decode a complete stream held in memory; return all its events in order
    (a fatal error, if any, is the last one)."""
    d = Decoder(max_frame_len, recover=recover)
    d.feed(data)
    d.feed_eof()
    return list(d.events())


# --------------------------------------------------------------------------------------
# Blocking readers
# --------------------------------------------------------------------------------------

def _receiver(stream: Any) -> Callable[[int], bytes]:
    """A function reading up to n bytes from a socket (``recv``) or file (``read``)."""
    if hasattr(stream, "recv"):
        return stream.recv
    read1 = getattr(stream, "read1", None)
    return read1 if read1 is not None else stream.read


def _refuse_non_blocking(stream: Any) -> None:
    """Raise :class:`ValueError` if ``stream`` is a non-blocking socket or file.

    A socket whose timeout is 0 (``setblocking(False)``) is refused; so is a
    socket with no timeout, or a file that is not a regular file, whose
    descriptor was made non-blocking behind Python's back.  A socket with a
    positive timeout is accepted (Python makes its descriptor non-blocking
    itself and implements the timeout).
    """
    gettimeout = getattr(stream, "gettimeout", None)
    if gettimeout is not None:
        timeout = gettimeout()
        if timeout == 0:
            raise ValueError("read_frame() needs a blocking socket, and this one is non-blocking "
                             "(its timeout is 0): a read would fail part-way through a frame and lose "
                             "the bytes already read. Use a blocking socket (timeout None or > 0), "
                             "or Decoder / FrameReader, which keep partial frames.")
        if timeout is not None:
            return
    fileno = getattr(stream, "fileno", None)
    if fileno is None:
        return
    try:
        fd = fileno()
        if fd < 0 or os.get_blocking(fd):
            return
        if gettimeout is None and stat.S_ISREG(os.fstat(fd).st_mode):
            return  # reads of a regular file never block, whatever O_NONBLOCK says
    except (OSError, ValueError, AttributeError):  # no descriptor (BytesIO), closed, no get_blocking
        return
    raise ValueError("read_frame() needs a blocking stream, and this descriptor is non-blocking "
                     "(O_NONBLOCK): a read would fail part-way through a frame and lose the bytes "
                     "already read. Use Decoder or FrameReader instead.")


def read_frame(stream: Any, max_frame_len: int = DEFAULT_MAX_FRAME_LEN) -> Optional[Frame]:
    """Read exactly one frame from a blocking socket or binary file.

    Returns the :class:`Frame`, or ``None`` at the clean end of the stream.
    Raises the :class:`LpfError` of the frame: after :class:`PayloadChecksum`
    the stream is positioned at the next frame and the caller may call again;
    after any other error the caller MUST stop reading and close the stream.

    *Exact*: never reads a byte past the frame (2, then 1, then 13 header
    bytes, then the payload), so it can be mixed with other reads of the same
    stream, but it cannot resynchronise, and it keeps no state between calls:
    the bytes of a frame it has read exist only inside the call.  Hence:

    * *Blocking streams only.*  A non-blocking socket (``gettimeout() == 0``)
      or non-blocking descriptor is refused with :class:`ValueError` before any
      byte is read.  Use :class:`Decoder` or :class:`FrameReader` with those.
    * *Timeouts* come from the socket's own timeout.  One that strikes before
      the first byte of the frame raises a plain, resumable :class:`LpfTimeout`
      (``phase="idle"``; nothing was read, call again).  One that strikes after
      part of the frame was read raises :class:`PartialFrameLost` (a
      :class:`StreamUnusable`, not a ``TimeoutError``): those bytes are lost
      and the stream MUST be closed (spec section 6: "an implementation whose
      reads cannot resume after a timeout MUST treat the stream as unusable").
    """
    _refuse_non_blocking(stream)
    recv = _receiver(stream)
    d = Decoder(max_frame_len)
    while True:
        ev = d.next_event()
        if ev is not None:
            if isinstance(ev, LpfError):
                raise ev
            return ev
        if d.finished:
            return None
        n = d.bytes_needed
        started = d.in_frame
        timeout = stream.gettimeout() if hasattr(stream, "gettimeout") else None
        try:
            data = recv(min(n, _MAX_RECV))
        except TimeoutError as exc:
            if not started:
                raise LpfTimeout("idle", timeout, resumable=True) from None
            raise PartialFrameLost(d.buffered, timeout) from exc
        except BlockingIOError as exc:  # made non-blocking after the check, or by another thread
            if not started:
                raise
            raise PartialFrameLost(d.buffered, None, "no data on a non-blocking stream") from exc
        if data is None:  # a non-blocking raw file with no data
            if not started:
                raise BlockingIOError(errno.EAGAIN, "read_frame: no data on a non-blocking stream")
            raise PartialFrameLost(d.buffered, None, "no data on a non-blocking stream")
        if data:
            d.feed(data)
        else:
            d.feed_eof()


class FrameReader:
    """Buffered blocking reader of frames from a socket or binary file.

    ``idle_timeout``: seconds to wait for the first byte of a frame (``None``:
    the socket's own timeout).  ``stall_timeout``: seconds allowed for the rest
    of a frame once it has started - a deadline for the whole frame, re-armed
    for each frame and for each call (``None``: the socket's own per-read
    timeout).  A timeout raises :class:`LpfTimeout` and leaves the reader's
    position unchanged: calling again resumes where it stopped.

    ``recover=True`` enables recovery mode (section 8); :class:`Skipped`
    reports are then returned / raised like :class:`PayloadChecksum`.
    """

    def __init__(self, stream: Any, max_frame_len: int = DEFAULT_MAX_FRAME_LEN, *,
                 idle_timeout: Optional[float] = None, stall_timeout: Optional[float] = None,
                 recover: bool = False, recv_size: int = _RECV_CHUNK) -> None:
        self.stream = stream
        self.decoder = Decoder(max_frame_len, recover=recover)
        self.idle_timeout = idle_timeout
        self.stall_timeout = stall_timeout
        self.recv_size = max(1, recv_size)
        self._recv = _receiver(stream)

    def read_event(self) -> Optional[Event]:
        """Return the next event (:class:`Frame` or :class:`LpfError`), or
        ``None`` at the clean end of the stream.  A fatal error is returned
        again by every later call.  Raises :class:`LpfTimeout` and transport
        ``OSError``\\ s."""
        d = self.decoder
        stall_deadline: Optional[float] = None
        while True:
            ev = d.next_event()
            if ev is not None:
                return ev
            if d.finished:
                return None
            if d.in_frame:
                if stall_deadline is None and self.stall_timeout is not None:
                    stall_deadline = time.monotonic() + self.stall_timeout
                phase, limit, deadline = "stall", self.stall_timeout, stall_deadline
            else:
                phase, limit = "idle", self.idle_timeout
                deadline = None if limit is None else time.monotonic() + limit
            size = min(max(self.recv_size, d.bytes_needed), _MAX_RECV)
            data = self._read(size, phase, limit, deadline)
            if data:
                d.feed(data)
            else:
                d.feed_eof()

    def read_frame(self) -> Optional[Frame]:
        """Return the next frame, ``None`` at the clean end of the stream;
        raise the next error (fatal ones again on every later call)."""
        ev = self.read_event()
        if isinstance(ev, LpfError):
            raise ev
        return ev

    def __iter__(self) -> Iterator[Frame]:
        """Iterate over frames until the clean end; errors are raised."""
        while True:
            frame = self.read_frame()
            if frame is None:
                return
            yield frame

    def _read(self, size: int, phase: str, limit: Optional[float], deadline: Optional[float]) -> bytes:
        """One read, bounded by ``deadline`` if one is set."""
        sock = self.stream if isinstance(self.stream, socket.socket) else None
        original = sock.gettimeout() if sock is not None else None
        try:
            if deadline is not None and sock is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LpfTimeout(phase, limit)
                sock.settimeout(remaining)
            try:
                return self._recv(size)
            except LpfTimeout:
                raise
            except TimeoutError:
                raise LpfTimeout(phase, limit if limit is not None else original) from None
        finally:
            if deadline is not None and sock is not None:
                sock.settimeout(original)


# --------------------------------------------------------------------------------------
# Echo server (conformance testing)
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EchoConfig:
    """Settings of :func:`serve_echo` (``python3 lpframe.py echo-server``).

    Timeouts are in seconds; ``None`` means no timeout.  ``drain_time`` bounds
    the orderly close: how long the server keeps reading and discarding after
    it has shut down its sending side."""

    max_frame_len: int = DEFAULT_MAX_FRAME_LEN
    idle_timeout: Optional[float] = None
    stall_timeout: Optional[float] = None
    write_timeout: Optional[float] = 10.0
    drain_time: float = 1.0


_ECHO_BATCH = 64 * 1024          # echoes smaller than this are joined into one send
_LISTEN_BACKLOG = 4096


class _Log:
    """Thread-safe, line-at-a-time logging to stderr that never raises."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def __call__(self, line: str) -> None:
        stream = self.stream if self.stream is not None else sys.stderr
        try:
            with self.lock:
                stream.write(line + "\n")
                stream.flush()
        except Exception:  # a closed or broken stderr must not end a connection
            pass


def _format_addr(addr: Any) -> str:
    """``HOST:PORT``, with brackets around an IPv6 host."""
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = addr[0], addr[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(addr)


def _parse_listen(text: str) -> tuple:
    """``HOST:PORT`` or ``[IPV6]:PORT`` -> (host, port).  The host is required,
    so that an empty one never binds every interface by accident."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on exactly ``host``:``port`` (first address found)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    if not infos:
        raise OSError(f"cannot resolve {host!r}")
    family, type_, proto, _canon, sockaddr = infos[0]
    sock = socket.socket(family, type_, proto)
    try:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and hasattr(socket, "IPV6_V6ONLY"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(sockaddr)
        sock.listen(_LISTEN_BACKLOG)
    except BaseException:
        sock.close()
        raise
    return sock


def _orderly_close(conn: socket.socket, drain_time: float) -> None:
    """End a connection so that the peer sees the end of the stream (FIN), not
    a reset: shut down the sending side, then read and discard what the peer
    still sends, for at most ``drain_time`` seconds or until its EOF, then close
    (closing with unread bytes in the receive buffer would send an RST)."""
    try:
        conn.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + drain_time
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            conn.settimeout(remaining)
            if not conn.recv(_RECV_CHUNK):
                break
    except OSError:
        pass
    finally:
        conn.close()


def _abort(conn: socket.socket) -> None:
    """Close at once with a reset (SO_LINGER 0): for a peer that does not read
    its echoes, whose unsent data would otherwise keep the socket alive."""
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    conn.close()


def _send_echoes(conn: socket.socket, payloads: List[bytes], cfg: EchoConfig) -> None:
    """Send one frame per payload, in order, within ``cfg.write_timeout`` per
    send (``sendall`` with a timeout bounds the whole call).  Small frames are
    joined into one send.  Raises the transport's ``OSError``/``TimeoutError``."""
    conn.settimeout(cfg.write_timeout)
    batch: List[bytes] = []
    size = 0
    for payload in payloads:
        frame = encode_frame(payload, cfg.max_frame_len)
        if size + len(frame) > _ECHO_BATCH and batch:
            conn.sendall(b"".join(batch))
            batch, size = [], 0
        batch.append(frame)
        size += len(frame)
    if batch:
        conn.sendall(b"".join(batch) if len(batch) > 1 else batch[0])


def _echo_connection(conn: socket.socket, peer: Any, cfg: EchoConfig, log: Callable[[str], None]) -> None:
    """Serve one connection of the echo server (see :func:`serve_echo`)."""
    name = _format_addr(peer)
    try:
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        d = Decoder(cfg.max_frame_len)
        last_recv = time.monotonic()
        frame_deadline: Optional[float] = None   # stall deadline of the frame in progress
        frame_offset = -1                         # stream offset of that frame's first byte
        while True:
            owed: List[bytes] = []
            fatal: Optional[LpfError] = None
            for ev in d.events():                 # stops after a fatal error
                if isinstance(ev, Frame):
                    owed.append(ev.payload)
                elif ev.fatal:
                    fatal = ev
                else:
                    log(f"{name}: {ev} (frame skipped, not echoed)")
            if owed:
                try:
                    _send_echoes(conn, owed, cfg)
                except TimeoutError:
                    log(f"{name}: write timeout ({cfg.write_timeout} s): the peer does not read; "
                        "closing (reset)")
                    _abort(conn)
                    return
                except OSError as exc:
                    log(f"{name}: write failed ({exc}); closing")
                    _abort(conn)
                    return
            if fatal is not None:
                log(f"{name}: {fatal} (fatal; closing)")
                _orderly_close(conn, cfg.drain_time)
                return
            if d.finished:
                _orderly_close(conn, cfg.drain_time)
                return
            if d.in_frame:
                phase, limit = "stall", cfg.stall_timeout
                if limit is None:
                    timeout = None
                else:
                    if frame_deadline is None or d.offset != frame_offset:
                        # a new frame started with the bytes of the last read
                        frame_deadline, frame_offset = last_recv + limit, d.offset
                    timeout = frame_deadline - time.monotonic()
                    if timeout <= 0:
                        log(f"{name}: stall timeout ({limit} s) inside a frame "
                            f"({d.buffered} byte(s) received); closing")
                        _orderly_close(conn, cfg.drain_time)
                        return
            else:
                frame_deadline = None
                phase, limit = "idle", cfg.idle_timeout
                timeout = limit
            conn.settimeout(timeout)
            try:
                data = conn.recv(_RECV_CHUNK)
            except TimeoutError:
                where = "inside a frame" if phase == "stall" else "waiting for a frame"
                log(f"{name}: {phase} timeout ({limit} s) {where}; closing")
                _orderly_close(conn, cfg.drain_time)
                return
            last_recv = time.monotonic()
            if data:
                d.feed(data)
            else:
                d.feed_eof()
    except OSError as exc:
        log(f"{name}: {exc!r}; closing")
        _abort(conn)
    except Exception as exc:  # a bug here must not end the server
        log(f"{name}: internal error {exc!r}; closing")
        _abort(conn)


def serve_echo(listener: socket.socket, cfg: EchoConfig, stop: threading.Event,
               wakeup: Optional[socket.socket] = None, log: Optional[Callable[[str], None]] = None) -> None:
    """Run the echo server on ``listener`` until ``stop`` is set (then return).

    Each connection gets a thread.  ``wakeup``, if given, is a socket that
    receives a byte when the server must stop (the CLI passes the socket its
    signal wakeup fd writes to); without it the loop looks at ``stop`` every
    0.2 s.  The contract of a connection is in the README
    ("echo-server").
    """
    log = log if log is not None else _Log()
    listener.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    if wakeup is not None:
        sel.register(wakeup, selectors.EVENT_READ)
    try:
        while not stop.is_set():
            for key, _ in sel.select(None if wakeup is not None else 0.2):
                if key.fileobj is wakeup:
                    # Only the signal handlers write there; the Python-level
                    # handler may not have run yet if the signal was delivered
                    # to another thread, so a byte itself means "stop".
                    try:
                        if wakeup.recv(4096):
                            stop.set()
                    except OSError:
                        pass
                    continue
                try:
                    conn, peer = listener.accept()
                except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                    continue
                except OSError as exc:      # EMFILE, ENFILE, ENOBUFS...: back off
                    log(f"accept failed: {exc}")
                    time.sleep(0.1)
                    continue
                conn.setblocking(True)
                try:
                    threading.Thread(target=_echo_connection, args=(conn, peer, cfg, log),
                                     name=f"echo {_format_addr(peer)}", daemon=True).start()
                except RuntimeError as exc:  # can't start new thread
                    log(f"{_format_addr(peer)}: {exc}; closing")
                    _abort(conn)
    finally:
        sel.close()


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _max_frame_len_arg(text: str) -> int:
    try:
        return _check_max_frame_len(int(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _echo_server_main(args: argparse.Namespace) -> int:
    """``echo-server``: print ``listening on HOST:PORT``, serve until SIGINT/SIGTERM."""
    stop = threading.Event()
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    # Handlers first, so that a signal during start-up also ends quietly.
    signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    try:
        host, port = _parse_listen(args.listen)
        listener = _bind(host, port)
    except (OSError, ValueError) as exc:
        print(f"echo-server: cannot listen on {args.listen}: {exc}", file=sys.stderr)
        return 1
    cfg = EchoConfig(max_frame_len=args.max, idle_timeout=args.idle_timeout,
                     stall_timeout=args.stall_timeout, write_timeout=args.write_timeout)
    print(f"listening on {_format_addr(listener.getsockname())}", flush=True)
    serve_echo(listener, cfg, stop, wakeup=wake_r)
    listener.close()
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Command line: ``python3 lpframe.py echo-server [options]``."""
    parser = argparse.ArgumentParser(prog="lpframe.py", description="LPF v1 tools (Python implementation)")
    sub = parser.add_subparsers(dest="command", required=True)
    echo = sub.add_parser(
        "echo-server", help="echo every delivered frame back (conformance testing)",
        description="Echo server: sends back one frame per frame delivered, in order. "
                    "Prints 'listening on HOST:PORT', then serves until SIGINT or SIGTERM.")
    echo.add_argument("--listen", default="127.0.0.1:0", metavar="HOST:PORT",
                      help="address to bind (default 127.0.0.1:0: an ephemeral port on loopback)")
    echo.add_argument("--max", type=_max_frame_len_arg, default=DEFAULT_MAX_FRAME_LEN, metavar="N",
                      help=f"max_frame_len, 0 to {MAX_FRAME_LEN_LIMIT} (default {DEFAULT_MAX_FRAME_LEN})")
    echo.add_argument("--idle-timeout", type=_positive_seconds, default=None, metavar="S",
                      help="close a connection that sends no first byte of a frame for S s (default: none)")
    echo.add_argument("--stall-timeout", type=_positive_seconds, default=None, metavar="S",
                      help="close a connection whose frame is not complete S s after its first byte "
                           "(default: none)")
    echo.add_argument("--write-timeout", type=_positive_seconds, default=10.0, metavar="S",
                      help="close a connection whose echo cannot be sent within S s (default 10)")
    args = parser.parse_args(argv)
    if args.command == "echo-server":
        return _echo_server_main(args)
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    _rc = main()
    # Connection threads are daemons blocked in recv/send: leave without
    # interpreter shutdown (which could race with their logging).
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(_rc)
