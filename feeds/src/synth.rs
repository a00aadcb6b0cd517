//! Deterministic synthetic NASDAQ sessions: ITCH 5.0 messages that look like a trading day.
//!
//! [`SessionGenerator`] emits exactly the requested number of messages, in event-time order:
//!
//! - the system events of a day in order (start of messages 03:00, start of system hours 04:00,
//!   start of market hours 09:30, end of market hours 16:00, end of system hours 20:00, end of
//!   messages 20:05) and the MWCB decline levels;
//! - a stock directory (`R`), Reg SHO (`Y`) and trading action (`H`, trading) for every instrument
//!   before its first order, and market-maker registrations (`L`) before the open;
//! - NOII (`I`) before the opening and closing crosses, an opening and a closing cross (`Q`) per
//!   instrument, and a few LULD-style halts (`H` halted → quotation only → halt cross → trading),
//!   with an auction collar (`J`); two halts of one instrument never overlap in time;
//! - between 09:30 and 16:00, after every instrument's opening cross, order flow whose intensity
//!   is U-shaped in time (dense at the open and the close), spread over instruments with
//!   heavy-tailed (Zipf, s = 1) activity; adds, deletes, replaces, partial cancels, executions
//!   (mostly `E`, some `C`, a third of those printing one tick away from the resting price),
//!   non-displayed trades (`P`), retail price improvement indications (`N`) and a rare broken
//!   trade (`B`) in proportions close to NASDAQ's; cancels, deletes and replaces hit young orders
//!   far more often than old ones, with the age distribution of NASDAQ's AAPL sample;
//! - prices on a $0.01 grid clustered near a moving mid: each book keeps a boundary `b` with bids
//!   at `<= b` and asks at `>= b + 1` ticks, so the book is never crossed; the boundary moves
//!   when executions exhaust the touch, as prices do.
//!
//! Every reference is valid by construction: executions, cancels, deletes and replaces name a
//! live order of the same instrument with enough shares; executions hit the oldest order at the
//! best price (FIFO), as a matching engine would. Same seed, same bytes: the generator uses only
//! integer arithmetic and its own [`SeededRng`](crate::rng::SeededRng).

use thiserror::Error;

use crate::itch::wire::{
    AddOrder, AddOrderMpid, BrokenTrade, CrossTrade, LuldAuctionCollar, MarketParticipantPosition,
    MwcbDeclineLevel, Noii, NonCrossTrade, OrderCancel, OrderDelete, OrderExecuted,
    OrderExecutedWithPrice, OrderReplace, RegShoRestriction, Rpii, StockDirectory,
    StockTradingAction, SystemEvent,
};
use crate::itch::ItchMessage;
use crate::rng::SeededRng;

const NS_PER_SEC: u64 = 1_000_000_000;
const fn hms(h: u64, m: u64, s: u64) -> u64 {
    (h * 3600 + m * 60 + s) * NS_PER_SEC
}
const START_OF_MESSAGES: u64 = hms(3, 0, 0);
const START_OF_SYSTEM: u64 = hms(4, 0, 0);
const MARKET_OPEN: u64 = hms(9, 30, 0);
const MARKET_CLOSE: u64 = hms(16, 0, 0);
const END_OF_SYSTEM: u64 = hms(20, 0, 0);
const END_OF_MESSAGES: u64 = hms(20, 5, 0);
/// One cent in `Price(4)` units.
const TICK: i64 = 100;
/// Market makers registered in every instrument (`L` messages before the open; also the MPIDs
/// of attributed adds).
const MARKET_MAKERS: [[u8; 4]; 4] = [*b"NITE", *b"GSCO", *b"VIRT", *b"CDRG"];

/// Parameters of a synthetic session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynthConfig {
    /// Seed of the random stream: same seed, same bytes.
    pub seed: u64,
    /// Exact number of messages to emit.
    pub messages: u64,
    /// Number of instruments (stock locates `1..=instruments`).
    pub instruments: u16,
}

