//! [`CaptureReader`]: reads a capture back, in order, in constant memory, recovering from
//! corruption.
//!
//! The reader works over any `Read + Seek` (a [`File`] for [`CaptureReader::open`]) with fixed
//! buffers: one block's stored bytes, one block's payload, a 64 KiB scan window, and the time
//! index (40 bytes per block: 4,000 entries for a 4 GiB capture of 1 MiB blocks). It never
//! reads the whole file into memory.
//!
//! **Opening.** The file header must be valid (magic, version, CRC). The index comes from the
//! trailer when the file was finished ([`IndexState::Present`]); otherwise (a crash, a
//! truncated copy) it is rebuilt by walking the block headers, skipping payloads
//! ([`IndexState::Rebuilt`]).
//!
//! **Reading.** Every block is validated whole (header CRC, payload CRC, decompression to the
//! announced length, record structure and timestamps within the header's bounds) before any of
//! its records is returned, so a block is read entirely or not at all.
//!
//! - A block that fails validation and is followed by a valid block is reported once as
//!   [`CaptureError::CorruptBlock`] with its offset, the reason and the bytes skipped; the
//!   reader resumes at the next offset where a valid block header starts (found by scanning for
//!   the block magic) and goes on.
//! - A block that fails with no valid block after it (a torn write, a cut copy, an interrupted
//!   index trailer) is reported once as [`CaptureError::TruncatedTail`] and iteration ends.
//! - A valid block whose sequence number skips ahead with no corrupt bytes before it (blocks cut
//!   out of the file cleanly) is reported as [`CaptureError::MissingBlocks`], one whose number
//!   repeats or goes back (a spliced file) as [`CaptureError::BlockOutOfOrder`]; either is
//!   returned before the block's records, and reading goes on with them. (Both were only
//!   counted: a consumer that reads the records saw a clean file.)
//! - An I/O error is returned once and iteration ends.
//!
//! Everything is also counted in the reader's [`RecoveryReport`]; [`CaptureReader::verify`]
//! reads the whole file and returns the report (what `inspect` prints).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{CaptureError, Corruption};
use crate::format::{
    decode_footer, decode_record, validate_payload, BlockHeader, CaptureHeader, Compression,
    IndexEntry, Line, BLOCK_HEADER_LEN, BLOCK_MAGIC, FILE_HEADER_FIXED_LEN, FOOTER_LEN,
    FORMAT_VERSION, INDEX_ENTRY_LEN, INDEX_HEADER_LEN, INDEX_MAGIC,
};

const SCAN_WINDOW: usize = 64 << 10;

/// One record, borrowing the reader's block buffer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Record<'a> {
    /// Receive timestamp in nanoseconds (since the Unix epoch, or since midnight when the
    /// header has [`crate::format::FLAG_TS_SINCE_MIDNIGHT`]).
    pub ts_ns: u64,
    /// The line it arrived on.
    pub line: Line,
    /// The bytes exactly as received.
    pub bytes: &'a [u8],
}

impl Record<'_> {
    /// An owned copy.
    pub fn to_owned(&self) -> OwnedRecord {
        OwnedRecord {
            ts_ns: self.ts_ns,
            line: self.line,
            bytes: self.bytes.to_vec(),
        }
    }
}

/// One record with its own bytes (what the [`Iterator`] impl of [`CaptureReader`] yields).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OwnedRecord {
    /// Receive timestamp in nanoseconds.
    pub ts_ns: u64,
    /// The line it arrived on.
    pub line: Line,
    /// The bytes exactly as received.
    pub bytes: Vec<u8>,
}

/// Where the time index came from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IndexState {
    /// Read from the trailer written by [`crate::CaptureWriter::finish`].
    Present,
    /// The trailer was missing or invalid: rebuilt by scanning the block headers.
    Rebuilt,
}

/// A region that was skipped while reading.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BadBlock {
    /// Offset of the rejected block (or of the bytes where a block was expected).
    pub offset: u64,
    /// Why it was rejected.
    pub reason: Corruption,
    /// Bytes skipped to reach the next valid block.
    pub skipped_bytes: u64,
    /// Records lost in the skipped region, when the trailer index tells
    /// ([`IndexState::Present`]); `None` otherwise.
    pub lost_records: Option<u64>,
}

