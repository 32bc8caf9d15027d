//! The one place where `lpframe conform` uses the lpframe library: building
//! the frames it sends and decoding the peer's echoes. Everything else in
//! the tester works on bytes, so a change of the library's API is ported
//! here alone.

use bytes::BytesMut;
use lpframe::{Config, FrameDecoder, Header};

/// Size of an LPF header (PROTOCOL.md section 2).
pub const HEADER_LEN: usize = lpframe::HEADER_LEN;

/// The wire bytes of one valid frame carrying `payload` (flags 0).
///
/// # Panics
/// If `payload` is longer than `u32::MAX` bytes; the tester caps every
/// payload it builds far below that (`cases::PAYLOAD_CAP`).
pub fn frame_bytes(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    lpframe::encode_frame(payload, u32::MAX, &mut out)
        .expect("the tester's payloads are capped below u32::MAX bytes");
    out
}

/// A valid header (correct header CRC, flags 0) declaring `len` payload
/// bytes with payload CRC `payload_crc`: a frame the tester starts and does
/// not finish, or one whose payload it corrupts.
pub fn header_bytes(len: u32, payload_crc: u32) -> [u8; HEADER_LEN] {
    Header::new(len, payload_crc).to_bytes()
}

/// Decodes the peer's replies incrementally, whatever the chunking: yields
/// each echoed payload in order, or a description of what was wrong with
/// the reply stream. Accepts payloads up to the peer's limit (`--max`: an
/// echo is at most what was sent) and reserves nothing for a declared
/// length.
pub struct EchoReader {
    decoder: FrameDecoder,
    buf: BytesMut,
}

impl EchoReader {
    /// A reader for a fresh connection to a peer whose limit is `max`: an
    /// echo is never longer than what the tester sent, so a reply header
    /// declaring more is an error, not a wait for `max` bytes.
    pub fn new(max: u32) -> EchoReader {
        EchoReader {
            decoder: FrameDecoder::with_config(Config::new().max_read_frame_len(max)),
            buf: BytesMut::new(),
        }
    }

    /// Appends bytes received from the peer.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete echo, `Ok(None)` if more bytes are needed.
    ///
    /// # Errors
    /// The peer's reply is not a valid LPF stream (any receiver error of
    /// PROTOCOL.md section 4.2, including a corrupt payload: an echo must
    /// carry correct CRCs).
    pub fn next(&mut self) -> Result<Option<Vec<u8>>, String> {
        match self.decoder.decode(&mut self.buf) {
            Ok(Some(frame)) => Ok(Some(frame.payload().to_vec())),
            Ok(None) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// At the peer's end of stream: `Ok` on a frame boundary.
    ///
    /// # Errors
    /// The reply stream ended inside a frame (or was already broken).
    pub fn finish(&mut self) -> Result<(), String> {
        match self.decoder.decode_eof(&mut self.buf) {
            Ok(None) => Ok(()),
            Ok(Some(_)) => Err("a complete echo was left unread at the end of stream".into()),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_the_echo_reader_at_every_split() {
        let mut wire = frame_bytes(b"hello");
        wire.extend(frame_bytes(b""));
        assert_eq!(&wire[..4], &[0xc1, 0x4c, 0x01, 0x00]);
        for split in 0..=wire.len() {
            let mut r = EchoReader::new(u32::MAX);
            let mut got = Vec::new();
            for part in [&wire[..split], &wire[split..]] {
                r.push(part);
                while let Some(p) = r.next().unwrap() {
                    got.push(p);
                }
            }
            assert_eq!(got, [b"hello".to_vec(), Vec::new()]);
            assert_eq!(r.finish(), Ok(()));
        }
    }

    #[test]
    fn the_worked_example_header_and_broken_replies() {
        // PROTOCOL.md section 5: the header of `hello`.
        let h = header_bytes(5, 0x3610_a686);
        assert_eq!(h[12..], [0x7e, 0x44, 0x04, 0x01]);
        assert_eq!(frame_bytes(b"hello")[..16], h);

        let mut r = EchoReader::new(u32::MAX);
        r.push(&h);
        assert_eq!(r.next(), Ok(None));
        assert!(r
            .finish()
            .unwrap_err()
            .contains("stream ended inside a frame"));

        // A reply declaring 80 MiB from a peer whose limit is 8 MiB: an
        // error from its header alone, not a wait for 80 MiB.
        let mut r = EchoReader::new(8 << 20);
        r.push(&header_bytes(80 << 20, 0));
        assert!(r.next().unwrap_err().contains("too large"));

        let mut r = EchoReader::new(u32::MAX);
        r.push(b"GET / HTTP/1.1\r\n");
        assert!(r.next().unwrap_err().contains("bad magic"));
    }
}
