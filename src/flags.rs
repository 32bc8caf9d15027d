//! The `flags` byte of the header.

use std::fmt;

/// The flags byte of an LPF header (byte 3).
///
/// LPF v1 defines **no** flag: a v1 receiver rejects a header with any bit
/// set ([`DecodeError::ReservedFlags`](crate::DecodeError::ReservedFlags)), and a v1
/// sender refuses to encode one
/// ([`EncodeError::ReservedFlags`](crate::EncodeError::ReservedFlags)). The type exists so
/// that a later protocol version can name its flags without changing the
/// shape of [`Frame`](crate::Frame), and so that a rejected byte is printed
/// readably.
///
/// ```
/// use lpframe::Flags;
///
/// assert!(Flags::empty().is_empty());
/// assert_eq!(Flags::from_bits_retain(0x81).reserved_bits(), 0x81);
/// assert_eq!(format!("{:?}", Flags::empty()), "Flags(empty)");
/// assert_eq!(format!("{:?}", Flags::from_bits_retain(0x05)), "Flags(reserved 0x05)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u8);

impl Flags {
    /// The bits defined by LPF v1: none.
    pub const DEFINED_V1: u8 = 0x00;

    /// No flag set (the only value valid in LPF v1).
    pub const fn empty() -> Self {
        Flags(0)
    }

    /// Wraps a raw flags byte, keeping every bit (known or not).
    pub const fn from_bits_retain(bits: u8) -> Self {
        Flags(bits)
    }

    /// The raw byte as it appears on the wire.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// `true` when no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The bits that LPF v1 does not define (all of them, in v1).
    pub const fn reserved_bits(self) -> u8 {
        self.0 & !Self::DEFINED_V1
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            f.write_str("Flags(empty)")
        } else {
            write!(f, "Flags(reserved {:#04x})", self.reserved_bits())
        }
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x}", self.0)
    }
}
