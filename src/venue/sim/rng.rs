//! The paper world's dice: a tiny SplitMix64 generator and the integer draws
//! the world needs. Every draw is keyed by (seed, stream, index) — an epoch
//! number or an intent's id — so a sequence of draws never depends on how
//! often, or in what order, the world was asked to catch up.

/// One independent sequence of draws.
#[derive(Debug, Clone)]
pub struct Dice {
    state: u64,
}

/// The kinds of randomness the world draws, kept apart so that adding a draw
/// to one kind never shifts another's sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Market moves in one epoch (index: the epoch number).
    Epoch = 1,
    /// Bridge delays of one transfer (index: a label hash of the intent id).
    BridgeDelay = 2,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's finaliser: a good 64-bit mixer on its own.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a of a label (an intent id's text): turns a name into a stream index.
pub fn label_index(label: &str) -> u64 {
    label.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

impl Dice {
    pub fn new(seed: u64, stream: Stream, index: u64) -> Self {
        let s = mix(seed ^ GOLDEN) ^ mix((stream as u64).wrapping_mul(GOLDEN)) ^ mix(index);
        Self { state: mix(s) }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GOLDEN);
        mix(self.state)
    }

    /// Uniform in `0..n` (0 when `n` is 0); the multiply-shift bias is below 2^-40 here.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi` (`lo` when the range is empty).
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `ppm` / 1 000 000.
    pub fn chance_ppm(&mut self, ppm: u64) -> bool {
        self.below(1_000_000) < ppm
    }

    /// A bell-shaped signed draw with mean 0 and standard deviation `sigma`:
    /// the sum of three uniforms on [-sigma, sigma] (variance 3·sigma²/3).
    pub fn wobble(&mut self, sigma: u64) -> i64 {
        let width = sigma.saturating_mul(2);
        let one = |d: &mut Dice| d.between(0, width) as i64 - sigma as i64;
        one(self) + one(self) + one(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_draws_other_key_other_draws() {
        let mut a = Dice::new(7, Stream::Epoch, 42);
        let mut b = Dice::new(7, Stream::Epoch, 42);
        let mut c = Dice::new(7, Stream::Epoch, 43);
        let mut d = Dice::new(7, Stream::BridgeDelay, 42);
        let xs: Vec<u64> = (0..8).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..8).map(|_| b.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs[0], c.next_u64());
        assert_ne!(xs[0], d.next_u64());
    }

    #[test]
    fn draws_stay_in_range() {
        let mut d = Dice::new(1, Stream::Epoch, 0);
        for _ in 0..10_000 {
            let x = d.between(120, 360);
            assert!((120..=360).contains(&x));
            let w = d.wobble(1_000);
            assert!((-3_000..=3_000).contains(&w));
        }
        assert_eq!(d.below(0), 0);
        assert_eq!(d.between(5, 5), 5);
    }

    #[test]
    fn wobble_is_centred_with_the_asked_spread() {
        let mut d = Dice::new(3, Stream::Epoch, 9);
        let n = 20_000i64;
        let draws: Vec<i64> = (0..n).map(|_| d.wobble(1_000)).collect();
        let mean = draws.iter().sum::<i64>() / n;
        let var = draws.iter().map(|x| (x - mean) * (x - mean)).sum::<i64>() / n;
        assert!(mean.abs() < 30, "mean {mean}");
        // sigma 1000 → variance 1e6, within 10 %.
        assert!((900_000..1_100_000).contains(&var), "variance {var}");
    }

    #[test]
    fn chance_is_roughly_its_rate() {
        let mut d = Dice::new(11, Stream::Epoch, 1);
        let hits = (0..100_000).filter(|_| d.chance_ppm(50_000)).count();
        assert!((4_000..6_000).contains(&hits), "hits {hits}");
    }
}
