//! Recovery mode on a damaged record file.
//!
//! ```text
//! cargo run --example recover
//! ```
//!
//! Writes 40 frames to a file in the temp directory, damages it four ways
//! (a zeroed block, flipped bits, inserted garbage, a truncated tail), reads
//! it back with `Config::recover(true)` and prints what was kept and what
//! was skipped, with offsets. The file is removed at the end.

use std::fs::{self, File};
use std::io::BufReader;

use lpframe::{Config, DecodeError, Error, FrameReader, FrameWriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("lpframe-recover-{}.lpf", std::process::id()));

    // 1. A file of 40 records.
    let mut writer = FrameWriter::new(File::create(&path)?);
    for i in 0..40 {
        writer.write_frame(format!("record {i:02}: {}", "x".repeat(20 + i * 3)).as_bytes())?;
    }
    writer
        .into_inner()
        .map_err(|e| e.into_parts().1)?
        .sync_all()?;

    // 2. Damage it.
    let mut bytes = fs::read(&path)?;
    let original_len = bytes.len();
    bytes[400..480].fill(0); // a zeroed block
    bytes[1200] ^= 0x5A; // flipped bits
    bytes[1201] ^= 0x01;
    bytes.splice(2000..2000, *b"--some garbage written by another process--"); // inserted garbage
    bytes.truncate(bytes.len() - 25); // a torn write at the end
    fs::write(&path, &bytes)?;
    println!(
        "wrote 40 records ({original_len} bytes), damaged them: zeroed 400..480, flipped bits at 1200, \
         inserted 44 bytes at 2000, cut the last 25 bytes"
    );

    // 3. Read back in recovery mode.
    let reader = FrameReader::recovering(BufReader::new(File::open(&path)?), Config::new());
    let (mut kept, mut skipped_bytes, mut bad) = (0, 0, 0);
    for item in reader {
        match item {
            Ok(frame) => {
                kept += 1;
                let text = String::from_utf8_lossy(frame.payload());
                println!("kept    {}", text.get(..9).unwrap_or(&text));
            }
            Err(Error::Decode(DecodeError::Skipped { offset, len, cause })) => {
                skipped_bytes += len;
                println!("SKIPPED {len} bytes at offset {offset} ({cause})");
            }
            Err(Error::Decode(e @ DecodeError::PayloadChecksum { .. })) => {
                bad += 1;
                println!("DROPPED a frame with a damaged payload ({e})");
            }
            Err(e) => return Err(e.into()),
        }
    }
    println!("kept {kept} of 40 records; dropped {bad} with damaged payloads; skipped {skipped_bytes} bytes");
    fs::remove_file(&path)?;
    Ok(())
}
