//! Portable, seedable randomness.
//!
//! Every random value synthtel produces comes from an [`Rng`] keyed by a hash of
//! (seed, tenant, signal, entity, purpose, time bucket). The generator is xoshiro256++ and the
//! samplers are implemented here rather than taken from `rand_distr`, so that output stays
//! byte-identical across dependency upgrades and platforms.

use std::f64::consts::PI;

/// A 64-bit key derived from the parts that identify one random stream.
///
/// Keys are built with [`Key::new`] and extended with [`Key::with`]; the hash is FNV-1a over
/// each part, separated by a marker byte, finished with a splitmix64 mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key(u64);

impl Key {
    /// Starts a key from the configuration's master seed.
    pub fn new(seed: u64) -> Self {
        Key(mix64(seed ^ 0x5157_4e54_454c_5f31))
    }

    /// Extends the key with a string part (tenant, signal, entity, purpose).
    pub fn with(self, part: &str) -> Self {
        self.with_bytes(part.as_bytes())
    }

    /// Extends the key with a numeric part (a time bucket, an index).
    pub fn with_u64(self, part: u64) -> Self {
        self.with_bytes(&part.to_le_bytes())
    }

    fn with_bytes(self, bytes: &[u8]) -> Self {
        let mut hash = self.0 ^ 0xcbf2_9ce4_8422_2325;
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        Key(mix64(hash ^ self.0.rotate_left(17)))
    }

    /// The raw 64-bit value of the key.
    pub fn value(self) -> u64 {
        self.0
    }

    /// A generator seeded from this key.
    pub fn rng(self) -> Rng {
        Rng::from_seed(self.0)
    }
}

/// The splitmix64 finaliser: a bijective 64-bit mix.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// xoshiro256++ with the samplers synthtel needs.
#[derive(Clone, Debug)]
pub struct Rng {
    state: [u64; 4],
}

