-- lpframe.lua: Wireshark/tshark dissector for LPF v1, the framing protocol of
-- the Rust crate `lpframe` (normative spec: PROTOCOL.md at the repo root).
--
-- A frame is a 16-byte header followed by `length` payload bytes, all
-- integers big-endian:
--
--   offset size field
--    0     2    magic        0xC1 0x4C
--    2     1    version      1
--    3     1    flags        v1 defines none: any set bit is an error
--    4     4    length       payload length (u32)
--    8     4    payload_crc  CRC-32 (ISO-HDLC/zlib) of the payload
--   12     4    header_crc   CRC-32 of header bytes 0..11
--
-- Load:   tshark -X lua_script:tools/wireshark/lpframe.lua ...
--         (or copy into ~/.local/lib/wireshark/plugins/)
-- Port:   -o lpframe.port:9000 (default 7878); a heuristic on TCP also
--         recognises the stream on any port from its magic + version byte.
--
-- Checks, in PROTOCOL.md's receiver order: magic, version, header_crc,
-- flags, (length), payload_crc. A header whose magic, version or header CRC
-- is wrong is fatal for the stream: its length is not trusted, only the
-- header is dissected and the rest of the segment is shown as undecoded
-- data. A bad payload CRC loses only that frame: the stream stays in sync.
--
-- Works with Wireshark's Lua 5.2 (bit32) and with Lua 5.3/5.4 (native
-- bitwise operators) alike.

local lpf = Proto("lpframe", "LPF v1 (lpframe Length-Prefixed Frames)")

local HEADER_LEN = 16
local MAGIC = 0xC14C
local VERSION = 1
local DEFAULT_PORT = 7878
-- tcp_dissect_pdus() keeps PDU lengths in a C int: a verified header whose
-- frame would be larger than this cannot be reassembled by Wireshark.
local MAX_PDU = 0x7FFFFFFF

----------------------------------------------------------------------------
-- CRC-32 (ISO-HDLC / zlib): reflected poly 0xEDB88320, init and xorout
-- 0xFFFFFFFF. Table-driven, pure Lua.
----------------------------------------------------------------------------
local crc32_update -- function(crc, string) -> crc, on the un-finalised state

if bit32 then
    -- Lua 5.2 (Wireshark up to 4.2): no native bitwise operators.
    local band, bxor, rshift = bit32.band, bit32.bxor, bit32.rshift
    local T = {}
    for n = 0, 255 do
        local c = n
        for _ = 1, 8 do
            if band(c, 1) ~= 0 then
                c = bxor(rshift(c, 1), 0xEDB88320)
            else
                c = rshift(c, 1)
            end
        end
        T[n] = c
    end
    crc32_update = function(crc, s)
        local byte = string.byte
        for i = 1, #s do
            crc = bxor(T[bxor(band(crc, 0xFF), byte(s, i))], rshift(crc, 8))
        end
        return crc
    end
else
    -- Lua 5.3+: native operators. Compiled from a string so that a Lua 5.2
    -- parser never sees the operators.
    crc32_update = assert(load([[
        local T = {}
        for n = 0, 255 do
            local c = n
            for _ = 1, 8 do
                if c & 1 ~= 0 then c = (c >> 1) ~ 0xEDB88320 else c = c >> 1 end
            end
            T[n] = c
        end
        return function(crc, s)
            local byte = string.byte
            for i = 1, #s do
                crc = T[(crc ~ byte(s, i)) & 0xFF] ~ (crc >> 8)
            end
            return crc
        end
    ]], "lpframe_crc32", "t"))()
end

local function xor_ffffffff(c)
    -- c ^ 0xFFFFFFFF for 0 <= c < 2^32, without bitwise operators.
    return 0xFFFFFFFF - c
end

-- CRC-32 of a Lua string.
local function crc32(s)
    return xor_ffffffff(crc32_update(0xFFFFFFFF, s))
end

-- CRC-32 of `len` bytes of `tvb` from `offset`, fed in chunks so a big
-- payload is never copied into one huge Lua string.
local function crc32_tvb(tvb, offset, len)
    local crc = 0xFFFFFFFF
    local CHUNK = 65536
    while len > 0 do
        local n = len < CHUNK and len or CHUNK
        crc = crc32_update(crc, tvb:raw(offset, n))
        offset = offset + n
        len = len - n
    end
    return xor_ffffffff(crc)