/// What reading a capture found: see [`CaptureReader::report`] and [`CaptureReader::verify`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RecoveryReport {
    /// Blocks read and validated.
    pub good_blocks: u64,
    /// Records in those blocks.
    pub records: u64,
    /// Corrupt regions in the middle of the file, each followed by a valid block.
    pub bad_blocks: Vec<BadBlock>,
    /// Blocks missing by their sequence numbers (the blocks inside the bad regions, the first
    /// block included), plus the blocks of a damaged tail the trailer index lists.
    pub missing_blocks: u64,
    /// Valid blocks whose sequence number does not follow the previous block's (repeated or
    /// going backwards): a file spliced or edited, not written by one writer.
    pub out_of_order_blocks: u64,
    /// Of `missing_blocks`, those cut out of the file cleanly (no corrupt bytes where they
    /// were: [`CaptureError::MissingBlocks`]).
    pub cut_blocks: u64,
    /// Records in the cut blocks, when the trailer index lists them (by sequence number);
    /// `None` when some cut block is not in the index (or there is no index).
    pub cut_records: Option<u64>,
    /// The torn or corrupted tail, if any: its offset and why its first block was rejected.
    pub truncated_tail: Option<(u64, Corruption)>,
    /// Blocks and records the trailer index lists at or after the tail's offset (lost with
    /// it), when there is a trailer ([`IndexState::Present`]: a finished file whose end was
    /// damaged); `None` otherwise (a file cut short has no trailer to tell).
    pub tail_lost: Option<(u64, u64)>,
    /// Where the index came from.
    pub index: IndexState,
}

impl RecoveryReport {
    fn new(index: IndexState) -> Self {
        Self {
            good_blocks: 0,
            records: 0,
            bad_blocks: Vec::new(),
            missing_blocks: 0,
            out_of_order_blocks: 0,
            cut_blocks: 0,
            cut_records: Some(0),
            truncated_tail: None,
            tail_lost: None,
            index,
        }
    }

    /// Records lost in bad blocks, cut blocks and the tail, when the trailer index tells (every
    /// loss counted from it); `None` when something was lost and there is no index to count
    /// it, or `Some(0)` when nothing was.
    pub fn lost_records(&self) -> Option<u64> {
        let mut lost = 0u64;
        if self.cut_blocks > 0 {
            lost = self.cut_records?;
        }
        for b in &self.bad_blocks {
            lost = lost.saturating_add(b.lost_records?);
        }
        match &self.truncated_tail {
            // A trailer cut short or a damaged footer: every block was read.
            Some((_, Corruption::IncompleteTrailer | Corruption::DamagedFooter)) | None => {}
            Some(_) => lost = lost.saturating_add(self.tail_lost?.1),
        }
        Some(lost)
    }

    /// True when the whole file was read with nothing skipped and the index trailer present.
    pub fn is_clean(&self) -> bool {
        self.bad_blocks.is_empty()
            && self.truncated_tail.is_none()
            && self.missing_blocks == 0
            && self.out_of_order_blocks == 0
            && self.index == IndexState::Present
    }
}

enum Advance {
    Loaded,
    End,
    Failed(CaptureError),
}

/// Reads a capture. See the module docs.
pub struct CaptureReader<R> {
    src: R,
    pos: Option<u64>,
    file_len: u64,
    header: CaptureHeader,
    data_start: u64,
    data_end: u64,
    index: Vec<IndexEntry>,
    index_state: IndexState,
    stored: Vec<u8>,
    payload: Vec<u8>,
    scan_buf: Vec<u8>,
    decompressor: Option<zstd::bulk::Decompressor<'static>>,
    next_block: u64,
    cur_block: u64,
    cur_pos: usize,
    cur_remaining: u32,
    expect_seq: Option<u64>,
    /// The last block boundary crossed was a corrupt region: the blocks missing by number at
    /// the next valid block are its (already reported), not cut.
    after_bad_region: bool,
    /// Reported before the records of the block just loaded.
    pending: Option<CaptureError>,
    skip_armed: Option<u64>,
    skip_active: Option<u64>,
    done: bool,
    report: RecoveryReport,
}

