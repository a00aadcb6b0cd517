//! The equity curve: equity sampled at points of event time, stored run-length encoded.
//!
//! A lane samples each strategy's equity once per second of event time, and most seconds
//! nothing moves: overnight, in a halt, in the quiet hours before the close, between the fills
//! of a strategy that holds a position in a calm book. The curve keeps one [`Run`] per stretch
//! of equal samples at a regular step, so a quiet stretch of any length is one entry,
//! appended in constant time ([`EquityCurve::push_repeated`]), and memory grows with the
//! changes of equity, not with the length of the session. Reading it ([`EquityCurve::iter`])
//! gives every sample back.
//!
//! Runs are formed greedily from the sequence of samples (a sample joins the last run when it
//! has the same equity and drawdown, in value and in decimal scale, and falls on the run's
//! step), so two curves holding the same samples (scales included: 5.0 and 5.00 print
//! differently) hold the same runs, however they were appended.

use rust_decimal::Decimal;
use ticklane_core::Timestamp;

/// One sample of the equity curve.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct EquityPoint {
    /// Event time of the sample.
    pub ts: Timestamp,
    /// Equity (net P&L) at that time.
    pub equity: Decimal,
    /// Drawdown from the previous peak at that time (>= 0).
    pub drawdown: Decimal,
}

impl EquityPoint {
    /// Same equity and drawdown, in value and in representation (scale): one run can stand
    /// for both without changing how either prints.
    fn same_values(&self, other: &Self) -> bool {
        self.equity.serialize() == other.equity.serialize()
            && self.drawdown.serialize() == other.drawdown.serialize()
    }
}

/// `count` samples with `first`'s equity and drawdown at `first.ts`, `first.ts + step`, …
/// (`step` is 0 while `count` is 1). 48 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
struct Run {
    first: EquityPoint,
    step: u32,
    count: u32,
}

impl Run {
    /// Event time of the sample that would come next in this run, if it has a step.
    fn next_ts(&self) -> Option<u64> {
        if self.count < 2 {
            return None;
        }
        u64::from(self.step)
            .checked_mul(u64::from(self.count))
            .and_then(|d| self.first.ts.0.checked_add(d))
    }

    fn at(&self, i: u32) -> EquityPoint {
        EquityPoint {
            ts: Timestamp(self.first.ts.0 + u64::from(self.step) * u64::from(i)),
            ..self.first
        }
    }
}

/// An equity curve (see the [module docs](self)).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct EquityCurve {
    runs: Vec<Run>,
    len: u64,
}

impl EquityCurve {
    /// An empty curve.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty curve that holds `runs` runs before it reallocates, with that memory already
    /// faulted in (48 bytes a run): appending then never reallocates or page-faults on the
    /// thread that samples it (see `Ledger::with_equity_capacity`).
    pub fn with_resident_capacity(runs: usize) -> Self {
        Self {
            runs: ticklane_core::resident::resident_vec(runs, Run::default()),
            len: 0,
        }
    }

    /// Samples in the curve.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// No sample yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Runs stored (memory is 48 bytes a run).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Runs the curve holds before it reallocates.
    pub fn capacity(&self) -> usize {
        self.runs.capacity()
    }

    #[cfg(test)]
    pub(crate) fn runs_ptr(&self) -> *const () {
        self.runs.as_ptr().cast()
    }

    /// The last sample.
    pub fn last(&self) -> Option<EquityPoint> {
        self.runs.last().map(|r| r.at(r.count - 1))
    }

    /// Removes and returns the last sample: the curve is then the one its other samples make
    /// (greedy runs are prefix-consistent: the last sample either started the last run or
    /// joined it).
    pub fn pop(&mut self) -> Option<EquityPoint> {
        let r = self.runs.last_mut()?;
        let point = r.at(r.count - 1);
        r.count -= 1;
        match r.count {
            0 => {
                self.runs.pop();
            }
            // The step was set by the sample after the first.
            1 => r.step = 0,
            _ => {}
        }
        self.len -= 1;
        Some(point)
    }

