//! Latency models for the paper exchange: how long a command takes to reach the exchange
//! (order entry) and how long its acks and fills take to come back (response).
//!
//! - [`ConstantLatency`]: fixed entry and response latencies.
//! - [`LogNormalLatency`]: each latency drawn from a log-normal distribution (a heavy right
//!   tail, as network and gateway latencies have), clamped to `[min_ns, max_ns]`, from a seeded
//!   [`Xoshiro256`] generator.
//!
//! # Determinism
//!
//! Everything is a function of the seed and, per strategy, the sequence of that strategy's
//! calls: each strategy draws its entry latencies from one generator and its response latencies
//! from another (both seeded from the seed and the strategy's id; strategy 0's entry generator
//! is the seed's own). A strategy's commands are sent in an order of its own and its reports
//! are produced in exchange-time order, whatever else the venue does, so its latencies do not
//! depend on which other strategies share its lane (nor on when the lane happens to advance the
//! venue), and a run's digest is the same in every lane layout. The generator is
//! xoshiro256** seeded through SplitMix64 (integer state only). Normal variates use the
//! Marsaglia polar form of Box–Muller, and the logarithm and exponential are computed here
//! ([`det_ln`], [`det_exp`]) from `+ − × ÷` and `sqrt` only — operations IEEE 754 rounds
//! exactly — instead of the platform's `libm`, so the same seed gives the same latencies on
//! every platform and toolchain. Floating point is used only to sample latencies; it never
//! decides a price or a quantity.

use ticklane_core::Timestamp;
use ticklane_strategy::OrderCommand;

/// How long orders take to reach the exchange and answers to come back, in nanoseconds.
///
/// A model with state (a random generator) should keep it per strategy, as
/// [`LogNormalLatency`] does: one strategy's draws must not depend on another's calls, or a
/// run's digest will depend on which strategies share a lane.
pub trait LatencyModel: Send {
    /// Order-entry latency of `cmd`, sent by the strategy at event time `now`.
    fn entry_ns(&mut self, now: Timestamp, cmd: &OrderCommand) -> u64;

    /// Response latency of an ack or fill for an order of strategy `strategy`
    /// ([`ClientOrderId::strategy`](ticklane_strategy::ClientOrderId::strategy)), produced by
    /// the exchange at `at`.
    fn response_ns(&mut self, at: Timestamp, strategy: u16) -> u64;
}

/// Fixed latencies. `ConstantLatency::default()` is zero latency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct ConstantLatency {
    /// Order-entry latency, ns.
    pub entry_ns: u64,
    /// Response latency, ns.
    pub response_ns: u64,
}

impl ConstantLatency {
    /// Both latencies.
    pub const fn new(entry_ns: u64, response_ns: u64) -> Self {
        Self {
            entry_ns,
            response_ns,
        }
    }
}

impl LatencyModel for ConstantLatency {
    fn entry_ns(&mut self, _now: Timestamp, _cmd: &OrderCommand) -> u64 {
        self.entry_ns
    }

    fn response_ns(&mut self, _at: Timestamp, _strategy: u16) -> u64 {
        self.response_ns
    }
}

/// SplitMix64: seeds [`Xoshiro256`] (and is a fine tiny generator itself).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// xoshiro256** (Blackman and Vigna), seeded from a `u64` through [`SplitMix64`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Xoshiro256 {
    s: [u64; 4],
}

impl Xoshiro256 {
    /// The generator for `seed`.
    pub fn seed(seed: u64) -> Self {
        let mut sm = SplitMix64(seed);
        Self {
            s: [sm.next_u64(), sm.next_u64(), sm.next_u64(), sm.next_u64()],
        }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `(0, 1)` (never 0 or 1): 53 random bits.
    pub fn next_open01(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }

    /// A standard normal variate (Marsaglia polar method).
    pub fn next_normal(&mut self) -> f64 {
        loop {
            let u = 2.0 * self.next_open01() - 1.0;
            let v = 2.0 * self.next_open01() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * (-2.0 * det_ln(s) / s).sqrt();
            }
        }
    }
}

const LN2: f64 = core::f64::consts::LN_2;

/// Natural logarithm from basic IEEE operations only (same bits everywhere). `x` must be
/// positive, finite and normal; returns `f64::NEG_INFINITY` for `x <= 0` and NaN for NaN.
pub fn det_ln(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    if m > core::f64::consts::SQRT_2 {
        m /= 2.0;
        e += 1;
    }
    // ln m = 2 atanh(t), t = (m - 1) / (m + 1), |t| <= 0.172.
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let mut term = t;
    let mut sum = 0.0;
    let mut k = 1.0;
    for _ in 0..20 {
        sum += term / k;
        term *= t2;
        k += 2.0;
    }
    e as f64 * LN2 + 2.0 * sum
}

