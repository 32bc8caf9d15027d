//! Deadlines at scale (issue 19): the reference echo server with 2,000
//! trickling connections (1 byte per 100 ms each, a frame that never
//! completes) and 2,000 idle ones still answers a healthy client's round
//! trips within 50 ms at the median, and cuts every trickler at its stall
//! deadline (never early; late by at most `LATE`); the idle connections
//! stay up (their idle deadline is longer than the run). Reports the
//! cut-time distribution, the round-trip latencies and the process's RSS.
//!
//! `#[ignore]`d (about 15 s, 8,000+ descriptors):
//! `cargo test --release -p lpframe --test deadlines_scale -- --ignored --nocapture`
//! (the long-campaign step of `.ci/run` runs it, after `ulimit -n 65536`).
#![cfg(feature = "tokio")]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use lpframe::{Config, FrameCodec, Received};
use testkit::server::{Running, ServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::codec::Framed;

const TRICKLERS: usize = 2_000;
const IDLE: usize = 2_000;
const STALL: Duration = Duration::from_secs(2);
/// How late a cut may be with 4,000 connections on 2 shared cores: the
/// timer's 1 ms, the scheduling of 4,000 tasks, the client's own wake-up.
const LATE: Duration = Duration::from_millis(300);
const ROUND_TRIPS: usize = 200;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// VmRSS of `pid` (this process: `None`), KiB.
fn rss_kib(pid: Option<u32>) -> u64 {
    let path = pid.map_or("/proc/self/status".to_string(), |p| {
        format!("/proc/{p}/status")
    });
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn open_files_limit() -> u64 {
    std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Connects, retrying briefly (a burst of connects can overflow the SYN
/// queue).
async fn connect(addr: SocketAddr) -> TcpStream {
    for _ in 0..50 {
        if let Ok(s) = TcpStream::connect(addr).await {
            let _ = s.set_nodelay(true);
            return s;
        }
        tokio::time::sleep(ms(20)).await;
    }
    panic!("cannot connect to {addr}");
}

/// Sends a frame of 1,000 bytes one byte per 100 ms; returns the time from
/// its first byte to the server's close (its FIN or reset), or `None` if
/// the server never closed within 20 s.
async fn trickler(addr: SocketAddr, start_in: Duration) -> Option<Duration> {
    let mut s = connect(addr).await;
    tokio::time::sleep(start_in).await;
    let mut wire = Vec::new();
    lpframe::write_frame(&mut wire, &[9u8; 1000]).unwrap();
    let mut tick = tokio::time::interval(ms(100));
    let mut first = None;
    let mut sent = 0;
    let mut buf = [0u8; 64];
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if Instant::now() > give_up {
                    return None;
                }
                // Stamped before the write: the server cannot see the byte
                // earlier, so a cut measured from here is never early.
                let at = Instant::now();
                if s.write_all(&wire[sent..sent + 1]).await.is_err() {
                    break; // reset by the server
                }
                first.get_or_insert(at);
                sent += 1;
            }
            r = s.read(&mut buf) => match r {
                Ok(0) | Err(_) => break, // the server's FIN (or reset)
                Ok(_) => panic!("an echo for a frame that never completed"),
            },
        }
    }
    Some(first?.elapsed())
}

/// Connects and sends nothing; `true` if still open when told to stop.
async fn idle(addr: SocketAddr, mut stop: watch::Receiver<bool>) -> bool {
    let mut s = connect(addr).await;
    let mut buf = [0u8; 16];
    tokio::select! {
        _ = s.read(&mut buf) => false,
        _ = stop.changed() => true,
    }
}

fn summary(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[0], v[v.len() / 2], v[v.len() - 1])
}

