//! [`FrameBatch`]: decode and normalize a run of framed messages (u16 big-endian length, then
//! the message: NASDAQ's binary files and the message blocks of a MoldUDP64 packet) *grouped by
//! type*, with the results handed out in stream order.
//!
//! # Why group
//!
//! Decoding one message at a time ([`decode_normalize_into`]) branches on the type byte of
//! every message. In a real feed adds, deletes, executions and replaces interleave with no
//! pattern a branch predictor can learn, so a good part of every message's time is the
//! mispredicted type switch (`BENCHMARKS.md`, "Decode"). A batch splits the work in three
//! passes, each with predictable branches:
//!
//! 1. **Frame**: walk the length prefixes of up to [`BATCH`] messages and append each body's
//!    position to the list of its type class (`A`, `D`, `E`, `X`, `U`, or any other), through
//!    a 256-entry table that also gives the class's wire length: a body of a fast type with
//!    another length joins "any other". No branch on the type.
//! 2. **Decode**: for each class, one tight loop over its list that takes the zero-copy view
//!    (its size is the class's, so the conversion is checked at compile time and cannot
//!    fail) and writes the normalized event into the message's own slot of the batch. Every
//!    other type, and every message that fails a check (an add whose side is neither `B` nor
//!    `S`), joins the list of the general path ([`decode`](super::decode::decode) then
//!    [`normalize_into`]), which runs last, so the class loops make no call and results are
//!    exactly those of [`decode_normalize_into`] (a property test checks this message by
//!    message, valid and corrupted).
//! 3. **Hand out**: [`FrameBatch::results`] yields every message's result, and its event,
//!    in the order of the stream.
//!
//! Nothing is reordered in what a caller sees; only the order in which the decoder touches the
//! messages changes. No allocation after [`FrameBatch::new`].

use ticklane_core::{EventBody, InstrumentId, MarketEvent, MatchId, Side, Timestamp};

use super::normalize::{
    add_body_on, cancel_body, delete_body, executed_body, general_path, replace_body, side,
};
use super::wire::{
    AddOrder, AddOrderMpid, ItchMessage, OrderCancel, OrderDelete, OrderExecuted, OrderReplace,
};
use super::DecodeOrNormalizeError;

/// Messages per batch: enough that each class's loop runs long enough to be predicted, small
/// enough that the batch's events (64 bytes each) stay in L1.
pub const BATCH: usize = 128;
/// Bits per class cursor in the packed cursors of [`FrameBatch::fill`].
const CURSOR_BITS: u32 = 10;
/// Rows of `FrameBatch::places`: the classes, rounded up to a power of two.
const CLASS_ROWS: usize = CLASSES.next_power_of_two();
/// Entries of `FrameBatch::places`: one row of [`BATCH`] per class.
const PLACES: usize = CLASS_ROWS * BATCH;
const _: () = assert!(
    PLACES <= 1 << CURSOR_BITS && CLASSES as u32 * CURSOR_BITS <= 64,
    "every class's cursor (an index into `places`, up to the end of its row) fits its field"
);
// Indices are masked with `BATCH - 1` or `PLACES - 1` (identities on every value they can
// hold), which lets the compiler drop the bounds checks on the hot loops.
const _: () = assert!(BATCH.is_power_of_two() && PLACES.is_power_of_two());

const ADD: usize = 0;
const DELETE: usize = 1;
const EXECUTED: usize = 2;
const CANCEL: usize = 3;
const REPLACE: usize = 4;
const OTHER: usize = 5;
const CLASSES: usize = 6;

const FAST: u8 = 1;
const GENERAL: u8 = 0;

/// The shift of class `c`'s cursor in the packed cursors.
const fn cursor_shift(c: usize) -> u32 {
    CURSOR_BITS * c as u32
}

