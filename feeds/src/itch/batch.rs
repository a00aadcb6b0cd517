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
//!    other type, and every message that fails a check, takes the general path
//!    ([`decode`](super::decode::decode) then [`normalize_into`]), so results and errors are
//!    exactly those of [`decode_normalize_into`] (a property test checks this message by
//!    message, valid and corrupted).
//! 3. **Hand out**: [`FrameBatch::results`] yields every message's result, and its event,
//!    in the order of the stream.
//!
//! Nothing is reordered in what a caller sees; only the order in which the decoder touches the
//! messages changes. No allocation after [`FrameBatch::new`].

use ticklane_core::{EventBody, InstrumentId, MarketEvent, MatchId, Timestamp};

use super::normalize::{
    add_body_on, cancel_body, delete_body, executed_body, general_path, replace_body, side,
};
use super::wire::{AddOrder, ItchMessage, OrderCancel, OrderDelete, OrderExecuted, OrderReplace};
use super::DecodeOrNormalizeError;

/// Messages per batch: enough that each class's loop runs long enough to be predicted, small
/// enough that the batch's events (64 bytes each) stay in L1.
pub const BATCH: usize = 128;
/// Bits per class count in the packed counter of [`FrameBatch::fill`].
const COUNT_BITS: u32 = 10;
const _: () = assert!(
    BATCH < 1 << COUNT_BITS && CLASSES as u32 * COUNT_BITS <= 64,
    "per-class counts are packed in a u64"
);
// Indices are masked with `BATCH - 1` and classes with `CLASS_ROWS - 1` (identities on every
// value they can hold), which lets the compiler drop the bounds checks on the hot loops.
const _: () = assert!(BATCH.is_power_of_two());
/// Rows of `FrameBatch::places`: the classes, rounded up to a power of two.
const CLASS_ROWS: usize = CLASSES.next_power_of_two();

const ADD: usize = 0;
const DELETE: usize = 1;
const EXECUTED: usize = 2;
const CANCEL: usize = 3;
const REPLACE: usize = 4;
const OTHER: usize = 5;
const CLASSES: usize = 6;

const FAST: u8 = 1;
const GENERAL: u8 = 0;

/// Type byte → class (low byte) and the wire length a message of that class must have
/// (high bits): a frame of a fast class whose length differs goes to the general path in pass
/// 1, so that the class loops decode a view of known size with no check left to fail.
/// `OTHER` has no length (any length is other).
static CLASS: [u32; 256] = {
    const NONE: u32 = (u16::MAX as u32 + 1) << 8;
    let mut t = [OTHER as u32 | NONE; 256];
    t[b'A' as usize] = ADD as u32 | (AddOrder::LEN as u32) << 8;
    t[b'D' as usize] = DELETE as u32 | (OrderDelete::LEN as u32) << 8;
    t[b'E' as usize] = EXECUTED as u32 | (OrderExecuted::LEN as u32) << 8;
    t[b'X' as usize] = CANCEL as u32 | (OrderCancel::LEN as u32) << 8;
    t[b'U' as usize] = REPLACE as u32 | (OrderReplace::LEN as u32) << 8;
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
    places: [[Place; BATCH]; CLASS_ROWS],
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
            places: [[Place::default(); BATCH]; CLASS_ROWS],
            len: 0,
        })
    }

    /// Decodes up to [`BATCH`] framed messages from `buf[pos..]` (see the module docs).
    pub fn fill(&mut self, buf: &[u8], pos: usize) -> Filled {
        let base = pos;
        let mut pos = pos;
        // Per-class counts packed `COUNT_BITS` each into one register: an array of
        // counters in memory chains every message to the previous one of its class through
        // store-to-load forwarding.
        let mut packed = 0u64;
        let mut n = 0;
        let mut cut_short = false;
        // Pass 1: frame and sort by class.
        while n < BATCH {
            let Some(prefix) = buf.get(pos..pos + 2) else {
                // The end, or a lone byte where a prefix should be (the caller sees
                // `next < buf.len()` and counts it).
                break;
            };
            let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
            let start = pos + 2;
            let Some(body) = buf.get(start..start + len) else {
                cut_short = true;
                break;
            };
            let entry = CLASS[usize::from(body.first().copied().unwrap_or(0))];
            // A fast type with a wrong length takes the general path (which reports it).
            let class = if entry >> 8 == len as u32 {
                (entry & 0xff) as usize
            } else {
                OTHER
            };
            let shift = COUNT_BITS * class as u32;
            // The class's count (< BATCH, so the mask keeps it whole and drops the next field).
            let k = ((packed >> shift) as usize) & (BATCH - 1);
            self.places[class & (CLASS_ROWS - 1)][k] = Place::new(start - base, n);
            packed += 1 << shift;
            n += 1;
            pos = start + len;
        }
        self.len = n;
        let counts: [usize; CLASSES] = core::array::from_fn(|c| {
            ((packed >> (COUNT_BITS * c as u32)) & ((1 << COUNT_BITS) - 1)) as usize
        });
        // Pass 2: one loop per class.
        let batch = &buf[base..pos];
        // The body is written straight into the event's slot: building it in a temporary and
        // copying it stalls store-to-load forwarding (written field by field, read back whole).
        macro_rules! class_loop {
            ($class:expr, $wire:ty, |$m:ident| $body:expr) => {
                for &p in &self.places[$class][..counts[$class]] {
                    let start = p.start();
                    let i = p.index();
                    // Pass 1 checked the length: the view has a size known here, so the
                    // conversion cannot fail (checked at compile time).
                    let out = &mut self.events[i];
                    let Some(bytes) = wire_bytes::<{ <$wire>::LEN }>(batch, start) else {
                        self.status[i] = GENERAL;
                        self.results[i] = general_path(body_at(batch, start), out);
                        continue;
                    };
                    let $m: &$wire = zerocopy::transmute_ref!(bytes);
                    out.ts = Timestamp($m.nanos());
                    out.instrument = InstrumentId(u32::from($m.stock_locate.get()));
                    out.body = $body;
                    self.status[i] = FAST;
                }
            };
        }
        for &p in &self.places[ADD][..counts[ADD]] {
            let start = p.start();
            let i = p.index();
            let out = &mut self.events[i];
            if let Some(bytes) = wire_bytes::<{ AddOrder::LEN }>(batch, start) {
                let m: &AddOrder = zerocopy::transmute_ref!(bytes);
                if let Ok(s) = side(m.msg_type, m.buy_sell) {
                    out.ts = Timestamp(m.nanos());
                    out.instrument = InstrumentId(u32::from(m.stock_locate.get()));
                    out.body = add_body_on(m, s);
                    self.status[i] = FAST;
                    continue;
                }
            }
            self.status[i] = GENERAL;
            self.results[i] = general_path(body_at(batch, start), out);
        }
        class_loop!(DELETE, OrderDelete, |m| delete_body(m));
        class_loop!(EXECUTED, OrderExecuted, |m| executed_body(m));
        class_loop!(CANCEL, OrderCancel, |m| cancel_body(m));
        class_loop!(REPLACE, OrderReplace, |m| replace_body(m));
        for &p in &self.places[OTHER][..counts[OTHER]] {
            let start = p.start();
            let i = p.index();
            self.status[i] = GENERAL;
            self.results[i] = general_path(body_at(batch, start), &mut self.events[i]);
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
