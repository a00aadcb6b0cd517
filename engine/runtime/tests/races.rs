//! Order lifecycle races through a whole lane: strategies sending random submits, cancels,
//! modifies and cancel-alls from every callback, a paper exchange with latency behind a risk
//! gate, the kill switch and panics; the journal (orders.csv / fills.csv), the positions and
//! the ledgers checked against each other.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use support::{item, session, spec, symbol, Rng};
use ticklane_core::{InstrumentId, MarketEvent, Price, Qty, Side};
use ticklane_exec::{
    ConstantLatency, LogNormal, LogNormalLatency, PaperExchange, PerShareFees, RiskGate,
    RiskLimits, RiskedVenue,
};
use ticklane_runtime::{JournalEntry, Lane, LaneControl, LaneSettings, PanicPolicy, Venue};
use ticklane_strategy::{
    ClientOrderId, Context, Fill, OrderCommand, OrderUpdate, OrderUpdateKind, Strategy, TimeInForce,
};

type Problems = Arc<Mutex<Vec<String>>>;

struct Chaos {
    rng: Rng,
    problems: Problems,
    /// Orders this instance heard end.
    ended: Vec<ClientOrderId>,
    panic_odds: u64,
}

impl Chaos {
    fn act(&mut self, inst: InstrumentId, ctx: &mut Context<'_>) {
        for o in ctx.open_orders() {
            if self.ended.contains(&o.id) {
                let s = format!("{} still open after its terminal update", o.id);
                self.problems.lock().unwrap().push(s);
            }
        }
        if self.panic_odds > 0 && self.rng.below(self.panic_odds) == 0 {
            panic!("chaos");
        }
        let Some(book) = ctx.book(inst) else { return };
        let (Some(bid), Some(ask)) = (book.best_bid(), book.best_ask()) else {
            return;
        };
        let open: Vec<ClientOrderId> = ctx.open_orders().iter().map(|o| o.id).collect();
        let n = 1 + self.rng.below(2);
        for _ in 0..n {
            match self.rng.below(12) {
                0..=3 => {
                    let side = if self.rng.below(2) == 0 {
                        Side::Bid
                    } else {
                        Side::Ask
                    };
                    let off = self.rng.below(4) as i64 * 100 - 100;
                    let px = match side {
                        Side::Bid => bid.price.0 - off,
                        Side::Ask => ask.price.0 + off,
                    };
                    let tif = match self.rng.below(6) {
                        0 => TimeInForce::Ioc,
                        1 => TimeInForce::Fok,
                        2 => TimeInForce::PostOnly,
                        _ => TimeInForce::Day,
                    };
                    let qty = 1 + self.rng.below(400) as u32;
                    ctx.limit(inst, side, Price(px), Qty(qty), tif);
                }
                4..=5 if !open.is_empty() => {
                    let id = open[self.rng.below(open.len() as u64) as usize];
                    ctx.cancel(id);
                }
                6..=8 if !open.is_empty() => {
                    let id = open[self.rng.below(open.len() as u64) as usize];
                    let Some(o) = ctx.order(id).copied() else {
                        continue;
                    };
                    let px = if self.rng.below(2) == 0 {
                        o.request.price
                    } else {
                        Price(o.request.price.0 + (self.rng.below(5) as i64 - 2) * 100)
                    };
                    let qty = 1 + self.rng.below(400) as u32;
                    ctx.modify(id, px, Qty(qty));
                    if self.rng.below(3) == 0 {
                        ctx.modify(id, px, Qty(1 + self.rng.below(400) as u32));
                    }
                }
                9 => ctx.cancel_all(None),
                _ => {}
            }
        }
    }
}