impl<R> std::fmt::Debug for CaptureReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("header", &self.header)
            .field("file_len", &self.file_len)
            .field("blocks_indexed", &self.index.len())
            .field("index_state", &self.index_state)
            .field("next_block", &self.next_block)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl CaptureReader<File> {
    /// Opens the capture at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let file = File::open(path).map_err(|source| CaptureError::Io { offset: 0, source })?;
        Self::new(file)
    }
}

fn read_at<R: Read + Seek>(
    src: &mut R,
    pos: &mut Option<u64>,
    offset: u64,
    buf: &mut [u8],
) -> Result<(), CaptureError> {
    if *pos != Some(offset) {
        *pos = None;
        src.seek(SeekFrom::Start(offset))
            .map_err(|source| CaptureError::Io { offset, source })?;
    }
    *pos = None;
    src.read_exact(buf)
        .map_err(|source| CaptureError::Io { offset, source })?;
    *pos = Some(offset + buf.len() as u64);
    Ok(())
}

impl<R: Read + Seek> CaptureReader<R> {
    /// Reads the header and the index (from the trailer, or rebuilt by a scan).
    pub fn new(mut src: R) -> Result<Self, CaptureError> {
        let file_len = src
            .seek(SeekFrom::End(0))
            .map_err(|source| CaptureError::Io { offset: 0, source })?;
        let mut pos = None;
        let mut fixed = [0u8; FILE_HEADER_FIXED_LEN];
        let n = (file_len as usize).min(FILE_HEADER_FIXED_LEN);
        read_at(&mut src, &mut pos, 0, &mut fixed[..n])?;
        if n < 8 {
            return Err(CaptureError::BadHeader {
                reason: "file shorter than the header",
            });
        }
        let total = CaptureHeader::encoded_len(&fixed[..n])?;
        if (total as u64) > file_len {
            return Err(CaptureError::BadHeader {
                reason: "file shorter than the header",
            });
        }
        let mut h = vec![0u8; total];
        read_at(&mut src, &mut pos, 0, &mut h)?;
        let header = CaptureHeader::decode(&h)?;
        let mut r = Self {
            src,
            pos,
            file_len,
            header,
            data_start: total as u64,
            data_end: file_len,
            index: Vec::new(),
            index_state: IndexState::Rebuilt,
            stored: Vec::new(),
            payload: Vec::new(),
            scan_buf: vec![0u8; SCAN_WINDOW],
            decompressor: None,
            next_block: total as u64,
            cur_block: total as u64,
            cur_pos: 0,
            cur_remaining: 0,
            // The first block is number 0 (see `rewind`).
            expect_seq: Some(0),
            after_bad_region: false,
            pending: None,
            skip_armed: None,
            skip_active: None,
            done: false,
            report: RecoveryReport::new(IndexState::Rebuilt),
        };
        if !r.read_trailer()? {
            r.index.clear();
            r.rebuild_index()?;
        }
        r.report = RecoveryReport::new(r.index_state);
        Ok(r)
    }

    /// The file header.
    pub fn header(&self) -> &CaptureHeader {
        &self.header
    }

    /// The format version of the file.
    pub fn version(&self) -> u16 {
        FORMAT_VERSION
    }

    /// The time index: one entry per block, in file order.
    pub fn index(&self) -> &[IndexEntry] {
        &self.index
    }

    /// Where the index came from.
    pub fn index_state(&self) -> IndexState {
        self.index_state
    }

    /// Length of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Offset of the first block.
    pub fn data_start(&self) -> u64 {
        self.data_start
    }

    /// What has been read since opening (or the last [`rewind`](Self::rewind)). Blocks read
    /// again after a [`seek`](Self::seek) are counted again.
    pub fn report(&self) -> &RecoveryReport {
        &self.report
    }

    /// Goes back to the first block and clears the report.
    pub fn rewind(&mut self) {
        self.next_block = self.data_start;
        self.cur_remaining = 0;
        // The first block is number 0: losing it is a missing block like any other.
        self.expect_seq = Some(0);
        self.after_bad_region = false;
        self.pending = None;
        self.skip_armed = None;
        self.skip_active = None;
        self.done = false;
        self.report = RecoveryReport::new(self.index_state);
    }

