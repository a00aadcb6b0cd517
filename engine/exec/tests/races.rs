//! Order lifecycle races between a strategy and the paper venue: random command sequences
//! (submits, cancels, modifies, cancel-alls, kill switch) crossing market events, driven the
//! way a lane drives them, at several latencies, with the invariants checked after every step.

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use support::{add, ev, market, trade_print, I};

use ticklane_book::Market;
use ticklane_core::{EventBody, MatchId, OrderId, Price, Qty, Side, Timestamp};
use ticklane_exec::{
    ConstantLatency, LogNormal, LogNormalLatency, PaperExchange, PerShareFees, RiskGate,
    RiskLimits, RiskedVenue, TouchVenue, Venue, VenueReport,
};
use ticklane_strategy::{
    ClientOrderId, Context, OrderCommand, OrderUpdateKind, Outbox, StrategyId, TimeInForce,
    TimerQueue,
};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the strategy heard of one order.
#[derive(Default, Debug, Clone)]
struct Heard {
    accepted: bool,
    terminal: Vec<OrderUpdateKind>,
    /// Open quantity as the reports say (Accepted: size; Modified: qty; fills: less).
    leaves: Option<u32>,
    size: u32,
    filled: u64,
    /// Largest total the order may reach: its size, or a modify's qty + the fills it knew.
    max_total: u64,
    is_bid: bool,
}

struct Harness<V> {
    m: Market,
    v: V,
    outbox: Outbox,
    timers: TimerQueue,
    heard: BTreeMap<ClientOrderId, Heard>,
    log: Vec<String>,
    next_mkt_id: u64,
    live_mkt: Vec<u64>,
    now: u64,
    violations: Vec<String>,
    leaves_of: fn(&V, ClientOrderId) -> Option<u32>,
    gate_of: fn(&V) -> Option<&RiskGate>,
}

impl<V: Venue> Harness<V> {
    fn new(
        v: V,
        leaves_of: fn(&V, ClientOrderId) -> Option<u32>,
        gate_of: fn(&V) -> Option<&RiskGate>,
    ) -> Self {
        Self {
            m: market(),
            v,
            outbox: Outbox::default(),
            timers: TimerQueue::with_capacity(1),
            heard: BTreeMap::new(),
            log: Vec::new(),
            next_mkt_id: 100,
            live_mkt: vec![1, 2, 3, 4, 5],
            now: 10,
            violations: Vec::new(),
            leaves_of,
            gate_of,
        }
    }

    fn bad(&mut self, s: String) {
        self.violations
            .push(format!("{s}\n  log:\n    {}", self.log.join("\n    ")));
    }

    /// The strategy hears these reports (as a lane's `deliver` does).
    fn deliver(&mut self, out: Vec<VenueReport>) {
        for r in out {
            self.log.push(format!("  <- {r:?}"));
            match r {
                VenueReport::Update(u) => {
                    self.outbox.apply_update(&u);
                    let Some(h) = self.heard.get_mut(&u.id) else {
                        continue;
                    };
                    let was_terminal = !h.terminal.is_empty();
                    let mut problem = None;
                    match u.kind {
                        OrderUpdateKind::Accepted => {
                            if was_terminal || h.accepted {
                                problem = Some("Accepted after terminal or twice");
                            }
                            h.accepted = true;
                            h.leaves = Some(h.size);
                        }
                        OrderUpdateKind::Modified { qty, .. } => {
                            if was_terminal {
                                problem = Some("Modified after terminal");
                            }
                            h.leaves = Some(qty.0);
                        }
                        OrderUpdateKind::AmendRejected(_) => {}
                        OrderUpdateKind::Rejected(_) if h.accepted => {
                            problem = Some("Rejected on an accepted order");
                        }
                        OrderUpdateKind::Filled => {
                            if h.leaves != Some(0) {
                                problem = Some("Filled with shares open");
                            }
                            h.terminal.push(u.kind);
                        }
                        OrderUpdateKind::Rejected(_)
                        | OrderUpdateKind::Cancelled
                        | OrderUpdateKind::Expired => h.terminal.push(u.kind),
                    }
                    if h.terminal.len() > 1 {
                        problem = Some("two terminal updates");
                    }
                    if let Some(p) = problem {
                        let s = format!("{p}: {:?} {h:?}", u.id);
                        self.bad(s);
                    }
                }
                VenueReport::Fill(f) => {
                    self.outbox.apply_fill(&f);
                    let Some(h) = self.heard.get_mut(&f.id) else {
                        continue;
                    };
                    let mut problem = None;
                    if !h.terminal.is_empty() {
                        problem = Some("fill after terminal".to_string());
                    }
                    h.filled += u64::from(f.qty.0);
                    match h.leaves {
                        Some(l) if l >= f.qty.0 && l - f.qty.0 == f.leaves.0 => {
                            h.leaves = Some(f.leaves.0)
                        }
                        l => {
                            problem = Some(format!("fill leaves {:?} after {l:?}", f));
                            h.leaves = Some(f.leaves.0);
                        }
                    }
                    if h.filled > h.max_total {
                        problem = Some(format!("filled {} > max total {}", h.filled, h.max_total));
                    }
                    if let Some(p) = problem {
                        let s = format!("{p}: {:?} {h:?}", f.id);
                        self.bad(s);
                    }
                }
            }
        }
    }

