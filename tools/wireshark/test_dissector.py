#!/usr/bin/env python3
"""Tests for tools/wireshark/lpframe.lua, the LPF v1 Wireshark dissector.

Builds pcap files itself (Ethernet/IPv4/TCP over 127.0.0.1, with a
SYN/SYN-ACK/ACK handshake and increasing sequence numbers), runs tshark with
the Lua script on them, and checks every decoded frame: fields, CRC
verdicts, expert infos, the Info column, reassembly of split frames and
several frames per segment.

Python 3 standard library only. Run from anywhere:

    python3 tools/wireshark/test_dissector.py

Skips (does not fail) when tshark is not installed.
"""

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "lpframe.lua")
TSHARK = shutil.which("tshark")

LPF_PORT = 7878
HEUR_PORT = 45678  # no Wireshark dissector is registered on it
PREF_PORT = 9000  # Wireshark registers s101 here: the preference overrides it

# Wireshark's checksum status convention, used by lpframe.*.status.
BAD, GOOD, UNVERIFIED = "0", "1", "2"
UNDECODED_MSG = ("Bytes after a fatal header error (or of a frame too large to reassemble)"
                 " are not decoded")


# --------------------------------------------------------------------------
# LPF v1 frames
# --------------------------------------------------------------------------
def lpf_frame(payload, *, version=1, flags=0, magic=b"\xc1\x4c", length=None):
    if length is None:
        length = len(payload)
    hdr = magic + bytes([version, flags]) + struct.pack(">II", length, zlib.crc32(payload))
    return hdr + struct.pack(">I", zlib.crc32(hdr)) + payload


def corrupt_payload(frame):
    """Flip one payload bit: the header stays valid, the payload CRC fails."""
    b = bytearray(frame)
    b[16] ^= 0x01
    return bytes(b)


def corrupt_header_crc(frame):
    b = bytearray(frame)
    b[15] ^= 0xFF
    return bytes(b)


# --------------------------------------------------------------------------
# A tiny pcap writer: Ethernet / IPv4 / TCP
# --------------------------------------------------------------------------
def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


class Pcap:
    def __init__(self):
        self.records = []
        self.t = 1_700_000_000.0

    def packet(self, src_port, dst_port, seq, ack, flags, payload=b"", ip_id=0):
        src = dst = socket.inet_aton("127.0.0.1")
        tcp_len = 20 + len(payload)
        tcp = struct.pack("!HHIIBBHHH", src_port, dst_port, seq & 0xFFFFFFFF,
                          ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0) + payload
        pseudo = src + dst + struct.pack("!BBH", 0, 6, tcp_len)
        csum = inet_checksum(pseudo + tcp)
        tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + tcp_len, ip_id & 0xFFFF,
                         0x4000, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", inet_checksum(ip)) + ip[12:]
        eth = b"\x00\x00\x00\x00\x00\x00" * 2 + b"\x08\x00"
        self.t += 0.001
        self.records.append((self.t, eth + ip + tcp))
        return len(self.records)  # frame number

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for t, data in self.records:
                sec = int(t)
                usec = int(round((t - sec) * 1e6))
                f.write(struct.pack("<IIII", sec, usec, len(data), len(data)))
                f.write(data)


class TcpStream:
    """One TCP connection; send() returns the pcap frame number."""

    def __init__(self, pcap, client_port, server_port):
        self.pcap = pcap
        self.cport, self.sport = client_port, server_port
        self.cseq, self.sseq = 1000, 5000
        self.ip_id = 1
        self._pkt(True, SYN, b"")
        self.cseq += 1
        self._pkt(False, SYN | ACK, b"")
        self.sseq += 1
        self._pkt(True, ACK, b"")

    def _pkt(self, from_client, flags, payload):
        self.ip_id += 1
        if from_client:
            seq, ack, ports = self.cseq, self.sseq, (self.cport, self.sport)
        else:
            seq, ack, ports = self.sseq, self.cseq, (self.sport, self.cport)
        if not flags & ACK:
            ack = 0
        return self.pcap.packet(*ports, seq, ack, flags, payload, self.ip_id)

    def send(self, payload, from_client=True):
        n = self._pkt(from_client, PSH | ACK, payload)
        if from_client:
            self.cseq += len(payload)
        else:
            self.sseq += len(payload)
        return n


