//! Typed errors of the capture format: [`CaptureError`] for whatever a call can fail with, and
//! [`Corruption`] for why a block was rejected (kept in [`crate::RecoveryReport`]).

use std::io;

/// Why a block (or the bytes where a block should be) was rejected.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum Corruption {
    /// The file ends before the block does (a torn write).
    #[error("short block: needs {needed} bytes, {available} remain")]
    Short {
        /// Bytes the block (header, or header and payload) needs from its offset.
        needed: u64,
        /// Bytes left in the block region from its offset.
        available: u64,
    },
    /// The bytes do not start with the block magic.
    #[error("bad block magic")]
    BadMagic,
    /// The block header's CRC32C does not match.
    #[error("block header CRC32C mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    HeaderCrc {
        /// CRC in the header.
        stored: u32,
        /// CRC of the header bytes.
        computed: u32,
    },
    /// A header field is out of range (with a valid CRC: written by an incompatible writer).
    #[error("invalid block header: {reason}")]
    BadHeader {
        /// What is wrong.
        reason: &'static str,
    },
    /// The stored payload's CRC32C does not match.
    #[error("block payload CRC32C mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    PayloadCrc {
        /// CRC in the header.
        stored: u32,
        /// CRC of the payload bytes.
        computed: u32,
    },
    /// The payload could not be decompressed to its announced length.
    #[error("block payload does not decompress: {reason}")]
    Decompress {
        /// The decompressor's message.
        reason: String,
    },
    /// The bytes where a block was expected are the start of an index trailer that is not
    /// complete: [`crate::CaptureWriter::finish`] was interrupted. Every block was read.
    #[error("incomplete index trailer (the writer was interrupted while finishing)")]
    IncompleteTrailer,
    /// The index trailer is complete and its checksum good, but the 32-byte footer after it
    /// (which points at it) is damaged: the file was finished, then its last bytes were hit.
    /// Every block was read.
    #[error("damaged footer (the index trailer before it is complete; every block was read)")]
    DamagedFooter,
    /// The payload does not hold the announced records.
    #[error("malformed records in block: {reason}")]
    BadRecords {
        /// What is wrong.
        reason: &'static str,
    },
}

/// Anything a capture call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Reading or writing the underlying file failed.
    #[error("I/O error at offset {offset}: {source}")]
    Io {
        /// File offset of the operation.
        offset: u64,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The file does not start with the capture magic.
    #[error("not a ticklane capture (magic {found:02x?})")]
    BadMagic {
        /// The first 8 bytes.
        found: [u8; 8],
    },
    /// The file is a capture of a format version this crate does not read.
    #[error("unsupported capture format version {version}")]
    UnsupportedVersion {
        /// The version in the file.
        version: u16,
    },
    /// The file header is cut short, fails its CRC or holds invalid values.
    #[error("invalid capture header: {reason}")]
    BadHeader {
        /// What is wrong.
        reason: &'static str,
    },
    /// A header string is longer than the format allows.
    #[error("header {field} is {len} bytes long (at most {max})")]
    HeaderFieldTooLong {
        /// `session` or `creator`.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// A block in the middle of the file was rejected; reading resumed at the next valid block.
    #[error(
        "corrupt block at offset {offset}: {reason}; skipped {skipped_bytes} bytes, resumed at offset {resumed_at}"
    )]
    CorruptBlock {
        /// Offset of the rejected block (or of the bytes where a block was expected).
        offset: u64,
        /// Why it was rejected.
        reason: Corruption,
        /// Offset of the next valid block header.
        resumed_at: u64,
        /// Bytes skipped (`resumed_at - offset`).
        skipped_bytes: u64,
    },
    /// Blocks are missing by their sequence numbers with no corrupt bytes where they were (cut
    /// out of the file cleanly): the valid block at `offset` is number `found` where `expected`
    /// came next. Their records are not in the file; reading goes on with that block.
    #[error(
        "blocks {expected} to {last} missing before the block at offset {offset} (cut out of the file: their records are not in it)",
        last = found.saturating_sub(1)
    )]
    MissingBlocks {
        /// Offset of the block that revealed the cut.
        offset: u64,
        /// The block number that should have come next.
        expected: u64,
        /// The number of the block at `offset`.
        found: u64,
    },
    /// The valid block at `offset` is number `found`, where `expected` (a larger number) came
    /// next: repeated or moved, so the file was spliced or edited. Its records are read
    /// (what they repeat is the consumer's to count); reading goes on.
    #[error(
        "block at offset {offset} is number {found} where {expected} came next (repeated or moved: the file was spliced or edited); its records are read"
    )]
    BlockOutOfOrder {
        /// Offset of the block.
        offset: u64,
        /// The block number that should have come next.
        expected: u64,
        /// The number of the block at `offset`.
        found: u64,
    },
    /// The file ends with a torn or corrupted tail: no valid block follows `offset`. Everything
    /// before it has been read.
    #[error("torn or corrupted tail at offset {offset}: {reason}")]
    TruncatedTail {
        /// Offset where the tail starts.
        offset: u64,
        /// Why the first tail block was rejected.
        reason: Corruption,
    },
    /// A record longer than [`crate::format::MAX_RECORD_LEN`].
    #[error("record of {len} bytes exceeds the maximum of {max}")]
    RecordTooLarge {
        /// Its length.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// Writer options out of range.
    #[error("invalid writer options: {reason}")]
    InvalidOptions {
        /// What is wrong.
        reason: &'static str,
    },
    /// zstd failed to compress a block.
    #[error("zstd compression failed: {source}")]
    Compress {
        /// The error.
        #[source]
        source: io::Error,
    },
    /// An earlier write failed, leaving the output in an unknown state; the writer refuses
    /// further writes.
    #[error("capture writer is unusable after an earlier write error")]
    Poisoned,
}
