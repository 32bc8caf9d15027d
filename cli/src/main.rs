//! `lpframe`: encode, decode, inspect, send and receive LPF frames.
//!
//! One module per subcommand (its options and its `run`); this file holds
//! the command line, error reporting and the exit statuses.

#![forbid(unsafe_code)]

mod common;
mod decode;
mod encode;
mod input;
mod inspect;
mod listen;
mod send;
mod source;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// The exit statuses, for the top-level `--help` (cli/README.md has the
/// same table; each subcommand's `--help` says what they mean for it).
macro_rules! exit_status {
    () => {
        "Exit status:
  0  success: everything was read, sent or served without an error
  1  failure: a fatal error stopped the command (a stream damaged beyond
     what it can pass, an I/O or network error, a missing file, an input
     over --max-frame-len, a peer that closed before all replies came)
  2  usage error (bad arguments)
  3  finished, with errors along the way: corrupt frames dropped, bytes
     skipped by --recover, or (listen) a client's failure logged
  4  timed out (send: --timeout expired)
A closed standard output (`| head`) ends any subcommand at once, quietly,
with status 0."
    };
}

#[derive(Parser)]
#[command(
    name = "lpframe",
    version,
    about = "Encode, decode, inspect, send and receive LPF frames (see PROTOCOL.md)",
    after_help = concat!(
        "Examples:\n  printf 'hello\\nworld\\n' | lpframe encode --lines > frames.lpf\n  \
lpframe decode --lines frames.lpf\n  lpframe inspect frames.lpf\n  \
lpframe listen 127.0.0.1:7878 --echo --lines\n  \
echo ping | lpframe send 127.0.0.1:7878 --lines --wait 1\n\n",
        exit_status!()
    )
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Frame files or standard input: each file (or stdin) becomes one
    /// frame, or each line with --lines. Frames go to standard output as
    /// the input arrives, in bounded memory.
    #[command(after_help = concat!(
        "Examples:\n  lpframe encode a.bin b.bin > frames.lpf\n  \
printf 'one\\ntwo\\n' | lpframe encode --lines > frames.lpf\n  \
tail -f app.log | lpframe encode --lines | lpframe decode --lines\n\n",
        "Exit status: 0 every input framed; 1 an input could not be read or is over \
--max-frame-len (the frames before it were written), or standard output failed; \
2 usage error. A closed standard output ends it quietly with 0."
    ))]
    Encode(encode::Args),
    /// Read frames from a file or standard input and write their payloads
    /// to standard output as they arrive. Each error goes to standard
    /// error, once, with its byte offset.
    #[command(after_help = concat!(
        "Examples:\n  lpframe decode frames.lpf > payloads.bin\n  \
lpframe decode --lines < frames.lpf\n  lpframe decode --hex --recover damaged.lpf\n\n",
        "Exit status: 0 every frame verified; 1 a fatal error stopped decoding (the \
payloads before it were written), or an I/O error; 3 the input was read to its end \
but corrupt frames were dropped or (--recover) bytes skipped; 2 usage error."
    ))]
    Decode(decode::Args),
    /// Annotated listing of a capture or file, streamed: per frame its
    /// offset, every header field with the verdict of its check (in the
    /// order of PROTOCOL.md section 4: ok, BAD, or - not checked), a payload
    /// preview, then a summary.
    #[command(after_help = concat!(
        "Examples:\n  lpframe inspect frames.lpf\n  lpframe inspect --recover damaged.lpf\n  \
lpframe inspect --json frames.lpf | jq 'select(.event == \"frame\") | .length'\n\n",
        "Exit status: 0 no error; 1 a fatal error stopped the listing (it is the last \
entry), or an I/O error; 3 the input was read to its end with errors along the way \
(corrupt frames, skipped bytes); 2 usage error."
    ))]
    Inspect(inspect::Args),
    /// Accept TCP connections, many at once, and print the frames received
    /// (netcat for frames). Prints "listening on ADDR" first. Each client's
    /// failure is logged once on standard error with its address; Ctrl-C or
    /// SIGTERM ends it with a one-line summary.
    #[command(after_help = concat!(
        "Examples:\n  lpframe listen 127.0.0.1:7878 --echo --lines\n  \
lpframe listen 127.0.0.1:0 --count 3 --lines\n  \
lpframe listen 0.0.0.0:7878 --echo --idle-timeout 30 --stall-timeout 5 > /dev/null\n\n",
        "Exit status: 0 ended (Ctrl-C, SIGTERM, --count, --once) and no client failed; \
3 ended, and some client's failure was logged; 1 cannot listen, or standard output \
failed; 2 usage error. A closed standard output ends it quietly with 0."
    ))]
    Listen(listen::Args),
    /// Connect over TCP and send standard-input lines or files as frames,
    /// each as soon as it is read, while reading the replies (print the
    /// first --wait N of them).
    #[command(after_help = concat!(
        "Examples:\n  echo hello | lpframe send 127.0.0.1:7878 --lines --wait 1\n  \
lpframe send 127.0.0.1:7878 request.bin --wait 1 --hex --timeout 5\n  \
lpframe send 127.0.0.1:7878 --lines          # interactive, like nc\n\n",
        "Exit status: 0 all input sent and --wait replies printed; 1 cannot connect, \
the connection failed, or the peer closed it before all the input was sent or \
--wait replies came, a damaged reply stream, an input error; 3 done, but corrupt \
replies were dropped; 4 --timeout expired (connecting, a write the peer does not \
take, or waiting for a reply); 2 usage error."
    ))]
    Send(send::Args),
    /// Conformance test of a running LPF echo peer (PROTOCOL.md appendix
    /// A): one connection per case; a report line per case, then a
    /// summary. Exit status 0 if no case failed (warnings and skips do not
    /// fail), 1 if one did or the peer cannot be reached, 2 usage error.
    #[command(after_help = "Examples:\n  lpframe conform 127.0.0.1:7878\n  \