/// `e^y` from basic IEEE operations only (same bits everywhere); `y` is clamped to
/// `[-700, 700]`.
pub fn det_exp(y: f64) -> f64 {
    if y.is_nan() {
        return f64::NAN;
    }
    let y = y.clamp(-700.0, 700.0);
    let k = (y / LN2).round();
    let r = y - k * LN2;
    let mut term = 1.0;
    let mut sum = 1.0;
    for i in 1..=24 {
        term *= r / f64::from(i);
        sum += term;
    }
    let k = k as i64;
    sum * f64::from_bits(((k + 1023) as u64) << 52)
}

/// A log-normal latency distribution, clamped.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct LogNormal {
    /// Median, ns (`e^mu`).
    pub median_ns: u64,
    /// Shape (standard deviation of the logarithm); 0 gives the median every time. Around
    /// 0.5–1.0 gives a realistic heavy tail.
    pub sigma: f64,
    /// Lower clamp, ns.
    pub min_ns: u64,
    /// Upper clamp, ns.
    pub max_ns: u64,
}

/// Invalid latency parameters.
#[derive(Clone, Copy, PartialEq, Debug, thiserror::Error)]
pub enum LatencyError {
    /// `sigma` is negative or not finite.
    #[error("latency sigma must be finite and >= 0, got {0}")]
    Sigma(f64),
    /// `min_ns > max_ns`.
    #[error("latency min_ns {min} > max_ns {max}")]
    Range {
        /// Lower clamp.
        min: u64,
        /// Upper clamp.
        max: u64,
    },
}

impl LogNormal {
    fn validate(&self) -> Result<(), LatencyError> {
        if !self.sigma.is_finite() || self.sigma < 0.0 {
            return Err(LatencyError::Sigma(self.sigma));
        }
        if self.min_ns > self.max_ns {
            return Err(LatencyError::Range {
                min: self.min_ns,
                max: self.max_ns,
            });
        }
        Ok(())
    }

    /// One draw, ns.
    pub fn sample(&self, rng: &mut Xoshiro256) -> u64 {
        let z = rng.next_normal();
        if self.sigma == 0.0 {
            // The median itself (as `f64` it is rounded above 2^53 ns); the draw is still
            // taken, so the generator moves on as with any sigma.
            return self.median_ns.clamp(self.min_ns, self.max_ns);
        }
        let x = self.median_ns as f64 * det_exp(self.sigma * z);
        // `as` saturates; the clamp bounds it anyway.
        (x.round() as u64).clamp(self.min_ns, self.max_ns)
    }
}

/// Seeded log-normal entry and response latencies (see the module docs on determinism).
#[derive(Clone, Debug)]
pub struct LogNormalLatency {
    entry: LogNormal,
    response: LogNormal,
    seed: u64,
    /// Per strategy id, made on its first draw: its entry and its response generators.
    rngs: Vec<Option<[Xoshiro256; 2]>>,
}

impl LogNormalLatency {
    /// Latencies drawn from `entry` and `response`; each strategy's from its own generator,
    /// seeded with `seed` mixed with the strategy's id.
    pub fn new(seed: u64, entry: LogNormal, response: LogNormal) -> Result<Self, LatencyError> {
        entry.validate()?;
        response.validate()?;
        Ok(Self {
            entry,
            response,
            seed,
            rngs: Vec::new(),
        })
    }

    /// The generator of `strategy`'s entry (`which` 0) or response (1) latencies.
    fn rng(&mut self, strategy: u16, which: usize) -> &mut Xoshiro256 {
        let i = usize::from(strategy);
        if self.rngs.len() <= i {
            self.rngs.resize(i + 1, None);
        }
        let seed = self.seed ^ u64::from(strategy).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let pair = self.rngs[i].get_or_insert_with(|| {
            [
                Xoshiro256::seed(seed),
                Xoshiro256::seed(seed ^ 0xD1B5_4A32_D192_ED03),
            ]
        });
        &mut pair[which]
    }
}

impl LatencyModel for LogNormalLatency {
    fn entry_ns(&mut self, _now: Timestamp, cmd: &OrderCommand) -> u64 {
        let d = self.entry;
        d.sample(self.rng(cmd.id().strategy(), 0))
    }