impl Strategy for Chaos {
    fn on_event(&mut self, ev: &MarketEvent, ctx: &mut Context<'_>) {
        if ev.instrument != InstrumentId::NONE && self.rng.below(3) == 0 {
            self.act(ev.instrument, ctx);
        }
    }
    fn on_order_update(&mut self, u: &OrderUpdate, ctx: &mut Context<'_>) {
        let terminal = match u.kind {
            OrderUpdateKind::Cancelled | OrderUpdateKind::Expired | OrderUpdateKind::Filled => true,
            // A refusal of a submit: the strategy had not seen it accepted.
            OrderUpdateKind::Rejected(_) => !self.ended.contains(&u.id),
            _ => false,
        };
        if terminal {
            if self.ended.contains(&u.id) {
                let s = format!("second terminal update {:?} of {}", u.kind, u.id);
                self.problems.lock().unwrap().push(s);
            }
            self.ended.push(u.id);
            if ctx.order(u.id).is_some() {
                let s = format!("{} still open on its terminal update {:?}", u.id, u.kind);
                self.problems.lock().unwrap().push(s);
            }
        }
        if u.instrument != InstrumentId::NONE && self.rng.below(2) == 0 {
            self.act(u.instrument, ctx);
        }
    }
    fn on_fill(&mut self, f: &Fill, ctx: &mut Context<'_>) {
        if self.ended.contains(&f.id) {
            let s = format!("fill of {} after its terminal update", f.id);
            self.problems.lock().unwrap().push(s);
        }
        if self.rng.below(2) == 0 {
            self.act(f.instrument, ctx);
        }
    }
}

fn chaos(seed: u64, problems: &Problems, panic_odds: u64) -> ticklane_runtime::StrategyFactory {
    let p = problems.clone();
    let builds = Arc::new(std::sync::atomic::AtomicU64::new(0));
    Arc::new(move || {
        let b = builds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Box::new(Chaos {
            rng: Rng::new(seed * 7919 + b + 1),
            problems: p.clone(),
            ended: Vec::new(),
            panic_odds,
        }) as Box<dyn Strategy>)
    })
}