# --------------------------------------------------------------------------
# Running tshark and reading its JSON
# --------------------------------------------------------------------------
def _multi(pairs):
    """JSON object hook keeping duplicate keys (several LPF frames in one
    packet give several "lpframe" keys): every key maps to a list."""
    d = {}
    for k, v in pairs:
        d.setdefault(k, []).append(v)
    return d


def _flatten(node, out):
    """Collects every field of a protocol tree: name -> list of values."""
    if isinstance(node, dict):
        for k, vs in node.items():
            for v in vs:
                if isinstance(v, (dict, list)):
                    if not k.endswith("_tree") and isinstance(v, dict) and not v:
                        out.setdefault(k, []).append("")
                    _flatten(v, out)
                else:
                    out.setdefault(k, []).append(v)
    elif isinstance(node, list):
        for v in node:
            _flatten(v, out)
    return out


def check_no_lua_error(proc, stdout_too=True):
    """tshark reports a Lua error (script failing to load, or a dissector
    error in a packet) but still exits 0: look for it."""
    for text in (proc.stderr, proc.stdout) if stdout_too else (proc.stderr,):
        if "Lua Error" in text or "_ws.lua.error" in text or "tshark: Lua:" in text:
            raise AssertionError("Lua error from tshark:\n" + text[:4000])


