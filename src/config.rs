//! The limits shared by every stateful reading and writing path.

/// The default limit on a payload, for reading and for writing: 8 MiB.
pub const DEFAULT_MAX_FRAME_LEN: u32 = 8 * 1024 * 1024;

/// Settings shared by every stateful path: [`FrameDecoder`], [`FrameReader`],
/// [`FrameWriter`] and the tokio codecs.
///
/// Each setting has one name: a public field, read and changed directly, and
/// a builder method of the same name for constructing (also in `const`
/// context). Reading and writing have separate limits, so that a service
/// can accept small requests and send large responses. Every path that
/// holds a `Config` exposes it mutably (`config_mut()`), so a limit can
/// change at runtime, e.g. after the peers negotiate one; the new value
/// applies to the next header parsed or the next frame written.
///
/// The stateless functions take only the limit they use
/// ([`read_frame_with`], [`decode_slice`], [`write_frame_with`],
/// [`encode_frame`]).
///
/// ```
/// use lpframe::Config;
///
/// const SMALL_REQUESTS: Config = Config::new().max_read_frame_len(64 * 1024);
/// let mut config = SMALL_REQUESTS;
/// assert_eq!(config.max_read_frame_len, 64 * 1024);
/// assert_eq!(config.max_write_frame_len, lpframe::DEFAULT_MAX_FRAME_LEN);
/// config.max_write_frame_len = u32::MAX; // e.g. after a negotiation
/// ```
///
/// [`FrameDecoder`]: crate::FrameDecoder
/// [`FrameReader`]: crate::FrameReader
/// [`FrameWriter`]: crate::FrameWriter
/// [`read_frame_with`]: crate::read_frame_with
/// [`decode_slice`]: crate::decode_slice
/// [`write_frame_with`]: crate::write_frame_with
/// [`encode_frame`]: crate::encode_frame
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Config {
    /// The largest payload accepted from the peer (0 to `u32::MAX`; default
    /// 8 MiB). A header declaring more is rejected with
    /// [`DecodeError::FrameTooLarge`](crate::DecodeError::FrameTooLarge)
    /// before anything is reserved or waited for.
    pub max_read_frame_len: u32,

    /// The largest payload this side will send (0 to `u32::MAX`; default
    /// 8 MiB). A longer payload is refused with
    /// [`EncodeError::TooLarge`](crate::EncodeError::TooLarge) before any
    /// byte is written.
    pub max_write_frame_len: u32,
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
            max_read_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_write_frame_len: DEFAULT_MAX_FRAME_LEN,
        }
    }

    /// Sets [`max_read_frame_len`](Self::max_read_frame_len).
    #[must_use]
    pub const fn max_read_frame_len(mut self, max: u32) -> Self {
        self.max_read_frame_len = max;
        self
    }

    /// Sets [`max_write_frame_len`](Self::max_write_frame_len).
    #[must_use]
    pub const fn max_write_frame_len(mut self, max: u32) -> Self {
        self.max_write_frame_len = max;
        self
    }
}
