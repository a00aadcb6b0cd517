//! A brute-force FIFO model of the paper exchange's queue positions (`ExactQueue`).
//! Each price level is an explicit FIFO list of market orders and our orders (ours go to the
//! back when they arrive, and again when a modify loses priority). Random sequences of adds,
//! partial cancels, deletes, executions (E, C printable and not), replaces, hidden prints and
//! our own submits, modifies and cancels are replayed into both; after every event the shares
//! and orders ahead of each of our orders and its open quantity are compared, and at the end
//! every fill (id, delivery time, price, quantity, leaves, liquidity).

#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use support::{ev, id, market, trade_print};
use ticklane_book::Market;
use ticklane_core::{EventBody, MatchId, OrderId, Price, Qty, Side, Timestamp};
use ticklane_exec::{ConstantLatency, PaperExchange, PerShareFees, Venue, VenueReport};
use ticklane_strategy::{Liquidity, OrderCommand, OrderRequest, TimeInForce};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Entry {
    Mkt(u64),
    Ours(u64),
}

#[derive(Clone, Copy, Debug)]
struct Our {
    side: Side,
    price: i64,
    leaves: u32,
    filled: u32,
    seq: u64,
    /// Displayed market shares at its level when it last joined (TradeThroughQueue: all of
    /// them ahead of it for good).
    joined_behind: u64,
    /// Displayed market orders at its level when it last joined.
    joined_orders: usize,
}

/// (our order, delivery ts, price, qty, leaves, liquidity)
type F = (u64, u64, i64, u32, u32, Liquidity);

struct Brute {
    mkt: BTreeMap<u64, (Side, i64, u32)>,
    levels: BTreeMap<(u8, i64), Vec<Entry>>,
    ours: BTreeMap<u64, Our>,
    seq: u64,
    resp: u64,
    fills: Vec<F>,
    pending: Vec<(u64, OrderCommand)>,
    /// TradeThroughQueue's rules: never at our price.
    tt: bool,
}

fn si(s: Side) -> u8 {
    match s {
        Side::Bid => 0,
        Side::Ask => 1,
    }
}

/// `a` strictly better than `b` for a resting order on `side`.
fn better(side: Side, a: i64, b: i64) -> bool {
    match side {
        Side::Bid => a > b,
        Side::Ask => a < b,
    }
}

/// An order on `side` at `price` reaches a level at `level` on the other side.
fn reaches(side: Side, price: i64, level: i64) -> bool {
    match side {
        Side::Bid => level <= price,
        Side::Ask => level >= price,
    }
}

impl Brute {
    fn new(resp: u64) -> Self {
        let mut b = Self {
            mkt: BTreeMap::new(),
            levels: BTreeMap::new(),
            ours: BTreeMap::new(),
            seq: 0,
            resp,
            fills: Vec::new(),
            pending: Vec::new(),
            tt: false,
        };
        for (id, side, px, q) in [
            (1, Side::Ask, 10_0100, 100),
            (2, Side::Ask, 10_0100, 200),
            (3, Side::Ask, 10_0200, 500),
            (4, Side::Bid, 10_0000, 200),
            (5, Side::Bid, 9_9900, 100),
        ] {
            b.mkt.insert(id, (side, px, q));
            b.levels
                .entry((si(side), px))
                .or_default()
                .push(Entry::Mkt(id));
        }
        b
    }

    fn best(&self, side: Side) -> Option<i64> {
        let it = self.mkt.values().filter(|o| o.0 == side).map(|o| o.1);
        match side {
            Side::Bid => it.max(),
            Side::Ask => it.min(),
        }
    }

    /// Displayed (qty, orders) of market orders ahead of our order `n` in its level's FIFO.
    fn ahead(&self, n: u64) -> (u64, usize) {
        let o = self.ours[&n];
        let list = &self.levels[&(si(o.side), o.price)];
        let mut q = 0u64;
        let mut c = 0usize;
        for e in list {
            match *e {
                Entry::Ours(m) if m == n => return (q, c),
                Entry::Mkt(x) => {
                    q += u64::from(self.mkt[&x].2);
                    c += 1;
                }
                Entry::Ours(_) => {}
            }
        }
        panic!("our order {n} not in its level");
    }

