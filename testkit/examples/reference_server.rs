//! The reference echo server ([`testkit::server`]) as a program, and its
//! client demo.
//!
//! ```text
//! cargo run -p lpframe-testkit --example reference_server                  # server + client
//! cargo run -p lpframe-testkit --example reference_server -- --listen 127.0.0.1:7878
//! cargo run -p lpframe-testkit --example reference_server -- --connect 127.0.0.1:7878
//! ```
//!
//! `--listen` prints `listening on ADDR` once bound and serves until
//! Ctrl-C; `--connect` runs the client demo against ADDR (the Python
//! interop tests, interop/python, drive both).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use testkit::server::{bind, client_demo, serve, Running, ServerOptions, ServerStats};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--listen") => {
            let addr = args.get(1).map(String::as_str).unwrap_or("127.0.0.1:7878");
            let addr = tokio::net::lookup_host(addr)
                .await?
                .next()
                .ok_or("--listen: the address resolves to nothing")?;
            let listener = bind(addr)?;
            println!("listening on {}", listener.local_addr()?);
            let ctrl_c = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            serve(
                listener,
                ServerOptions::default(),
                Arc::new(ServerStats::default()),
                ctrl_c,
            )
            .await?;
        }
        Some("--connect") => {
            let addr: SocketAddr = args.get(1).ok_or("--connect needs ADDR")?.parse()?;
            client_demo(addr).await?;
        }
        None => {
            let server = Running::start(ServerOptions::default()).await?;
            println!("[server] listening on {}", server.addr);
            client_demo(server.addr).await?;
            let stats = Arc::clone(&server.stats);
            server.stop().await?;
            println!(
                "[server] shut down: {} connections, {} frames echoed, {} corrupt frames dropped, {} protocol errors",
                stats.connections.load(Ordering::Relaxed),
                stats.frames_echoed.load(Ordering::Relaxed),
                stats.corrupt_frames.load(Ordering::Relaxed),
                stats.protocol_errors.load(Ordering::Relaxed),
            );
        }
        Some(other) => {
            return Err(
                format!("unknown argument {other:?}; use --listen ADDR or --connect ADDR").into(),
            )
        }
    }
    Ok(())
}
