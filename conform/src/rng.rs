//! The tester's seeded generator is the test-support crate's one RNG
//! ([`testkit::Rng`]): a run is repeated exactly with `--seed`, and each
//! case draws from its own stream ([`Rng::for_case`]: the seed mixed with
//! the case id), so running a subset with `--case` repeats the same splits.

pub use testkit::Rng;