    /// The largest equity and the largest drawdown of any sample (`None` when empty).
    pub fn extremes(&self) -> Option<(Decimal, Decimal)> {
        let first = self.runs.first()?.first;
        Some(
            self.runs
                .iter()
                .fold((first.equity, first.drawdown), |(e, d), r| {
                    (e.max(r.first.equity), d.max(r.first.drawdown))
                }),
        )
    }

    /// Appends one sample.
    pub fn push(&mut self, point: EquityPoint) {
        self.push_repeated(point, 0, 1);
    }

    /// Appends `count` samples with `point`'s equity and drawdown at `point.ts`,
    /// `point.ts + step`, …: the same curve as `count` calls of [`EquityCurve::push`], in
    /// constant time when the samples continue the last run (or start one), whatever `count`.
    /// Samples whose time would pass `u64::MAX` ns (half a millennium of event time) are not
    /// appended.
    pub fn push_repeated(&mut self, point: EquityPoint, step: u64, count: u64) {
        let fit = (u64::MAX - point.ts.0)
            .checked_div(step)
            .map_or(u64::MAX, |k| k.saturating_add(1));
        let mut next = point;
        let mut left = count.min(fit);
        while left > 0 {
            let joined = match self.runs.last_mut() {
                Some(r) if r.first.same_values(&next) => join(r, next.ts.0, step, left),
                _ => 0,
            };
            let taken = joined.max(1);
            if joined == 0 {
                self.runs.push(Run {
                    first: next,
                    step: 0,
                    count: 1,
                });
            }
            left -= taken;
            self.len += taken;
            if left > 0 {
                // Within `fit`: cannot overflow.
                next.ts = Timestamp(next.ts.0 + step * taken);
            }
        }
    }

    /// Every sample, in order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            runs: self.runs.iter(),
            run: Run::default(),
            i: 0,
        }
    }
}

/// The samples of an [`EquityCurve`], in order.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    runs: core::slice::Iter<'a, Run>,
    /// The run being read (`count` 0 before the first).
    run: Run,
    /// The next sample's index in `run`.
    i: u32,
}

impl Iterator for Iter<'_> {
    type Item = EquityPoint;

    fn next(&mut self) -> Option<EquityPoint> {
        while self.i >= self.run.count {
            self.run = *self.runs.next()?;
            self.i = 0;
        }
        let p = self.run.at(self.i);
        self.i += 1;
        Some(p)
    }
}

/// Joins up to `left` samples at `ts`, `ts + step`, … (equal in value to `r`'s) to run `r`;
/// returns how many it took (0: the first does not fall on the run's step).
fn join(r: &mut Run, ts: u64, step: u64, left: u64) -> u64 {
    if r.count == 1 {
        // The second sample sets the run's step.
        match ts.checked_sub(r.first.ts.0).map(u32::try_from) {
            Some(Ok(s)) if s > 0 => r.step = s,
            _ => return 0,
        }
    } else if r.next_ts() != Some(ts) {
        return 0;
    }
    let room = u64::from(u32::MAX - r.count);
    // The samples after the first follow the run only at its own step.
    let n = if step == u64::from(r.step) {
        left.min(room)
    } else {
        left.min(1)
    };
    r.count += n as u32;
    n
}

impl<'a> IntoIterator for &'a EquityCurve {
    type Item = EquityPoint;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(ts: u64, equity: i64, scale: u32) -> EquityPoint {
        EquityPoint {
            ts: Timestamp(ts),
            equity: Decimal::new(equity, scale),
            drawdown: Decimal::new(equity.abs() / 2, scale),
        }
    }

    #[test]
    fn a_quiet_stretch_is_one_run() {
        let mut c = EquityCurve::new();
        c.push(p(10, 5, 1));
        c.push_repeated(p(20, 5, 1), 10, 1_000_000);
        assert_eq!(c.len(), 1_000_001);
        assert_eq!(c.runs(), 1);
        assert_eq!(c.last(), Some(p(10_000_010, 5, 1)));
        c.push(p(10_000_020, 6, 1));
        assert_eq!(c.runs(), 2);
        assert_eq!(c.iter().nth(999_999), Some(p(10_000_000, 5, 1)));
    }

