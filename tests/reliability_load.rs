//! A bounded load run for CI: the example echo server under 100 concurrent
//! connections x 100 frames of mixed sizes; nothing lost or altered. The
//! full 1,000 x 1,000 run is `cargo run --release --example load`
//! (figures in RELIABILITY.md).
#![cfg(feature = "tokio")]

#[path = "../examples/load.rs"]
#[allow(dead_code)]
mod load;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_connections_times_a_hundred_frames() {
    let r = load::run_load(100, 100).await;
    println!("{r:?}");
    assert_eq!(r.frames, 10_000);
}
