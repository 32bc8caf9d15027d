//! `lpframe`: encode, decode, inspect, send and receive LPF frames.
//!
//! Exit status: 0 success; 1 a data, I/O or network error (corrupt input,
//! missing file, unreachable address); 2 a usage error (bad arguments).

#![forbid(unsafe_code)]

mod conform;
mod inspect;

use std::fs::File;
use std::io::{self, BufReader, IsTerminal, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lpframe::{Config, Error, FrameReader, FrameWriter};

#[derive(Parser)]
#[command(
    name = "lpframe",
    version,
    about = "Encode, decode, inspect, send and receive LPF frames (see PROTOCOL.md)",
    after_help = "Exit status: 0 success, 1 data/I-O/network error, 2 usage error.\n\n\
Examples:\n  printf 'hello\\nworld\\n' | lpframe encode --lines > frames.lpf\n  \
lpframe decode --lines frames.lpf\n  lpframe inspect frames.lpf\n  \
lpframe listen 127.0.0.1:7878 --echo\n  echo ping | lpframe send 127.0.0.1:7878 --lines --wait 1"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Frame files or standard input: each file (or stdin) becomes one
    /// frame, or each line with --lines. Frames go to standard output.
    #[command(
        after_help = "Examples:\n  lpframe encode a.bin b.bin > frames.lpf\n  printf 'one\\ntwo\\n' | lpframe encode --lines > frames.lpf"
    )]
    Encode {
        /// Input files (default: standard input).
        files: Vec<PathBuf>,
        /// One frame per line (the newline is not part of the payload).
        #[arg(long)]
        lines: bool,
        /// Largest payload to write, in bytes.
        #[arg(long, default_value_t = lpframe::DEFAULT_MAX_FRAME_LEN)]
        max_frame_len: u32,
    },
    /// Read frames from a file or standard input and write their payloads
    /// to standard output. Errors go to standard error with their byte
    /// offset; the exit status is 1 if there was any.
    #[command(
        after_help = "Examples:\n  lpframe decode frames.lpf > payloads.bin\n  lpframe decode --lines < frames.lpf\n  lpframe decode --hex frames.lpf"
    )]
    Decode {
        /// Input file (default: standard input).
        file: Option<PathBuf>,
        #[command(flatten)]
        out: PayloadFormat,
        /// Largest payload to accept, in bytes.
        #[arg(long, default_value_t = lpframe::DEFAULT_MAX_FRAME_LEN)]
        max_frame_len: u32,
    },
    /// Annotated listing of a capture or file: offset, version, flags,
    /// length, both CRCs (ok/BAD), a payload preview, and a summary.
    #[command(
        after_help = "Examples:\n  lpframe inspect frames.lpf\n  lpframe inspect --recover damaged.lpf\n  lpframe inspect --json frames.lpf | jq .length"
    )]
    Inspect {
        /// Input file (default: standard input).
        file: Option<PathBuf>,
        /// Continue past damage: resynchronise on the next valid header and
        /// list what was skipped.
        #[arg(long)]
        recover: bool,
        /// One JSON object per line (frames, errors, skips, then a summary).
        #[arg(long)]
        json: bool,
        /// Largest payload to accept, in bytes.
        #[arg(long, default_value_t = lpframe::DEFAULT_MAX_FRAME_LEN)]
        max_frame_len: u32,
    },
    /// Accept TCP connections and print the frames received (netcat for
    /// frames). Prints "listening on ADDR" first.
    #[command(
        after_help = "Examples:\n  lpframe listen 127.0.0.1:7878 --echo\n  lpframe listen 127.0.0.1:0 --count 3 --lines"
    )]
    Listen {
        /// Address to bind, e.g. 127.0.0.1:7878 (port 0: any free port).
        addr: String,
        /// Send every frame back to its sender.
        #[arg(long)]
        echo: bool,
        /// Exit after this many frames.
        #[arg(long)]
        count: Option<u64>,
        /// Exit after the first connection closes.
        #[arg(long)]
        once: bool,
        #[command(flatten)]
        out: PayloadFormat,
    },
    /// Connect over TCP and send standard-input lines or files as frames;
    /// optionally wait for replies and print them.
    #[command(
        after_help = "Examples:\n  echo hello | lpframe send 127.0.0.1:7878 --lines --wait 1\n  lpframe send 127.0.0.1:7878 request.bin --wait 1 --hex"
    )]
    Send {
        /// Address to connect to, e.g. 127.0.0.1:7878.
        addr: String,
        /// Files to send, one frame each (default: standard input).
        files: Vec<PathBuf>,
        /// One frame per line of the input.
        #[arg(long)]
        lines: bool,
        /// Read and print this many reply frames (one per line) before
        /// exiting.
        #[arg(long, default_value_t = 0)]
        wait: u64,
        /// Print replies as hex.
        #[arg(long)]
        hex: bool,
    },
    /// Conformance test of a running LPF echo peer (PROTOCOL.md appendix
    /// A): one connection per case; a report line per case, then a
    /// summary. Exit status 0 if no case failed (warnings and skips do not
    /// fail), 1 if one did or the peer cannot be reached, 2 usage error.
    #[command(after_help = "Examples:\n  lpframe conform 127.0.0.1:7878\n  \