def run_tshark(pcap_path, *extra):
    cmd = [TSHARK, "-n", "-r", pcap_path, "-X", "lua_script:" + SCRIPT,
           "-o", "tcp.desegment_tcp_streams:TRUE", *extra, "-T", "json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError("tshark failed (%d): %s\n%s" % (proc.returncode, " ".join(cmd), proc.stderr))
    check_no_lua_error(proc)
    packets = json.loads(proc.stdout, object_pairs_hook=_multi) if proc.stdout.strip() else []

    # Info column per packet, from a -T fields run (columns are not in -T json).
    cmd_info = [TSHARK, "-n", "-r", pcap_path, "-X", "lua_script:" + SCRIPT,
                "-o", "tcp.desegment_tcp_streams:TRUE", *extra,
                "-T", "fields", "-E", "separator=\t", "-e", "frame.number", "-e", "_ws.col.Info"]
    proc2 = subprocess.run(cmd_info, capture_output=True, text=True, timeout=120)
    if proc2.returncode != 0:
        raise AssertionError("tshark failed: %s\n%s" % (" ".join(cmd_info), proc2.stderr))
    check_no_lua_error(proc2)
    info = {}
    for line in proc2.stdout.splitlines():
        num, _, text = line.partition("\t")
        info[int(num)] = text

    result = {}
    for pkt in packets:
        layers = pkt["_source"][0]["layers"][0]
        num = int(layers["frame"][0]["frame.number"][0])
        lpf = [_flatten(x, {}) for x in layers.get("lpframe", [])]
        result[num] = {"lpf": lpf, "info": info.get(num, ""), "all": _flatten(layers, {})}
    return result


def one(fields, name):
    vals = fields.get(name, [])
    if len(vals) != 1:
        raise AssertionError("%s: expected exactly one value, got %r in %r" % (name, vals, fields))
    return vals[0]


def hexcolon(b):
    return ":".join("%02x" % x for x in b)


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------
@unittest.skipIf(TSHARK is None, "tshark is not installed")
class DissectorTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The script must load and register its fields. (Some Wireshark
        # builds disable Lua for root through init.lua; 4.x allows it.)
        proc = subprocess.run([TSHARK, "-G", "fields", "-X", "lua_script:" + SCRIPT],
                              capture_output=True, text=True, timeout=120)
        check_no_lua_error(proc, stdout_too=False)  # the field list names _ws.lua.error
        if "\tlpframe.payload_crc.status\t" not in proc.stdout:
            raise AssertionError(
                "tshark did not register the lpframe fields: is Lua disabled in this "
                "tshark (for root: run_user_scripts_when_superuser in init.lua)?\n"
                + proc.stderr)

        cls.tmp = tempfile.mkdtemp(prefix="lpframe-ws-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, ignore_errors=True)

        # ---- main capture: one stream on the default port --------------
        p = Pcap()
        s = TcpStream(p, 50000, LPF_PORT)
        cls.multi_payloads = [b"hello", b"", b"LPF over TCP"]
        cls.pkt_multi = s.send(b"".join(lpf_frame(x) for x in cls.multi_payloads))
        cls.pkt_reply = s.send(lpf_frame(b"pong"), from_client=False)

        # A frame split across two segments (the cut is inside the payload).
        cls.split_payload = bytes(range(64))
        fr = lpf_frame(cls.split_payload)
        cls.pkt_split_a = s.send(fr[:30])
        cls.pkt_split_b = s.send(fr[30:])

        # A frame split across three segments, the first cut inside the
        # header; the last segment also carries a whole frame after it.
        cls.split3_payload = b"split in three" * 5
        fr = lpf_frame(cls.split3_payload)
        cls.pkt_split3 = [s.send(fr[:7]), s.send(fr[7:40])]
        cls.pkt_split3.append(s.send(fr[40:] + lpf_frame(b"after")))

        # A corrupted payload (payload CRC bad), then a good frame in the same
        # segment: the stream stays in sync.
        cls.bad_payload = corrupt_payload(lpf_frame(b"corrupted!"))
        cls.pkt_bad_payload = s.send(cls.bad_payload + lpf_frame(b"still in sync"))

        # A corrupted header CRC, last in the stream.
        cls.bad_hcrc = corrupt_header_crc(lpf_frame(b"bad header"))
        cls.pkt_bad_hcrc = s.send(cls.bad_hcrc)
        cls.main_pcap = os.path.join(cls.tmp, "main.pcap")
        p.write(cls.main_pcap)
        cls.main = run_tshark(cls.main_pcap)

        # ---- fatal header errors, one stream each, on the default port ---
        p = Pcap()
        cls.pkt_flags = TcpStream(p, 50010, LPF_PORT).send(lpf_frame(b"flagged", flags=0x80))
        cls.pkt_version = TcpStream(p, 50011, LPF_PORT).send(lpf_frame(b"v2", version=2))
        cls.pkt_magic = TcpStream(p, 50012, LPF_PORT).send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        # A corrupted length byte (5 -> 0x7f000005): the header CRC fails, and
        # the dissector must not wait for 2 GB that will never come.
        b = bytearray(lpf_frame(b"hello"))
        b[4] = 0x7F
        cls.bad_len = bytes(b)
        cls.pkt_bad_len = TcpStream(p, 50013, LPF_PORT).send(cls.bad_len)
        # A verified header announcing 2 GiB: more than Wireshark reassembles.
        cls.pkt_too_large = TcpStream(p, 50014, LPF_PORT).send(
            lpf_frame(b"", length=0x80000000) + b"start of a huge payload")
        cls.fatal_pcap = os.path.join(cls.tmp, "fatal.pcap")
        p.write(cls.fatal_pcap)
        cls.fatal = run_tshark(cls.fatal_pcap)

        # ---- other ports: heuristic, and the port preference ----------
        p = Pcap()
        st = TcpStream(p, 50020, HEUR_PORT)
        cls.pkt_heur = st.send(lpf_frame(b"one") + lpf_frame(b"two"))
        fr = lpf_frame(b"split on a heuristic port")
        cls.pkt_heur_split = [st.send(fr[:20]), st.send(fr[20:])]
        cls.pkt_pref = TcpStream(p, 50021, PREF_PORT).send(lpf_frame(b"on 9000"))
        cls.ports_pcap = os.path.join(cls.tmp, "ports.pcap")
        p.write(cls.ports_pcap)

    # ---- helpers ----
    def assert_good(self, fields, payload):
        self.assertEqual(one(fields, "lpframe.magic"), "0xc14c")
        self.assertEqual(one(fields, "lpframe.version"), "1")
        self.assertEqual(one(fields, "lpframe.flags"), "0x00")
        self.assertEqual(one(fields, "lpframe.length"), str(len(payload)))
        self.assertEqual(one(fields, "lpframe.payload_crc"), "0x%08x" % zlib.crc32(payload))
        self.assertEqual(one(fields, "lpframe.header_crc.status"), GOOD)
        self.assertEqual(one(fields, "lpframe.payload_crc.status"), GOOD)
        if payload:
            self.assertEqual(one(fields, "lpframe.payload"), hexcolon(payload))
        else:
            self.assertNotIn("lpframe.payload", fields)
        for k in fields:
            self.assertFalse(k.startswith("_ws.expert"), "unexpected expert info: %r" % fields)

    def lpf_of(self, result, num, count):
        self.assertIn(num, result, "packet %d missing from tshark output" % num)
        lpf = result[num]["lpf"]
        self.assertEqual(len(lpf), count, "packet %d: %d LPF frames, expected %d (info %r)"
                         % (num, len(lpf), count, result[num]["info"]))
        return lpf

    # ---- main stream ----
    def test_protocol_md_worked_example(self):
        # The worked example of PROTOCOL.md section 5, decoded from packet 1.
        fields = self.lpf_of(self.main, self.pkt_multi, 3)[0]
        self.assertEqual(one(fields, "lpframe.payload_crc"), "0x3610a686")
        self.assertEqual(one(fields, "lpframe.header_crc"), "0x7e440401")

    def test_several_frames_in_one_segment(self):
        frames = self.lpf_of(self.main, self.pkt_multi, 3)
        for fields, payload in zip(frames, self.multi_payloads):
            self.assert_good(fields, payload)
        self.assertEqual(self.main[self.pkt_multi]["info"],
                         "LPF v1 len=5 ok | LPF v1 len=0 ok | LPF v1 len=12 ok")

    def test_server_to_client(self):
        (fields,) = self.lpf_of(self.main, self.pkt_reply, 1)
        self.assert_good(fields, b"pong")

    def test_split_frame_reassembled_once(self):
        self.lpf_of(self.main, self.pkt_split_a, 0)
        (fields,) = self.lpf_of(self.main, self.pkt_split_b, 1)
        self.assert_good(fields, self.split_payload)
        tcp = self.main[self.pkt_split_b]["all"]
        self.assertEqual(one(tcp, "tcp.segment.count"), "2")
        self.assertEqual(tcp.get("tcp.segment"), [str(self.pkt_split_a), str(self.pkt_split_b)])
        self.assertEqual(self.main[self.pkt_split_b]["info"], "LPF v1 len=64 ok")
        # Exactly one LPF frame of that length in the whole capture.
        lens = [f["lpframe.length"][0] for r in self.main.values() for f in r["lpf"]]
        self.assertEqual(lens.count("64"), 1)

    def test_split_in_header_across_three_segments(self):
        a, b, c = self.pkt_split3
        self.lpf_of(self.main, a, 0)
        self.lpf_of(self.main, b, 0)
        first, second = self.lpf_of(self.main, c, 2)
        self.assert_good(first, self.split3_payload)
        self.assert_good(second, b"after")
        self.assertEqual(one(self.main[c]["all"], "tcp.segment.count"), "3")

    def test_bad_payload_crc_flagged_and_stream_stays_in_sync(self):
        bad, good = self.lpf_of(self.main, self.pkt_bad_payload, 2)
        self.assertEqual(one(bad, "lpframe.length"), "10")
        self.assertEqual(one(bad, "lpframe.header_crc.status"), GOOD)
        self.assertEqual(one(bad, "lpframe.payload_crc.status"), BAD)
        self.assertEqual(one(bad, "lpframe.payload_crc.calculated"),
                         "0x%08x" % zlib.crc32(self.bad_payload[16:]))
        self.assertIn("lpframe.payload_crc.bad", bad)
        self.assertEqual(one(bad, "_ws.expert.message"),
                         "PayloadChecksum expected=0x%08x actual=0x%08x len=10"
                         % (zlib.crc32(b"corrupted!"), zlib.crc32(self.bad_payload[16:])))
        self.assertEqual(one(bad, "_ws.expert.group"), str(0x01000000))  # PI_CHECKSUM
        self.assertEqual(one(bad, "_ws.expert.severity"), str(0x00800000))  # PI_ERROR
        self.assert_good(good, b"still in sync")
        self.assertEqual(self.main[self.pkt_bad_payload]["info"],
                         "LPF v1 len=10 bad payload CRC | LPF v1 len=13 ok")

    def test_bad_header_crc_flagged_length_not_trusted(self):
        (fields,) = self.lpf_of(self.main, self.pkt_bad_hcrc, 1)
        self.assertEqual(one(fields, "lpframe.header_crc.status"), BAD)
        self.assertEqual(one(fields, "lpframe.payload_crc.status"), UNVERIFIED)
        self.assertIn("lpframe.header_crc.bad", fields)
        self.assertEqual(one(fields, "lpframe.header_crc.calculated"),
                         "0x%08x" % zlib.crc32(self.bad_hcrc[:12]))
        self.assertNotIn("lpframe.payload", fields)
        self.assertEqual(one(fields, "lpframe.undecoded"), hexcolon(self.bad_hcrc[16:]))
        self.assertEqual(len(fields["_ws.expert.message"]), 2)
        self.assertIn(UNDECODED_MSG, fields["_ws.expert.message"])
        self.assertIn("HeaderChecksum expected=0x%08x actual=0x%08x"
                      % (struct.unpack(">I", self.bad_hcrc[12:16])[0], zlib.crc32(self.bad_hcrc[:12])),
                      fields["_ws.expert.message"])
        self.assertEqual(self.main[self.pkt_bad_hcrc]["info"], "LPF bad header CRC")

    def test_every_frame_of_the_stream(self):
        # 3 + 1 + 1 + 2 + 2 + 1 LPF frames, nothing more, nothing less.
        total = sum(len(r["lpf"]) for r in self.main.values())
        self.assertEqual(total, 10)
        # Handshake packets carry no LPF.
        for num in (1, 2, 3):
            self.assertEqual(self.main[num]["lpf"], [])

    # ---- fatal header errors ----
    def test_reserved_flags(self):
        (fields,) = self.lpf_of(self.fatal, self.pkt_flags, 1)
        self.assertEqual(one(fields, "lpframe.flags"), "0x80")
        self.assertEqual(one(fields, "lpframe.header_crc.status"), GOOD)
        self.assertEqual(one(fields, "lpframe.payload_crc.status"), GOOD)
        self.assertIn("lpframe.flags.reserved", fields)
        self.assertEqual(one(fields, "_ws.expert.message"), "ReservedFlags flags=0x80")
        self.assertEqual(one(fields, "_ws.expert.group"), str(0x07000000))  # PI_MALFORMED
        self.assertEqual(self.fatal[self.pkt_flags]["info"], "LPF v1 len=7 reserved flags 0x80")

    def test_unsupported_version(self):
        (fields,) = self.lpf_of(self.fatal, self.pkt_version, 1)
        self.assertEqual(one(fields, "lpframe.version"), "2")
        self.assertEqual(one(fields, "lpframe.header_crc.status"), UNVERIFIED)
        self.assertIn("lpframe.version.unsupported", fields)
        self.assertEqual(fields["_ws.expert.message"],
                         ["UnsupportedVersion found=2 supported=1", UNDECODED_MSG])
        self.assertEqual(one(fields, "lpframe.undecoded"), hexcolon(b"v2"))
        self.assertEqual(self.fatal[self.pkt_version]["info"], "LPF unsupported version 2")

    def test_corrupted_length_not_trusted(self):
        (fields,) = self.lpf_of(self.fatal, self.pkt_bad_len, 1)
        self.assertEqual(one(fields, "lpframe.length"), str(0x7F000005))
        self.assertEqual(one(fields, "lpframe.header_crc.status"), BAD)
        self.assertEqual(one(fields, "lpframe.payload_crc.status"), UNVERIFIED)
        self.assertIn("lpframe.header_crc.bad", fields)
        self.assertEqual(one(fields, "lpframe.undecoded"), hexcolon(b"hello"))
        self.assertEqual(self.fatal[self.pkt_bad_len]["info"], "LPF bad header CRC")

    def test_frame_too_large_to_reassemble(self):
        (fields,) = self.lpf_of(self.fatal, self.pkt_too_large, 1)
        self.assertEqual(one(fields, "lpframe.length"), str(0x80000000))
        self.assertEqual(one(fields, "lpframe.header_crc.status"), GOOD)
        self.assertEqual(one(fields, "lpframe.payload_crc.status"), UNVERIFIED)
        self.assertIn("lpframe.length.too_large", fields)
        self.assertEqual(one(fields, "lpframe.undecoded"), hexcolon(b"start of a huge payload"))
        self.assertEqual(self.fatal[self.pkt_too_large]["info"], "LPF v1 len=2147483648 too large")

    def test_bad_magic(self):
        (fields,) = self.lpf_of(self.fatal, self.pkt_magic, 1)
        self.assertEqual(one(fields, "lpframe.magic"), "0x4745")
        self.assertIn("lpframe.magic.bad", fields)
        self.assertEqual(fields["_ws.expert.message"], ["BadMagic found=0x4745", UNDECODED_MSG])
        self.assertEqual(one(fields, "lpframe.header_crc.status"), UNVERIFIED)
        self.assertEqual(one(fields, "lpframe.payload_crc.status"), UNVERIFIED)
        self.assertNotIn("lpframe.payload", fields)
        self.assertEqual(self.fatal[self.pkt_magic]["info"], "LPF bad magic 0x4745")

    # ---- heuristic and port preference ----
    def test_heuristic_on_any_port(self):
        res = run_tshark(self.ports_pcap)
        one_, two = self.lpf_of(res, self.pkt_heur, 2)
        self.assert_good(one_, b"one")
        self.assert_good(two, b"two")
        a, b = self.pkt_heur_split
        self.lpf_of(res, a, 0)
        (fields,) = self.lpf_of(res, b, 1)
        self.assert_good(fields, b"split on a heuristic port")
        # The heuristic also finds the stream on port 9000 (s101's port).
        self.lpf_of(res, self.pkt_pref, 1)

    def test_heuristic_can_be_disabled(self):
        res = run_tshark(self.ports_pcap, "--disable-heuristic", "lpframe_tcp")
        self.lpf_of(res, self.pkt_heur, 0)
        self.lpf_of(res, self.pkt_pref, 0)

    def test_port_preference(self):
        res = run_tshark(self.ports_pcap, "--disable-heuristic", "lpframe_tcp",
                         "-o", "lpframe.port:%d" % PREF_PORT)
        (fields,) = self.lpf_of(res, self.pkt_pref, 1)
        self.assert_good(fields, b"on 9000")
        self.lpf_of(res, self.pkt_heur, 0)

    def test_two_pass_gives_the_same_frames(self):
        res = run_tshark(self.main_pcap, "-2")
        self.assertEqual({n: len(r["lpf"]) for n, r in res.items()},
                         {n: len(r["lpf"]) for n, r in self.main.items()})
        self.assertEqual({n: r["info"] for n, r in res.items() if r["lpf"]},
                         {n: r["info"] for n, r in self.main.items() if r["lpf"]})

    def test_default_port_off_without_heuristic(self):
        # With the port set to 0 and the heuristic off, nothing is LPF.
        res = run_tshark(self.main_pcap, "--disable-heuristic", "lpframe_tcp",
                         "-o", "lpframe.port:0")
        self.assertEqual(sum(len(r["lpf"]) for r in res.values()), 0)


def main():
    if TSHARK is None:
        print("SKIPPED: tshark is not installed, so the LPF dissector tests are skipped "
              "(install it with: apt-get install -y tshark). This is not a failure.")
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = max(0, result.testsRun - failed - skipped)
    print("dissector: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
