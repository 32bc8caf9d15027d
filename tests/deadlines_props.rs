//! The deadline properties on scripted clocks (no sleeping): random
//! arrival schedules against idle and stall limits, through the pure
//! tracker and WithDeadlines on tokio's paused clock, each equal to the
//! model (testkit::deadlines); scripted read-timeout wake-ups on the
//! blocking FrameReader lose nothing.

#[test]
fn random_schedules_match_the_model() {
    let (idle, stall, served) = testkit::deadlines::check_seeds(0..400);
    eprintln!("400 schedules: {idle} idle cuts, {stall} stall cuts, {served} served");
    // The generator exercises every outcome.
    assert!(
        idle >= 20 && stall >= 20 && served >= 20,
        "{idle} {stall} {served}"
    );
}

#[test]
fn scripted_wakeups_never_end_a_frame_on_the_blocking_reader() {
    for seed in 0..300 {
        testkit::deadlines::blocking_wakeups(seed);
    }
}