lpframe conform 127.0.0.1:7878 --stall-timeout 5 --idle-timeout 30 --pid 4242\n  \
lpframe conform 127.0.0.1:7878 --case vector/hello foreign --seed 17\n  \
lpframe conform 127.0.0.1:7878 --json | jq 'select(.status == \"fail\")'\n  lpframe conform --list")]
    Conform(conform::Args),
}

/// How payloads are printed.
#[derive(clap::Args, Clone, Copy)]
struct PayloadFormat {
    /// Print each payload followed by a newline.
    #[arg(long, conflicts_with = "hex")]
    lines: bool,
    /// Print each payload as hex, one per line.
    #[arg(long)]
    hex: bool,
}

impl PayloadFormat {
    fn write(&self, out: &mut impl Write, payload: &[u8]) -> io::Result<()> {
        if self.hex {
            writeln!(out, "{}", inspect::hex(payload))
        } else if self.lines {
            out.write_all(payload)?;
            out.write_all(b"\n")
        } else {
            out.write_all(payload)
        }
    }
}

/// A failure reported as one line on standard error (an empty message:
/// standard output was closed by its reader, e.g. `| head`; exit quietly).
struct Fail(String);

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return Fail(String::new());
        }
        Fail(e.to_string())
    }
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse(); // exits with 2 on a usage error
    match run(cli.command) {
        Ok(code) => code,
        Err(Fail(msg)) if msg.is_empty() => ExitCode::SUCCESS,
        Err(Fail(msg)) => {
            eprintln!("lpframe: {msg}");
            ExitCode::from(1)
        }
    }
}

fn open(file: &Option<PathBuf>) -> Result<Box<dyn Read>, Fail> {
    match file {
        None => Ok(Box::new(io::stdin().lock())),
        Some(p) => File::open(p)
            .map(|f| Box::new(BufReader::new(f)) as Box<dyn Read>)
            .map_err(|e| Fail(format!("{}: {e}", p.display()))),
    }
}

fn read_all(file: &Option<PathBuf>) -> Result<Vec<u8>, Fail> {
    let mut data = Vec::new();
    open(file)?.read_to_end(&mut data)?;
    Ok(data)
}

/// The payloads to send: files (one frame each) or stdin; split into lines
/// with `lines`.
fn payloads(files: &[PathBuf], lines: bool) -> Result<Vec<Vec<u8>>, Fail> {
    let inputs: Vec<Vec<u8>> = if files.is_empty() {
        vec![read_all(&None)?]
    } else {
        files
            .iter()
            .map(|f| read_all(&Some(f.clone())))
            .collect::<Result<_, _>>()?
    };
    if !lines {
        return Ok(inputs);
    }
    let mut out = Vec::new();
    for input in inputs {
        for line in input.split_inclusive(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\n").unwrap_or(line);
            out.push(line.strip_suffix(b"\r").unwrap_or(line).to_vec());
        }
    }
    Ok(out)
}