impl Default for SynthConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            messages: 1_000_000,
            instruments: 64,
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SynthError {
    /// No instruments requested.
    #[error("instruments must be at least 1")]
    NoInstruments,
    /// Fewer messages than the fixed structure of a day needs.
    #[error("messages = {requested} is below the minimum of {minimum} for {instruments} instruments (system events, directory, crosses)")]
    TooFewMessages {
        /// Requested count.
        requested: u64,
        /// Minimum count.
        minimum: u64,
        /// Instruments requested.
        instruments: u16,
    },
    /// The memory for a whole framed session could not be reserved ([`generate_framed`]).
    #[error("cannot reserve {bytes} bytes of memory for a session of {messages} messages")]
    OutOfMemory {
        /// Messages requested.
        messages: u64,
        /// Bytes asked for (saturated at `u64::MAX`).
        bytes: u64,
    },
}

#[derive(Clone, Copy, Debug)]
struct LiveOrder {
    order_ref: u64,
    /// Time priority: lower is older.
    priority: u64,
    buy: bool,
    price_ticks: i64,
    shares: u32,
}

#[derive(Clone, Debug)]
struct Instrument {
    locate: u16,
    symbol: [u8; 8],
    /// Bids rest at `<= boundary`, asks at `>= boundary + 1` (ticks).
    boundary: i64,
    orders: Vec<LiveOrder>,
    halted: bool,
    /// Match number of this instrument's last execution or trade (a broken trade names it).
    last_match: Option<u64>,
}

impl Instrument {
    fn best(&self, buy: bool) -> Option<usize> {
        let mut best: Option<usize> = None;
        for (i, o) in self.orders.iter().enumerate() {
            if o.buy != buy {
                continue;
            }
            best = match best {
                None => Some(i),
                Some(j) => {
                    let b = &self.orders[j];
                    let better = if buy {
                        o.price_ticks > b.price_ticks
                    } else {
                        o.price_ticks < b.price_ticks
                    };
                    let same_older = o.price_ticks == b.price_ticks && o.priority < b.priority;
                    if better || same_older {
                        Some(i)
                    } else {
                        Some(j)
                    }
                }
            };
        }
        best
    }

    fn has_level(&self, buy: bool, price_ticks: i64) -> bool {
        self.orders
            .iter()
            .any(|o| o.buy == buy && o.price_ticks == price_ticks)
    }

