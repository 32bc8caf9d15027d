//! The blocking path over `std::io::Read`/`Write` (std only: builds without
//! the `tokio` feature): reading in [`read`], writing in [`write`].

mod deadline;
mod read;
mod write;

use std::io::{self, Read};

pub use deadline::SetTimeouts;
pub use read::{read_frame, read_frame_timed, read_frame_with, FrameReader};
pub use write::{write_frame, write_frame_with, FrameWriter};

/// A reader that is checked for the one promise `Read` makes to its caller:
/// never to report more bytes than the buffer it was given. A reader that
/// breaks it gets an `InvalidData` error instead of making std's `Take` (or
/// our own slicing) panic in the middle of a service.
struct Checked<'a, R: ?Sized>(&'a mut R);

impl<R: Read + ?Sized> Read for Checked<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len();
        match self.0.read(buf)? {
            n if n <= len => Ok(n),
            n => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the reader reported {n} bytes read into a buffer of {len}"),
            )),
        }
    }
}
