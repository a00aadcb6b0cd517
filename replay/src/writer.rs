//! [`CaptureWriter`]: appends records to a capture, block by block.
//!
//! Records are encoded into one reused block buffer; when it reaches
//! [`WriterOptions::block_bytes`] the block is written (compressed with zstd when asked and
//! when that makes it smaller). Nothing is allocated per record: the block buffer, the
//! compression buffer and the zstd context are reused for the life of the writer (the block
//! buffer only grows when a single record is larger than a block).
//!
//! **Durability.** A block is the unit of durability: [`CaptureWriter::flush`] writes the
//! current partial block and flushes the underlying writer (the bytes reach the OS, which
//! survives `kill -9` but not a power loss; for that, also call [`CaptureWriter::sync`] on a
//! file). [`FlushPolicy`] says when this happens without an explicit call. After a crash the
//! reader recovers every block written before it; the records still in the block buffer are
//! lost. [`CaptureWriter::finish`] writes the last block and the index trailer. Dropping a
//! writer without `finish` writes nothing more (as a crash would): the file is still readable,
//! with its index rebuilt by a scan.
//!
//! After any write error the writer is poisoned and every later call returns
//! [`CaptureError::Poisoned`].

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::CaptureError;
use crate::format::{
    encode_footer, encode_record, BlockHeader, CaptureHeader, Compression, IndexEntry, Line,
    INDEX_MAGIC, MAX_BLOCK_LEN, MAX_RECORD_LEN, RECORD_HEADER_LEN,
};

/// Default block size: 1 MiB of uncompressed records.
pub const DEFAULT_BLOCK_BYTES: usize = 1 << 20;

/// When the writer writes out partial blocks and flushes the underlying writer on its own.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum FlushPolicy {
    /// Full blocks are written and the underlying writer flushed after each one. At most the
    /// current partial block is lost in a crash.
    #[default]
    EveryBlock,
    /// As `EveryBlock`, and in addition every `records` records the partial block is written
    /// and flushed (as by [`CaptureWriter::flush`]): at most `records - 1` records are lost in
    /// a crash, at the cost of smaller blocks.
    Interval {
        /// Records between flushes (at least 1).
        records: u64,
    },
    /// Full blocks are written and flushed as under `EveryBlock`; the partial block only by
    /// [`CaptureWriter::flush`] and [`CaptureWriter::finish`] (a live recorder does not write
    /// it after a quiet spell either). Full blocks are flushed as they fill under every
    /// policy: a block of 1 MiB goes past a buffered writer's buffer anyway, and only a
    /// flushed block is known to be in the file (under this policy a disk that filled late
    /// counted every record as not in the capture, although the full blocks read back).
    Manual,
}

/// How a [`CaptureWriter`] builds blocks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WriterOptions {
    /// Target uncompressed block size in bytes (1 ..= 64 MiB). A block is written as soon as it
    /// reaches this size; a record that would push a non-empty block past it starts a new
    /// block. A single record larger than this gets a block of its own.
    pub block_bytes: usize,
    /// Block compression. With [`Compression::Zstd`] a block whose compressed form is not
    /// smaller is stored uncompressed.
    pub compression: Compression,
    /// zstd level (used with [`Compression::Zstd`]; 1 ..= 22, 3 is zstd's default).
    pub zstd_level: i32,
    /// When blocks are written out and flushed.
    pub flush: FlushPolicy,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            block_bytes: DEFAULT_BLOCK_BYTES,
            compression: Compression::None,
            zstd_level: 3,
            flush: FlushPolicy::EveryBlock,
        }
    }
}

/// Totals of a finished capture.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct WriteSummary {
    /// Records written.
    pub records: u64,
    /// Blocks written.
    pub blocks: u64,
    /// Bytes of the whole file (header, blocks, index trailer).
    pub bytes: u64,
    /// Bytes of record data before compression (record headers included).
    pub uncompressed_bytes: u64,
}

/// Writes a capture to `W`. See the module docs.
pub struct CaptureWriter<W: Write> {
    out: W,
    options: WriterOptions,
    block: Vec<u8>,
    block_records: u32,
    block_min: u64,
    block_max: u64,
    stored: Vec<u8>,
    compressor: Option<zstd::bulk::Compressor<'static>>,
    next_seq: u64,
    offset: u64,
    index: Vec<IndexEntry>,
    since_flush: u64,
    records: u64,
    /// Records handed to the OS by the last successful flush of the underlying writer.
    durable: u64,
    uncompressed_bytes: u64,
    poisoned: bool,
}