/// Checks the journal of a finished lane against its positions and ledgers.
fn check_report(report: &ticklane_runtime::LaneReport, problems: &mut Vec<String>) {
    #[derive(Default, Debug)]
    struct O {
        size: u64,
        max_total: u64,
        filled: u64,
        terminal: Vec<OrderUpdateKind>,
        accepted: bool,
        leaves: Option<u32>,
    }
    let mut orders: BTreeMap<ClientOrderId, O> = BTreeMap::new();
    let mut net: BTreeMap<u16, i64> = BTreeMap::new();
    // (strategy, instrument) -> (bought, sold, cash units, fees units, fills)
    type Flows = (u64, u64, i128, i128, u64);
    let mut flows: BTreeMap<(u16, u32), Flows> = BTreeMap::new();
    for e in &report.journal {
        match *e {
            JournalEntry::Command { cmd, .. } => match cmd {
                OrderCommand::Submit { id, request } => {
                    orders.insert(
                        id,
                        O {
                            size: u64::from(request.qty.0),
                            max_total: u64::from(request.qty.0),
                            ..O::default()
                        },
                    );
                }
                OrderCommand::Modify {
                    id, qty, filled, ..
                } => {
                    if let Some(o) = orders.get_mut(&id) {
                        o.max_total = o.max_total.max(u64::from(qty.0) + u64::from(filled.0));
                    }
                }
                OrderCommand::Cancel { .. } => {}
            },
            JournalEntry::Update(u) => {
                let Some(o) = orders.get_mut(&u.id) else {
                    continue;
                };
                match u.kind {
                    OrderUpdateKind::Accepted => {
                        o.accepted = true;
                        o.leaves = Some(o.size as u32);
                    }
                    OrderUpdateKind::Modified { qty, .. } => {
                        if !o.terminal.is_empty() {
                            problems.push(format!("journal: Modified after terminal {}", u.id));
                        }
                        o.leaves = Some(qty.0);
                    }
                    OrderUpdateKind::Rejected(_) if o.accepted => {}
                    OrderUpdateKind::AmendRejected(_) => {}
                    k => {
                        o.terminal.push(k);
                        if o.terminal.len() > 1 {
                            problems.push(format!(
                                "journal: two terminal updates {} {:?}",
                                u.id, o.terminal
                            ));
                        }
                    }
                }
            }
            // One day: the scenario has no start of messages after a day.
            JournalEntry::DayStart { ts } => problems.push(format!("journal: a new day at {ts:?}")),
            JournalEntry::Fill(f) => {
                *net.entry(f.id.strategy()).or_default() += match f.side {
                    Side::Bid => i64::from(f.qty.0),
                    Side::Ask => -i64::from(f.qty.0),
                };
                let e = flows.entry((f.id.strategy(), f.instrument.0)).or_default();
                match f.side {
                    Side::Bid => {
                        e.0 += u64::from(f.qty.0);
                        e.2 -= i128::from(f.price.0) * i128::from(f.qty.0);
                    }
                    Side::Ask => {
                        e.1 += u64::from(f.qty.0);
                        e.2 += i128::from(f.price.0) * i128::from(f.qty.0);
                    }
                }
                e.3 += i128::from(f.fee);
                e.4 += 1;
                let Some(o) = orders.get_mut(&f.id) else {
                    problems.push(format!("journal: fill of an unknown order {}", f.id));
                    continue;
                };
                if !o.terminal.is_empty() {
                    problems.push(format!("journal: fill after terminal {} {f:?}", f.id));
                }
                o.filled += u64::from(f.qty.0);
                if o.filled > o.max_total {
                    problems.push(format!(
                        "journal: {} filled {} > {}",
                        f.id, o.filled, o.max_total
                    ));
                }
                if o.leaves
                    .is_some_and(|l| l < f.qty.0 || l - f.qty.0 != f.leaves.0)
                {
                    problems.push(format!("journal: fill leaves {f:?} after {:?}", o.leaves));
                }
                o.leaves = Some(f.leaves.0);
            }
        }
    }
    for (id, o) in &orders {
        if o.terminal.is_empty() {
            problems.push(format!("journal: {id} never ended {o:?}"));
        }
    }
    for s in &report.strategies {
        let pos: i64 = s.positions.iter().map(|p| p.2.net).sum();
        let ledger = s
            .ledger
            .instrument(InstrumentId(1))
            .map_or(0, |p| p.position)
            + s.ledger
                .instrument(InstrumentId(2))
                .map_or(0, |p| p.position);
        let journal = net.get(&s.id.0).copied().unwrap_or(0);
        if pos != journal || ledger != journal {
            problems.push(format!(
                "strategy {}: position {pos}, ledger {ledger}, journal fills {journal}",
                s.id.0
            ));
        }
    }
    for (&(s, i), &(b, so, cash, fees, n)) in &flows {
        let Some(st) = report.strategies.iter().find(|x| x.id.0 == s) else {
            continue;
        };
        let Some(p) = st.ledger.instrument(InstrumentId(i)) else {
            problems.push(format!("ledger of {s} lacks instrument {i}"));
            continue;
        };
        let scale = rust_decimal::Decimal::from(10_000);
        let want = (
            b,
            so,
            rust_decimal::Decimal::from_i128_with_scale(cash, 0) / scale,
            rust_decimal::Decimal::from_i128_with_scale(fees, 0) / scale,
            n,
        );
        let got = (p.bought, p.sold, p.cash, p.fees, p.fills);
        if want != got {
            problems.push(format!("ledger {s}/{i}: {got:?}, journal {want:?}"));
        }
    }
    if report.working_orders != 0 {
        problems.push(format!(
            "{} orders still working at the end",
            report.working_orders
        ));
    }
}