    /// Delivers what is due by `t` (the lane's catch-up).
    fn catch_up(&mut self, t: u64) {
        while let Some(d) = self.v.next_due().filter(|d| d.0 <= t) {
            let mut out = Vec::new();
            self.v.advance(d, &self.m, &mut out);
            self.deliver(out);
        }
    }

    fn event(&mut self, body: EventBody) {
        self.catch_up(self.now);
        self.log.push(format!("{} event {body:?}", self.now));
        let e = ev(self.now, body);
        let mut out = Vec::new();
        let t = trade_print(&self.m, &e);
        self.m.apply(&e);
        self.v.on_market(&e, t.as_ref(), &self.m, &mut out);
        self.deliver(out);
    }

    fn send(&mut self, f: impl FnOnce(&mut Context<'_>)) {
        self.catch_up(self.now);
        {
            let mut ctx = Context::new(
                Timestamp(self.now),
                StrategyId(0),
                "s",
                &self.m,
                &mut self.outbox,
                &mut self.timers,
                true,
            );
            f(&mut ctx);
        }
        let mut cmds = Vec::new();
        self.outbox.drain_pending_into(&mut cmds);
        for c in cmds {
            self.log.push(format!("{} cmd {c:?}", self.now));
            match c {
                OrderCommand::Submit { id, request } => {
                    self.heard.insert(
                        id,
                        Heard {
                            size: request.qty.0,
                            max_total: u64::from(request.qty.0),
                            is_bid: request.side == Side::Bid,
                            ..Heard::default()
                        },
                    );
                }
                OrderCommand::Modify {
                    id, qty, filled, ..
                } => {
                    if let Some(h) = self.heard.get_mut(&id) {
                        h.max_total = h.max_total.max(u64::from(qty.0) + u64::from(filled.0));
                    }
                }
                OrderCommand::Cancel { .. } => {}
            }
            let mut out = Vec::new();
            self.v
                .on_command(Timestamp(self.now), &c, &self.m, &mut out);
            self.deliver(out);
        }
    }

    fn kill(&mut self) {
        self.catch_up(self.now);
        self.log.push(format!("{} kill switch", self.now));
        let mut out = Vec::new();
        self.v
            .engage_kill_switch(Timestamp(self.now), &self.m, &mut out);
        self.deliver(out);
    }

    fn cancel_all_venue(&mut self) {
        self.catch_up(self.now);
        self.log.push(format!("{} venue cancel_all(0)", self.now));
        let mut out = Vec::new();
        self.v
            .cancel_all(Timestamp(self.now), Some(StrategyId(0)), &mut out);
        self.deliver(out);
    }

    /// Invariants that hold at every step.
    fn check(&mut self) {
        let pos = self.outbox.positions().get(I);
        let net: i64 = self
            .heard
            .values()
            .map(|h| {
                if h.is_bid {
                    h.filled as i64
                } else {
                    -(h.filled as i64)
                }
            })
            .sum();
        if pos.net != net {
            self.bad(format!("position {} != sum of fills {net}", pos.net));
        }
        // Orders the strategy still counts as working: never a terminal one.
        let ids: Vec<_> = self
            .outbox
            .orders()
            .iter()
            .map(|o| (o.id, o.open, o.filled))
            .collect();
        for (id, open, filled) in ids {
            let h = self.heard.get(&id).cloned().unwrap_or_default();
            if !h.terminal.is_empty() {
                self.bad(format!("outbox keeps terminal order {id:?}"));
            }
            if u64::from(filled.0) != h.filled {
                self.bad(format!(
                    "outbox filled {filled:?} != {} for {id:?}",
                    h.filled
                ));
            }
            if let Some(l) = h.leaves {
                if open.0 != l {
                    self.bad(format!(
                        "outbox open {open:?} != reported leaves {l} for {id:?}"
                    ));
                }
            }
        }
        if let Some(g) = (self.gate_of)(&self.v) {
            let gp = g.position(I);
            if gp.net != pos.net {
                let s = format!("gate net {} != strategy net {}", gp.net, pos.net);
                self.bad(s);
            }
        }
        // In flight or not, the gate counts at least what works at the venue.
        let ids: Vec<_> = self.heard.iter().map(|(id, h)| (*id, h.is_bid)).collect();
        let (mut buy, mut sell) = (0u64, 0u64);
        for (id, is_bid) in ids {
            if let Some(l) = (self.leaves_of)(&self.v, id) {
                if is_bid {
                    buy += u64::from(l);
                } else {
                    sell += u64::from(l);
                }
            }
        }
        if let Some(g) = (self.gate_of)(&self.v) {
            let gp = g.position(I);
            if gp.open_buy < buy || gp.open_sell < sell {
                let s = format!(
                    "gate counts buy {} sell {}, the venue works buy {buy} sell {sell}",
                    gp.open_buy, gp.open_sell
                );
                self.bad(s);
            }
        }
        if !self.v.has_pending() {
            self.quiet_check();
        }
    }

    /// Nothing in flight: the strategy, the gate and the venue agree on every order.
    fn quiet_check(&mut self) {
        let working = self.v.working_orders();
        let mine = self.outbox.orders().len();
        if working != mine {
            self.bad(format!(
                "venue works {working} orders, strategy sees {mine}"
            ));
        }
        let orders: Vec<_> = self
            .outbox
            .orders()
            .iter()
            .map(|o| (o.id, o.open))
            .collect();
        let mut buy = 0u64;
        let mut sell = 0u64;
        for (id, open) in orders {
            let leaves = (self.leaves_of)(&self.v, id);
            if leaves.is_some_and(|l| l != open.0) {
                self.bad(format!(
                    "venue leaves {leaves:?} != strategy open {open:?} for {id:?}"
                ));
            }
            let l = u64::from(leaves.unwrap_or(open.0));
            if self.heard.get(&id).is_some_and(|h| h.is_bid) {
                buy += l;
            } else {
                sell += l;
            }
        }
        if let Some(g) = (self.gate_of)(&self.v) {
            let gp = g.position(I);
            let (go, gb, gs) = (g.open_orders(), gp.open_buy, gp.open_sell);
            if go != working || gb != buy || gs != sell {
                self.bad(format!(
                    "gate open {go} buy {gb} sell {gs} != venue {working} buy {buy} sell {sell}"
                ));
            }
        }
    }

    fn random_step(&mut self, r: &mut Rng) {
        self.now += r.below(250);
        let known: Vec<ClientOrderId> = self.heard.keys().copied().collect();
        let live: Vec<ClientOrderId> = self.outbox.orders().iter().map(|o| o.id).collect();
        let pick = |r: &mut Rng| -> Option<ClientOrderId> {
            if !live.is_empty() && r.below(4) != 0 {
                return Some(live[r.below(live.len() as u64) as usize]);
            }
            if known.is_empty() {
                None
            } else {
                Some(known[(known.len() - 1).saturating_sub(r.below(4) as usize)])
            }
        };
        match r.below(20) {
            0..=4 => {
                let side = if r.below(2) == 0 {
                    Side::Bid
                } else {
                    Side::Ask
                };
                // Mostly passive (bids 9.97..10.00, asks 10.01..10.04), sometimes through.
                let step = r.below(5) as i64 - 1;
                let px = match side {
                    Side::Bid => 10_0000 - 100 * step,
                    Side::Ask => 10_0100 + 100 * step,
                };
                let qty = 1 + r.below(300) as u32;
                let tif = match r.below(6) {
                    0 => TimeInForce::Ioc,
                    1 => TimeInForce::Fok,
                    2 => TimeInForce::PostOnly,
                    _ => TimeInForce::Day,
                };
                self.send(|c| {
                    c.limit(I, side, Price(px), Qty(qty), tif);
                });
            }
            5..=6 => {
                if let Some(id) = pick(r) {
                    self.send(|c| c.cancel(id));
                }
            }
            7..=9 => {
                if let Some(id) = pick(r) {
                    let px = 9_9700 + 100 * r.below(8) as i64;
                    let qty = 1 + r.below(300) as u32;
                    let same = r.below(2) == 0;
                    self.send(|c| {
                        let p = if same {
                            c.order(id).map_or(Price(px), |o| o.request.price)
                        } else {
                            Price(px)
                        };
                        c.modify(id, p, Qty(qty));
                    });
                }
            }
            10 => {
                // Two modifies (or a modify and a cancel) back to back.
                if let Some(id) = pick(r) {
                    let q1 = 1 + r.below(200) as u32;
                    let q2 = 1 + r.below(200) as u32;
                    let cancel = r.below(2) == 0;
                    self.send(|c| {
                        let p = c.order(id).map_or(Price(10_0000), |o| o.request.price);
                        c.modify(id, p, Qty(q1));
                        if cancel {
                            c.cancel(id);
                        } else {
                            c.modify(id, p, Qty(q2));
                        }
                    });
                }
            }
            11 => self.send(|c| c.cancel_all(None)),
            12..=17 => {
                // Market activity.
                match r.below(7) {
                    5 => {
                        let state = match r.below(3) {
                            0 => ticklane_core::TradingState::Halted,
                            _ => ticklane_core::TradingState::Trading,
                        };
                        self.event(EventBody::TradingStatus {
                            state,
                            reason: *b"    ",
                        });
                    }
                    6 => {
                        let px = 9_9800 + 100 * r.below(6) as i64;
                        self.event(EventBody::Trade {
                            order_id: OrderId(0),
                            side: Side::Bid,
                            qty: Qty(1 + r.below(200) as u32),
                            price: Price(px),
                            match_id: MatchId(1),
                        });
                    }
                    0 | 1 => {
                        let side = if r.below(2) == 0 {
                            Side::Bid
                        } else {
                            Side::Ask
                        };
                        let px = 9_9800 + 100 * r.below(6) as i64;
                        let id = self.next_mkt_id;
                        self.next_mkt_id += 1;
                        self.live_mkt.push(id);
                        self.event(add(id, side, px, 1 + r.below(300) as u32));
                    }
                    2 | 3 => {
                        self.live_mkt
                            .retain(|&i| self.m.order(OrderId(i)).is_some());
                        if !self.live_mkt.is_empty() {
                            let i = self.live_mkt[r.below(self.live_mkt.len() as u64) as usize];
                            let q = 1 + r.below(200) as u32;
                            self.event(EventBody::OrderExecuted {
                                order_id: OrderId(i),
                                qty: Qty(q),
                                match_id: MatchId(i),
                            });
                        }
                    }
                    _ => {
                        self.live_mkt
                            .retain(|&i| self.m.order(OrderId(i)).is_some());
                        if !self.live_mkt.is_empty() {
                            let i = self.live_mkt[r.below(self.live_mkt.len() as u64) as usize];
                            self.event(EventBody::OrderDeleted {
                                order_id: OrderId(i),
                            });
                        }
                    }
                }
            }
            18 => {
                if r.below(8) == 0 {
                    self.cancel_all_venue();
                }
            }
            _ => {
                if r.below(40) == 0 {
                    self.kill();
                }
            }
        }
        self.check();
    }

    fn finish(&mut self) {
        self.now += 10_000_000;
        self.catch_up(self.now);
        self.check();
        self.quiet_check();
    }
}

fn paper_leaves<L: ticklane_exec::LatencyModel>(
    v: &RiskedVenue<PaperExchange<L>>,
    id: ClientOrderId,
) -> Option<u32> {
    v.venue().order(id).map(|o| o.leaves.0)
}

fn paper_gate<L: ticklane_exec::LatencyModel>(
    v: &RiskedVenue<PaperExchange<L>>,
) -> Option<&RiskGate> {
    Some(v.gate(StrategyId(0)))
}

fn gate() -> RiskGate {
    RiskGate::new(RiskLimits {
        max_position: Some(1_000_000),
        ..RiskLimits::default()
    })
    .unwrap()
}

fn run_paper<L: ticklane_exec::LatencyModel>(latency: L, seed: u64, steps: usize) -> Vec<String> {
    let v = RiskedVenue::new(
        PaperExchange::with_models(latency, PerShareFees::ZERO),
        gate(),
    );
    let mut h = Harness::new(v, paper_leaves::<L>, paper_gate::<L>);
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    for _ in 0..steps {
        h.random_step(&mut r);
        if !h.violations.is_empty() {
            break;
        }
    }
    if h.violations.is_empty() {
        h.finish();
    }
    if std::env::var("TICKLANE_RACES_STATS").is_ok() {
        let mut kinds = BTreeMap::<String, u64>::new();
        for l in &h.log {
            let k = l
                .split(['(', '{', ' '])
                .filter(|w| !w.is_empty())
                .nth(1)
                .unwrap_or("")
                .to_string();
            let k2 = if l.contains("kind:") {
                l.split("kind: ")
                    .nth(1)
                    .unwrap_or("")
                    .split([' ', '(', '}'])
                    .next()
                    .unwrap_or("")
                    .to_string()
            } else {
                String::new()
            };
            *kinds.entry(format!("{k} {k2}")).or_default() += 1;
        }
        eprintln!("{kinds:?}");
    }
    h.violations
}

fn touch_leaves(_: &RiskedVenue<TouchVenue>, _: ClientOrderId) -> Option<u32> {
    None
}

fn touch_gate(v: &RiskedVenue<TouchVenue>) -> Option<&RiskGate> {
    Some(v.gate(StrategyId(0)))
}

fn report(name: &str, found: Vec<(u64, Vec<String>)>) {
    if let Some((seed, v)) = found.into_iter().min_by_key(|(_, v)| v[0].len()) {
        panic!("{name}: seed {seed}: {}", v[0]);
    }
}

#[test]
fn random_races_at_constant_latencies_keep_the_invariants() {
    for (entry, resp) in [
        (0, 0),
        (100, 100),
        (50, 300),
        (300, 20),
        (1, 1),
        (0, 150),
        (150, 0),
    ] {
        let mut found = Vec::new();
        for seed in 0..seeds(600) {
            let v = run_paper(ConstantLatency::new(entry, resp), seed, 120);
            if !v.is_empty() {
                found.push((seed, v));
            }
        }
        report(&format!("latency {entry}/{resp}"), found);
    }
}

#[test]
fn random_races_at_random_latency_keep_the_invariants() {
    let mut found = Vec::new();
    for seed in 0..seeds(600) {
        let d = LogNormal {
            median_ns: 100,
            sigma: 0.9,
            min_ns: 0,
            max_ns: 2_000,
        };
        let l = LogNormalLatency::new(seed, d, d).unwrap();
        let v = run_paper(l, seed, 120);
        if !v.is_empty() {
            found.push((seed, v));
        }
    }
    report("lognormal", found);
}

#[test]
fn random_races_on_the_touch_venue_keep_the_invariants() {
    let mut found = Vec::new();
    for seed in 0..seeds(600) {
        let v = RiskedVenue::new(TouchVenue::new(), gate());
        let mut h = Harness::new(v, touch_leaves, touch_gate);
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        for _ in 0..120 {
            h.random_step(&mut r);
            if !h.violations.is_empty() {
                break;
            }
        }
        if h.violations.is_empty() {
            h.finish();
        }
        if !h.violations.is_empty() {
            found.push((seed, h.violations));
        }
    }
    report("touch", found);
}

/// Seeds per test: `n`, or `TICKLANE_RACES_SEEDS` (a longer soak: `TICKLANE_RACES_SEEDS=20000
/// cargo test --release --test races`).
fn seeds(n: u64) -> u64 {
    std::env::var("TICKLANE_RACES_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(n)
}