impl<W: Write> std::fmt::Debug for CaptureWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureWriter")
            .field("options", &self.options)
            .field("offset", &self.offset)
            .field("next_seq", &self.next_seq)
            .field("records", &self.records)
            .field("pending_records", &self.block_records)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl CaptureWriter<BufWriter<File>> {
    /// Creates (or truncates) the file at `path` and writes the header.
    pub fn create(
        path: impl AsRef<Path>,
        header: &CaptureHeader,
        options: WriterOptions,
    ) -> Result<Self, CaptureError> {
        let file = File::create(path).map_err(|source| CaptureError::Io { offset: 0, source })?;
        let mut w = Self::new(BufWriter::with_capacity(64 << 10, file), header, options)?;
        // The header goes to the file at once: a crash before the first block leaves a capture
        // that opens (with no records), not an empty file.
        w.flush_out()?;
        Ok(w)
    }

    /// [`flush`](Self::flush), then `fsync` the file's data (durable across a power loss).
    pub fn sync(&mut self) -> Result<(), CaptureError> {
        self.flush()?;
        let offset = self.offset;
        self.out
            .get_ref()
            .sync_data()
            .map_err(|source| CaptureError::Io { offset, source })
    }
}

impl<W: Write> CaptureWriter<W> {
    /// Writes the header to `out` and returns a writer positioned after it. `out` should be
    /// empty (offsets in the file are counted from the header's first byte).
    pub fn new(
        mut out: W,
        header: &CaptureHeader,
        options: WriterOptions,
    ) -> Result<Self, CaptureError> {
        if options.block_bytes == 0 || options.block_bytes > MAX_BLOCK_LEN {
            return Err(CaptureError::InvalidOptions {
                reason: "block_bytes must be between 1 and 64 MiB",
            });
        }
        if let FlushPolicy::Interval { records: 0 } = options.flush {
            return Err(CaptureError::InvalidOptions {
                reason: "flush interval must be at least 1 record",
            });
        }
        let compressor = match options.compression {
            Compression::None => None,
            Compression::Zstd => {
                if !(1..=22).contains(&options.zstd_level) {
                    return Err(CaptureError::InvalidOptions {
                        reason: "zstd level must be between 1 and 22",
                    });
                }
                Some(
                    zstd::bulk::Compressor::new(options.zstd_level)
                        .map_err(|source| CaptureError::Compress { source })?,
                )
            }
        };
        let mut h = Vec::with_capacity(128);
        header.encode(&mut h)?;
        out.write_all(&h)
            .map_err(|source| CaptureError::Io { offset: 0, source })?;
        let block_cap = options.block_bytes.saturating_add(2048).min(MAX_BLOCK_LEN);
        let stored_cap = if compressor.is_some() {
            zstd::zstd_safe::compress_bound(block_cap)
        } else {
            0
        };
        Ok(Self {
            out,
            options,
            block: Vec::with_capacity(block_cap),
            block_records: 0,
            block_min: u64::MAX,
            block_max: 0,
            stored: Vec::with_capacity(stored_cap),
            compressor,
            next_seq: 0,
            offset: h.len() as u64,
            index: Vec::new(),
            since_flush: 0,
            records: 0,
            durable: 0,
            uncompressed_bytes: 0,
            poisoned: false,
        })
    }

    /// The options in use.
    pub fn options(&self) -> &WriterOptions {
        &self.options
    }

    /// Records accepted so far (written or pending in the block buffer).
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Records whose blocks the underlying writer has accepted and flushed without error
    /// (handed to the OS: they survive `kill -9`). After an I/O error, the records beyond
    /// this are not in the file, or not reliably.
    pub fn durable_records(&self) -> u64 {
        self.durable
    }

    /// Records in the block buffer, not yet written (lost in a crash now).
    pub fn pending_records(&self) -> u32 {
        self.block_records
    }

    /// Bytes written to the underlying writer so far (the file offset of the next block).
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Appends one record: `bytes` exactly as received on `line` at `ts_ns`.
    #[inline]
    pub fn write_record(
        &mut self,
        ts_ns: u64,
        line: Line,
        bytes: &[u8],
    ) -> Result<(), CaptureError> {
        if self.poisoned {
            return Err(CaptureError::Poisoned);
        }
        if bytes.len() > MAX_RECORD_LEN {
            return Err(CaptureError::RecordTooLarge {
                len: bytes.len(),
                max: MAX_RECORD_LEN,
            });
        }
        let rec_len = RECORD_HEADER_LEN + bytes.len();
        if self.block_records > 0
            && (self.block.len() + rec_len > self.options.block_bytes
                || self.block_records == u32::MAX)
        {
            self.write_block(true)?;
        }
        encode_record(&mut self.block, ts_ns, line, bytes);
        self.block_records += 1;
        self.block_min = self.block_min.min(ts_ns);
        self.block_max = self.block_max.max(ts_ns);
        self.records += 1;
        self.since_flush += 1;
        if self.block.len() >= self.options.block_bytes {
            self.write_block(true)?;
        }
        if let FlushPolicy::Interval { records } = self.options.flush {
            if self.since_flush >= records {
                self.flush()?;
            }
        }
        Ok(())
    }