lpframe conform 127.0.0.1:7878 --stall-timeout 5 --idle-timeout 30 --pid 4242\n  \
lpframe conform 127.0.0.1:7878 --case vector/hello,foreign --seed 17\n  \
lpframe conform 127.0.0.1:7878 --json | jq 'select(.status == \"FAIL\")'\n  lpframe conform --list")]
    Conform(lpframe_conform::Args),
}

/// How a subcommand ended, when it printed what it had to say itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Exit status 0.
    Clean,
    /// Exit status 1: a fatal error, already reported (e.g. in `inspect`'s
    /// listing or `decode`'s error line).
    Failed,
    /// Exit status 3: finished, with errors along the way (reported).
    Damaged,
}

impl Status {
    pub fn code(self) -> ExitCode {
        ExitCode::from(match self {
            Status::Clean => 0,
            Status::Failed => 1,
            Status::Damaged => 3,
        })
    }

    /// `Damaged` if `errors` is not zero.
    pub fn from_errors(errors: u64) -> Status {
        if errors == 0 {
            Status::Clean
        } else {
            Status::Damaged
        }
    }
}

/// A failure still to be reported.
#[derive(Debug)]
pub enum Fail {
    /// Standard output was closed by its reader (`| head`): stop at once,
    /// quietly, with status 0.
    Quiet,
    /// One line on standard error ("lpframe: MESSAGE"), status 1.
    Error(String),
    /// One line on standard error, status 4.
    Timeout(String),
    /// One line on standard error, status 2 (a usage error found after
    /// parsing, e.g. an address without a port).
    Usage(String),
}

impl Fail {
    pub fn error(msg: impl Into<String>) -> Fail {
        Fail::Error(msg.into())
    }
}

impl From<String> for Fail {
    fn from(msg: String) -> Fail {
        Fail::Error(msg)
    }
}

fn main() -> ExitCode {
    // Exits with 2 on a usage error.
    let cli = Cli::parse();
    // One line per subcommand. A subcommand that decides its exit code
    // itself returns `Result<ExitCode, String>` and plugs in as
    // `x::run(args).map_err(Fail::from)`.
    let result: Result<ExitCode, Fail> = match cli.command {
        Command::Encode(args) => encode::run(args).map(Status::code),
        Command::Decode(args) => decode::run(args).map(Status::code),
        Command::Inspect(args) => inspect::run(args).map(Status::code),
        Command::Listen(args) => listen::run(args).map(Status::code),
        Command::Send(args) => send::run(args).map(Status::code),
        Command::Conform(args) => lpframe_conform::run(args).map_err(Fail::from),
    };
    match result {
        Ok(code) => code,
        Err(Fail::Quiet) => ExitCode::SUCCESS,
        Err(Fail::Error(msg)) => {
            common::warn(msg);
            ExitCode::from(1)
        }
        Err(Fail::Timeout(msg)) => {
            common::warn(msg);
            ExitCode::from(4)
        }
        Err(Fail::Usage(msg)) => {
            common::warn(msg);
            ExitCode::from(2)
        }
    }
}
