//! The one seeded random generator of the tests, benches, fuzz bodies and
//! the conformance tester (`lpframe conform --seed`).

/// xorshift64 (Marsaglia's 13/7/17 triple): deterministic, dependency-free
/// randomness for seeded tests. The state must not be 0 (a zero state stays
/// 0): seed it with `seed | 1` or a nonzero constant.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits (the new state).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// The stream for one named case (the conformance tester's `--seed`):
    /// `seed` mixed with the FNV-1a hash of `id`, so that each case draws
    /// the same numbers whichever other cases run.
    pub fn for_case(seed: u64, id: &str) -> Rng {
        let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        // Spread the bits (the seed may be small), never a zero state.
        Rng((seed ^ hash).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number in `lo..=hi` (`lo` when `hi < lo`).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        match hi.checked_sub(lo).and_then(|d| d.checked_add(1)) {
            Some(span) => lo + self.next() % span,
            None if hi < lo => lo,
            None => self.next(), // the full u64 range
        }
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_streams_repeat_per_seed_and_case() {
        let first = |seed, id| Rng::for_case(seed, id).next();
        assert_eq!(first(7, "x"), first(7, "x"));
        assert_ne!(first(7, "x"), first(7, "y"));
        assert_ne!(first(7, "x"), first(8, "x"));
        let mut r = Rng(1);
        assert!((0..1000).all(|_| (3..=5).contains(&r.range(3, 5))));
        assert_eq!(r.range(5, 3), 5);
        assert_eq!(r.bytes(13).len(), 13);
    }
}
