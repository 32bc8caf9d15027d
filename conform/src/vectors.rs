//! The test vectors of `tests/vectors/lpf-v1.txt` (embedded), turned into
//! what an echo peer must do with each input (PROTOCOL.md appendix A.4):
//! which payloads it echoes, and how the stream ends.

use crate::wire::HEADER_LEN;

/// One vector of the file.
#[derive(Debug, Clone)]
pub struct Vector {
    pub name: String,
    /// The receiver's `max_frame_len` the vector assumes.
    pub max: u32,
    /// `mode recover`: not for an echo peer (it is never in recovery mode).
    pub recover: bool,
    pub input: Vec<u8>,
    pub events: Vec<Event>,
}

/// An expected receiver event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A delivered frame with this payload.
    Frame(Vec<u8>),
    /// An error, as its canonical text (PROTOCOL.md section 4.2).
    Error(String),
}

/// How the input ends, as the tester sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// On a frame boundary, with no fatal error: the tester's end of stream
    /// (FIN) is the clean end.
    Clean,
    /// Inside a frame: the tester's FIN makes it `Truncated` (section 4.1).
    Truncated,
    /// A fatal header error (`kind`, e.g. `BadMagic`). `complete`: all 16
    /// bytes of the failing header are in the input, so the peer can tell
    /// without the tester's FIN; otherwise only a receiver that checks the
    /// magic and version early (a SHOULD of section 4) can.
    Fatal { kind: String, complete: bool },
}

/// What an echo peer must do with a vector's input.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The payloads it echoes, in order.
    pub echoes: Vec<Vec<u8>>,
    pub ending: Ending,
    /// How many frames it must skip (PayloadChecksum).
    pub skipped: usize,
    /// Every length a verified header declares on the way, and whether the
    /// vector's limit accepted it: the result depends on the receiver's
    /// limit only through these.
    lengths: Vec<(u32, bool)>,
}

impl Ending {
    /// The PROTOCOL.md rule the ending checks, for the report.
    pub fn section(&self, skipped: usize) -> &'static str {
        match self {
            Ending::Clean if skipped > 0 => "10, 4 check 6",
            Ending::Clean => "10, 2",
            Ending::Truncated => "10, 4.1",
            Ending::Fatal { kind, .. } => match kind.as_str() {
                "BadMagic" => "10, 4 check 1",
                "UnsupportedVersion" => "10, 4 check 2",
                "HeaderChecksum" => "10, 4 check 3",
                "ReservedFlags" => "10, 4 check 4",
                "FrameTooLarge" => "10, 4 check 5",
                _ => "10, 4",
            },
        }
    }
}

/// Every vector of the embedded file, read by the project's one parser
/// (`testkit::vectors`), with each error as its canonical text.
///
/// # Errors
/// The file does not parse (a line the format of section 10 does not
/// have); the tester's own unit tests catch that before a release.
pub fn all() -> Result<Vec<Vector>, String> {
    let vectors = testkit::vectors::parse(testkit::vectors::FILE)?;
    Ok(vectors
        .into_iter()
        .map(|v| Vector {
            name: v.name,
            max: v.max,
            recover: v.recover,
            input: v.input,
            events: v
                .events
                .iter()
                .map(|e| match e.as_expected() {
                    Ok(payload) => Event::Frame(payload),
                    Err(text) => Event::Error(text),
                })
                .collect(),
        })
        .collect())
}

fn declared_len(input: &[u8], at: usize) -> Option<u32> {
    let field = input.get(at.checked_add(4)?..at.checked_add(8)?)?;
    Some(u32::from_be_bytes(field.try_into().ok()?))
}

impl Vector {
    /// What an echo peer does with this input: walks the input frame by
    /// frame along the expected events (a delivered or skipped frame is a
    /// verified header, so its length can be trusted).
    ///
    /// # Errors
    /// The events do not match the input (a broken vector file).
    pub fn plan(&self) -> Result<Plan, String> {
        let broken = |what: &str| format!("vector {}: {what}", self.name);
        let mut at = 0usize;
        let mut plan = Plan {
            echoes: Vec::new(),
            ending: Ending::Clean,
            skipped: 0,
            lengths: Vec::new(),
        };
        for (i, event) in self.events.iter().enumerate() {
            let last = i + 1 == self.events.len();
            let text = match event {
                Event::Frame(_) => "",
                Event::Error(t) => t.as_str(),
            };
            let kind = text.split(' ').next().unwrap_or("");
            match (event, kind) {
                (Event::Frame(_), _) | (_, "PayloadChecksum") => {
                    let len = declared_len(&self.input, at).ok_or_else(|| broken("no header"))?;
                    let start = at + HEADER_LEN;
                    let end = start
                        .checked_add(len as usize)
                        .filter(|&e| e <= self.input.len())
                        .ok_or_else(|| broken("frame past the input"))?;
                    plan.lengths.push((len, true));
                    if let Event::Frame(payload) = event {
                        if self.input.get(start..end) != Some(payload.as_slice()) {
                            return Err(broken("frame event differs from the input"));
                        }
                        plan.echoes.push(payload.clone());
                    } else {
                        plan.skipped += 1;
                    }
                    at = end;
                }
                _ if !last => return Err(broken("a fatal error that is not the last event")),
                (_, "Truncated") => {
                    if text.contains("part=payload") {
                        let len =
                            declared_len(&self.input, at).ok_or_else(|| broken("no header"))?;
                        plan.lengths.push((len, true));
                    }
                    plan.ending = Ending::Truncated;
                }
                (_, kind) => {
                    if kind == "FrameTooLarge" {
                        let len =
                            declared_len(&self.input, at).ok_or_else(|| broken("no header"))?;
                        plan.lengths.push((len, false));
                    }
                    plan.ending = Ending::Fatal {
                        kind: kind.to_string(),
                        complete: self.input.len() >= at + HEADER_LEN,
                    };
                }
            }
        }
        if plan.ending == Ending::Clean && at != self.input.len() {
            return Err(broken("input left over after the last event"));
        }
        Ok(plan)
    }