fn run<V: Venue>(venue: V, seed: u64, panic_odds: u64, kill_at: Option<usize>) -> Vec<String> {
    let problems: Problems = Arc::default();
    let control = Arc::new(LaneControl::default());
    let settings = LaneSettings {
        journal: true,
        panic_policy: PanicPolicy::Restart { max_restarts: 1000 },
        ..LaneSettings::default()
    };
    let strategies = vec![
        spec(
            0,
            "a",
            &[symbol(1), symbol(2)],
            chaos(seed, &problems, panic_odds),
        ),
        spec(
            1,
            "b",
            &[symbol(1)],
            chaos(seed + 1000, &problems, panic_odds),
        ),
    ];
    let mut lane = match Lane::new(settings, strategies, venue, control.clone(), None) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    lane.start();
    let events = session(seed, 2, 400);
    for (i, e) in events.iter().enumerate() {
        if Some(i) == kill_at {
            control
                .kill
                .store(true, std::sync::atomic::Ordering::Relaxed);
            lane.poll_control();
        }
        lane.process(&item(i as u64, *e), false);
    }
    let report = lane.finish();
    if std::env::var("TICKLANE_RACES_STATS").is_ok() {
        let mut k = BTreeMap::<String, u64>::new();
        for e in &report.journal {
            let name = match e {
                JournalEntry::Command { cmd, .. } => {
                    format!("cmd {}", format!("{cmd:?}").split(' ').next().unwrap_or(""))
                }
                JournalEntry::Update(u) => format!("{:?}", u.kind)
                    .split(['(', ' '])
                    .next()
                    .unwrap_or("")
                    .to_string(),
                JournalEntry::Fill(_) => "fill".into(),
                JournalEntry::DayStart { .. } => "day".into(),
            };
            *k.entry(name).or_default() += 1;
        }
        eprintln!(
            "panics {:?} killed {} {k:?}",
            report
                .strategies
                .iter()
                .map(|s| s.panics)
                .collect::<Vec<_>>(),
            report.killed
        );
    }
    let mut p = problems.lock().unwrap().clone();
    check_report(&report, &mut p);
    p
}

fn gate() -> RiskGate {
    RiskGate::new(RiskLimits {
        max_position: Some(2_000),
        daily_loss_limit: std::env::var("TICKLANE_RACES_LOSS")
            .ok()
            .map(|v| v.parse().unwrap()),
        max_orders_per_sec: std::env::var("TICKLANE_RACES_RATE")
            .ok()
            .map(|v| v.parse().unwrap()),
        ..RiskLimits::default()
    })
    .unwrap()
}

fn first_problem(found: Vec<(u64, Vec<String>)>) {
    if let Some((seed, p)) = found.into_iter().next() {
        panic!("seed {seed}: {} problems, first: {}", p.len(), p.join("\n"));
    }
}

#[test]
fn lane_races_at_constant_latency() {
    let mut found = Vec::new();
    for seed in 1..=seeds(39) {
        for (e, r) in [(0, 0), (5_000, 5_000), (30_000, 2_000)] {
            let v = RiskedVenue::new(
                PaperExchange::with_models(ConstantLatency::new(e, r), PerShareFees::new(-20, 30)),
                gate(),
            );
            let kill = (seed % 3 == 0).then_some(300);
            let p = run(v, seed, if seed % 2 == 0 { 40 } else { 0 }, kill);
            if !p.is_empty() {
                found.push((seed, p));
            }
        }
    }
    first_problem(found);
}

#[test]
fn lane_races_at_random_latency() {
    let mut found = Vec::new();
    for seed in 1..=seeds(39) {
        let d = LogNormal {
            median_ns: 8_000,
            sigma: 1.0,
            min_ns: 0,
            max_ns: 100_000,
        };
        let v = RiskedVenue::new(
            PaperExchange::with_models(
                LogNormalLatency::new(seed, d, d).unwrap(),
                PerShareFees::ZERO,
            ),
            gate(),
        );
        let kill = (seed % 3 == 0).then_some(250);
        let p = run(v, seed, if seed % 2 == 0 { 40 } else { 0 }, kill);
        if !p.is_empty() {
            found.push((seed, p));
        }
    }
    first_problem(found);
}

#[test]
fn lane_races_on_the_touch_venue() {
    let mut found = Vec::new();
    for seed in 1..=seeds(39) {
        let v = RiskedVenue::new(ticklane_exec::TouchVenue::new(), gate());
        let p = run(v, seed, if seed % 2 == 0 { 40 } else { 0 }, None);
        if !p.is_empty() {
            found.push((seed, p));
        }
    }
    first_problem(found);
}

/// Seeds per test: `n`, or `TICKLANE_RACES_SEEDS` (a longer soak: `TICKLANE_RACES_SEEDS=20000
/// cargo test --release --test races`).
fn seeds(n: u64) -> u64 {
    std::env::var("TICKLANE_RACES_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n)
}