    #[test]
    fn samples_past_the_end_of_time_are_not_appended() {
        let mut c = EquityCurve::new();
        c.push_repeated(p(u64::MAX - 25, 5, 1), 10, 5);
        let ts: Vec<u64> = c.iter().map(|q| q.ts.0).collect();
        assert_eq!(ts, [u64::MAX - 25, u64::MAX - 15, u64::MAX - 5]);
        assert_eq!(c.len(), 3);
        c.push_repeated(p(u64::MAX, 5, 1), 0, 2);
        assert_eq!(c.len(), 5);
    }

    #[test]
    fn equal_values_in_another_scale_start_a_run() {
        let mut c = EquityCurve::new();
        c.push(p(1, 50, 1));
        c.push(p(2, 500, 2));
        assert_eq!(c.runs(), 2);
        let printed: Vec<String> = c.iter().map(|q| q.equity.to_string()).collect();
        assert_eq!(printed, ["5.0", "5.00"]);
    }

    /// Samples to append: (gap from the previous sample's time, value index, repeat count,
    /// step). Few distinct values, so runs join often; steps sometimes off the run's.
    fn appends() -> impl Strategy<Value = Vec<(u64, i64, u32, u64, u64)>> {
        prop::collection::vec(
            (
                prop_oneof![Just(0u64), Just(1), Just(5), 0..20u64, Just(1 << 33)],
                0..3i64,
                0..2u32,
                prop_oneof![Just(1u64), 0..4u64],
                0..40u64,
            ),
            0..60,
        )
    }

    proptest! {
        /// The curve gives back exactly the samples pushed one by one, however they were
        /// appended, and two curves of the same samples are equal.
        #[test]
        fn runs_give_back_every_sample(appends in appends()) {
            let mut fast = EquityCurve::new();
            let mut slow = EquityCurve::new();
            let mut plain = Vec::new();
            let mut ts = 0u64;
            for (gap, v, scale, step, count) in appends {
                ts += gap;
                let point = p(ts, v * 10i64.pow(scale), scale);
                fast.push_repeated(point, step, count);
                for k in 0..count {
                    let q = EquityPoint { ts: Timestamp(ts + k * step), ..point };
                    slow.push(q);
                    plain.push(q);
                }
                ts += step * count;
            }
            let got: Vec<EquityPoint> = fast.iter().collect();
            prop_assert_eq!(&got, &plain);
            prop_assert_eq!(fast.len(), plain.len() as u64);
            prop_assert_eq!(fast.last(), plain.last().copied());
            prop_assert_eq!(&fast, &slow);
            prop_assert!(fast.runs() <= plain.len());
        }
    }

    #[test]
    fn popping_the_last_sample_leaves_the_curve_its_other_samples_make() {
        let pt = |ts: u64, e: i64| EquityPoint {
            ts: Timestamp(ts),
            equity: Decimal::from(e),
            drawdown: Decimal::from(-e.min(0)),
        };
        let samples = [pt(1, 0), pt(2, 0), pt(3, 0), pt(4, -5), pt(5, 7), pt(7, 7)];
        for n in 0..=samples.len() {
            let mut popped = EquityCurve::new();
            for p in samples {
                popped.push(p);
            }
            for _ in n..samples.len() {
                assert!(popped.pop().is_some());
            }
            let mut built = EquityCurve::new();
            for p in &samples[..n] {
                built.push(*p);
            }
            assert_eq!(popped, built, "first {n} samples");
            // And both go on alike.
            popped.push(pt(9, 7));
            built.push(pt(9, 7));
            assert_eq!(popped, built, "first {n} samples, then one more");
        }
        let mut c = EquityCurve::new();
        assert_eq!(c.pop(), None);
        assert_eq!(c.extremes(), None);
        for p in samples {
            c.push(p);
        }
        assert_eq!(c.extremes(), Some((Decimal::from(7), Decimal::from(5))));
    }
}