impl Rng {
    /// Seeds the four words of state with splitmix64, as the algorithm's authors recommend.
    pub fn from_seed(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9e37_79b9_7f4a_7c15);
            mix64(sm)
        };
        let state = [next(), next(), next(), next()];
        Rng { state }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// A uniform float in `[0, 1)` with 53 bits of precision.
    #[inline]
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform float in `(0, 1]`, safe to take the logarithm of.
    #[inline]
    pub fn f64_open(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `[0, n)`; `n` of 0 returns 0.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        // Lemire's multiply-shift; the tiny bias for huge n does not matter here.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform index into a slice of length `len`.
    #[inline]
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// A uniform integer in `[low, high]`.
    #[inline]
    pub fn range_inclusive(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    /// True with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// A uniformly chosen element; `None` for an empty slice.
    #[inline]
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            Some(&items[self.index(items.len())])
        }
    }

    /// A standard normal draw (Box–Muller, one of the pair).
    #[inline]
    pub fn normal(&mut self) -> f64 {
        let u1 = self.f64_open();
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
    }

    /// A log-normal draw: `exp(mu + sigma * N(0, 1))`.
    #[inline]
    pub fn log_normal(&mut self, mu: f64, sigma: f64) -> f64 {
        (mu + sigma * self.normal()).exp()
    }

    /// A Pareto draw with scale `x_min` and shape `alpha` (inverse CDF).
    #[inline]
    pub fn pareto(&mut self, x_min: f64, alpha: f64) -> f64 {
        x_min / self.f64_open().powf(1.0 / alpha)
    }

    /// An exponential draw with the given mean.
    #[inline]
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * self.f64_open().ln()
    }

    /// A Poisson draw: Knuth's product method for small means, a rounded normal above 30.
    pub fn poisson(&mut self, mean: f64) -> u64 {
        if mean <= 0.0 {
            return 0;
        }
        if mean > 30.0 {
            let draw = mean + mean.sqrt() * self.normal();
            return draw.round().max(0.0) as u64;
        }
        let limit = (-mean).exp();
        let mut product = self.f64_open();
        let mut count = 0;
        while product > limit {
            product *= self.f64_open();
            count += 1;
        }
        count
    }

    /// Fills `out` with random bytes.
    pub fn fill_bytes(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

/// Weighted choice in constant time (Vose's alias method).
#[derive(Clone, Debug)]
pub struct WeightedIndex {
    probability: Vec<f64>,
    alias: Vec<u32>,
}

impl WeightedIndex {
    /// Builds the table; weights must be finite and non-negative with a positive sum.
    pub fn new(weights: &[f64]) -> Option<Self> {
        let n = weights.len();
        let total: f64 = weights.iter().sum();
        if n == 0 || !total.is_finite() || total <= 0.0 || weights.iter().any(|w| *w < 0.0) {
            return None;
        }
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut probability = vec![0.0; n];
        let mut alias = vec![0u32; n];
        let mut small: Vec<usize> = Vec::new();
        let mut large: Vec<usize> = Vec::new();
        for (i, p) in scaled.iter().enumerate() {
            if *p < 1.0 {
                small.push(i)
            } else {
                large.push(i)
            }
        }
        while let (Some(s), Some(l)) = (small.pop(), large.last().copied()) {
            probability[s] = scaled[s];
            alias[s] = l as u32;
            scaled[l] = (scaled[l] + scaled[s]) - 1.0;
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        for i in large.into_iter().chain(small) {
            probability[i] = 1.0;
        }
        Some(WeightedIndex { probability, alias })
    }

    /// A table of Zipf weights `1 / rank^s` over `n` ranks (rank 1 is index 0).
    pub fn zipf(n: usize, s: f64) -> Option<Self> {
        Self::new(&zipf_weights(n, s))
    }

    /// Number of choices.
    pub fn len(&self) -> usize {
        self.probability.len()
    }

    /// Whether the table is empty (never true for a built table).
    pub fn is_empty(&self) -> bool {
        self.probability.is_empty()
    }

    /// Draws an index.
    #[inline]
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let column = rng.index(self.probability.len());
        if rng.f64() < self.probability[column] {
            column
        } else {
            self.alias[column] as usize
        }
    }
}

/// Normalised Zipf probabilities `1 / rank^s` over `n` ranks.
pub fn zipf_weights(n: usize, s: f64) -> Vec<f64> {
    let raw: Vec<f64> = (1..=n).map(|rank| 1.0 / (rank as f64).powf(s)).collect();
    let total: f64 = raw.iter().sum();
    raw.into_iter().map(|w| w / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_stream() {
        let a: Vec<u64> = {
            let mut rng = Key::new(42).with("acme").with_u64(7).rng();
            (0..8).map(|_| rng.next_u64()).collect()
        };
        let mut rng = Key::new(42).with("acme").with_u64(7).rng();
        let b: Vec<u64> = (0..8).map(|_| rng.next_u64()).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn key_parts_are_not_ambiguous() {
        assert_ne!(
            Key::new(1).with("ab").with("c"),
            Key::new(1).with("a").with("bc")
        );
        assert_ne!(Key::new(1).with("a"), Key::new(2).with("a"));
    }

    #[test]
    fn output_is_pinned() {
        // Golden values: a change here changes every generated byte.
        let mut rng = Rng::from_seed(0);
        assert_eq!(rng.next_u64(), 0x53175d61490b23df);
    }

    #[test]
    fn zipf_table_follows_weights() {
        let table = WeightedIndex::zipf(10, 1.5).expect("table");
        let mut rng = Rng::from_seed(3);
        let mut counts = [0usize; 10];
        for _ in 0..200_000 {
            counts[table.sample(&mut rng)] += 1;
        }
        let weights = zipf_weights(10, 1.5);
        for (count, weight) in counts.iter().zip(weights) {
            let share = *count as f64 / 200_000.0;
            assert!(
                (share - weight).abs() < 0.01,
                "share {share} weight {weight}"
            );
        }
    }

    #[test]
    fn weighted_index_rejects_bad_weights() {
        assert!(WeightedIndex::new(&[]).is_none());
        assert!(WeightedIndex::new(&[0.0, 0.0]).is_none());
        assert!(WeightedIndex::new(&[1.0, -1.0]).is_none());
        assert!(WeightedIndex::new(&[f64::NAN]).is_none());
    }

    #[test]
    fn samplers_have_expected_means() {
        let mut rng = Rng::from_seed(9);
        let n = 100_000;
        let exp_mean: f64 = (0..n).map(|_| rng.exponential(2.0)).sum::<f64>() / n as f64;
        assert!((exp_mean - 2.0).abs() < 0.05, "{exp_mean}");
        let poisson_mean: f64 = (0..n).map(|_| rng.poisson(4.0) as f64).sum::<f64>() / n as f64;
        assert!((poisson_mean - 4.0).abs() < 0.05, "{poisson_mean}");
        let mut draws: Vec<f64> = (0..n).map(|_| rng.log_normal(0.0, 0.5)).collect();
        draws.sort_by(f64::total_cmp);
        let median = draws[n / 2];
        assert!((median - 1.0).abs() < 0.02, "{median}");
        assert!((0..n).all(|_| rng.pareto(1024.0, 0.5) >= 1024.0));
    }

    #[test]
    fn below_stays_in_range() {
        let mut rng = Rng::from_seed(5);
        for n in 1..50 {
            for _ in 0..100 {
                assert!(rng.below(n) < n);
            }
        }
    }
}