fn run(command: Command) -> Result<ExitCode, Fail> {
    match command {
        Command::Conform(args) => conform::run(args).map_err(Fail),
        Command::Encode {
            files,
            lines,
            max_frame_len,
        } => {
            let config = Config::new().max_write_frame_len(max_frame_len);
            let mut w = FrameWriter::with_config(io::stdout().lock(), config);
            for p in payloads(&files, lines)? {
                w.write_frame(&p)?;
            }
            w.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Decode {
            file,
            out,
            max_frame_len,
        } => {
            let config = Config::new().max_read_frame_len(max_frame_len);
            let mut reader = FrameReader::with_config(open(&file)?, config);
            let mut stdout = io::stdout().lock();
            let mut errors = 0;
            loop {
                match reader.next_frame() {
                    Ok(Some(f)) => out.write(&mut stdout, f.payload())?,
                    Ok(None) => break,
                    Err(e) => {
                        errors += 1;
                        stdout.flush()?;
                        eprintln!(
                            "lpframe: error at offset {}: {e}",
                            reader.decoder().frame_offset()
                        );
                        if e.is_fatal() {
                            break;
                        }
                    }
                }
            }
            stdout.flush()?;
            Ok(if errors == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Inspect {
            file,
            recover,
            json,
            max_frame_len,
        } => {
            let data = read_all(&file)?;
            let config = Config::new()
                .max_read_frame_len(max_frame_len)
                .recover(recover);
            let color =
                !json && io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            let mut stdout = io::stdout().lock();
            let summary = inspect::inspect(&data, config, json, color, &mut stdout)?;
            stdout.flush()?;
            Ok(if summary.errors == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Listen {
            addr,
            echo,
            count,
            once,
            out,
        } => {
            let listener = TcpListener::bind(&addr)
                .map_err(|e| Fail(format!("cannot listen on {addr}: {e}")))?;
            let mut stdout = io::stdout().lock();
            writeln!(stdout, "listening on {}", listener.local_addr()?)?;
            stdout.flush()?;
            let mut seen = 0u64;
            for conn in listener.incoming() {
                let stream = conn?;
                let peer = stream.peer_addr()?;
                let mut writer = FrameWriter::new(stream.try_clone()?);
                for item in FrameReader::new(stream) {
                    match item {
                        Ok(f) => {
                            out.write(&mut stdout, f.payload())?;
                            stdout.flush()?;
                            if echo {
                                writer.write_frame(f.payload())?;
                                writer.flush()?;
                            }
                            seen += 1;
                            if count.is_some_and(|c| seen >= c) {
                                return Ok(ExitCode::SUCCESS);
                            }
                        }
                        Err(e) => eprintln!("lpframe: {peer}: {e}"),
                    }
                }
                if once {
                    break;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Send {
            addr,
            files,
            lines,
            wait,
            hex,
        } => {
            let out = PayloadFormat { lines: !hex, hex };
            let stream = TcpStream::connect(&addr)
                .map_err(|e| Fail(format!("cannot connect to {addr}: {e}")))?;
            let mut w = FrameWriter::new(stream.try_clone()?);
            for p in payloads(&files, lines)? {
                w.write_frame(&p)?;
            }
            w.flush()?;
            let mut stdout = io::stdout().lock();
            let mut reader = FrameReader::new(stream);
            for _ in 0..wait {
                match reader.next_frame()? {
                    Some(f) => out.write(&mut stdout, f.payload())?,
                    None => {
                        return Err(Fail(format!(
                            "{addr} closed the connection before replying"
                        )))
                    }
                }
            }
            stdout.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