    /// `None` when an echo peer whose limit is `peer_max` must behave
    /// exactly as the vector says (the limit decides no length the vector
    /// declares differently), else why the vector does not apply.
    pub fn limit_mismatch(&self, plan: &Plan, peer_max: u32) -> Option<String> {
        if peer_max == self.max {
            return None;
        }
        let (len, accepted) = plan
            .lengths
            .iter()
            .copied()
            .find(|&(len, accepted)| (len <= peer_max) != accepted)?;
        let (there, here) = if accepted {
            ("accepted", "refused")
        } else {
            ("refused", "accepted")
        };
        Some(format!(
            "the vector assumes max_frame_len {}: its {len}-byte frame is {there} there, \
             but a peer with --max {peer_max} must have {here} it",
            self.max
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(name: &str) -> (Vector, Plan) {
        let v = all().unwrap().into_iter().find(|v| v.name == name).unwrap();
        let p = v.plan().unwrap();
        (v, p)
    }

    #[test]
    fn every_exact_vector_has_a_plan_consistent_with_its_limit() {
        let vs = all().unwrap();
        assert_eq!(vs.len(), 52);
        let exact: Vec<_> = vs.iter().filter(|v| !v.recover).collect();
        assert_eq!(exact.len(), 40);
        for v in exact {
            let plan = v.plan().unwrap();
            // Under its own limit a vector always applies.
            assert_eq!(v.limit_mismatch(&plan, v.max), None, "{}", v.name);
            for &(len, accepted) in &plan.lengths {
                assert_eq!(len <= v.max, accepted, "{}", v.name);
            }
        }
    }

    #[test]
    fn endings_and_echoes() {
        let (_, p) = vector("multi_frame_stream");
        assert_eq!(p.echoes.len(), 4);
        assert_eq!(p.ending, Ending::Clean);
        let (_, p) = vector("payload_checksum_then_valid");
        assert_eq!((p.echoes, p.skipped), (vec![b"next".to_vec()], 1));
        let (_, p) = vector("truncated_after_valid_frame");
        assert_eq!(
            (p.echoes, p.ending),
            (vec![b"ok".to_vec()], Ending::Truncated)
        );
        let (_, p) = vector("short_bad_magic");
        let short = Ending::Fatal {
            kind: "BadMagic".into(),
            complete: false,
        };
        assert_eq!(p.ending, short);
        let (_, p) = vector("valid_then_bad_magic");
        assert!(matches!(p.ending, Ending::Fatal { complete: true, .. }));
        let (_, p) = vector("empty_input");
        assert!(p.echoes.is_empty() && p.ending == Ending::Clean);
    }

    #[test]
    fn the_limit_matters_only_where_a_declared_length_falls_between() {
        let (v, p) = vector("max_len_exact"); // max 5, a 5-byte frame
        assert_eq!(v.limit_mismatch(&p, lpframe::DEFAULT_MAX_FRAME_LEN), None);
        assert!(v.limit_mismatch(&p, 4).unwrap().contains("accepted there"));
        let (v, p) = vector("frame_too_large_limit"); // max 4, 5 bytes declared
        assert!(v
            .limit_mismatch(&p, lpframe::DEFAULT_MAX_FRAME_LEN)
            .unwrap()
            .contains("refused there"));
        assert_eq!(v.limit_mismatch(&p, 4), None);
        let (v, p) = vector("frame_too_large_4gib");
        assert_eq!(v.limit_mismatch(&p, 1 << 20), None);
        assert!(v.limit_mismatch(&p, u32::MAX).is_some());
        let (v, p) = vector("truncated_payload"); // a verified 10-byte header
        assert_eq!(v.limit_mismatch(&p, 10), None);
        assert!(v.limit_mismatch(&p, 9).is_some());
        let (v, p) = vector("bad_magic_http"); // no length is ever trusted
        assert_eq!(v.limit_mismatch(&p, 0), None);
    }

    #[test]
    fn malformed_files_are_refused() {
        assert!(testkit::vectors::parse("input 00\n").is_err());
        assert!(testkit::vectors::parse("vector a\ninput 0\nend\n").is_err());
        assert!(testkit::vectors::parse("vector a\nframe zz\nend\n").is_err());
        assert!(testkit::vectors::parse("vector a\n").is_err());
        assert_eq!(
            testkit::vectors::parse("# c\n\nvector a\nend\n")
                .unwrap()
                .len(),
            1
        );
    }
}