end

assert(crc32("123456789") == 0xCBF43926, "lpframe.lua: CRC-32 self-check failed")

----------------------------------------------------------------------------
-- Fields
----------------------------------------------------------------------------
-- Checksum status values follow Wireshark's own convention (the values of
-- tcp.checksum.status, ip.checksum.status, ...): 0 = Bad, 1 = Good,
-- 2 = Unverified. Filter with e.g. `lpframe.payload_crc.status == "Bad"`
-- or `lpframe.payload_crc.status == 0`.
local STATUS_BAD, STATUS_GOOD, STATUS_UNVERIFIED = 0, 1, 2
local status_names = { [0] = "Bad", [1] = "Good", [2] = "Unverified" }

local f = {
    magic = ProtoField.uint16("lpframe.magic", "Magic", base.HEX),
    version = ProtoField.uint8("lpframe.version", "Version", base.DEC),
    flags = ProtoField.uint8("lpframe.flags", "Flags", base.HEX),
    length = ProtoField.uint32("lpframe.length", "Length", base.DEC),
    payload_crc = ProtoField.uint32("lpframe.payload_crc", "Payload CRC-32", base.HEX),
    payload_crc_status = ProtoField.uint8("lpframe.payload_crc.status", "Payload CRC status",
        base.DEC, status_names),
    payload_crc_calc = ProtoField.uint32("lpframe.payload_crc.calculated",
        "Calculated payload CRC-32", base.HEX),
    header_crc = ProtoField.uint32("lpframe.header_crc", "Header CRC-32", base.HEX),
    header_crc_status = ProtoField.uint8("lpframe.header_crc.status", "Header CRC status",
        base.DEC, status_names),
    header_crc_calc = ProtoField.uint32("lpframe.header_crc.calculated",
        "Calculated header CRC-32", base.HEX),
    payload = ProtoField.bytes("lpframe.payload", "Payload"),
    undecoded = ProtoField.bytes("lpframe.undecoded",
        "Undecoded bytes (after a fatal header error, or of a frame too large to reassemble)"),
}
lpf.fields = {
    f.magic, f.version, f.flags, f.length,
    f.payload_crc, f.payload_crc_status, f.payload_crc_calc,
    f.header_crc, f.header_crc_status, f.header_crc_calc,
    f.payload, f.undecoded,
}

local e = {
    bad_magic = ProtoExpert.new("lpframe.magic.bad", "Bad magic (not an LPF stream)",
        expert.group.MALFORMED, expert.severity.ERROR),
    bad_version = ProtoExpert.new("lpframe.version.unsupported", "Unsupported LPF version",
        expert.group.MALFORMED, expert.severity.ERROR),
    bad_header_crc = ProtoExpert.new("lpframe.header_crc.bad", "Bad header CRC-32",
        expert.group.CHECKSUM, expert.severity.ERROR),
    reserved_flags = ProtoExpert.new("lpframe.flags.reserved", "Reserved flags set",
        expert.group.MALFORMED, expert.severity.ERROR),
    bad_payload_crc = ProtoExpert.new("lpframe.payload_crc.bad", "Bad payload CRC-32",
        expert.group.CHECKSUM, expert.severity.ERROR),
    too_large = ProtoExpert.new("lpframe.length.too_large",
        "Frame too large for Wireshark to reassemble",
        expert.group.UNDECODED, expert.severity.WARN),
    undecoded = ProtoExpert.new("lpframe.undecoded.expert",
        "Bytes after a fatal header error (or of a frame too large to reassemble) are not decoded",
        expert.group.UNDECODED, expert.severity.NOTE),
}
lpf.experts = {
    e.bad_magic, e.bad_version, e.bad_header_crc, e.reserved_flags,
    e.bad_payload_crc, e.too_large, e.undecoded,
}

lpf.prefs.port = Pref.uint("TCP port", DEFAULT_PORT,
    "TCP port on which LPF v1 is decoded (0: none). The heuristic on TCP "
        .. "also finds LPF streams on other ports from their magic.")

