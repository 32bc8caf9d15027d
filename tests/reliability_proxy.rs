//! Fault-injecting proxy between clients and the example echo server: it
//! re-chunks every write at random sizes (down to 1 byte), delays, flips
//! bits with a set probability, and cuts connections mid-frame. Clients
//! send numbered frames with random payloads, one at a time.
//!
//! Asserted: every frame a client receives is byte-identical to one it
//! sent; every frame corrupted on the way back is reported as a checksum
//! or header error; every cut is reported (truncated frame, EOF, I/O
//! error); and for every connection, sent = received + reported lost —
//! where a frame lost on the way *to* the server (the client's wait times
//! out) must be matched by the server's own report of a corrupt frame or
//! of a protocol error. Deterministic seeds; bounded counts and times.
#![cfg(feature = "tokio")]

use testkit::server as echo;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use lpframe::{DecodeError, Error, FrameCodec, Received};
use testkit::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

const CLIENTS: u64 = 16;
const FRAMES_PER_CLIENT: u64 = 120;
const FLIP_ONE_IN_BYTES: u64 = 40_000;
const CUT_ONE_IN_CHUNKS: u64 = 400;
const REPLY_TIMEOUT: Duration = Duration::from_millis(400);

#[derive(Default)]
struct ProxyStats {
    flips: AtomicU64,
    cuts: AtomicU64,
}

