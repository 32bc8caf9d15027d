//! The report: one line per case in the style of h2spec (with what was
//! expected and what happened under a failure), or with `--json` one JSON
//! object per case; then a summary. The JSON schema is in cli/README.md.

use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;

use crate::cases::{Case, Outcome};
use crate::conn::plural;
use crate::Options;

/// One finished case.
#[derive(Debug, Clone)]
pub struct CaseResult {
    pub outcome: Outcome,
    pub elapsed: Duration,
}

/// Counts for the summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Cases that passed.
    pub passed: usize,
    /// Cases that failed (a MUST or a declared timeout broken).
    pub failed: usize,
    /// Cases that passed their MUSTs but not a SHOULD.
    pub warnings: usize,
    /// Cases that could not run with the settings given.
    pub skipped: usize,
}

impl Counts {
    /// Every case counted.
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.warnings + self.skipped
    }
}

#[derive(Serialize)]
struct CaseJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    section: &'a str,
    title: &'a str,
    status: &'static str,
    ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actual: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rule: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a str>,
}

/// The first JSON object: the run's settings.
#[derive(Serialize)]
struct HeaderJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    addr: &'a str,
    max: u32,
    stall_timeout_s: Option<f64>,
    idle_timeout_s: Option<f64>,
    pid: Option<u32>,
    seed: u64,
    cases: usize,
}

#[derive(Serialize)]
struct SummaryJson<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    addr: &'a str,
    max: u32,
    stall_timeout_s: Option<f64>,
    idle_timeout_s: Option<f64>,
    pid: Option<u32>,
    seed: u64,
    cases: usize,
    passed: usize,
    failed: usize,
    warnings: usize,
    skipped: usize,
    ms: u64,
}

/// Writes the report as cases finish.
pub struct Report<W: Write> {
    out: W,
    json: bool,
    /// Width of the id column.
    width: usize,
    pub counts: Counts,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `3 ms`, `1.02 s`.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("not given".into(), |d| format!("{} s", d.as_secs_f64()))
}

impl<W: Write> Report<W> {
    pub fn new(out: W, json: bool, cases: &[Case]) -> Report<W> {
        let width = cases.iter().map(|c| c.id.len()).max().unwrap_or(0);
        Report {
            out,
            json,
            width,
            counts: Counts::default(),
        }
    }

    /// The run's parameters (in JSON, a `header` object; the summary
    /// repeats them).
    pub fn header(&mut self, o: &Options, addr: &str, cases: usize) -> io::Result<()> {
        if self.json {
            let j = HeaderJson {
                kind: "header",
                addr,
                max: o.max,
                stall_timeout_s: o.stall.map(|d| d.as_secs_f64()),
                idle_timeout_s: o.idle.map(|d| d.as_secs_f64()),
                pid: o.pid,
                seed: o.seed,
                cases,
            };
            serde_json::to_writer(&mut self.out, &j)?;
            writeln!(self.out)?;
            return self.out.flush();
        }
        writeln!(
            self.out,
            "lpframe conform {addr}: {}; --max {}, stall timeout {}, idle timeout {}, {}; seed {}\n",
            plural(cases, "case", "cases"),
            o.max,
            secs(o.stall),
            secs(o.idle),
            o.pid.map_or("no --pid".into(), |p| format!("--pid {p}")),
            o.seed
        )?;
        self.out.flush()
    }

    pub fn case(&mut self, case: &Case, r: &CaseResult) -> io::Result<()> {
        // The same status words in the text and in JSON.
        let tag = match &r.outcome {
            Outcome::Pass(_) => {
                self.counts.passed += 1;
                "PASS"
            }
            Outcome::Fail(_) => {
                self.counts.failed += 1;
                "FAIL"
            }
            Outcome::Warn { .. } => {
                self.counts.warnings += 1;
                "WARN"
            }
            Outcome::Skip(_) => {
                self.counts.skipped += 1;
                "SKIP"
            }
        };
        let status = tag;
        if self.json {
            let mut j = CaseJson {
                kind: "case",
                id: &case.id,
                section: &case.section,
                title: &case.title,
                status,
                ms: ms(r.elapsed),
                expected: None,
                actual: None,
                rule: None,
                reason: None,
                note: None,
            };
            match &r.outcome {
                Outcome::Pass(note) => j.note = note.as_deref(),
                Outcome::Fail(f) => {
                    j.expected = Some(&f.expected);
                    j.actual = Some(&f.actual);
                }
                Outcome::Warn { rule, actual } => {
                    j.rule = Some(rule);
                    j.actual = Some(actual);
                }
                Outcome::Skip(reason) => j.reason = Some(reason),
            }
            serde_json::to_writer(&mut self.out, &j)?;
            writeln!(self.out)?;
            return self.out.flush();
        }
        let w = self.width;
        let section = format!("§{}", case.section);
        let line = format!("{tag}  {:<w$}  {section:<16}", case.id);
        match &r.outcome {
            Outcome::Pass(None) => writeln!(self.out, "{line} {}", human(r.elapsed))?,
            Outcome::Pass(Some(note)) => {
                writeln!(self.out, "{line} {}  ({note})", human(r.elapsed))?;
            }
            Outcome::Skip(reason) => writeln!(self.out, "{line} {reason}")?,
            Outcome::Fail(f) => {
                writeln!(self.out, "{line} {}", human(r.elapsed))?;
                writeln!(self.out, "      case:     {}", case.title)?;
                writeln!(self.out, "      expected: {}", f.expected)?;
                writeln!(self.out, "      actual:   {}", f.actual)?;
            }
            Outcome::Warn { rule, actual } => {
                writeln!(self.out, "{line} {}", human(r.elapsed))?;
                writeln!(self.out, "      case:     {}", case.title)?;
                writeln!(self.out, "      rule:     {rule}")?;
                writeln!(self.out, "      actual:   {actual}")?;
            }
        }
        self.out.flush()
    }

    pub fn summary(&mut self, o: &Options, addr: &str, total: Duration) -> io::Result<()> {
        let c = self.counts;
        if self.json {
            let j = SummaryJson {
                kind: "summary",
                addr,
                max: o.max,
                stall_timeout_s: o.stall.map(|d| d.as_secs_f64()),
                idle_timeout_s: o.idle.map(|d| d.as_secs_f64()),
                pid: o.pid,
                seed: o.seed,
                cases: c.total(),
                passed: c.passed,
                failed: c.failed,
                warnings: c.warnings,
                skipped: c.skipped,
                ms: ms(total),
            };
            serde_json::to_writer(&mut self.out, &j)?;
            writeln!(self.out)?;
        } else {
            writeln!(
                self.out,
                "\n{}: {} passed, {} failed, {}, {} skipped in {} (seed {}; repeat with --seed {})",
                plural(c.total(), "case", "cases"),
                c.passed,
                c.failed,
                plural(c.warnings, "warning", "warnings"),
                c.skipped,
                human(total),
                o.seed,
                o.seed
            )?;
        }
        self.out.flush()
    }
}