    /// Writes the current partial block (if any) and flushes the underlying writer: every
    /// record accepted so far survives a crash of this process after this returns.
    pub fn flush(&mut self) -> Result<(), CaptureError> {
        if self.poisoned {
            return Err(CaptureError::Poisoned);
        }
        if self.block_records > 0 {
            self.write_block(false)?;
        }
        self.since_flush = 0;
        self.flush_out()
    }

    /// Writes the last block, the index trailer and the footer, flushes, and returns the
    /// underlying writer with the totals.
    pub fn finish(mut self) -> Result<(W, WriteSummary), CaptureError> {
        if self.poisoned {
            return Err(CaptureError::Poisoned);
        }
        if self.block_records > 0 {
            self.write_block(false)?;
        }
        let index_offset = self.offset;
        let mut crc = 0u32;
        let mut head = [0u8; 16];
        head[0..4].copy_from_slice(&INDEX_MAGIC);
        head[8..16].copy_from_slice(&(self.index.len() as u64).to_le_bytes());
        crc = crc32c::crc32c_append(crc, &head);
        self.put(&head)?;
        // Entries go through the (reused) stored buffer in chunks: no per-entry write call.
        let entries = std::mem::take(&mut self.index);
        let mut buf = std::mem::take(&mut self.stored);
        for chunk in entries.chunks(1024) {
            buf.clear();
            for e in chunk {
                buf.extend_from_slice(&e.encode());
            }
            crc = crc32c::crc32c_append(crc, &buf);
            self.put(&buf)?;
        }
        self.put(&crc.to_le_bytes())?;
        let footer = encode_footer(index_offset, self.records);
        self.put(&footer)?;
        self.flush_out()?;
        let summary = WriteSummary {
            records: self.records,
            blocks: self.next_seq,
            bytes: self.offset,
            uncompressed_bytes: self.uncompressed_bytes,
        };
        Ok((self.out, summary))
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), CaptureError> {
        if let Err(source) = self.out.write_all(bytes) {
            self.poisoned = true;
            return Err(CaptureError::Io {
                offset: self.offset,
                source,
            });
        }
        self.offset += bytes.len() as u64;
        Ok(())
    }

    fn flush_out(&mut self) -> Result<(), CaptureError> {
        if let Err(source) = self.out.flush() {
            self.poisoned = true;
            return Err(CaptureError::Io {
                offset: self.offset,
                source,
            });
        }
        self.durable = self.records - u64::from(self.block_records);
        Ok(())
    }

    /// Writes the block buffer as one block (it holds at least one record).
    fn write_block(&mut self, flush: bool) -> Result<(), CaptureError> {
        let ulen = self.block.len();
        let mut compression = Compression::None;
        if let Some(c) = self.compressor.as_mut() {
            self.stored.clear();
            self.stored.reserve(zstd::zstd_safe::compress_bound(ulen));
            match c.compress_to_buffer(&self.block[..], &mut self.stored) {
                Ok(n) if n < ulen => compression = Compression::Zstd,
                Ok(_) => {}
                Err(source) => {
                    self.poisoned = true;
                    return Err(CaptureError::Compress { source });
                }
            }
        }
        let payload_crc;
        let stored_len;
        if compression == Compression::Zstd {
            payload_crc = crc32c::crc32c(&self.stored);
            stored_len = self.stored.len();
        } else {
            payload_crc = crc32c::crc32c(&self.block);
            stored_len = ulen;
        }
        let hdr = BlockHeader {
            compression,
            seq: self.next_seq,
            records: self.block_records,
            uncompressed_len: ulen as u32,
            stored_len: stored_len as u32,
            payload_crc,
            min_ts: self.block_min,
            max_ts: self.block_max,
        };
        let offset = self.offset;
        self.put(&hdr.encode())?;
        let stored = std::mem::take(&mut self.stored);
        let block = std::mem::take(&mut self.block);
        let r = if compression == Compression::Zstd {
            self.put(&stored)
        } else {
            self.put(&block)
        };
        self.stored = stored;
        self.block = block;
        r?;
        self.index.push(IndexEntry {
            offset,
            seq: hdr.seq,
            min_ts: hdr.min_ts,
            max_ts: hdr.max_ts,
            records: hdr.records,
        });
        self.next_seq += 1;
        self.uncompressed_bytes += ulen as u64;
        self.block.clear();
        self.block_records = 0;
        self.block_min = u64::MAX;
        self.block_max = 0;
        if flush {
            self.flush_out()?;
        }
        Ok(())
    }
}