/// Copies `from` to `to`, re-chunking, delaying, flipping bits, maybe
/// cutting. Returns when either side closes or a cut happens.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    seed: u64,
    stats: Arc<ProxyStats>,
    cut: Arc<tokio::sync::Notify>,
) {
    let mut rng = Rng(seed | 1);
    let mut buf = vec![0u8; 4096];
    loop {
        let n = tokio::select! {
            r = from.read(&mut buf) => match r { Ok(0) | Err(_) => break, Ok(n) => n },
            _ = cut.notified() => break,
        };
        let mut data = buf[..n].to_vec();
        for b in data.iter_mut() {
            if rng.below(FLIP_ONE_IN_BYTES as usize) == 0 {
                *b ^= 1 << rng.below(8);
                stats.flips.fetch_add(1, Ordering::Relaxed);
            }
        }
        let mut rest = &data[..];
        while !rest.is_empty() {
            let take = (1 + rng.below(64)).min(rest.len());
            if to.write_all(&rest[..take]).await.is_err() {
                return;
            }
            rest = &rest[take..];
            if rng.below(CUT_ONE_IN_CHUNKS as usize) == 0 {
                // Cut the connection mid-stream (usually mid-frame).
                stats.cuts.fetch_add(1, Ordering::Relaxed);
                cut.notify_waiters();
                return;
            }
            if rng.below(20) == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    cut.notify_waiters();
}

async fn run_proxy(listener: TcpListener, upstream: std::net::SocketAddr, stats: Arc<ProxyStats>) {
    let mut seed = 1u64;
    loop {
        let Ok((client, _)) = listener.accept().await else {
            return;
        };
        let Ok(server) = TcpStream::connect(upstream).await else {
            return;
        };
        seed += 1;
        let (cr, cw) = client.into_split();
        let (sr, sw) = server.into_split();
        let cut = Arc::new(tokio::sync::Notify::new());
        tokio::spawn(pump(cr, sw, seed * 2, Arc::clone(&stats), Arc::clone(&cut)));
        tokio::spawn(pump(sr, cw, seed * 2 + 1, Arc::clone(&stats), cut));
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct ClientTotals {
    sent: u64,
    received: u64,
    corrupt_on_return: u64,
    lost_at_connection_end: u64,
    timeouts: u64,
    connections: u64,
}

fn payload(client: u64, i: u64, rng: &mut Rng) -> Bytes {
    let len = rng.below(1500);
    let mut p = Vec::with_capacity(len + 16);
    p.extend_from_slice(&client.to_be_bytes());
    p.extend_from_slice(&i.to_be_bytes());
    p.extend((0..len).map(|_| rng.next() as u8));
    Bytes::from(p)
}

async fn client(id: u64, addr: std::net::SocketAddr) -> ClientTotals {
    let mut t = ClientTotals::default();
    let mut rng = Rng(0xC0FFEE ^ (id << 20) | 1);
    let mut i = 0;
    'connections: while i < FRAMES_PER_CLIENT && t.connections < 200 {
        t.connections += 1;
        let Ok(stream) = TcpStream::connect(addr).await else {
            break;
        };
        let mut framed = Framed::new(stream, FrameCodec::new());
        let mut late: Vec<Bytes> = Vec::new();
        while i < FRAMES_PER_CLIENT {
            let p = payload(id, i, &mut rng);
            i += 1;
            t.sent += 1;
            if framed.send(p.clone()).await.is_err() {
                t.lost_at_connection_end += 1;
                continue 'connections;
            }
            let reply = loop {
                let r = tokio::time::timeout(REPLY_TIMEOUT, framed.next()).await;
                // A late echo of a frame whose wait timed out (a slow
                // machine, not a loss): count it as received after all.
                if let Ok(Some(Ok(Received::Frame(frame)))) = &r {
                    if let Some(k) = late.iter().position(|l| l == frame.payload()) {
                        late.swap_remove(k);
                        t.timeouts -= 1;
                        t.received += 1;
                        continue;
                    }
                }
                break r;
            };
            match reply {
                Err(_) => {
                    // Lost on the way in: the server must have reported it.
                    t.timeouts += 1;
                    late.push(p);
                }
                Ok(Some(Ok(Received::Frame(frame)))) => {
                    // Never a wrong payload: byte-identical to what was sent.
                    assert_eq!(
                        frame.payload(),
                        &p,
                        "client {id} frame {}: altered echo delivered",
                        i - 1
                    );
                    t.received += 1;
                }
                Ok(Some(Ok(Received::Dropped(e)))) => {
                    assert!(matches!(e, DecodeError::PayloadChecksum { .. }), "{e:?}");
                    t.corrupt_on_return += 1;
                }
                Ok(Some(Err(e))) => {
                    // The connection ended: a cut (truncated frame, reset)
                    // or a header corrupted on the way back. Reported.
                    assert!(
                        e.is_fatal()
                            && matches!(
                                e,
                                Error::Io(_)
                                    | Error::Decode(
                                        DecodeError::Truncated { .. }
                                            | DecodeError::BadMagic { .. }
                                            | DecodeError::UnsupportedVersion { .. }
                                            | DecodeError::HeaderChecksum { .. }
                                            | DecodeError::ReservedFlags { .. }
                                            | DecodeError::FrameTooLarge { .. }
                                    )
                            ),
                        "{e:?}"
                    );
                    t.lost_at_connection_end += 1;
                    continue 'connections;
                }
                Ok(None) => {
                    // EOF on a frame boundary: the server or the proxy
                    // closed the connection while this frame was in flight.
                    t.lost_at_connection_end += 1;
                    continue 'connections;
                }
            }
        }
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_through_a_faulty_proxy_are_exact_or_reported() {
    let opts = echo::ServerOptions {
        idle_timeout: Duration::from_secs(5),
        stall_timeout: Duration::from_secs(2),
        verbose: false,
        ..Default::default()
    };
    let server = echo::Running::start(opts).await.unwrap();
    let (server_addr, server_stats) = (server.addr, Arc::clone(&server.stats));
    let proxy_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_addr = proxy_listener.local_addr().unwrap();
    let proxy_stats = Arc::new(ProxyStats::default());
    let proxy = tokio::spawn(run_proxy(
        proxy_listener,
        server_addr,
        Arc::clone(&proxy_stats),
    ));

    let mut set = tokio::task::JoinSet::new();
    for id in 0..CLIENTS {
        set.spawn(client(id, proxy_addr));
    }
    let mut totals = ClientTotals::default();
    let all = async {
        while let Some(r) = set.join_next().await {
            let t = r.unwrap();
            // Per connection set of one client: nothing unaccounted for.
            assert_eq!(
                t.sent,
                t.received + t.corrupt_on_return + t.lost_at_connection_end + t.timeouts,
                "{t:?}"
            );
            totals.sent += t.sent;
            totals.received += t.received;
            totals.corrupt_on_return += t.corrupt_on_return;
            totals.lost_at_connection_end += t.lost_at_connection_end;
            totals.timeouts += t.timeouts;
            totals.connections += t.connections;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .expect("clients finished within 120 s");
    proxy.abort();
    tokio::time::timeout(Duration::from_secs(30), server.stop())
        .await
        .unwrap()
        .unwrap();

    let server_corrupt = server_stats.corrupt_frames.load(Ordering::Relaxed);
    let server_errors = server_stats.protocol_errors.load(Ordering::Relaxed);
    println!(
        "fault proxy: {} frames sent on {} connections; {} echoed intact; {} corrupted on the way back (reported by the client); \
         {} lost at a cut or close (reported); {} lost on the way in (timeouts) vs {} corrupt frames + {} protocol errors reported by the server; \
         proxy flipped {} bits and cut {} times",
        totals.sent, totals.connections, totals.received, totals.corrupt_on_return, totals.lost_at_connection_end,
        totals.timeouts, server_corrupt, server_errors,
        proxy_stats.flips.load(Ordering::Relaxed), proxy_stats.cuts.load(Ordering::Relaxed)
    );
    assert_eq!(totals.sent, CLIENTS * FRAMES_PER_CLIENT);
    // Every frame lost on the way in was reported by the server.
    assert!(
        totals.timeouts <= server_corrupt + server_errors,
        "unreported losses"
    );
    // The faults really happened.
    assert!(proxy_stats.flips.load(Ordering::Relaxed) > 10);
    assert!(proxy_stats.cuts.load(Ordering::Relaxed) > 0);
    assert!(totals.received > totals.sent / 2);
}