    fn unlink(&mut self, side: Side, price: i64, e: Entry) {
        let key = (si(side), price);
        let list = self.levels.get_mut(&key).expect("level");
        let k = list.iter().position(|x| *x == e).expect("entry");
        list.remove(k);
        if list.is_empty() {
            self.levels.remove(&key);
        }
    }

    fn fill(&mut self, t: u64, n: u64, price: i64, q: u32, liq: Liquidity) {
        let o = self.ours.get_mut(&n).expect("ours");
        o.leaves -= q;
        o.filled += q;
        let (leaves, side, oprice) = (o.leaves, o.side, o.price);
        self.fills.push((n, t + self.resp, price, q, leaves, liq));
        if leaves == 0 {
            self.ours.remove(&n);
            self.unlink(side, oprice, Entry::Ours(n));
        }
    }

    /// Shares `size` among `cands` (our orders, each with the most the model allows it) in
    /// price-time priority, each at its own price.
    fn share_capped(&mut self, t: u64, mut cands: Vec<(u64, u32)>, mut size: u32) {
        cands.sort_by_key(|(n, _)| {
            let o = self.ours[n];
            let p = match o.side {
                Side::Bid => -o.price,
                Side::Ask => o.price,
            };
            (p, o.seq)
        });
        let mut given = 0u32;
        for (n, cap) in cands {
            if size == 0 {
                break;
            }
            let o = self.ours[&n];
            // Our orders earlier in priority were ahead of this one too.
            let q = size.min(o.leaves).min(cap.saturating_sub(given));
            if q == 0 {
                continue;
            }
            size -= q;
            given += q;
            self.fill(t, n, o.price, q, Liquidity::Maker);
        }
    }

    /// Shares `size` among `cands` (our orders) in price-time priority, each at its own price.
    fn share(&mut self, t: u64, mut cands: Vec<u64>, mut size: u32) {
        cands.sort_by_key(|n| {
            let o = self.ours[n];
            let p = match o.side {
                Side::Bid => -o.price,
                Side::Ask => o.price,
            };
            (p, o.seq)
        });
        for n in cands {
            if size == 0 {
                break;
            }
            let o = self.ours[&n];
            let q = size.min(o.leaves);
            size -= q;
            self.fill(t, n, o.price, q, Liquidity::Maker);
        }
    }

