//! `lpframe inspect`: one entry per frame, error or skipped range, from the
//! library's own decoder (no protocol check is written twice: verdicts come
//! from `FrameDecoder` and `header::Header::parse`).

use std::io::{self, Write};

use bytes::BytesMut;
use lpframe::{Config, DecodeError, FrameDecoder, Header, HEADER_LEN};

/// Totals printed at the end.
#[derive(Debug, Default)]
pub struct Summary {
    pub frames: u64,
    pub payload_bytes: u64,
    pub errors: u64,
    pub skipped_bytes: u64,
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `68 65 6c 6c 6f  |hello|` for the first 16 bytes.
fn preview(payload: &[u8]) -> String {
    let head = payload.get(..16).unwrap_or(payload);
    let hexes: Vec<String> = head.iter().map(|b| format!("{b:02x}")).collect();
    let ascii: String = head
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '.'
            }
        })
        .collect();
    let more = if payload.len() > 16 {
        format!(" (+{} bytes)", payload.len() - 16)
    } else {
        String::new()
    };
    format!("{:<47}  |{ascii}|{more}", hexes.join(" "))
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

struct Paint(bool);

impl Paint {
    fn verdict(&self, ok: bool) -> String {
        match (ok, self.0) {
            (true, true) => "\x1b[32mok\x1b[0m".into(),
            (false, true) => "\x1b[1;31mBAD\x1b[0m".into(),
            (true, false) => "ok".into(),
            (false, false) => "BAD".into(),
        }
    }
    fn warn(&self, s: &str) -> String {
        if self.0 {
            format!("\x1b[33m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// The raw header fields at `offset` (whatever they are, valid or not).
struct Raw {
    version: u8,
    flags: u8,
    len: u32,
    payload_crc: u32,
    header_crc: u32,
}

fn raw(data: &[u8], offset: usize) -> Option<Raw> {
    let h = data.get(offset..offset.checked_add(HEADER_LEN)?)?;
    let be = |i: usize| {
        h.get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .unwrap_or(0)
    };
    Some(Raw {
        version: *h.get(2)?,
        flags: *h.get(3)?,
        len: be(4),
        payload_crc: be(8),
        header_crc: be(12),
    })
}

pub fn inspect(
    data: &[u8],
    config: Config,
    json: bool,
    color: bool,
    out: &mut impl Write,
) -> io::Result<Summary> {
    let paint = Paint(color);
    let mut dec = FrameDecoder::with_config(config);
    let mut buf = BytesMut::from(data);
    let mut sum = Summary::default();
    if !json {
        writeln!(
            out,
            "{:>10}  {:>3}  {:>5}  {:>10}  {:<16}  {:<16}  payload",
            "offset", "ver", "flags", "length", "payload_crc", "header_crc"
        )?;
    }
    // Bounded: every iteration consumes input or ends.
    for _ in 0..=data.len() + 1 {
        let result = dec.decode_eof(&mut buf);
        let offset = dec.frame_offset() as usize;
        match result {
            Ok(None) => break,
            Ok(Some(frame)) => {
                sum.frames += 1;
                sum.payload_bytes += frame.len() as u64;
                let r = raw(data, offset);
                let (pcrc, hcrc) = r
                    .as_ref()
                    .map(|r| (r.payload_crc, r.header_crc))
                    .unwrap_or_default();
                if json {
                    writeln!(out, "{{\"kind\":\"frame\",\"offset\":{offset},\"version\":1,\"flags\":{},\"length\":{},\"payload_crc\":\"{pcrc:#010x}\",\"payload_crc_ok\":true,\"header_crc\":\"{hcrc:#010x}\",\"header_crc_ok\":true,\"payload_hex\":\"{}\"}}",
                        frame.flags().bits(), frame.len(), hex(frame.payload().get(..64).unwrap_or(frame.payload())))?;
                } else {
                    writeln!(out, "{offset:>10}  {:>3}  {:>#5x}  {:>10}  {pcrc:#010x} {:<5}  {hcrc:#010x} {:<5}  {}",
                        1, frame.flags().bits(), frame.len(), paint.verdict(true), paint.verdict(true), preview(frame.payload()))?;
                }
            }
            Err(e) => {
                sum.errors += 1;
                let fatal = e.is_fatal();
                match &e {
                    DecodeError::Skipped { offset, len, cause } => {
                        sum.skipped_bytes += len;
                        if json {
                            writeln!(out, "{{\"kind\":\"skipped\",\"offset\":{offset},\"length\":{len},\"cause\":{}}}", json_str(&cause.to_string()))?;
                        } else {
                            writeln!(
                                out,
                                "{offset:>10}  {}",
                                paint.warn(&format!("skipped {len} bytes ({cause})"))
                            )?;
                        }
                    }
                    _ => {
                        // Show the header fields as they are on the wire,
                        // with the library's verdicts.
                        let r = raw(data, offset);
                        let header_ok = data
                            .get(offset..offset + HEADER_LEN)
                            .and_then(|h| h.first_chunk::<HEADER_LEN>())
                            .map(|h| {
                                Header::parse(h, u32::MAX).is_ok()
                                    || matches!(
                                        e,
                                        DecodeError::FrameTooLarge { .. }
                                            | DecodeError::PayloadChecksum { .. }
                                    )
                            });
                        let payload_ok = !matches!(e, DecodeError::PayloadChecksum { .. });
                        if json {
                            let fields = r.as_ref().map(|r| format!(",\"version\":{},\"flags\":{},\"length\":{},\"payload_crc\":\"{:#010x}\",\"header_crc\":\"{:#010x}\",\"header_crc_ok\":{}",
                                r.version, r.flags, r.len, r.payload_crc, r.header_crc, header_ok.unwrap_or(false))).unwrap_or_default();
                            let pc = if matches!(e, DecodeError::PayloadChecksum { .. }) {
                                ",\"payload_crc_ok\":false"
                            } else {
                                ""
                            };
                            writeln!(out, "{{\"kind\":\"error\",\"offset\":{offset},\"error\":\"{}\",\"fatal\":{fatal},\"message\":{}{fields}{pc}}}", e.name(), json_str(&e.to_string()))?;
                        } else {
                            match (&r, header_ok) {
                                (Some(r), Some(hok)) => writeln!(out, "{offset:>10}  {:>3}  {:>#5x}  {:>10}  {:#010x} {:<5}  {:#010x} {:<5}  {}",
                                    r.version, r.flags, r.len, r.payload_crc,
                                    // The payload is judged only once it is complete.
                                    if hok && matches!(e, DecodeError::PayloadChecksum { .. }) { paint.verdict(payload_ok) } else { "?".into() },
                                    r.header_crc, paint.verdict(hok), paint.warn(&e.to_string()))?,
                                _ => writeln!(out, "{offset:>10}  {}", paint.warn(&e.to_string()))?,
                            }
                        }
                    }
                }
                if fatal {
                    break;
                }
            }
        }
    }
    if json {
        writeln!(out, "{{\"kind\":\"summary\",\"frames\":{},\"payload_bytes\":{},\"errors\":{},\"skipped_bytes\":{},\"input_bytes\":{}}}",
            sum.frames, sum.payload_bytes, sum.errors, sum.skipped_bytes, data.len())?;
    } else {
        writeln!(
            out,
            "summary: {} frames, {} payload bytes, {} errors, {} bytes skipped, {} bytes of input",
            sum.frames,
            sum.payload_bytes,
            sum.errors,
            sum.skipped_bytes,
            data.len()
        )?;
    }
    Ok(sum)
}
