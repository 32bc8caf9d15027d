//! What a reading path is built with: the limits, and whether it decodes
//! in recovery mode (chosen at construction in lpframe 1.0, so the harness
//! carries it beside the `Config`).

use lpframe::{Config, FrameDecoder, FrameReader};

/// The limits and the mode of a reader under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Setup {
    /// The limits.
    pub config: Config,
    /// Recovery mode (PROTOCOL.md section 8).
    pub recover: bool,
}

impl Setup {
    /// Recovery mode with these limits.
    pub fn recovering(config: Config) -> Setup {
        Setup {
            config,
            recover: true,
        }
    }

    /// A decoder built this way.
    pub fn decoder(self) -> FrameDecoder {
        if self.recover {
            FrameDecoder::recovering(self.config)
        } else {
            FrameDecoder::with_config(self.config)
        }
    }

    /// A blocking reader built this way.
    pub fn reader<R: std::io::Read>(self, inner: R) -> FrameReader<R> {
        if self.recover {
            FrameReader::recovering(inner, self.config)
        } else {
            FrameReader::with_config(inner, self.config)
        }
    }

    /// A `FrameCodec` built this way.
    #[cfg(feature = "tokio")]
    pub fn codec(self) -> lpframe::FrameCodec {
        if self.recover {
            lpframe::FrameCodec::recovering(self.config)
        } else {
            lpframe::FrameCodec::with_config(self.config)
        }
    }

    /// A `PayloadCodec` built this way.
    #[cfg(feature = "tokio")]
    pub fn payload_codec(self) -> lpframe::PayloadCodec {
        if self.recover {
            lpframe::PayloadCodec::recovering(self.config)
        } else {
            lpframe::PayloadCodec::with_config(self.config)
        }
    }
}

impl From<Config> for Setup {
    fn from(config: Config) -> Setup {
        Setup {
            config,
            recover: false,
        }
    }
}