----------------------------------------------------------------------------
-- Header verdict, shared by the length function and the PDU dissector.
----------------------------------------------------------------------------
-- Returns a table: magic, version, flags, length, payload_crc, header_crc,
-- header_crc_calc, and `fatal` ("magic", "version", "header_crc" or nil):
-- when fatal is set the length must not be trusted.
local function check_header(tvb, offset)
    local h = {
        magic = tvb(offset, 2):uint(),
        version = tvb(offset + 2, 1):uint(),
        flags = tvb(offset + 3, 1):uint(),
        length = tvb(offset + 4, 4):uint(),
        payload_crc = tvb(offset + 8, 4):uint(),
        header_crc = tvb(offset + 12, 4):uint(),
    }
    h.header_crc_calc = crc32(tvb:raw(offset, 12))
    if h.magic ~= MAGIC then
        h.fatal = "magic"
    elseif h.version ~= VERSION then
        h.fatal = "version"
    elseif h.header_crc_calc ~= h.header_crc then
        h.fatal = "header_crc"
    elseif HEADER_LEN + h.length > MAX_PDU then
        h.fatal = "too_large"
    end
    return h
end

-- Length function for dissect_tcp_pdus: 16 + length for a verified header;
-- for a header that cannot be trusted, everything left in this tvb (the
-- header plus bytes that can no longer be framed).
local function get_pdu_len(tvb, pinfo, offset)
    local h = check_header(tvb, offset)
    if h.fatal then
        return tvb:reported_length_remaining(offset)
    end
    return HEADER_LEN + h.length
end

local function hex(n, digits)
    return string.format("0x%0" .. digits .. "x", n)
end

-- Info column: the first LPF frame of a packet replaces TCP's text, later
-- ones (several frames in a segment) are appended.
local function set_info(pinfo, text)
    local cur = tostring(pinfo.cols.info)
    if cur:sub(1, 4) == "LPF " then
        pinfo.cols.info:append(" | " .. text)
    else
        pinfo.cols.info:set(text)
    end
end

