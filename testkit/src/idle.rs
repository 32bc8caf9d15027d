//! Idle connections: arbitrary interleavings of idle gaps (decode calls
//! with nothing new, a reader polled while its peer is silent) and partial
//! frames, through the pure decoder, `FrameCodec` and a real `FramedRead`.
//! A codec may release its idle buffer during a gap; whatever it does, the
//! events are those of the plain decoder and a gap changes nothing: every
//! call in it returns "nothing yet" (or repeats the fatal error), and the
//! bytes buffered are the same before and after it.

use bytes::BytesMut;
use lpframe::{Config, DecodeError, FrameDecoder};

use crate::script::Step;
use crate::{chunk_sizes, expected, Event, Rng, Script, FUZZ_MAX};

/// What one decode call gave.
enum Got {
    Frame(Vec<u8>),
    Dropped(DecodeError),
    Fatal(DecodeError),
    Nothing,
}

/// Plays `script` into a buffer, as `Framed` does, calling `decode` until
/// it needs more after every step, then `gaps[i]` more times with nothing
/// new; checks the gap contract and returns the events.
fn walk_with_gaps(
    path: &str,
    script: &Script,
    gaps: &[usize],
    mut decode: impl FnMut(&mut BytesMut, bool) -> Got,
) -> Vec<Event> {
    let mut buf = BytesMut::new();
    let mut events = Vec::new();
    let mut fatal: Option<DecodeError> = None;
    let bound = script.bytes().len() + 2;
    let record = |got: Got, events: &mut Vec<Event>, fatal: &mut Option<DecodeError>| -> bool {
        match got {
            Got::Frame(p) => {
                assert!(fatal.is_none(), "{path}: a frame after a fatal error");
                events.push(Event::Frame(p));
                true
            }
            Got::Dropped(e) => {
                assert!(fatal.is_none() && !e.is_fatal(), "{path}: {e:?}");
                events.push(Event::error(&e));
                true
            }
            Got::Fatal(e) => {
                match fatal {
                    Some(f) => assert_eq!(f, &e, "{path}: a failed codec changed its error"),
                    None => {
                        events.push(Event::error(&e));
                        *fatal = Some(e);
                    }
                }
                false
            }
            Got::Nothing => false,
        }
    };
    for (i, step) in script.steps.iter().enumerate() {
        let eof = match step {
            Step::Data(d) => {
                buf.extend_from_slice(d);
                false
            }
            Step::Fault(_) => false,
            Step::Eof => true,
        };
        for _ in 0..=bound {
            if !record(decode(&mut buf, eof), &mut events, &mut fatal) {
                break;
            }
        }
        // The idle gap: nothing new arrives.
        let before = buf.to_vec();
        let n_events = events.len();
        for _ in 0..gaps.get(i).copied().unwrap_or(0) {
            let more = record(decode(&mut buf, eof), &mut events, &mut fatal);
            assert!(!more, "{path}: an idle call delivered something");
            assert_eq!(
                &buf[..],
                &before[..],
                "{path}: an idle call changed the buffer"
            );
        }
        assert_eq!(events.len(), n_events, "{path}: events during a gap");
    }
    events
}

/// The pure decoder with gaps; its settings and counters are checked on
/// the way (a default decoder when `config` is `None`).
fn decoder_with_gaps(script: &Script, gaps: &[usize], config: Option<Config>) -> Vec<Event> {
    let mut dec = match config {
        Some(c) => FrameDecoder::with_config(c),
        None => FrameDecoder::default(),
    };
    let max = config.unwrap_or_default().max_read_frame_len;
    assert_eq!(dec.config().max_read_frame_len, max);
    assert!(!dec.is_recovering());
    // Changing the limit to its own value changes nothing.
    dec.config_mut().max_read_frame_len = max;
    let mut frames = 0u64;
    let events = walk_with_gaps("FrameDecoder", script, gaps, |buf, eof| {
        let r = if eof {
            dec.decode_eof(buf)
        } else {
            dec.decode(buf)
        };
        match r {
            Ok(Some(f)) => {
                frames += 1;
                Got::Frame(f.to_vec())
            }
            Ok(None) => Got::Nothing,
            Err(e) if e.is_fatal() => Got::Fatal(e),
            Err(e) => Got::Dropped(e),
        }
    });
    assert_eq!(
        dec.stats().frames_decoded,
        frames,
        "FrameDecoder: frames counted"
    );
    events
}

