//! The ticklane capture format: raw feed packets exactly as received, each with its receive
//! timestamp (ns) and line (A/B), in checksummed, optionally zstd-compressed blocks with a time
//! index. The byte layout is specified in `replay/FORMAT.md`.
//!
//! - [`CaptureWriter`] writes captures (block buffering, flush policy, index trailer);
//! - [`CaptureReader`] reads them back in constant memory, detects torn or corrupted tails and
//!   corrupted blocks in the middle, resumes after them, and reports what it recovered in a
//!   [`RecoveryReport`]; it seeks by time through the index (rebuilt by a scan when the trailer
//!   is missing);
//! - [`convert`] turns pcap/pcapng captures and NASDAQ binary files into captures, and captures
//!   into pcap/pcapng.
//!
//! Nothing here panics on bad input or reads the clock: creation times are given by the caller.

pub mod convert;
pub mod error;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
pub mod reader;
pub mod writer;

pub use error::{CaptureError, Corruption};
pub use format::{CaptureHeader, Compression, FeedKind, IndexEntry, Line, FLAG_TS_SINCE_MIDNIGHT};
pub use reader::{BadBlock, CaptureReader, IndexState, OwnedRecord, Record, RecoveryReport};
pub use writer::{CaptureWriter, FlushPolicy, WriteSummary, WriterOptions, DEFAULT_BLOCK_BYTES};