-- Dissects one PDU: tvb holds exactly one frame (or, after a fatal header
-- error, the header and the rest of the segment).
local function dissect_pdu(tvb, pinfo, tree)
    pinfo.cols.protocol:set("LPF")
    local h = check_header(tvb, 0)
    local total = tvb:len()
    local frame_len = h.fatal and HEADER_LEN or (HEADER_LEN + h.length)
    local root = tree:add(lpf, tvb(0, math.min(frame_len, total)))

    local it_magic = root:add(f.magic, tvb(0, 2))
    local it_version = root:add(f.version, tvb(2, 1))
    local it_flags = root:add(f.flags, tvb(3, 1))
    local it_length = root:add(f.length, tvb(4, 4))
    local it_pcrc = root:add(f.payload_crc, tvb(8, 4))
    local it_hcrc = root:add(f.header_crc, tvb(12, 4))

    local info
    local verdicts = {}

    -- Check 1 and 2 (magic, version): failures are fatal, and the header CRC
    -- is not checked (PROTOCOL.md section 4: the first failing check decides).
    if h.fatal == "magic" then
        it_magic:add_proto_expert_info(e.bad_magic,
            string.format("BadMagic found=%s", hex(h.magic, 4)))
        info = "LPF bad magic " .. hex(h.magic, 4)
    elseif h.fatal == "version" then
        it_version:add_proto_expert_info(e.bad_version,
            string.format("UnsupportedVersion found=%d supported=%d", h.version, VERSION))
        info = string.format("LPF unsupported version %d", h.version)
    end

    -- Check 3: header CRC (meaningful only once magic and version are right).
    local hstatus = STATUS_UNVERIFIED
    if h.fatal ~= "magic" and h.fatal ~= "version" then
        hstatus = (h.header_crc_calc == h.header_crc) and STATUS_GOOD or STATUS_BAD
    end
    local hs = it_hcrc:add(f.header_crc_status, tvb(12, 4), hstatus)
    hs:set_generated()
    it_hcrc:add(f.header_crc_calc, tvb(12, 4), h.header_crc_calc):set_generated()
    if hstatus == STATUS_BAD then
        it_hcrc:append_text(" [incorrect, should be " .. hex(h.header_crc_calc, 8) .. "]")
        it_hcrc:add_proto_expert_info(e.bad_header_crc,
            string.format("HeaderChecksum expected=%s actual=%s",
                hex(h.header_crc, 8), hex(h.header_crc_calc, 8)))
        it_length:append_text(" (not trusted: bad header CRC)")
        info = "LPF bad header CRC"
    elseif hstatus == STATUS_GOOD then
        it_hcrc:append_text(" [correct]")
    end

    -- Check 4: flags (the header is verified, so the length is still used).
    if not h.fatal or h.fatal == "too_large" then
        if h.flags ~= 0 then
            it_flags:add_proto_expert_info(e.reserved_flags,
                string.format("ReservedFlags flags=%s", hex(h.flags, 2)))
            verdicts[#verdicts + 1] = "reserved flags " .. hex(h.flags, 2)
        end
    end
    if h.fatal == "too_large" then
        it_length:add_proto_expert_info(e.too_large)
        verdicts[#verdicts + 1] = "too large"
    end

    -- Check 6: payload CRC, over the payload of a trusted header.
    local pstatus = STATUS_UNVERIFIED
    if not h.fatal then
        if h.length > 0 then
            root:add(f.payload, tvb(HEADER_LEN, h.length))
        end
        local calc = crc32_tvb(tvb, HEADER_LEN, h.length)
        pstatus = (calc == h.payload_crc) and STATUS_GOOD or STATUS_BAD
        it_pcrc:add(f.payload_crc_calc, tvb(8, 4), calc):set_generated()
        if pstatus == STATUS_BAD then
            it_pcrc:append_text(" [incorrect, should be " .. hex(calc, 8) .. "]")
            it_pcrc:add_proto_expert_info(e.bad_payload_crc,
                string.format("PayloadChecksum expected=%s actual=%s len=%d",
                    hex(h.payload_crc, 8), hex(calc, 8), h.length))
            verdicts[#verdicts + 1] = "bad payload CRC"
        else
            it_pcrc:append_text(" [correct]")
        end
    end
    it_pcrc:add(f.payload_crc_status, tvb(8, 4), pstatus):set_generated()

    if h.fatal and total > HEADER_LEN then
        local u = root:add(f.undecoded, tvb(HEADER_LEN, total - HEADER_LEN))
        u:add_proto_expert_info(e.undecoded)
    end

    if not info then
        info = string.format("LPF v%d len=%d %s", h.version, h.length,
            #verdicts == 0 and "ok" or table.concat(verdicts, ", "))
    end
    root:append_text(", " .. info:sub(5))
    set_info(pinfo, info)
    return total
end

function lpf.dissector(tvb, pinfo, tree)
    dissect_tcp_pdus(tvb, tree, HEADER_LEN, get_pdu_len, dissect_pdu, true)
    return tvb:len()
end

----------------------------------------------------------------------------
-- Registration: TCP port (preference) and heuristic.
----------------------------------------------------------------------------
local tcp_port_table = DissectorTable.get("tcp.port")
local current_port = 0

local function register_port(port)
    if current_port ~= 0 then
        tcp_port_table:remove(current_port, lpf)
    end
    current_port = port
    if port ~= 0 then
        tcp_port_table:add(port, lpf)
    end
end

register_port(DEFAULT_PORT)

function lpf.prefs_changed()
    if lpf.prefs.port ~= current_port then
        register_port(lpf.prefs.port)
    end
end

-- Heuristic: the segment starts with the magic and version 1. It then makes
-- LPF the conversation's dissector, so the rest of the stream (including
-- segments that start mid-frame) goes straight to lpf.dissector.
local function heuristic(tvb, pinfo, tree)
    if tvb:len() < 3 then
        return false
    end
    if tvb(0, 2):uint() ~= MAGIC or tvb(2, 1):uint() ~= VERSION then
        return false
    end
    pinfo.conversation = lpf
    lpf.dissector(tvb, pinfo, tree)
    return true
end

lpf:register_heuristic("tcp", heuristic)
