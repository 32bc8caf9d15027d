//! The one parser of the test vectors, `tests/vectors/lpf-v1.txt`
//! (PROTOCOL.md section 10; the format is in tests/vectors/README.md),
//! embedded at compile time.
//!
//! Errors in the file are canonical texts (PROTOCOL.md section 4.2); they
//! are parsed back into [`DecodeError`]s, and a text that does not format
//! back to itself is refused, so an [`Event`] compares exactly as the file
//! says.

use lpframe::{Config, DecodeError, FramePart, DEFAULT_MAX_FRAME_LEN};

use crate::Event;

/// The vector file, as committed.
pub const FILE: &str = include_str!("../../tests/vectors/lpf-v1.txt");

/// One vector of the file.
#[derive(Debug, Clone)]
pub struct Vector {
    /// Its name (the `vector` line).
    pub name: String,
    /// The receiver's limit it assumes (`max` line, or the default 8 MiB).
    pub max: u32,
    /// `mode recover`: decode in recovery mode (PROTOCOL.md section 8).
    pub recover: bool,
    /// The bytes a receiver is fed (all `input` lines, concatenated).
    pub input: Vec<u8>,
    /// What the receiver produces, in order.
    pub events: Vec<Event>,
}

impl Vector {
    /// The receiver's limits and mode the vector assumes.
    pub fn setup(&self) -> crate::Setup {
        crate::Setup {
            config: Config::new().max_read_frame_len(self.max),
            recover: self.recover,
        }
    }
}

/// Every vector of the embedded file.
///
/// # Panics
/// The committed file does not parse.
pub fn all() -> Vec<Vector> {
    parse(FILE).unwrap_or_else(|e| panic!("{e}"))
}

/// The vectors of a file in the format of tests/vectors/README.md.
///
/// # Errors
/// A line the format does not have (the message names the line).
pub fn parse(text: &str) -> Result<Vec<Vector>, String> {
    let mut out = Vec::new();
    let mut cur: Option<Vector> = None;
    for (n, line) in text.lines().enumerate() {
        let bad = |what: &str| format!("lpf-v1.txt line {}: {what}: {line:?}", n + 1);
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        if key == "vector" {
            if cur.is_some() {
                return Err(bad("vector inside a vector"));
            }
            cur = Some(Vector {
                name: value.to_string(),
                max: DEFAULT_MAX_FRAME_LEN,
                recover: false,
                input: Vec::new(),
                events: Vec::new(),
            });
            continue;
        }
        let Some(v) = cur.as_mut() else {
            return Err(bad("line outside a vector"));
        };
        match key {
            "note" => {}
            "max" => v.max = value.trim().parse().map_err(|_| bad("bad max"))?,
            "mode" if value.trim() == "recover" => v.recover = true,
            "input" => v.input.extend(unhex(value).ok_or_else(|| bad("bad hex"))?),
            "frame" => v
                .events
                .push(Event::Frame(unhex(value).ok_or_else(|| bad("bad hex"))?)),
            "error" => v.events.push(Event::Error(
                parse_error(value.trim()).map_err(|e| bad(&e))?,
            )),
            "end" => out.extend(cur.take()),
            _ => return Err(bad("unknown line")),
        }
    }
    if cur.is_some() {
        return Err("lpf-v1.txt: the last vector has no end line".into());
    }
    Ok(out)
}

/// Hex digits (white space ignored) as bytes; `None` if they are not.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

/// The error whose canonical text (PROTOCOL.md section 4.2) is `text`.
///
/// # Errors
/// `text` is not a canonical text: an unknown name, a missing or malformed
/// field, or a text the error does not format back to exactly.
pub fn parse_error(text: &str) -> Result<DecodeError, String> {
    let e = parse_fields(text).ok_or_else(|| format!("not a canonical error: {text:?}"))?;
    let again = e.canonical().to_string();
    if again != text {
        return Err(format!("{text:?} is not canonical (canonically {again:?})"));
    }
    Ok(e)
}

fn parse_fields(text: &str) -> Option<DecodeError> {
    let (name, rest) = text.split_once(' ')?;
    // `Skipped`'s cause is the rest of the text after `cause=`.
    let (fields, cause) = match rest.split_once(" cause=") {
        Some((fields, cause)) if name == "Skipped" => (fields, Some(cause)),
        _ => (rest, None),
    };
    let field = |key: &str| {
        fields
            .split(' ')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    };
    let num = |key: &str| -> Option<u64> {
        let v = field(key)?;
        match v.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok(),
            None => v.parse().ok(),
        }
    };
    let u32_of = |key: &str| u32::try_from(num(key)?).ok();
    let u8_of = |key: &str| u8::try_from(num(key)?).ok();
    Some(match name {
        "BadMagic" => DecodeError::BadMagic {
            found: u16::try_from(num("found")?).ok()?,
            hint: None,
        },
        "UnsupportedVersion" => DecodeError::UnsupportedVersion {
            found: u8_of("found")?,
            supported: u8_of("supported")?,
        },
        "HeaderChecksum" => DecodeError::HeaderChecksum {
            expected: u32_of("expected")?,
            actual: u32_of("actual")?,
        },
        "ReservedFlags" => DecodeError::ReservedFlags {
            flags: u8_of("flags")?,
        },
        "FrameTooLarge" => DecodeError::FrameTooLarge {
            len: u32_of("len")?,
            max: u32_of("max")?,
        },
        "PayloadChecksum" => DecodeError::PayloadChecksum {
            expected: u32_of("expected")?,
            actual: u32_of("actual")?,
            len: u32_of("len")?,
        },
        "Truncated" => DecodeError::Truncated {
            part: match field("part")? {
                "header" => FramePart::Header,
                "payload" => FramePart::Payload,
                _ => return None,
            },
            missing: u32_of("missing")?,
        },
        "Skipped" => DecodeError::Skipped {
            offset: num("offset")?,
            len: num("len")?,
            cause: Box::new(parse_fields(cause?)?),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_file_parses_and_every_error_round_trips() {
        let all = super::all();
        assert_eq!(all.len(), super::FILE.matches("\nvector ").count());
        assert!(all.len() >= 40);
        assert!(super::parse_error("BadMagic found=0x4745 extra").is_err());
        assert!(super::parse_error("Truncated part=body missing=1").is_err());
        assert!(super::parse("vector a\ninput zz\nend\n").is_err());
    }
}