    fn response_ns(&mut self, _at: Timestamp, strategy: u16) -> u64 {
        let d = self.response;
        d.sample(self.rng(strategy, 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn det_ln_and_exp_match_libm_closely() {
        for &x in &[
            1e-300, 1e-10, 0.001, 0.5, 0.7, 1.0, 1.5, 2.0, 10.0, 12345.678, 1e200,
        ] {
            let (a, b) = (det_ln(x), x.ln());
            assert!(
                (a - b).abs() <= 1e-13 * b.abs().max(1.0),
                "ln {x}: {a} vs {b}"
            );
        }
        for &y in &[-50.0, -3.0, -0.1, 0.0, 0.1, 1.0, 3.5, 20.0, 300.0] {
            let (a, b) = (det_exp(y), f64::exp(y));
            assert!((a - b).abs() <= 1e-13 * b, "exp {y}: {a} vs {b}");
        }
    }

    #[test]
    fn same_seed_same_latencies_and_the_tail_is_heavy() {
        let d = LogNormal {
            median_ns: 20_000,
            sigma: 0.8,
            min_ns: 1_000,
            max_ns: 10_000_000,
        };
        let mut a = LogNormalLatency::new(7, d, d).unwrap_or_else(|e| panic!("{e}"));
        let mut b = a.clone();
        let cmd = OrderCommand::Cancel {
            id: ticklane_strategy::ClientOrderId(1),
        };
        let xs: Vec<u64> = (0..10_000)
            .map(|_| a.entry_ns(Timestamp(0), &cmd))
            .collect();
        let ys: Vec<u64> = (0..10_000)
            .map(|_| b.entry_ns(Timestamp(0), &cmd))
            .collect();
        assert_eq!(xs, ys);
        let mut s = xs.clone();
        s.sort_unstable();
        let median = s[s.len() / 2];
        assert!((17_000..23_000).contains(&median), "median {median}");
        let p99 = s[s.len() * 99 / 100];
        assert!(p99 > 4 * median, "p99 {p99} vs median {median}");
        assert!(s.iter().all(|&x| (1_000..=10_000_000).contains(&x)));
        // A different seed gives different draws.
        let mut c = LogNormalLatency::new(8, d, d).unwrap_or_else(|e| panic!("{e}"));
        let zs: Vec<u64> = (0..100).map(|_| c.entry_ns(Timestamp(0), &cmd)).collect();
        assert_ne!(&xs[..100], &zs[..]);
        // Pinned first draws: a change of generator or math shows up here.
        let mut d0 = LogNormalLatency::new(7, d, d).unwrap_or_else(|e| panic!("{e}"));
        let first: Vec<u64> = (0..3).map(|_| d0.entry_ns(Timestamp(0), &cmd)).collect();
        assert_eq!(first, vec![43_260u64, 15_683, 25_523]);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let d = LogNormal {
            median_ns: 1,
            sigma: -1.0,
            min_ns: 0,
            max_ns: 1,
        };
        assert!(matches!(
            LogNormalLatency::new(1, d, d),
            Err(LatencyError::Sigma(_))
        ));
        let d = LogNormal {
            sigma: 0.5,
            min_ns: 5,
            max_ns: 1,
            ..d
        };
        assert!(matches!(
            LogNormalLatency::new(1, d, d),
            Err(LatencyError::Range { .. })
        ));
    }

    #[test]
    fn xoshiro_reference_vector() {
        // xoshiro256** with state [1, 2, 3, 4]: first outputs from the reference C code.
        let mut x = Xoshiro256 { s: [1, 2, 3, 4] };
        assert_eq!(x.next_u64(), 11520);
        assert_eq!(x.next_u64(), 0);
        assert_eq!(x.next_u64(), 1509978240);
        assert_eq!(x.next_u64(), 1215971899390074240);
    }

    /// `sigma` 0 "gives the median every time" (the field's doc), whatever the median.
    #[test]
    fn sigma_zero_gives_the_median_exactly() {
        let mut rng = Xoshiro256::seed(1);
        for median_ns in [
            20_000u64,
            (1 << 53) + 1,
            72_057_594_037_929_000,
            u64::MAX - 1,
        ] {
            let d = LogNormal {
                median_ns,
                sigma: 0.0,
                min_ns: 0,
                max_ns: u64::MAX,
            };
            assert_eq!(d.sample(&mut rng), median_ns, "median {median_ns}");
        }
    }
}