/// A `FrameReader` handed over mid-stream: it reads until the `stop`-th
/// call or the first I/O fault (a retryable `WouldBlock` from `seed`'s
/// faults, which may strike inside a frame), then `into_parts` gives back
/// the source and the unread bytes (the frame in progress from its start),
/// and a fresh decoder finishes the stream. Together: the model's events,
/// nothing lost or repeated. `None` when the reader reached the end first
/// or failed (nothing to hand over).
fn handed_over(input: &[u8], chunks: &[usize], seed: u8, config: Config) -> Option<Vec<Event>> {
    use lpframe::{Error, FrameReader};
    let faults: Vec<_> = crate::seeded_faults(u64::from(seed), input.len())
        .into_iter()
        .map(|(at, _)| (at, std::io::ErrorKind::WouldBlock))
        .collect();
    let script = Script::new(input, chunks, &faults, FUZZ_MAX);
    let mut reader = FrameReader::with_config(script, config);
    let mut events = Vec::new();
    for _ in 0..usize::from(seed % 8) + 1 {
        match reader.next_frame() {
            Ok(Some(f)) => events.push(Event::Frame(f.to_vec())),
            Ok(None) => return None,
            Err(Error::Decode(e)) if e.is_fatal() => return None,
            Err(Error::Decode(e)) => events.push(Event::error(&e)),
            Err(Error::Io(_)) => break,
            Err(other) => panic!("FrameReader: unexpected {other:?}"),
        }
    }
    let (mut rest, unread) = reader.into_parts();
    rest.steps.push_front(Step::Data(unread.to_vec()));
    let mut tail = decoder_with_gaps(&rest, &[], Some(config));
    events.append(&mut tail);
    Some(events)
}

/// `FrameCodec` with gaps, driven as `Framed` drives it.
#[cfg(feature = "tokio")]
fn codec_with_gaps(script: &Script, gaps: &[usize], config: Config) -> Vec<Event> {
    use lpframe::{Error, FrameCodec, Received};
    use tokio_util::codec::Decoder;
    let mut codec = FrameCodec::with_config(config);
    walk_with_gaps("FrameCodec", script, gaps, |buf, eof| {
        let r = if eof {
            codec.decode_eof(buf)
        } else {
            codec.decode(buf)
        };
        match r {
            Ok(Some(Received::Frame(f))) => Got::Frame(f.to_vec()),
            Ok(Some(Received::Dropped(e))) => Got::Dropped(e),
            Ok(None) => Got::Nothing,
            Err(Error::Decode(e)) => Got::Fatal(e),
            Err(other) => panic!("FrameCodec: unexpected {other:?}"),
        }
    })
}

/// Target `idle`: byte 0 seeds a chunking and the gaps (0 to 6 idle calls
/// before each step, 0 to 40 pending polls for `FramedRead`), the rest is
/// the stream. The decoder, `FrameCodec` and `FramedRead` with gaps give
/// the model's events.
pub fn idle(data: &[u8]) {
    let Some((&seed, input)) = data.split_first() else {
        return;
    };
    let chunks = chunk_sizes(u64::from(seed) * 0x2545_F491 + 3, input.len());
    let script = Script::new(input, &chunks, &[], FUZZ_MAX);
    let mut rng = Rng(u64::from(seed) << 16 | 0x5bd1);
    let gaps: Vec<usize> = script
        .steps
        .iter()
        .map(|_| match rng.next() % 4 {
            0 => 0,
            1 => 1,
            _ => (rng.next() % 7) as usize,
        })
        .collect();
    let config = Config::new().max_read_frame_len(FUZZ_MAX);
    let want = expected(input, FUZZ_MAX);
    assert_eq!(
        decoder_with_gaps(&script, &gaps, Some(config)),
        want,
        "FrameDecoder"
    );
    if let Some(events) = handed_over(input, &chunks, seed, config) {
        assert_eq!(events, want, "FrameReader handed over to a FrameDecoder");
    }
    if seed % 16 == 0 {
        // The default decoder (limit 8 MiB instead of FUZZ_MAX) against the
        // model with that limit.
        let big = expected(input, lpframe::DEFAULT_MAX_FRAME_LEN);
        let plain = Script::new(input, &chunks, &[], lpframe::DEFAULT_MAX_FRAME_LEN);
        assert_eq!(
            decoder_with_gaps(&plain, &gaps, None),
            big,
            "FrameDecoder (default)"
        );
    }
    #[cfg(feature = "tokio")]
    {
        assert_eq!(codec_with_gaps(&script, &gaps, config), want, "FrameCodec");
        let polls: Vec<usize> = gaps.iter().map(|g| g * g).collect();
        assert_eq!(
            crate::paths::via_framed_with_gaps(&script, config, polls),
            want,
            "FramedRead"
        );
    }
}