#[test]
#[ignore = "about 15 s and 8,000+ descriptors: the long-campaign step of .ci/run"]
fn two_thousand_tricklers_and_two_thousand_idle_peers() {
    let limit = open_files_limit();
    assert!(
        limit >= 9_000,
        "needs 9,000 descriptors (2 x 4,000 connections + spare), have {limit}: run `ulimit -n 65536` first, as .ci/run does"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // LPFRAME_SCALE_SERVER="ADDR PID STALL_MS": drive a server in another
    // process and report its own RSS, e.g. the reference server with its
    // defaults (stall 5 s, idle 30 s):
    // `target/release/examples/reference_server --listen 127.0.0.1:0`.
    let external = std::env::var("LPFRAME_SCALE_SERVER").ok().map(|v| {
        let f: Vec<&str> = v.split_whitespace().collect();
        let addr: SocketAddr = f[0].parse().unwrap();
        let pid: u32 = f[1].parse().unwrap();
        (addr, pid, ms(f[2].parse().unwrap()))
    });
    rt.block_on(async {
        let pid = external.map(|(_, pid, _)| pid);
        let rss_before = rss_kib(pid);
        let (server, addr, stall) = match external {
            Some((addr, _, stall)) => (None, addr, stall),
            None => {
                let server = Running::start(ServerOptions {
                    idle_timeout: Duration::from_secs(60),
                    stall_timeout: STALL,
                    write_timeout: Duration::from_secs(10),
                    config: Config::default(),
                    verbose: false,
                })
                .await
                .unwrap();
                let addr = server.addr;
                (Some(server), addr, STALL)
            }
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut idlers = Vec::new();
        for i in 0..IDLE {
            idlers.push(tokio::spawn(idle(addr, stop_rx.clone())));
            if i % 200 == 199 {
                tokio::time::sleep(ms(5)).await;
            }
        }
        let mut tricklers = Vec::new();
        for i in 0..TRICKLERS {
            // Their first bytes spread over 100 ms.
            let start_in = ms((i % 100) as u64);
            tricklers.push(tokio::spawn(trickler(addr, start_in)));
            if i % 200 == 199 {
                tokio::time::sleep(ms(5)).await;
            }
        }
        // Everyone connected and trickling; then the healthy client.
        tokio::time::sleep(ms(500)).await;
        let mut client = Framed::new(connect(addr).await, FrameCodec::new());
        let mut rtts = Vec::new();
        let mut rss_peak = rss_kib(pid);
        for i in 0..ROUND_TRIPS {
            let payload = Bytes::from(format!("round trip {i}"));
            let t = Instant::now();
            client.send(payload.clone()).await.unwrap();
            match tokio::time::timeout(Duration::from_secs(5), client.next()).await {
                Ok(Some(Ok(Received::Frame(f)))) => assert_eq!(f.payload(), &payload),
                other => panic!("round trip {i}: {other:?}"),
            }
            rtts.push(t.elapsed());
            rss_peak = rss_peak.max(rss_kib(pid));
            tokio::time::sleep(ms(5)).await;
        }
        let stat = |f: fn(&testkit::server::ServerStats) -> &std::sync::atomic::AtomicU64| {
            server
                .as_ref()
                .map(|s| f(&s.stats).load(std::sync::atomic::Ordering::Relaxed))
        };
        let connections_at_peak = stat(|s| &s.connections);
        let mut cuts = Vec::new();
        for t in tricklers {
            let cut = t.await.unwrap().expect("a trickler the server never cut");
            cuts.push(cut);
        }
        let _ = stop_tx.send(true);
        let mut still_open = 0;
        for t in idlers {
            still_open += usize::from(t.await.unwrap());
        }
        let timeouts = stat(|s| &s.timeouts);
        let server_late = stat(|s| &s.timeout_late_max_us).map(Duration::from_micros);
        let (rmin, rmed, rmax) = summary(rtts);
        let (cmin, cmed, cmax) = summary(cuts.clone());
        println!(
            "scale: {TRICKLERS} tricklers + {IDLE} idle + 1 healthy ({connections_at_peak:?} connections accepted by the round trips' end)"
        );
        println!(
            "scale: healthy round trips ({ROUND_TRIPS}): min {rmin:?} median {rmed:?} max {rmax:?}"
        );
        println!(
            "scale: trickler cuts vs {stall:?} stall (client clock, first byte to FIN): min {cmin:?} median {cmed:?} max {cmax:?}"
        );
        println!(
            "scale: RSS ({}) before {rss_before} KiB, peak {rss_peak} KiB; idle still open {still_open}/{IDLE}; server timeouts {timeouts:?}, latest {server_late:?} past the limit by the server's clock",
            if pid.is_some() { "the server's process" } else { "server and clients in one process" }
        );
        if let Some(late) = server_late {
            assert!(late <= LATE, "the server reported a cut {late:?} late");
        }
        assert!(rmed <= ms(50), "median round trip {rmed:?}");
        for c in &cuts {
            assert!(*c >= stall, "a trickler cut early: {c:?}");
            assert!(*c <= stall + LATE, "a trickler cut late: {c:?}");
        }
        assert_eq!(still_open, IDLE, "idle peers closed before their deadline");
        if let Some(server) = server {
            assert!(timeouts >= Some(TRICKLERS as u64));
            server.stop().await.unwrap();
        }
    });
}
