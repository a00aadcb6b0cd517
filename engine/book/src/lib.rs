//! Order-by-order (L3) and price-level (L2/L1) order books for every instrument.
//!
//! * [`Market`] owns the books of all instruments, the instrument directory (symbol ↔ id) and
//!   trading states, and applies normalized [`ticklane_core::MarketEvent`]s
//!   ([`Market::apply`] → [`ApplyResult`], which says whether the top of book changed).
//! * [`OrderBook`] is a read-only view of one instrument's book: best levels, depth, levels
//!   and their orders in FIFO order, queue position ([`OrderBook::qty_ahead`]), spread, mid,
//!   microprice (integer arithmetic, documented rounding), crossed state.
//! * ITCH's start of messages (`S` `O`) on a market that has seen a day begins a new trading
//!   day: every book is emptied, with the directory, trading states and staleness
//!   ([`Market::new_days`], [`ApplyResult::new_day`]).
//! * Feed anomalies (unknown ids, duplicates, oversize executions/cancels, crossed books, ...)
//!   are counted by [`AnomalyKind`] in [`Anomalies`]; nothing panics and the book stays
//!   consistent ([`Market::check_invariants`]).
//!
//! # Data structures and memory
//!
//! * Orders and levels of every instrument live in two market-wide slabs (`Vec` + free list,
//!   `u32` indices); a level's orders form an intrusive doubly-linked FIFO list through the
//!   order slots. Steady-state processing allocates nothing, and the reserved slabs are
//!   written once when the market is built, so it takes no page faults either.
//! * Each side of a book is a `Vec<(key, level)>` sorted with the best price at the end, so the
//!   busy top of the book is found by a short scan from the end and inserting or removing a
//!   level there moves few bytes; the best entry is also kept beside it, in the book.
//! * Each side also keeps 64 **level hints**: a direct-mapped table from a hash of the price to
//!   the level slot last found or made for it. An add checks the hinted slot (live, at its
//!   price, of this book and side) and searches the ladder only when the hint does not name its
//!   level: on the generated sessions only the adds that open a new level do. Hints are never
//!   invalidated; a stale one fails the check.
//! * One market-wide [`OrderIndex`] maps order ids to slots: a direct-mapped window in which
//!   each recent id has exactly one place (NASDAQ's ids, which step by four, take consecutive
//!   places), and an open-addressing overflow table for the old orders that the window has moved
//!   past. A lookup is one load and one compare (the id is read from the order slot, which the
//!   event touches anyway); a removal empties the place.
//!
//! Bytes per live order: [`ORDER_SLOT_BYTES`] (40) in the slab, plus the index, which is sized
//! by the reserve, not by the live count: its window has eight 4-byte places per reserved
//! order, and its overflow table holds as many old orders as the reserve without growing (two
//! 4-byte entries per reserved order): 40 bytes per reserved order for a power-of-two reserve
//! (both round up to powers of two, so up to twice that otherwise), 2.5 MiB for the engine's
//! usual reserve of 65,536 orders, of which a session touches the window's recent part and the
//! overflowed entries. With the live set near the reserve that is **about 80 bytes per live
//! order**. Bytes per live level: [`LEVEL_SLOT_BYTES`] (32) in the slab plus a 16-byte ladder
//! entry: **48 bytes per level** (plus unused `Vec` capacity). Bytes per book: 512 of level
//! hints, 120 of other fields (the two ladders' headers among them) and the ladders' entries
//! (32 a side, 1 KiB, to start).
//! The slot sizes, the hints' size and the index's size for the usual reserve are pinned by
//! unit tests.
//!
//! # Example
//!
//! ```
//! use ticklane_book::Market;
//! use ticklane_core::*;
//!
//! let mut m = Market::with_capacity(1 << 16, 16);
//! let add = EventBody::OrderAdded {
//!     order_id: OrderId(1), side: Side::Bid, price: Price(1_000_000), qty: Qty(100), mpid: [0; 4],
//! };
//! let r = m.apply(&MarketEvent::new(Timestamp(1), InstrumentId(7), add));
//! assert!(r.bid_top_changed);
//! let book = m.book(InstrumentId(7)).expect("book exists");
//! assert_eq!(book.best_bid().map(|l| l.qty), Some(100));
//! ```

mod anomaly;
mod book;
mod index;
mod invariant;
mod market;
mod probed;
mod store;
#[cfg(test)]
mod test_keys;

pub use anomaly::{Anomalies, AnomalyKind, InstrumentAnomalies};
pub use book::{LevelOrders, LevelView, Levels, OrderBook, OrderView};
pub use index::OrderIndex;
pub use invariant::InvariantError;
pub use market::{ApplyResult, Market, StaleFeed};

/// Size in bytes of one order slot in the order slab.
pub const ORDER_SLOT_BYTES: usize = core::mem::size_of::<store::OrderSlot>();
/// Size in bytes of one level slot in the level slab.
pub const LEVEL_SLOT_BYTES: usize = core::mem::size_of::<store::LevelSlot>();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_sizes() {
        assert_eq!(ORDER_SLOT_BYTES, 40);
        assert_eq!(LEVEL_SLOT_BYTES, 32);
        assert_eq!(core::mem::size_of::<(i64, u32)>(), 16);
        assert_eq!(core::mem::size_of::<ApplyResult>(), 12);
        assert_eq!(core::mem::size_of::<[[u32; book::HINTS]; 2]>(), 512);
    }
}