/// Type byte → the shift of its class's cursor (low byte) and the wire length a message of
/// that class must have (high bits): a frame of a fast class whose length differs goes to the
/// general path in pass 1, so that the class loops decode a view of known size with no check
/// left to fail. `OTHER` has no length (any length is other).
static CLASS: [u32; 256] = {
    const NONE: u32 = (u16::MAX as u32 + 1) << 8;
    let mut t = [cursor_shift(OTHER) | NONE; 256];
    t[b'A' as usize] = cursor_shift(ADD) | (AddOrder::LEN as u32) << 8;
    // `F` is an `A` with four more bytes (the attribution): the same loop decodes it.
    t[b'F' as usize] = cursor_shift(ADD) | (AddOrderMpid::LEN as u32) << 8;
    t[b'D' as usize] = cursor_shift(DELETE) | (OrderDelete::LEN as u32) << 8;
    t[b'E' as usize] = cursor_shift(EXECUTED) | (OrderExecuted::LEN as u32) << 8;
    t[b'X' as usize] = cursor_shift(CANCEL) | (OrderCancel::LEN as u32) << 8;
    t[b'U' as usize] = cursor_shift(REPLACE) | (OrderReplace::LEN as u32) << 8;
    t
};

/// A body's place: its start relative to the batch's first byte (< 2^24: at most [`BATCH`]
/// frames of at most 65,537 bytes) and its index in the batch, in one `u32`. Its length is
/// the class's (fast classes) or is read back from the prefix before it (`OTHER`).
#[derive(Clone, Copy, Default)]
struct Place(u32);

const INDEX_BITS: u32 = BATCH.trailing_zeros();
const _: () = assert!(BATCH * (u16::MAX as usize + 3) < 1 << (32 - INDEX_BITS));

impl Place {
    #[inline(always)]
    fn new(start: usize, index: usize) -> Self {
        Self(((start as u32) << INDEX_BITS) | index as u32)
    }
    #[inline(always)]
    fn start(self) -> usize {
        (self.0 >> INDEX_BITS) as usize
    }
    #[inline(always)]
    fn index(self) -> usize {
        // `index < BATCH` by construction; the mask only tells the compiler so.
        (self.0 as usize) & (BATCH - 1)
    }
}

/// The `N` bytes at `start` of the batch: a body whose length pass 1 checked, so this is
/// always `Some` (`None` would send the message to the general path, not panic).
#[inline(always)]
fn wire_bytes<const N: usize>(batch: &[u8], start: usize) -> Option<&[u8; N]> {
    batch.get(start..start + N)?.try_into().ok()
}

/// The body at `start` of the batch, its length read back from the prefix before it (pass 1
/// framed it, so the prefix is there).
#[inline]
fn body_at(batch: &[u8], start: usize) -> &[u8] {
    let len = match batch.get(start.wrapping_sub(2)..start) {
        Some(&[hi, lo]) => usize::from(u16::from_be_bytes([hi, lo])),
        _ => 0,
    };
    batch.get(start..start + len).unwrap_or(&[])
}

/// The attribution of an add: bytes 36..40 of an `F` (whose wire length pass 1 checked),
/// none for an `A`. (`F` is about one message in a hundred: a branch rarely taken.)
#[inline(always)]
fn attribution(batch: &[u8], start: usize, ty: u8) -> [u8; 4] {
    const _: () = assert!(AddOrder::LEN + 4 == AddOrderMpid::LEN);
    if ty == b'F' {
        if let Some(&mpid) = batch
            .get(start + AddOrder::LEN..)
            .and_then(<[u8]>::first_chunk::<4>)
        {
            return mpid;
        }
    }
    [0; 4]
}

/// How a [`FrameBatch::fill`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Filled {
    /// Messages in the batch (0 at the end of the buffer).
    pub messages: usize,
    /// Position in the buffer after the last whole frame taken.
    pub next: usize,
    /// The frame at `next` is cut short (its length runs past the end of the buffer): framing
    /// is lost there.
    pub cut_short: bool,
}

