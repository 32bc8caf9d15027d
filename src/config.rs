//! Limits and options shared by every reading and writing path.

/// The default limit on a payload, for reading and for writing: 8 MiB.
pub const DEFAULT_MAX_FRAME_LEN: u32 = 8 * 1024 * 1024;

/// Limits shared by every path ([`FrameDecoder`](crate::FrameDecoder),
/// the tokio codec, [`read_frame_with`](crate::read_frame_with),
/// [`FrameReader`](crate::FrameReader), [`FrameWriter`](crate::FrameWriter)).
///
/// Reading and writing have separate limits, so that a service can accept
/// small requests and send large responses. Every path that holds a
/// `Config` exposes it mutably (`config_mut()`), so a limit can change at
/// runtime, e.g. after the peers negotiate one; the new limit applies to
/// the next header parsed or the next frame written.
///
/// ```
/// use lpframe::Config;
///
/// let config = Config::new()
///     .max_read_frame_len(64 * 1024)
///     .max_write_frame_len(u32::MAX);
/// assert_eq!(config.read_limit(), 64 * 1024);
/// assert_eq!(Config::default().write_limit(), 8 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    max_read: u32,
    max_write: u32,
    recover: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// The defaults: 8 MiB for reading and for writing.
    pub const fn new() -> Self {
        Config {
            max_read: DEFAULT_MAX_FRAME_LEN,
            max_write: DEFAULT_MAX_FRAME_LEN,
            recover: false,
        }
    }

    /// Opts into **recovery mode** for damaged streams and record files
    /// (off by default).
    ///
    /// After a header-level error ([`Error::is_header_level`]) the decoder
    /// does not fail: it scans forward for the next offset where a complete
    /// header verifies (magic, version, header CRC, flags, length within
    /// the limit), reports the bytes it passed over as one non-fatal
    /// [`Error::Skipped`] `{ offset, len, cause }`, and resumes there. A
    /// frame found this way is delivered only if its payload CRC verifies
    /// too; otherwise it is reported as
    /// [`Error::PayloadChecksum`](crate::Error::PayloadChecksum) and skipped.
    /// A partial frame at the end of the stream is reported as `Skipped`
    /// with cause [`Error::Truncated`](crate::Error::Truncated), then the
    /// stream ends cleanly. So, over a whole stream, delivered frames +
    /// frames reported with a bad payload + skipped bytes account for every
    /// byte exactly once.
    ///
    /// Cost: linear in the bytes scanned, whatever they are — candidates are
    /// found with a byte search for the magic and each is verified in
    /// constant time (one 12-byte CRC); bytes ruled out are released from
    /// the buffer at once, so memory stays bounded while scanning. With
    /// recovery off the decoder pays nothing for it.
    ///
    /// Applies to the buffered paths that share the decoder:
    /// [`FrameDecoder`](crate::FrameDecoder), [`FrameReader`](crate::FrameReader)
    /// and the tokio codecs. [`read_frame_with`](crate::read_frame_with)
    /// (which must not read past a frame) refuses a recovering config with
    /// an `InvalidInput` error; [`decode_slice`](crate::decode_slice)
    /// (stateless) does not scan and reports the header error as usual.
    ///
    /// [`Error::is_header_level`]: crate::Error::is_header_level
    /// [`Error::Skipped`]: crate::Error::Skipped
    #[must_use]
    pub const fn recover(mut self, on: bool) -> Self {
        self.recover = on;
        self
    }

    /// Whether recovery mode is on; see [`recover`](Self::recover).
    pub const fn recovers(&self) -> bool {
        self.recover
    }

    /// Sets the largest payload accepted from the peer (up to `u32::MAX`).
    /// A header declaring more is rejected with
    /// [`Error::FrameTooLarge`](crate::Error::FrameTooLarge) before anything
    /// is reserved or waited for.
    #[must_use]
    pub const fn max_read_frame_len(mut self, max: u32) -> Self {
        self.max_read = max;
        self
    }

    /// Sets the largest payload this side will send (up to `u32::MAX`). A
    /// longer payload is rejected with
    /// [`Error::EncodeTooLarge`](crate::Error::EncodeTooLarge) before any
    /// byte is written.
    #[must_use]
    pub const fn max_write_frame_len(mut self, max: u32) -> Self {
        self.max_write = max;
        self
    }

    /// Changes the read limit in place.
    pub fn set_read_limit(&mut self, max: u32) {
        self.max_read = max;
    }

    /// Changes the write limit in place.
    pub fn set_write_limit(&mut self, max: u32) {
        self.max_write = max;
    }

    /// The largest payload accepted from the peer.
    pub const fn read_limit(&self) -> u32 {
        self.max_read
    }

    /// The largest payload this side will send.
    pub const fn write_limit(&self) -> u32 {
        self.max_write
    }
}