    /// Positions the reader on the first block (in file order) whose largest timestamp is at
    /// least `ts_ns`, found in the index; records with a smaller timestamp are skipped until
    /// the first that reaches it (from the first block that loads, should the target block be
    /// corrupted). For a capture in receive-time order (what the recorder writes) the next record
    /// is the first one with `ts >= ts_ns`. Past every block, iteration ends.
    pub fn seek(&mut self, ts_ns: u64) {
        let target = self.index.iter().find(|e| e.max_ts >= ts_ns);
        self.next_block = target.map_or(self.data_end, |e| e.offset);
        self.cur_remaining = 0;
        self.expect_seq = target.map(|e| e.seq);
        self.after_bad_region = false;
        self.pending = None;
        self.skip_armed = Some(ts_ns);
        self.skip_active = None;
        self.done = false;
    }

    /// Reads the whole capture from the start and returns what was found; then rewinds.
    /// Corruption is in the report, not an error; only an I/O error fails.
    pub fn verify(&mut self) -> Result<RecoveryReport, CaptureError> {
        self.rewind();
        while let Some(r) = self.next_record() {
            match r {
                Ok(_) => {}
                Err(
                    CaptureError::CorruptBlock { .. }
                    | CaptureError::MissingBlocks { .. }
                    | CaptureError::BlockOutOfOrder { .. }
                    | CaptureError::TruncatedTail { .. },
                ) => {}
                Err(e) => return Err(e),
            }
        }
        let report = self.report.clone();
        self.rewind();
        Ok(report)
    }