    /// Price in `Price(4)` units of a tick count, as the wire's u32.
    fn px(ticks: i64) -> u32 {
        u32::try_from(ticks.saturating_mul(TICK)).unwrap_or(u32::MAX)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheduled {
    System(u8),
    MwcbLevels,
    Directory(usize),
    RegSho(usize),
    /// A market maker's registration in the instrument (mpid index).
    Participant(usize, usize),
    Trading(usize, u8, [u8; 4]),
    Noii(usize, u8),
    Cross(usize, u8),
    Collar(usize),
}

/// The generator. Call [`SessionGenerator::next_message`] until it returns `None`.
#[derive(Debug)]
pub struct SessionGenerator {
    rng: SeededRng,
    instruments: Vec<Instrument>,
    /// Cumulative Zipf weights for choosing an instrument.
    cumulative: Vec<u64>,
    /// Fixed-time events, sorted by time then insertion order; consumed from the front.
    schedule: Vec<(u64, Scheduled)>,
    next_scheduled: usize,
    body_total: u64,
    body_done: u64,
    /// Event time of the first body event: 1 ms after the open, or the last opening cross
    /// when that is later (more than 901 instruments).
    body_start: u64,
    next_ref: u64,
    next_match: u64,
    next_priority: u64,
    last_ts: u64,
    tracking: u16,
    buf: Vec<u8>,
}

/// The fewest messages a generated session of `instruments` instruments can have: its day's
/// fixed structure (system events, and per instrument its directory entry, Reg SHO state,
/// market makers, trading state, imbalances and crosses, plus the halts), what
/// [`SessionGenerator::new`] refuses below. Computed without building anything, so that a
/// configuration can be checked cheaply.
pub fn minimum_messages(instruments: u16) -> u64 {
    let k = u64::from(instruments);
    let per_instrument = 9 + MARKET_MAKERS.len() as u64;
    let halts = (k / 40).max(u64::from(k > 1));
    7 + k * per_instrument + halts * 5
}

impl SessionGenerator {
    /// Builds a generator; refuses configurations too small for a day's structure.
    pub fn new(cfg: SynthConfig) -> Result<Self, SynthError> {
        if cfg.instruments == 0 {
            return Err(SynthError::NoInstruments);
        }
        let mut rng = SeededRng::new(cfg.seed);
        let k = usize::from(cfg.instruments);
        let instruments: Vec<Instrument> = (0..k)
            .map(|i| Instrument {
                locate: (i + 1) as u16,
                symbol: symbol_for(i),
                // $5 .. $400 start, on the cent grid.
                boundary: rng.range_inclusive(500, 40_000) as i64,
                orders: Vec::with_capacity(512),
                halted: false,
                last_match: None,
            })
            .collect();
        let mut cumulative = Vec::with_capacity(k);
        let mut acc = 0u64;
        for i in 0..k as u64 {
            acc += 1_000_000_000_000 / (i + 1);
            cumulative.push(acc);
        }

        let mut schedule: Vec<(u64, Scheduled)> = Vec::new();
        let us = 1_000;
        schedule.push((START_OF_MESSAGES, Scheduled::System(b'O')));
        schedule.push((START_OF_MESSAGES + us, Scheduled::MwcbLevels));
        schedule.push((START_OF_SYSTEM, Scheduled::System(b'S')));
        for i in 0..k {
            let t = START_OF_SYSTEM + 10 * us + (i as u64) * 3 * us;
            schedule.push((t, Scheduled::Directory(i)));
            schedule.push((t + us, Scheduled::RegSho(i)));
            // Market makers register before the open, as on the real feed (`L`).
            for mm in 0..MARKET_MAKERS.len() {
                let at =
                    START_OF_SYSTEM + hms(0, 5, 0) + (i * MARKET_MAKERS.len() + mm) as u64 * us;
                schedule.push((at, Scheduled::Participant(i, mm)));
            }
            schedule.push((t + 2 * us, Scheduled::Trading(i, b'T', *b"    ")));
            schedule.push((hms(9, 25, 0) + i as u64 * us, Scheduled::Noii(i, b'O')));
            schedule.push((hms(9, 28, 0) + i as u64 * us, Scheduled::Noii(i, b'O')));
            schedule.push((
                MARKET_OPEN + 100 * us + i as u64 * us,
                Scheduled::Cross(i, b'O'),
            ));
            schedule.push((hms(15, 50, 0) + i as u64 * us, Scheduled::Noii(i, b'C')));
            schedule.push((hms(15, 55, 0) + i as u64 * us, Scheduled::Noii(i, b'C')));
            schedule.push((
                MARKET_CLOSE + 100 * us + i as u64 * us,
                Scheduled::Cross(i, b'C'),
            ));
        }
        // A few halts: one in forty instruments, at least one when there are several.
        let halts = (k / 40).max(usize::from(k > 1));
        let minute = 60 * NS_PER_SEC;
        // A halt runs from `start` to its resumption at `start + halt_span`.
        let halt_span = 10 * minute + us;
        // (instrument, start) of the halts placed so far.
        let mut placed: Vec<(usize, u64)> = Vec::with_capacity(halts);
        for h in 0..halts {
            let mut i = (rng.below(k as u64) as usize + h) % k;
            let start = hms(10, 0, 0) + rng.below(hms(4, 30, 0) - hms(0, 0, 0));
            // Two halts of one instrument must not overlap (nor touch) in time: a second halt
            // inside the first would cross and resume trading in the middle of it. A clash
            // moves this halt to the next instrument, deterministically and without another
            // random draw, so sessions without a clash are unchanged. There are at most k / 40
            // halts, so fewer than k instruments are taken and the search ends.
            let clashes = |i: usize, placed: &[(usize, u64)]| {
                placed
                    .iter()
                    .any(|&(j, s)| j == i && s <= start + halt_span && start <= s + halt_span)
            };
            while clashes(i, &placed) {
                i = (i + 1) % k;
            }
            placed.push((i, start));
            schedule.push((start, Scheduled::Trading(i, b'H', *b"LUDP")));
            schedule.push((start + us, Scheduled::Collar(i)));
            schedule.push((start + 5 * minute, Scheduled::Trading(i, b'Q', *b"LUDP")));
            schedule.push((start + 10 * minute, Scheduled::Cross(i, b'H')));
            schedule.push((
                start + 10 * minute + us,
                Scheduled::Trading(i, b'T', *b"    "),
            ));
        }
        schedule.push((MARKET_OPEN, Scheduled::System(b'Q')));
        schedule.push((MARKET_CLOSE, Scheduled::System(b'M')));
        schedule.push((END_OF_SYSTEM, Scheduled::System(b'E')));
        schedule.push((END_OF_MESSAGES, Scheduled::System(b'C')));
        // Stable sort: equal times keep insertion order.
        schedule.sort_by_key(|&(t, _)| t);

        // Order flow starts 1 ms after the open, and never before the last opening cross
        // (instrument `k - 1`'s, at open + 100 µs + (k - 1) µs; later than 1 ms only with more
        // than 901 instruments): no instrument trades before its opening cross. At equal times
        // the scheduled cross comes first.
        let last_opening_cross = MARKET_OPEN + 100 * us + (k as u64 - 1) * us;
        let body_start = (MARKET_OPEN + 1_000_000).max(last_opening_cross);

        let minimum = schedule.len() as u64;
        debug_assert_eq!(minimum, minimum_messages(cfg.instruments));
        if cfg.messages < minimum {
            return Err(SynthError::TooFewMessages {
                requested: cfg.messages,
                minimum,
                instruments: cfg.instruments,
            });
        }
        Ok(Self {
            rng,
            instruments,
            cumulative,
            body_total: cfg.messages - minimum,
            body_start,
            schedule,
            next_scheduled: 0,
            body_done: 0,
            next_ref: 1,
            next_match: 1,
            next_priority: 0,
            last_ts: 0,
            tracking: 0,
            buf: Vec::with_capacity(64),
        })
    }

    /// Total messages this generator will emit.
    pub fn total_messages(&self) -> u64 {
        self.schedule.len() as u64 + self.body_total
    }

    /// The next message (type byte first, no length prefix), or `None` at the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next_message(&mut self) -> Option<&[u8]> {
        self.buf.clear();
        let body_ts = (self.body_done < self.body_total).then(|| self.body_time(self.body_done));
        let sched = self.schedule.get(self.next_scheduled).copied();
        match (sched, body_ts) {
            (Some((t, ev)), Some(bt)) if t <= bt => {
                self.next_scheduled += 1;
                self.emit_scheduled(t, ev);
            }
            (Some((t, ev)), None) => {
                self.next_scheduled += 1;
                self.emit_scheduled(t, ev);
            }
            (_, Some(bt)) => {
                self.body_done += 1;
                self.emit_body(bt);
            }
            (None, None) => return None,
        }
        Some(&self.buf)
    }

    /// Event time of body event `j`: U-shaped intensity between the body start (1 ms after the
    /// open, or the last opening cross) and 1 ms before the close.
    /// `h(p) = (p + 3p² − 2p³) / 2` maps message fraction to time fraction; `h'` is smallest at
    /// the ends, so messages are densest at the open and the close. Fixed-point, 2^32 scale.
    fn body_time(&self, j: u64) -> u64 {
        const ONE: u128 = 1 << 32;
        let p = (u128::from(j) * ONE) / u128::from(self.body_total.max(1));
        let p2 = p * p / ONE;
        let p3 = p2 * p / ONE;
        let h = (p + 3 * p2 - 2 * p3) / 2;
        let span = u128::from(MARKET_CLOSE - 1_000_000 - self.body_start);
        self.body_start + (span * h / ONE) as u64
    }

    fn stamp(&mut self, t: u64) -> (u16, u64) {
        let ts = t.max(self.last_ts);
        self.last_ts = ts;
        self.tracking = self.tracking.wrapping_add(1);
        (self.tracking, ts)
    }

    fn push<M: ItchMessage>(&mut self, m: &M) {
        crate::itch::encode(m, &mut self.buf);
    }

    fn emit_scheduled(&mut self, t: u64, ev: Scheduled) {
        let (trk, ts) = self.stamp(t);
        match ev {
            Scheduled::System(code) => self.push(&SystemEvent::new(0, trk, ts, code)),
            Scheduled::MwcbLevels => self.push(&MwcbDeclineLevel::new(
                0,
                trk,
                ts,
                3_456_789_000_000,
                3_215_814_000_000,
                2_799_812_000_000,
            )),
            Scheduled::Directory(i) => {
                let ins = &self.instruments[i];
                let m = StockDirectory::new(
                    ins.locate, trk, ts, ins.symbol, b'Q', b'N', 100, b'N', b'C', *b"Z ", b'P',
                    b'N', b'N', b'1', b'N', 0, b'N',
                );
                self.push(&m);
            }
            Scheduled::RegSho(i) => {
                let ins = &self.instruments[i];
                let m = RegShoRestriction::new(ins.locate, trk, ts, ins.symbol, b'0');
                self.push(&m);
            }
            Scheduled::Participant(i, mm) => {
                let ins = &self.instruments[i];
                let primary = if mm == 0 { b'Y' } else { b'N' };
                let m = MarketParticipantPosition::new(
                    ins.locate,
                    trk,
                    ts,
                    MARKET_MAKERS[mm],
                    ins.symbol,
                    primary,
                    b'N',
                    b'A',
                );
                self.push(&m);
            }
            Scheduled::Trading(i, state, reason) => {
                let ins = &mut self.instruments[i];
                ins.halted = state != b'T';
                let m =
                    StockTradingAction::new(ins.locate, trk, ts, ins.symbol, state, b' ', reason);
                self.push(&m);
            }
            Scheduled::Noii(i, cross) => {
                let paired = self.rng.range_inclusive(1, 500) * 100;
                let imbalance = self.rng.below(200) * 100;
                let dir = match self.rng.below(3) {
                    0 => b'B',
                    1 => b'S',
                    _ => b'N',
                };
                let ins = &self.instruments[i];
                let px = Instrument::px(ins.boundary);
                let m = Noii::new(
                    ins.locate, trk, ts, paired, imbalance, dir, ins.symbol, px, px, px, cross,
                    b' ',
                );
                self.push(&m);
            }
            Scheduled::Cross(i, cross) => {
                let shares = self.rng.range_inclusive(1, 2_000) * 100;
                let mt = self.next_match;
                self.next_match += 1;
                let ins = &self.instruments[i];
                let m = CrossTrade::new(
                    ins.locate,
                    trk,
                    ts,
                    shares,
                    ins.symbol,
                    Instrument::px(ins.boundary),
                    mt,
                    cross,
                );
                self.push(&m);
            }
            Scheduled::Collar(i) => {
                let ins = &self.instruments[i];
                let b = ins.boundary;
                let m = LuldAuctionCollar::new(
                    ins.locate,
                    trk,
                    ts,
                    ins.symbol,
                    Instrument::px(b),
                    Instrument::px(b + b / 20 + 1),
                    Instrument::px((b - b / 20 - 1).max(1)),
                    0,
                );
                self.push(&m);
            }
        }
    }

    fn pick_instrument(&mut self) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1);
        let x = self.rng.below(total);
        self.cumulative.partition_point(|&c| c <= x)
    }

    fn emit_body(&mut self, t: u64) {
        let i = self.pick_instrument().min(self.instruments.len() - 1);
        let (trk, ts) = self.stamp(t);
        let live = self.instruments[i].orders.len();
        let halted = self.instruments[i].halted;
        // Weights per 1000: keep each book between a few dozen and a few hundred orders.
        let roll = self.rng.below(1000);
        let add_share = if live < 16 {
            900
        } else if live > 400 {
            300
        } else {
            470
        };
        if roll < add_share || live == 0 {
            return self.add(i, trk, ts);
        }
        let r = self.rng.below(1000);
        match r {
            0..=699 => self.delete(i, trk, ts),
            700..=829 => self.replace(i, trk, ts),
            830..=889 => self.cancel(i, trk, ts),
            890..=979 if !halted => self.execute(i, trk, ts),
            980..=984 => {
                // Retail price improvement interest (`N`), informational.
                let flag = [b'B', b'S', b'A', b'N'][self.rng.below(4) as usize];
                let ins = &self.instruments[i];
                self.push(&Rpii::new(ins.locate, trk, ts, ins.symbol, flag));
            }
            985..=998 if !halted => self.hidden_trade(i, trk, ts),
            // About one broken trade in 100,000 events, naming this instrument's last match.
            999 if !halted && self.rng.chance(1, 50) => match self.instruments[i].last_match {
                Some(mt) => {
                    self.instruments[i].last_match = None;
                    self.push(&BrokenTrade::new(self.instruments[i].locate, trk, ts, mt));
                }
                None => self.delete(i, trk, ts),
            },
            _ => self.delete(i, trk, ts),
        }
    }

    fn add(&mut self, i: usize, trk: u16, ts: u64) {
        let buy = self.rng.chance(1, 2);
        let depth = self.rng.geometric(3, 10, 40) as i64;
        let shares = self.lot();
        let order_ref = self.next_ref;
        self.next_ref += 4;
        let priority = self.next_priority;
        self.next_priority += 1;
        let ins = &mut self.instruments[i];
        let price_ticks = if buy {
            (ins.boundary - depth).max(1)
        } else {
            ins.boundary + 1 + depth
        };
        ins.orders.push(LiveOrder {
            order_ref,
            priority,
            buy,
            price_ticks,
            shares,
        });
        let side = if buy { b'B' } else { b'S' };
        let (locate, symbol, px) = (ins.locate, ins.symbol, Instrument::px(price_ticks));
        // One add in fifty is attributed to a market participant (type `F`).
        if self.rng.chance(1, 50) {
            let mpid = MARKET_MAKERS[self.rng.below(4) as usize];
            let m = AddOrderMpid::new(locate, trk, ts, order_ref, side, shares, symbol, px, mpid);
            self.push(&m);
        } else {
            let m = AddOrder::new(locate, trk, ts, order_ref, side, shares, symbol, px);
            self.push(&m);
        }
    }

    fn lot(&mut self) -> u32 {
        match self.rng.below(10) {
            0..=5 => 100,
            6..=7 => (self.rng.range_inclusive(2, 10) * 100) as u32,
            8 => self.rng.range_inclusive(1, 99) as u32,
            _ => (self.rng.range_inclusive(1, 50) * 100 + self.rng.below(100)) as u32,
        }
    }

    /// Index of the order a cancel, delete or replace acts on. Orders are kept in the order
    /// they were added (a replace re-adds), and the target's place from the end of that list
    /// of live orders follows the distribution of ages measured on NASDAQ's AAPL sample
    /// (2020-01-30, the age counted in adds of the instrument): 31% the last, 46% within 2,
    /// 61% within 4, 74% within 8, 83% within 16, 89% within 32, 93% within 64, 95.5% within
    /// 128, the rest older. Since deletes and executions keep taking orders out of the list,
    /// a place is older in adds than the same age: measured in adds, the generated targets are
    /// 25% the last add, 38% within 2, 50% within 4, 61% within 8, 71% within 16, 79% within
    /// 32, 85% within 64 and 89% within 128 (median the fourth most recent add, where the
    /// sample's is the second or third; `feeds/tests/synth_session.rs` pins these figures).
    /// Most orders still die young, as on a real feed; uniform choice would make every book
    /// access a cache miss. Drawing the age in adds instead would change every generated
    /// session, and with it the goldens and digests, for a distribution a little younger.
    fn recent_order(&mut self, i: usize) -> usize {
        /// Cumulative per-mille of ages up to 1, 2, 4, ..., 128.
        const CDF: [u64; 8] = [310, 465, 615, 740, 835, 895, 935, 955];
        let n = self.instruments[i].orders.len() as u64;
        let x = self.rng.below(1000);
        let (lo, hi) = match CDF.iter().position(|&c| x < c) {
            Some(0) => (1, 1),
            Some(k) => ((1u64 << (k - 1)) + 1, 1u64 << k),
            None => (129, n.max(129)),
        };
        let age = self.rng.range_inclusive(lo, hi).min(n).max(1);
        (n - age) as usize
    }

    fn delete(&mut self, i: usize, trk: u16, ts: u64) {
        let j = self.recent_order(i);
        let ins = &mut self.instruments[i];
        let o = ins.orders.remove(j);
        let m = OrderDelete::new(ins.locate, trk, ts, o.order_ref);
        self.push(&m);
    }

    fn cancel(&mut self, i: usize, trk: u16, ts: u64) {
        let j = self.recent_order(i);
        let shares = self.instruments[i].orders[j].shares;
        if shares < 2 {
            return self.delete(i, trk, ts);
        }
        let cancelled = self.rng.range_inclusive(1, u64::from(shares) - 1) as u32;
        let ins = &mut self.instruments[i];
        ins.orders[j].shares -= cancelled;
        let m = OrderCancel::new(ins.locate, trk, ts, ins.orders[j].order_ref, cancelled);
        self.push(&m);
    }

    fn replace(&mut self, i: usize, trk: u16, ts: u64) {
        let j = self.recent_order(i);
        let step = self.rng.range_inclusive(0, 4) as i64 - 2;
        let shares = self.lot();
        let new_ref = self.next_ref;
        self.next_ref += 4;
        let priority = self.next_priority;
        self.next_priority += 1;
        let ins = &mut self.instruments[i];
        let old = ins.orders[j];
        // Stay on the order's own side of the boundary: never cross the book.
        let price_ticks = if old.buy {
            (old.price_ticks + step).clamp(1, ins.boundary)
        } else {
            (old.price_ticks + step).max(ins.boundary + 1)
        };
        // The new order is the newest: it moves to the end (its age restarts).
        ins.orders.remove(j);
        ins.orders.push(LiveOrder {
            order_ref: new_ref,
            priority,
            buy: old.buy,
            price_ticks,
            shares,
        });
        let m = OrderReplace::new(
            ins.locate,
            trk,
            ts,
            old.order_ref,
            new_ref,
            shares,
            Instrument::px(price_ticks),
        );
        self.push(&m);
    }

    /// Executes against the oldest order at the best price of a random side; when that empties
    /// the touch, the boundary moves one tick toward it (the price moved).
    fn execute(&mut self, i: usize, trk: u16, ts: u64) {
        let buy_side = self.rng.chance(1, 2);
        let side_has = self.instruments[i].best(buy_side).is_some();
        let buy_side = if side_has { buy_side } else { !buy_side };
        let Some(j) = self.instruments[i].best(buy_side) else {
            return self.add(i, trk, ts);
        };
        let mt = self.next_match;
        self.next_match += 1;
        let o = self.instruments[i].orders[j];
        let take = if self.rng.chance(2, 3) {
            o.shares
        } else {
            (self.rng.range_inclusive(1, u64::from(o.shares))) as u32
        };
        let with_price = self.rng.chance(1, 20);
        let printable = if self.rng.chance(9, 10) { b'Y' } else { b'N' };
        let ins = &mut self.instruments[i];
        ins.last_match = Some(mt);
        if take == o.shares {
            ins.orders.remove(j);
        } else {
            ins.orders[j].shares -= take;
        }
        let m_locate = ins.locate;
        if !ins.has_level(buy_side, o.price_ticks) {
            if buy_side && o.price_ticks == ins.boundary && ins.boundary > 2 {
                ins.boundary -= 1;
            } else if !buy_side
                && o.price_ticks == ins.boundary + 1
                && !ins.has_level(false, ins.boundary + 1)
            {
                ins.boundary += 1;
            }
        }
        if with_price {
            // A third of the executions with a price print away from the resting price (as in a
            // cross: one tick better for the resting order); the order keeps its resting price.
            let print_ticks = match (self.rng.chance(1, 3), buy_side) {
                (false, _) => o.price_ticks,
                (true, true) => (o.price_ticks - 1).max(1),
                (true, false) => o.price_ticks + 1,
            };
            let m = OrderExecutedWithPrice::new(
                m_locate,
                trk,
                ts,
                o.order_ref,
                take,
                mt,
                printable,
                Instrument::px(print_ticks),
            );
            self.push(&m);
        } else {
            self.push(&OrderExecuted::new(
                m_locate,
                trk,
                ts,
                o.order_ref,
                take,
                mt,
            ));
        }
    }

    fn hidden_trade(&mut self, i: usize, trk: u16, ts: u64) {
        let buy = self.rng.chance(1, 2);
        let shares = self.lot();
        let mt = self.next_match;
        self.next_match += 1;
        self.instruments[i].last_match = Some(mt);
        let ins = &self.instruments[i];
        let px = if buy { ins.boundary } else { ins.boundary + 1 };
        let side = if buy { b'B' } else { b'S' };
        let m = NonCrossTrade::new(
            ins.locate,
            trk,
            ts,
            0,
            side,
            shares,
            ins.symbol,
            Instrument::px(px),
            mt,
        );
        self.push(&m);
    }
}