    fn add(&mut self, t: u64, id: u64, side: Side, price: i64, qty: u32) {
        // An add that crosses our order reaches our level, where the displayed shares ahead of
        // us take it first (ExactQueue); under TradeThroughQueue, every share displayed there
        // when it joined.
        let cands: Vec<(u64, u32)> = self
            .ours
            .iter()
            .filter(|(_, o)| o.side == side.opposite() && reaches(o.side, o.price, price))
            .map(|(n, _)| {
                let ahead = if self.tt {
                    self.ours[n].joined_behind
                } else {
                    self.ahead(*n).0
                };
                (
                    *n,
                    u32::try_from(u64::from(qty).saturating_sub(ahead)).unwrap_or(0),
                )
            })
            .collect();
        let before = self.fills.len();
        self.share_capped(t, cands, qty);
        if self.fills.len() > before {
            WHY[2].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.mkt.insert(id, (side, price, qty));
        self.levels
            .entry((si(side), price))
            .or_default()
            .push(Entry::Mkt(id));
    }

    fn reduce(&mut self, id: u64, q: Option<u32>) {
        let (side, price, left) = self.mkt[&id];
        let q = q.map_or(left, |q| q.min(left));
        if q == left {
            self.mkt.remove(&id);
            self.unlink(side, price, Entry::Mkt(id));
        } else {
            self.mkt.get_mut(&id).expect("mkt").2 -= q;
        }
    }

    fn exec(&mut self, t: u64, id: u64, q: u32, printable: bool) {
        let (side, price, left) = self.mkt[&id];
        let q = q.min(left);
        if printable {
            let list = self.levels[&(si(side), price)].clone();
            let pos_x = list.iter().position(|e| *e == Entry::Mkt(id)).expect("x");
            let cands: Vec<u64> = self
                .ours
                .iter()
                .filter(|(n, o)| {
                    o.side == side
                        && (better(side, o.price, price)
                            || (!self.tt
                                && o.price == price
                                && list.iter().position(|e| *e == Entry::Ours(**n)).expect("o")
                                    < pos_x))
                })
                .map(|(n, _)| *n)
                .collect();
            let atp = cands
                .iter()
                .filter(|n| self.ours[*n].price == price)
                .count();
            let before = self.fills.len();
            self.share(t, cands, q);
            if self.fills.len() > before {
                WHY[0].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if atp > 0 && self.fills.len() > before {
                WHY[3].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        self.reduce(id, Some(q));
    }

    fn hidden(&mut self, t: u64, price: i64, q: u32) {
        let above_ask = self.best(Side::Ask).is_some_and(|a| price >= a);
        let below_bid = self.best(Side::Bid).is_some_and(|b| price <= b);
        let side = match (above_ask, below_bid) {
            (true, false) => Side::Ask,
            (false, true) => Side::Bid,
            _ => return,
        };
        let ns: Vec<u64> = self.ours.keys().copied().collect();
        let cands: Vec<u64> = ns
            .into_iter()
            .filter(|n| {
                let o = self.ours[n];
                o.side == side
                    && (better(side, o.price, price)
                        || (!self.tt && o.price == price && self.ahead(*n).0 == 0))
            })
            .collect();
        let before = self.fills.len();
        self.share(t, cands, q);
        if self.fills.len() > before {
            WHY[1].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Takes market liquidity for our order `n` (not yet linked), skipping levels `reached`
    /// already reaches.
    fn take(&mut self, t: u64, n: u64, reached: Option<i64>) {
        let o = self.ours[&n];
        let mut lv: BTreeMap<i64, u64> = BTreeMap::new();
        for (s, p, q) in self.mkt.values() {
            if *s == o.side.opposite() {
                *lv.entry(*p).or_default() += u64::from(*q);
            }
        }
        let levels: Vec<(i64, u64)> = match o.side {
            Side::Bid => lv.into_iter().collect(),
            Side::Ask => lv.into_iter().rev().collect(),
        };
        for (p, q) in levels {
            let leaves = self.ours[&n].leaves;
            if leaves == 0 || !reaches(o.side, o.price, p) {
                break;
            }
            if reached.is_some_and(|r| reaches(o.side, r, p)) {
                continue;
            }
            let take = u32::try_from(q.min(u64::from(leaves))).unwrap();
            let w = self.ours.get_mut(&n).unwrap();
            w.leaves -= take;
            w.filled += take;
            let left = w.leaves;
            self.fills
                .push((n, t + self.resp, p, take, left, Liquidity::Taker));
        }
    }

    fn join(&mut self, n: u64) {
        self.seq += 1;
        let (side, price) = {
            let o = &self.ours[&n];
            (o.side, o.price)
        };
        let (displayed, orders) = self
            .mkt
            .values()
            .filter(|m| m.0 == side && m.1 == price)
            .fold((0u64, 0usize), |(q, n), m| (q + u64::from(m.2), n + 1));
        let o = self.ours.get_mut(&n).unwrap();
        o.seq = self.seq;
        o.joined_behind = displayed;
        o.joined_orders = orders;
        self.levels
            .entry((si(side), price))
            .or_default()
            .push(Entry::Ours(n));
    }

    fn arrive(&mut self, t: u64, cmd: OrderCommand) {
        match cmd {
            OrderCommand::Submit { id, request } => {
                let n = id.0;
                self.ours.insert(
                    n,
                    Our {
                        side: request.side,
                        price: request.price.0,
                        leaves: request.qty.0,
                        filled: 0,
                        seq: 0,
                        joined_behind: 0,
                        joined_orders: 0,
                    },
                );
                self.take(t, n, None);
                if self.ours[&n].leaves == 0 {
                    self.ours.remove(&n);
                } else {
                    self.join(n);
                }
            }
            OrderCommand::Cancel { id } => {
                let n = id.0;
                if let Some(o) = self.ours.remove(&n) {
                    self.unlink(o.side, o.price, Entry::Ours(n));
                }
            }
            OrderCommand::Modify {
                id,
                price,
                qty,
                filled,
            } => {
                let n = id.0;
                let Some(o) = self.ours.get(&n).copied() else {
                    return;
                };
                let open = qty.0.saturating_sub(o.filled.saturating_sub(filled.0));
                if open == 0 {
                    self.ours.remove(&n);
                    self.unlink(o.side, o.price, Entry::Ours(n));
                    return;
                }
                let same = price.0 == o.price;
                let keeps = same && open <= o.leaves;
                {
                    let w = self.ours.get_mut(&n).unwrap();
                    w.leaves = open;
                    w.price = price.0;
                }
                if !keeps {
                    self.unlink(o.side, o.price, Entry::Ours(n));
                }
                let crosses = self
                    .best(o.side.opposite())
                    .is_some_and(|b| reaches(o.side, price.0, b));
                if crosses && !same {
                    self.take(t, n, Some(o.price));
                }
                if self.ours[&n].leaves == 0 {
                    if keeps {
                        self.unlink(o.side, o.price, Entry::Ours(n));
                    }
                    self.ours.remove(&n);
                    return;
                }
                if !keeps {
                    self.join(n);
                }
            }
        }
    }

    fn arrive_due(&mut self, now: u64) {
        while self.pending.first().is_some_and(|p| p.0 <= now) {
            let (t, c) = self.pending.remove(0);
            self.arrive(t, c);
        }
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn side(&mut self) -> Side {
        if self.below(2) == 0 {
            Side::Bid
        } else {
            Side::Ask
        }
    }
}

fn fills_of(out: &[VenueReport]) -> Vec<F> {
    out.iter()
        .filter_map(|r| match r {
            VenueReport::Fill(f) => {
                Some((f.id.0, f.ts.0, f.price.0, f.qty.0, f.leaves.0, f.liquidity))
            }
            _ => None,
        })
        .collect()
}

/// Runs one random session; returns an error describing the first divergence.
fn run(seed: u64, steps: usize, entry: u64, resp: u64) -> Result<(), String> {
    let v = PaperExchange::with_models(ConstantLatency::new(entry, resp), PerShareFees::ZERO);
    run_with(seed, steps, entry, resp, v, false)
}

fn run_with<Q: ticklane_exec::QueueModel>(
    seed: u64,
    steps: usize,
    entry: u64,
    resp: u64,
    mut v: PaperExchange<ConstantLatency, PerShareFees, Q>,
    tt: bool,
) -> Result<(), String> {
    let mut rng = Rng(seed);
    let mut m: Market = market();
    let mut b = Brute::new(resp);
    b.tt = tt;
    let mut out: Vec<VenueReport> = Vec::new();
    let mut log: Vec<String> = Vec::new();
    let mut next_mkt = 100u64;
    let mut next_ours = 1u64;
    let mut ts = 100u64;
    let tick = |r: &mut Rng| if r.below(4) == 0 { 50 } else { 100 };
    for step in 0..steps {
        ts += 1 + rng.below(3);
        let bb = b.best(Side::Bid);
        let ba = b.best(Side::Ask);
        // A price for a resting order of `side` that does not cross the recorded book.
        let passive = |r: &mut Rng, side: Side| -> i64 {
            let k = 1 + r.below(5) as i64;
            let t = tick(r);
            match side {
                Side::Bid => ba.unwrap_or(bb.unwrap_or(10_0000) + 100) - k * t,
                Side::Ask => bb.unwrap_or(ba.unwrap_or(10_0100) - 100) + k * t,
            }
        };
        let kind = rng.below(100);
        if kind < 22 {
            // Our command.
            let c = rng.below(10);
            let cmd = if c < 5 || b.ours.is_empty() {
                let side = rng.side();
                let mut px = passive(&mut rng, side);
                if rng.below(12) == 0 {
                    // marketable
                    px = match side {
                        Side::Bid => ba.unwrap_or(10_0100) + 100 * rng.below(2) as i64,
                        Side::Ask => bb.unwrap_or(10_0000) - 100 * rng.below(2) as i64,
                    };
                }
                let n = next_ours;
                next_ours += 1;
                OrderCommand::Submit {
                    id: id(n),
                    request: OrderRequest {
                        instrument: support::I,
                        side,
                        price: Price(px),
                        qty: Qty(1 + rng.below(300) as u32),
                        tif: TimeInForce::Day,
                    },
                }
            } else {
                let keys: Vec<u64> = b.ours.keys().copied().collect();
                let n = keys[rng.below(keys.len() as u64) as usize];
                let o = b.ours[&n];
                if c < 8 {
                    let px = if rng.below(2) == 0 {
                        o.price
                    } else {
                        passive(&mut rng, o.side)
                    };
                    let qty = match rng.below(3) {
                        0 => o.leaves.saturating_sub(rng.below(50) as u32).max(1),
                        1 => o.leaves + 1 + rng.below(50) as u32,
                        _ => o.leaves,
                    };
                    // What the strategy heard of: fills delivered so far.
                    let heard: u32 = b
                        .fills
                        .iter()
                        .filter(|f| f.0 == n && f.1 <= ts)
                        .map(|f| f.3)
                        .sum();
                    OrderCommand::Modify {
                        id: id(n),
                        price: Price(px),
                        qty: Qty(qty),
                        filled: Qty(heard),
                    }
                } else {
                    OrderCommand::Cancel { id: id(n) }
                }
            };
            log.push(format!("{step} t={ts} cmd {cmd:?}"));
            v.on_command(Timestamp(ts), &cmd, &m, &mut out);
            b.pending.push((ts + entry, cmd));
            b.arrive_due(ts);
        } else {
            let ids: Vec<u64> = b.mkt.keys().copied().collect();
            let pick = |r: &mut Rng| ids[r.below(ids.len() as u64) as usize];
            let k = rng.below(100);
            let body = if k < 25 || ids.is_empty() {
                let side = rng.side();
                let px = passive(&mut rng, side);
                let n = next_mkt;
                next_mkt += 1;
                support::add(n, side, px, 1 + rng.below(300) as u32)
            } else if k < 35 {
                let x = pick(&mut rng);
                let left = b.mkt[&x].2;
                if left < 2 {
                    continue;
                }
                EventBody::OrderCancelled {
                    order_id: OrderId(x),
                    qty: Qty(1 + rng.below(u64::from(left - 1)) as u32),
                }
            } else if k < 45 {
                EventBody::OrderDeleted {
                    order_id: OrderId(pick(&mut rng)),
                }
            } else if k < 75 {
                let x = pick(&mut rng);
                let (_, px, left) = b.mkt[&x];
                let q = if rng.below(3) == 0 {
                    left
                } else {
                    1 + rng.below(u64::from(left)) as u32
                };
                match rng.below(4) {
                    0 => EventBody::OrderExecutedWithPrice {
                        order_id: OrderId(x),
                        qty: Qty(q),
                        match_id: MatchId(1),
                        printable: true,
                        price: Price(px),
                    },
                    1 => EventBody::OrderExecutedWithPrice {
                        order_id: OrderId(x),
                        qty: Qty(q),
                        match_id: MatchId(1),
                        printable: false,
                        price: Price(px),
                    },
                    _ => EventBody::OrderExecuted {
                        order_id: OrderId(x),
                        qty: Qty(q),
                        match_id: MatchId(1),
                    },
                }
            } else if k < 85 {
                let x = pick(&mut rng);
                let side = b.mkt[&x].0;
                let n = next_mkt;
                next_mkt += 1;
                // the old order leaves first: a price passive against the book without it
                let px = passive(&mut rng, side);
                EventBody::OrderReplaced {
                    old_id: OrderId(x),
                    new_id: OrderId(n),
                    price: Price(px),
                    qty: Qty(1 + rng.below(300) as u32),
                }
            } else {
                let lo = bb.unwrap_or(10_0000) - 150;
                let hi = (ba.unwrap_or(bb.unwrap_or(10_0000) + 100) + 150).max(lo);
                let px = lo + 50 * rng.below(((hi - lo) / 50 + 1) as u64) as i64;
                EventBody::Trade {
                    order_id: OrderId(0),
                    side: Side::Bid,
                    price: Price(px),
                    qty: Qty(1 + rng.below(200) as u32),
                    match_id: MatchId(2),
                }
            };
            log.push(format!("{step} t={ts} ev {body:?}"));
            let e = ev(ts, body);
            if v.has_pending() {
                v.advance(e.ts, &m, &mut out);
            }
            b.arrive_due(ts);
            let tp = trade_print(&m, &e);
            m.apply(&e);
            v.on_market(&e, tp.as_ref(), &m, &mut out);
            match body {
                EventBody::OrderAdded {
                    order_id,
                    side,
                    price,
                    qty,
                    ..
                } => b.add(ts, order_id.0, side, price.0, qty.0),
                EventBody::OrderCancelled { order_id, qty } => b.reduce(order_id.0, Some(qty.0)),
                EventBody::OrderDeleted { order_id } => b.reduce(order_id.0, None),
                EventBody::OrderExecuted { order_id, qty, .. } => {
                    b.exec(ts, order_id.0, qty.0, true)
                }
                EventBody::OrderExecutedWithPrice {
                    order_id,
                    qty,
                    printable,
                    ..
                } => b.exec(ts, order_id.0, qty.0, printable),
                EventBody::OrderReplaced {
                    old_id,
                    new_id,
                    price,
                    qty,
                } => {
                    let side = b.mkt[&old_id.0].0;
                    b.reduce(old_id.0, None);
                    b.add(ts, new_id.0, side, price.0, qty.0);
                }
                EventBody::Trade { price, qty, .. } => b.hidden(ts, price.0, qty.0),
                _ => unreachable!(),
            }
        }
        // Compare the state of every order of ours.
        for (&n, o) in &b.ours {
            let w = v.order(id(n));
            let exp = (
                o.leaves,
                if tt {
                    (o.joined_behind, o.joined_orders)
                } else {
                    b.ahead(n)
                },
                o.price,
            );
            let act = w.map(|w| (w.leaves.0, (w.queue_ahead, w.orders_ahead), w.price.0));
            if act != Some(exp) {
                return Err(format!(
                    "seed {seed} step {step}: order {n}: venue {act:?} brute {exp:?}\n{}",
                    log[log.len().saturating_sub(25)..].join("\n")
                ));
            }
        }
        if v.working_orders() != b.ours.len() {
            return Err(format!(
                "seed {seed} step {step}: venue has {} working, brute {}\n{}",
                v.working_orders(),
                b.ours.len(),
                log[log.len().saturating_sub(25)..].join("\n")
            ));
        }
        let got = fills_of(&out);
        let want: Vec<F> = b.fills.iter().copied().filter(|f| f.1 <= ts).collect();
        if got != want {
            let k = got.iter().zip(&want).take_while(|(a, b)| a == b).count();
            return Err(format!(
                "seed {seed} step {step}: fills differ from #{k}: venue {:?} brute {:?}\n{}",
                &got[k..],
                &want[k..],
                log[log.len().saturating_sub(25)..].join("\n")
            ));
        }
    }
    let maker = b.fills.iter().filter(|f| f.5 == Liquidity::Maker).count();
    STATS.fetch_add(maker, std::sync::atomic::Ordering::Relaxed);
    TAKER.fetch_add(b.fills.len() - maker, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}
static WHY: [std::sync::atomic::AtomicUsize; 4] =
    [const { std::sync::atomic::AtomicUsize::new(0) }; 4];
static STATS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static TAKER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The sequences reached every fill rule (an execution behind us, a hidden print, a
/// crossing add, an execution at our price), as makers and as takers: a model that agreed
/// only because nothing filled would prove nothing.
fn rules_were_exercised() {
    use std::sync::atomic::Ordering::Relaxed;
    let why: Vec<usize> = WHY.iter().map(|w| w.load(Relaxed)).collect();
    assert!(
        why.iter().all(|&n| n > 0),
        "fills by rule (exec, hidden, add, exec at price): {why:?}"
    );
    assert!(STATS.load(Relaxed) > 0 && TAKER.load(Relaxed) > 0);
}

#[test]
fn the_venue_matches_a_fifo_model_without_latency() {
    for seed in 0..300 {
        if let Err(e) = run(seed, 400, 0, 0) {
            panic!("{e}");
        }
    }
    rules_were_exercised();
}

#[test]
fn the_venue_matches_a_fifo_model_with_latency() {
    for seed in 1000..1300 {
        if let Err(e) = run(seed, 400, 5, 3) {
            panic!("{e}");
        }
    }
    rules_were_exercised();
}

#[test]
fn the_trade_through_model_matches_its_rules() {
    for seed in 2000..2200 {
        let v = PaperExchange::with_queue_model(
            ConstantLatency::new(4, 2),
            PerShareFees::ZERO,
            ticklane_exec::TradeThroughQueue,
        );
        if let Err(e) = run_with(seed, 400, 4, 2, v, true) {
            panic!("{e}");
        }
    }
}