    /// The next record, borrowing the reader's buffer; `None` at the end. See the module docs
    /// for the errors (after `CorruptBlock`, reading goes on).
    pub fn next_record(&mut self) -> Option<Result<Record<'_>, CaptureError>> {
        loop {
            if self.cur_remaining == 0 {
                match self.advance() {
                    Advance::Loaded => {
                        if let Some(e) = self.pending.take() {
                            return Some(Err(e));
                        }
                        continue;
                    }
                    Advance::End => return None,
                    Advance::Failed(e) => return Some(Err(e)),
                }
            }
            let (ts, line, range) = match decode_record(&self.payload, self.cur_pos) {
                Ok(x) => x,
                Err(reason) => {
                    // Unreachable for a validated block; reported rather than trusted.
                    self.cur_remaining = 0;
                    return Some(Err(CaptureError::CorruptBlock {
                        offset: self.cur_block,
                        reason,
                        resumed_at: self.next_block,
                        skipped_bytes: self.next_block.saturating_sub(self.cur_block),
                    }));
                }
            };
            self.cur_pos = range.end;
            self.cur_remaining -= 1;
            if let Some(t) = self.skip_active {
                if ts < t {
                    continue;
                }
                self.skip_active = None;
            }
            return Some(Ok(Record {
                ts_ns: ts,
                line,
                bytes: self.payload.get(range).unwrap_or_default(),
            }));
        }
    }

    fn advance(&mut self) -> Advance {
        if self.done || self.next_block >= self.data_end {
            self.done = true;
            return Advance::End;
        }
        let off = self.next_block;
        match self.load_block(off) {
            Err(e) => {
                self.done = true;
                Advance::Failed(e)
            }
            Ok(Ok(h)) => {
                // Sequence numbers come from the file: a forged one may be anything, so no
                // arithmetic here can overflow.
                match self.expect_seq {
                    Some(exp) if h.seq >= exp => {
                        self.report.missing_blocks =
                            self.report.missing_blocks.saturating_add(h.seq - exp);
                        if h.seq > exp && !self.after_bad_region {
                            let r = &mut self.report;
                            r.cut_blocks = r.cut_blocks.saturating_add(h.seq - exp);
                            let listed = self
                                .index
                                .iter()
                                .filter(|e| e.seq >= exp && e.seq < h.seq)
                                .fold((0u64, 0u64), |(n, recs), e| {
                                    (n + 1, recs.saturating_add(u64::from(e.records)))
                                });
                            r.cut_records = r.cut_records.and_then(|c| {
                                (self.index_state == IndexState::Present && listed.0 == h.seq - exp)
                                    .then(|| c.saturating_add(listed.1))
                            });
                            self.pending = Some(CaptureError::MissingBlocks {
                                offset: off,
                                expected: exp,
                                found: h.seq,
                            });
                        }
                    }
                    Some(exp) => {
                        self.report.out_of_order_blocks += 1;
                        self.pending = Some(CaptureError::BlockOutOfOrder {
                            offset: off,
                            expected: exp,
                            found: h.seq,
                        });
                    }
                    None => {}
                }
                self.after_bad_region = false;
                self.expect_seq = h.seq.checked_add(1);
                self.cur_block = off;
                self.cur_pos = 0;
                self.cur_remaining = h.records;
                self.next_block = off + h.total_len();
                self.report.good_blocks += 1;
                self.report.records += u64::from(h.records);
                // A seek's filter starts with the first block that loads (the target block
                // may be the corrupted one) and lasts until a record reaches its time.
                if let Some(t) = self.skip_armed.take() {
                    self.skip_active = Some(t);
                }
                Advance::Loaded
            }
            Ok(Err(reason)) => match self.scan_for_block(off + 1) {
                Err(e) => {
                    self.done = true;
                    Advance::Failed(e)
                }
                Ok(Some(next)) => {
                    let lost_records = (self.index_state == IndexState::Present).then(|| {
                        self.index
                            .iter()
                            .filter(|e| e.offset >= off && e.offset < next)
                            .map(|e| u64::from(e.records))
                            .sum()
                    });
                    self.report.bad_blocks.push(BadBlock {
                        offset: off,
                        reason: reason.clone(),
                        skipped_bytes: next - off,
                        lost_records,
                    });
                    self.next_block = next;
                    self.after_bad_region = true;
                    Advance::Failed(CaptureError::CorruptBlock {
                        offset: off,
                        reason,
                        resumed_at: next,
                        skipped_bytes: next - off,
                    })
                }
                Ok(None) => {
                    self.report.truncated_tail = Some((off, reason.clone()));
                    if self.index_state == IndexState::Present {
                        let lost = self.index.iter().filter(|e| e.offset >= off);
                        let (blocks, records) = lost.fold((0u64, 0u64), |(b, r), e| {
                            (b + 1, r.saturating_add(u64::from(e.records)))
                        });
                        self.report.tail_lost = Some((blocks, records));
                        self.report.missing_blocks =
                            self.report.missing_blocks.saturating_add(blocks);
                    }
                    self.done = true;
                    Advance::Failed(CaptureError::TruncatedTail {
                        offset: off,
                        reason,
                    })
                }
            },
        }
    }

    /// Reads and validates the block header at `off`, including that its payload lies within
    /// the block region.
    fn read_block_header(
        &mut self,
        off: u64,
    ) -> Result<Result<BlockHeader, Corruption>, CaptureError> {
        let available = self.data_end.saturating_sub(off);
        if available < BLOCK_HEADER_LEN as u64 {
            if available >= 4 {
                let mut m = [0u8; 4];
                read_at(&mut self.src, &mut self.pos, off, &mut m)?;
                if m == INDEX_MAGIC {
                    return Ok(Err(self.trailer_state(off)?));
                }
            }
            return Ok(Err(Corruption::Short {
                needed: BLOCK_HEADER_LEN as u64,
                available,
            }));
        }
        let mut h = [0u8; BLOCK_HEADER_LEN];
        read_at(&mut self.src, &mut self.pos, off, &mut h)?;
        let hdr = match BlockHeader::decode(&h) {
            Ok(hdr) => hdr,
            Err(Corruption::BadMagic) if h[0..4] == INDEX_MAGIC => {
                return Ok(Err(self.trailer_state(off)?))
            }
            Err(c) => return Ok(Err(c)),
        };
        if hdr.total_len() > available {
            return Ok(Err(Corruption::Short {
                needed: hdr.total_len(),
                available,
            }));
        }
        Ok(Ok(hdr))
    }

    /// Reads and validates the whole block at `off` into the payload buffer.
    fn load_block(&mut self, off: u64) -> Result<Result<BlockHeader, Corruption>, CaptureError> {
        let hdr = match self.read_block_header(off)? {
            Ok(h) => h,
            Err(c) => return Ok(Err(c)),
        };
        let payload_off = off + BLOCK_HEADER_LEN as u64;
        let stored_len = hdr.stored_len as usize;
        let buf = match hdr.compression {
            Compression::None => &mut self.payload,
            Compression::Zstd => &mut self.stored,
        };
        buf.clear();
        buf.resize(stored_len, 0);
        read_at(&mut self.src, &mut self.pos, payload_off, buf)?;
        let computed = crc32c::crc32c(buf);
        if computed != hdr.payload_crc {
            return Ok(Err(Corruption::PayloadCrc {
                stored: hdr.payload_crc,
                computed,
            }));
        }
        if hdr.compression == Compression::Zstd {
            let d = match self.decompressor.as_mut() {
                Some(d) => d,
                None => {
                    let d = zstd::bulk::Decompressor::new().map_err(|source| CaptureError::Io {
                        offset: off,
                        source,
                    })?;
                    self.decompressor.insert(d)
                }
            };
            let ulen = hdr.uncompressed_len as usize;
            self.payload.clear();
            self.payload.reserve(ulen);
            match d.decompress_to_buffer(&self.stored[..], &mut self.payload) {
                Ok(n) if n == ulen => {}
                Ok(n) => {
                    return Ok(Err(Corruption::Decompress {
                        reason: format!("decompressed to {n} bytes, header says {ulen}"),
                    }))
                }
                Err(e) => {
                    return Ok(Err(Corruption::Decompress {
                        reason: e.to_string(),
                    }))
                }
            }
        }
        if let Err(c) = validate_payload(&hdr, &self.payload) {
            return Ok(Err(c));
        }
        Ok(Ok(hdr))
    }

    /// The offset of the first valid block header at or after `from` (within the block
    /// region), or `None`.
    fn scan_for_block(&mut self, from: u64) -> Result<Option<u64>, CaptureError> {
        let mut p = from;
        while p + BLOCK_HEADER_LEN as u64 <= self.data_end {
            let n = (self.data_end - p).min(SCAN_WINDOW as u64) as usize;
            let mut buf = std::mem::take(&mut self.scan_buf);
            let r = read_at(&mut self.src, &mut self.pos, p, &mut buf[..n]);
            let found = r.and_then(|()| {
                let mut i = 0;
                while i + BLOCK_MAGIC.len() <= n {
                    if buf[i..i + 4] == BLOCK_MAGIC {
                        let off = p + i as u64;
                        if self.read_block_header(off)?.is_ok() {
                            return Ok(Some(off));
                        }
                    }
                    i += 1;
                }
                Ok(None)
            });
            self.scan_buf = buf;
            if let Some(off) = found? {
                return Ok(Some(off));
            }
            if n < SCAN_WINDOW {
                break;
            }
            p += (n - (BLOCK_MAGIC.len() - 1)) as u64;
        }
        Ok(None)
    }

    /// What an index trailer met where a block was expected says: a complete one (its entry
    /// count fills the file up to a footer's length before the end, its checksum good) whose
    /// footer did not validate is [`Corruption::DamagedFooter`]; anything else is
    /// [`Corruption::IncompleteTrailer`] (the writer stopped while finishing).
    fn trailer_state(&mut self, off: u64) -> Result<Corruption, CaptureError> {
        let incomplete = Ok(Corruption::IncompleteTrailer);
        let Some(room) = self.file_len.checked_sub(off + FOOTER_LEN as u64) else {
            return incomplete;
        };
        if room < (INDEX_HEADER_LEN + 4) as u64 {
            return incomplete;
        }
        let mut head = [0u8; INDEX_HEADER_LEN];
        read_at(&mut self.src, &mut self.pos, off, &mut head)?;
        let count = crate::format::le_u64(&head, 8);
        let entries = room - (INDEX_HEADER_LEN + 4) as u64;
        if count.checked_mul(INDEX_ENTRY_LEN as u64) != Some(entries) {
            return incomplete;
        }
        let mut crc = crc32c::crc32c(&head);
        let mut at = off + INDEX_HEADER_LEN as u64;
        let mut remaining = entries;
        // Its own buffer: this runs inside a scan that holds `scan_buf`.
        let mut buf = [0u8; 4096];
        while remaining > 0 {
            let n = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            read_at(&mut self.src, &mut self.pos, at, &mut buf[..n])?;
            crc = crc32c::crc32c_append(crc, &buf[..n]);
            at += n as u64;
            remaining -= n as u64;
        }
        let mut c = [0u8; 4];
        read_at(&mut self.src, &mut self.pos, at, &mut c)?;
        Ok(if u32::from_le_bytes(c) == crc {
            Corruption::DamagedFooter
        } else {
            Corruption::IncompleteTrailer
        })
    }

    /// Reads the index trailer; `Ok(false)` when there is no valid one.
    fn read_trailer(&mut self) -> Result<bool, CaptureError> {
        let min = self.data_start + (INDEX_HEADER_LEN + 4 + FOOTER_LEN) as u64;
        if self.file_len < min {
            return Ok(false);
        }
        let foot_off = self.file_len - FOOTER_LEN as u64;
        let mut f = [0u8; FOOTER_LEN];
        read_at(&mut self.src, &mut self.pos, foot_off, &mut f)?;
        let Some((index_off, _total)) = decode_footer(&f) else {
            return Ok(false);
        };
        if index_off < self.data_start || index_off > foot_off {
            return Ok(false);
        }
        let index_len = foot_off - index_off;
        if index_len < (INDEX_HEADER_LEN + 4) as u64 {
            return Ok(false);
        }
        let mut head = [0u8; INDEX_HEADER_LEN];
        read_at(&mut self.src, &mut self.pos, index_off, &mut head)?;
        if head[0..4] != INDEX_MAGIC {
            // A footer-shaped tail with no index where it points: the last bytes of a crashed
            // recording's data, not a trailer. The whole file is scanned.
            return Ok(false);
        }
        // From here on footer and index agree on where the index is: the block region ends
        // there, even when the index itself turns out to be damaged (then it is rebuilt from
        // the block headers).
        self.data_end = index_off;
        let entries_len = index_len - (INDEX_HEADER_LEN + 4) as u64;
        if !entries_len.is_multiple_of(INDEX_ENTRY_LEN as u64) {
            return Ok(false);
        }
        let count = crate::format::le_u64(&head, 8);
        if count != entries_len / INDEX_ENTRY_LEN as u64 {
            return Ok(false);
        }
        let mut crc = crc32c::crc32c(&head);
        let mut remaining = entries_len as usize;
        let mut off = index_off + INDEX_HEADER_LEN as u64;
        let mut buf = std::mem::take(&mut self.scan_buf);
        let chunk_max = (SCAN_WINDOW / INDEX_ENTRY_LEN) * INDEX_ENTRY_LEN;
        let mut ok = true;
        let mut last: Option<u64> = None;
        while remaining > 0 {
            let n = remaining.min(chunk_max);
            if let Err(e) = read_at(&mut self.src, &mut self.pos, off, &mut buf[..n]) {
                self.scan_buf = buf;
                return Err(e);
            }
            crc = crc32c::crc32c_append(crc, &buf[..n]);
            for chunk in buf[..n].chunks_exact(INDEX_ENTRY_LEN) {
                let mut e = [0u8; INDEX_ENTRY_LEN];
                e.copy_from_slice(chunk);
                let entry = IndexEntry::decode(&e);
                if entry.offset < self.data_start
                    || entry.offset >= index_off
                    || last.is_some_and(|l| entry.offset <= l)
                    || entry.min_ts > entry.max_ts
                {
                    ok = false;
                }
                last = Some(entry.offset);
                self.index.push(entry);
            }
            remaining -= n;
            off += n as u64;
        }
        self.scan_buf = buf;
        let mut c = [0u8; 4];
        read_at(&mut self.src, &mut self.pos, off, &mut c)?;
        if !ok || u32::from_le_bytes(c) != crc {
            return Ok(false);
        }
        self.index_state = IndexState::Present;
        Ok(true)
    }

    /// Rebuilds the index by walking block headers (payloads are skipped, not read).
    fn rebuild_index(&mut self) -> Result<(), CaptureError> {
        self.index_state = IndexState::Rebuilt;
        let mut off = self.data_start;
        while off < self.data_end {
            match self.read_block_header(off)? {
                Ok(h) => {
                    self.index.push(IndexEntry {
                        offset: off,
                        seq: h.seq,
                        min_ts: h.min_ts,
                        max_ts: h.max_ts,
                        records: h.records,
                    });
                    off += h.total_len();
                }
                Err(_) => match self.scan_for_block(off + 1)? {
                    Some(next) => off = next,
                    None => break,
                },
            }
        }
        Ok(())
    }
}

impl<R: Read + Seek> Iterator for CaptureReader<R> {
    type Item = Result<OwnedRecord, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().map(|r| r.map(|rec| rec.to_owned()))
    }
}