/// Reusable state of the batch decoder (about 17 KB: keep one per thread, boxed).
pub struct FrameBatch {
    events: [MarketEvent; BATCH],
    /// Per message: [`FAST`] (an event written by a class loop) or [`GENERAL`] (its result is
    /// in `results`). A byte, not a full `Result`: the class loops store one byte per message
    /// (a 32-byte `Result` built on the stack and copied stalled store forwarding).
    status: [u8; BATCH],
    results: [Result<bool, DecodeOrNormalizeError>; BATCH],
    /// Class `c`'s bodies, in stream order, from `places[c * BATCH]`.
    places: [Place; PLACES],
    /// An add's side byte → its side, `None` for neither `B` nor `S` (the general path
    /// reports it). A table in the batch, not a `static`: the compiler turns a constant table
    /// into compares and a branch on `B` or `S`, which come in no pattern.
    sides: [Option<Side>; 256],
    len: usize,
}

impl std::fmt::Debug for FrameBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameBatch")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl FrameBatch {
    /// An empty batch, on the heap.
    pub fn new() -> Box<Self> {
        let blank = MarketEvent::new(
            Timestamp(0),
            InstrumentId::NONE,
            EventBody::BrokenTrade {
                match_id: MatchId(0),
            },
        );
        Box::new(Self {
            events: [blank; BATCH],
            status: [GENERAL; BATCH],
            results: [Ok(false); BATCH],
            places: [Place::default(); PLACES],
            sides: core::array::from_fn(|v| side(b'A', v as u8).ok()),
            len: 0,
        })
    }

    /// Decodes up to [`BATCH`] framed messages from `buf[pos..]` (see the module docs).
    pub fn fill(&mut self, buf: &[u8], pos: usize) -> Filled {
        // A start past the end (a caller's slip) is the end: nothing to frame, no panic.
        let pos = pos.min(buf.len());
        let base = pos;
        let mut pos = pos;
        // Per-class cursors packed `CURSOR_BITS` each into one register, each the index in
        // `places` where its class's next body goes (it starts at the class's row): an array
        // of counters in memory chains every message to the previous one of its class
        // through store-to-load forwarding, and a cursor (not a count) saves computing the
        // row's address per message.
        let first: [u64; CLASSES] = core::array::from_fn(|c| (c * BATCH) as u64);
        let mut packed = first
            .iter()
            .enumerate()
            .fold(0u64, |p, (c, &at)| p | at << cursor_shift(c));
        let mut n = 0;
        let mut cut_short = false;
        // Pass 1: frame and sort by class.
        let mut record = |ty: u8, len: usize, start: usize, n: usize| {
            let entry = CLASS[usize::from(ty)];
            // A fast type with a wrong length takes the general path (which reports it).
            let shift = if entry >> 8 == len as u32 {
                entry & 0xff
            } else {
                cursor_shift(OTHER)
            };
            // The class's cursor (< PLACES, so the mask keeps it whole and drops the next
            // field).
            let at = ((packed >> shift) as usize) & (PLACES - 1);
            self.places[at] = Place::new(start - base, n);
            packed += 1 << shift;
        };
        'walk: while n < BATCH {
            // The walk is a chain (each frame's position comes from the previous frame's
            // length), so its latency bounds pass 1. Every ITCH message is shorter than 256
            // bytes: the high byte of its length is 0 and the length is the low byte, one byte
            // load and one add on the chain instead of a 16-bit load, a byte swap and a
            // widening. A longer frame leaves this loop (a branch predicted not taken).
            while n < BATCH {
                let Some(&[0, lo]) = buf.get(pos..pos + 2) else {
                    break;
                };
                let len = usize::from(lo);
                let start = pos + 2;
                let Some(body) = buf.get(start..start + len) else {
                    cut_short = true;
                    break 'walk;
                };
                record(body.first().copied().unwrap_or(0), len, start, n);
                n += 1;
                pos = start + len;
            }
            // A frame of 256 bytes or more, the end of the buffer, or the batch is full.
            let Some(&[hi, lo]) = buf.get(pos..pos + 2).filter(|_| n < BATCH) else {
                // The end, or a lone byte where a prefix should be (the caller sees
                // `next < buf.len()` and counts it).
                break;
            };
            let len = usize::from(u16::from_be_bytes([hi, lo]));
            let start = pos + 2;
            let Some(body) = buf.get(start..start + len) else {
                cut_short = true;
                break;
            };
            record(body.first().copied().unwrap_or(0), len, start, n);
            n += 1;
            pos = start + len;
        }
        self.len = n;
        // Class `c`'s bodies are `places[rows[c]]`.
        let rows: [core::ops::Range<usize>; CLASSES] = core::array::from_fn(|c| {
            let end = (packed >> cursor_shift(c)) & ((1 << CURSOR_BITS) - 1);
            first[c] as usize..end as usize
        });
        // Pass 2: one loop per class. A message a class loop cannot decode (a side byte
        // that is neither `B` nor `S`) joins the end of the general path's list, which runs
        // last: no call in the class loops, whose registers then all stay live.
        let batch = &buf[base..pos];
        let mut general = rows[OTHER].clone();
        // The body is written straight into the event's slot: building it in a temporary and
        // copying it stalls store-to-load forwarding (written field by field, read back whole).
        macro_rules! class_loop {
            ($class:expr, $wire:ty, |$m:ident, $at:ident, $x:pat_param| $check:expr, $body:expr) => {
                for j in rows[$class].clone() {
                    let p = self.places[j & (PLACES - 1)];
                    let i = p.index();
                    let $at = p.start();
                    // Pass 1 checked the length: the view has a size known here, so the
                    // conversion cannot fail (checked at compile time).
                    let Some(bytes) = wire_bytes::<{ <$wire>::LEN }>(batch, $at) else {
                        self.places[general.end & (PLACES - 1)] = p;
                        general.end += 1;
                        continue;
                    };
                    let $m: &$wire = zerocopy::transmute_ref!(bytes);
                    // Locate 0 (an error: it is reserved for market-wide messages) goes to
                    // the general path, which reports it.
                    let Some($x) = $check.filter(|_| $m.stock_locate.get() != 0) else {
                        self.places[general.end & (PLACES - 1)] = p;
                        general.end += 1;
                        continue;
                    };
                    let out = &mut self.events[i];
                    out.ts = Timestamp($m.nanos());
                    out.instrument = InstrumentId(u32::from($m.stock_locate.get()));
                    out.body = $body;
                    self.status[i] = FAST;
                }
            };
            // A type with nothing to check beyond its length.
            ($class:expr, $wire:ty, |$m:ident| $body:expr) => {
                class_loop!($class, $wire, |$m, _at, ()| Some(()), $body)
            };
        }
        let sides = &self.sides;
        // `A` and `F` (an `A` with the entering firm's attribution after it) share this loop.
        class_loop!(
            ADD,
            AddOrder,
            |m, at, s| sides[usize::from(m.buy_sell)],
            add_body_on(m, s, attribution(batch, at, m.msg_type))
        );
        class_loop!(DELETE, OrderDelete, |m| delete_body(m));
        class_loop!(EXECUTED, OrderExecuted, |m| executed_body(m));
        class_loop!(CANCEL, OrderCancel, |m| cancel_body(m));
        class_loop!(REPLACE, OrderReplace, |m| replace_body(m));
        // Every other type, and the messages the class loops sent here (at most one entry
        // per message of the batch: the list stays inside its row).
        for j in general {
            let p = self.places[j & (PLACES - 1)];
            let i = p.index();
            self.status[i] = GENERAL;
            self.results[i] = general_path(body_at(batch, p.start()), &mut self.events[i]);
        }
        Filled {
            messages: n,
            next: pos,
            cut_short,
        }
    }

    /// Messages in the batch.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when the last fill took no message.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every message's result, in stream order, with its event (meaningful when the result is
    /// `Ok(true)`): exactly what [`decode_normalize_into`](super::decode_normalize_into) gives
    /// for that message.
    #[inline]
    pub fn results(
        &self,
    ) -> impl Iterator<Item = (Result<bool, DecodeOrNormalizeError>, &MarketEvent)> {
        self.status[..self.len]
            .iter()
            .zip(&self.results[..self.len])
            .zip(&self.events[..self.len])
            .map(|((&status, result), ev)| {
                if status == FAST {
                    (Ok(true), ev)
                } else {
                    (*result, ev)
                }
            })
    }
}