/// Symbols: well-known tickers first, then deterministic four-letter names.
fn symbol_for(i: usize) -> [u8; 8] {
    const KNOWN: [&str; 16] = [
        "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "AVGO", "COST", "NFLX", "AMD",
        "PEP", "ADBE", "CSCO", "INTC", "QCOM",
    ];
    let mut s = [b' '; 8];
    if let Some(k) = KNOWN.get(i) {
        s[..k.len()].copy_from_slice(k.as_bytes());
    } else {
        let mut n = i - KNOWN.len();
        s[0] = b'Z';
        for c in s[1..5].iter_mut().rev() {
            *c = b'A' + (n % 26) as u8;
            n /= 26;
        }
    }
    s
}

/// A whole session as a NASDAQ binary-file image in memory (u16 big-endian length + message),
/// for benchmarks and the in-memory demo.
pub fn generate_framed(cfg: SynthConfig) -> Result<Vec<u8>, SynthError> {
    let mut gen = SessionGenerator::new(cfg)?;
    // 31 bytes per framed message on average; reserve a little more. Reserved fallibly: a
    // session too large for memory is an error, not an abort of the process.
    let bytes = cfg.messages.saturating_mul(34);
    let mut buf = Vec::new();
    usize::try_from(bytes)
        .ok()
        .and_then(|n| buf.try_reserve_exact(n).ok())
        .ok_or(SynthError::OutOfMemory {
            messages: cfg.messages,
            bytes,
        })?;
    while let Some(m) = gen.next_message() {
        // Every ITCH message is at most 50 bytes, so the length always fits.
        buf.extend_from_slice(&(m.len() as u16).to_be_bytes());
        buf.extend_from_slice(m);
    }
    Ok(buf)
}
