//! The equity curve through its public API (tests that kill mutants of `src/equity.rs`).

mod mutation {
    use rust_decimal::Decimal;
    use ticklane_core::Timestamp;
    use ticklane_exec::{EquityCurve, EquityPoint};

    fn pt(ts: u64, e: i64) -> EquityPoint {
        EquityPoint {
            ts: Timestamp(ts),
            equity: Decimal::from(e),
            drawdown: Decimal::ZERO,
        }
    }

    /// `pop` gives back the sample it removed, the last one, also from inside a run of
    /// several samples (mutants `r.count - 1` → `r.count + 1` / `r.count / 1` returned a
    /// sample past the run's end: ts 5 or 4 instead of 3).
    #[test]
    fn pop_returns_the_last_sample_of_a_run() {
        let mut c = EquityCurve::new();
        for ts in [1, 2, 3] {
            c.push(pt(ts, 0));
        }
        assert_eq!(c.runs(), 1);
        assert_eq!(c.pop(), Some(pt(3, 0)));
        assert_eq!(c.pop(), Some(pt(2, 0)));
        assert_eq!(c.pop(), Some(pt(1, 0)));
        assert_eq!(c.pop(), None);
        // A quiet stretch appended at once, then popped: the last of its samples.
        c.push_repeated(pt(10, 7), 5, 1_000);
        assert_eq!(c.pop(), Some(pt(10 + 5 * 999, 7)));
        assert_eq!(c.last(), Some(pt(10 + 5 * 998, 7)));
    }

    /// A curve with samples is not empty (mutant: `is_empty` always true).
    #[test]
    fn a_curve_with_samples_is_not_empty() {
        let mut c = EquityCurve::new();
        assert!(c.is_empty());
        c.push(pt(1, 0));
        assert!(!c.is_empty());
        assert!(c.pop().is_some());
        assert!(c.is_empty());
    }

    /// A stretch longer than one run holds (`u32::MAX` samples) continues in a second run at
    /// the right times (mutant `step * taken` → `step / taken`: the second run restarted at
    /// the stretch's second sample, ts 1, so the last sample read ts 11 instead of
    /// `u32::MAX + 10`). Constant time: nothing iterates the samples.
    #[test]
    fn a_stretch_past_a_full_run_continues_at_its_own_times() {
        let mut c = EquityCurve::new();
        c.push(pt(0, 5));
        let n = u64::from(u32::MAX) + 10;
        c.push_repeated(pt(1, 5), 1, n);
        assert_eq!(c.len(), 1 + n);
        assert_eq!(c.runs(), 2);
        assert_eq!(c.last(), Some(pt(n, 5)));
        // The next sample at its step joins the second run.
        c.push(pt(n + 1, 5));
        assert_eq!((c.runs(), c.last()), (2, Some(pt(n + 1, 5))));
    }

    /// Two samples at one instant: a run's step is never 0 once it holds two samples (the
    /// `Run` invariant "`step` is 0 while `count` is 1"), so the second one starts a run of
    /// its own (mutant: the guard `s > 0` → `true` joined it with step 0, one run; the samples
    /// read the same but the runs, and so the memory and `==` between curves, differ).
    #[test]
    fn a_second_sample_at_one_instant_starts_a_run() {
        let mut c = EquityCurve::new();
        c.push(pt(5, 0));
        c.push(pt(5, 0));
        assert_eq!(c.runs(), 2);
        c.push(pt(6, 0));
        assert_eq!(
            c.runs(),
            2,
            "ts 6 joins the run of the second sample at step 1"
        );
        let ts: Vec<u64> = c.iter().map(|p| p.ts.0).collect();
        assert_eq!(ts, [5, 5, 6]);
    }
}
