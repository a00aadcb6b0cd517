//! The body of the `capture_reader` cargo-fuzz target in `feeds/fuzz/` (not a stable API),
//! shared with the corpus regression test `replay/tests/fuzz_corpus.rs`.

use std::io::Cursor;

use crate::error::CaptureError;
use crate::format::{
    CaptureHeader, Compression, FeedKind, Line, BLOCK_HEADER_LEN, MAX_BLOCK_LEN, RECORD_HEADER_LEN,
};
use crate::reader::CaptureReader;
use crate::writer::{CaptureWriter, FlushPolicy, WriterOptions};

/// A record of the template capture.
type Rec = (u64, Line, Vec<u8>);

/// What one pass over a reader saw.
struct Pass {
    records: Vec<Rec>,
    errors: u64,
}

/// Reads `r` to the end, checking that it ends and that what it returns is bounded by `len`,
/// the size of the capture. With `compressed == false` (no zstd block can be valid), every
/// record must fit in the file.
fn read_all(r: &mut CaptureReader<Cursor<&[u8]>>, len: usize, compressed: bool) -> Pass {
    let mut records = Vec::new();
    let mut errors = 0u64;
    let mut ended = false;
    let mut calls = 0u64;
    // The report is cleared by `rewind`, not by `seek`: compare what this pass added.
    let (bad0, good0, records0) = {
        let rep = r.report();
        (rep.bad_blocks.len() as u64, rep.good_blocks, rep.records)
    };
    while let Some(item) = r.next_record() {
        calls += 1;
        assert!(!ended, "a record or error after the end");
        match item {
            Ok(rec) => {
                if !compressed {
                    assert!(
                        rec.bytes.len() + RECORD_HEADER_LEN + BLOCK_HEADER_LEN <= len,
                        "a record of {} bytes in a file of {len}",
                        rec.bytes.len()
                    );
                }
                assert!(rec.bytes.len() <= MAX_BLOCK_LEN);
                records.push((rec.ts_ns, rec.line, rec.bytes.to_vec()));
            }
            Err(CaptureError::CorruptBlock {
                offset, resumed_at, ..
            }) => {
                assert!(resumed_at > offset, "resumes after the corrupt block");
                assert!(resumed_at <= len as u64);
                errors += 1;
            }
            Err(
                CaptureError::MissingBlocks {
                    offset,
                    expected,
                    found,
                }
                | CaptureError::BlockOutOfOrder {
                    offset,
                    expected,
                    found,
                },
            ) => {
                assert!(offset <= len as u64);
                assert_ne!(expected, found);
                errors += 1;
            }
            Err(CaptureError::TruncatedTail { offset, .. }) => {
                assert!(offset <= len as u64);
                errors += 1;
                ended = true;
            }
            Err(CaptureError::Io { .. }) => {
                errors += 1;
                ended = true;
            }
            Err(e) => panic!("unexpected error while reading: {e:?}"),
        }
        // Records are bounded by the loaded blocks' record counts, errors by the file's length
        // (each one skips at least a byte).
        assert!(
            calls <= r.report().records - records0 + len as u64 + 2,
            "reader does not terminate ({calls} calls, {:?})",
            r.report()
        );
    }
    assert!(r.next_record().is_none(), "the end is final");
    let rep = r.report();
    assert!(rep.bad_blocks.len() as u64 - bad0 <= errors);
    assert!(rep.good_blocks - good0 <= len as u64 / BLOCK_HEADER_LEN as u64);
    // (Equal unless a `seek` skipped the first records of a block.)
    assert!(records.len() as u64 <= rep.records - records0);
    Pass { records, errors }
}

/// Opens and reads `bytes` three ways (plain, `verify`, and after a `seek` to `seek_ts`).
/// Returns the plain pass and the pass after the seek, or `None` when the file does not open.
fn check_capture(bytes: &[u8], seek_ts: u64) -> Option<(Pass, Pass)> {
    let compressed = bytes.windows(4).any(|w| w == [0x28, 0xB5, 0x2F, 0xFD]);
    let mut r = match CaptureReader::new(Cursor::new(bytes)) {
        Ok(r) => r,
        Err(_) => return None,
    };
    assert!(r.data_start() <= bytes.len() as u64);
    for e in r.index() {
        assert!(
            e.offset < bytes.len() as u64,
            "index entry outside the file: {e:?}"
        );
    }
    let pass = read_all(&mut r, bytes.len(), compressed);
    assert_eq!(pass.records.len() as u64, r.report().records);
    let report = r.report().clone();
    // `verify` reads the same thing again and rewinds.
    if let Ok(v) = r.verify() {
        assert_eq!(v, report, "verify agrees with a plain read");
        let again = read_all(&mut r, bytes.len(), compressed);
        assert_eq!(again.records, pass.records, "rewind reads the same records");
    }
    // After a seek: a suffix-in-time of what the plain pass read.
    r.seek(seek_ts);
    let after = read_all(&mut r, bytes.len(), compressed);
    Some((pass, after))
}

/// Records of the template capture: `n` of them, increasing timestamps, both lines, lengths
/// 0..=40 bytes.
fn template_records(n: usize, seed: u8) -> Vec<Rec> {
    (0..n)
        .map(|i| {
            let len = (i * 7 + usize::from(seed)) % 41;
            let bytes = (0..len)
                .map(|k| (i as u8).wrapping_mul(31).wrapping_add(k as u8) ^ seed)
                .collect();
            let line = if i % 3 == 2 { Line::B } else { Line::A };
            (1_000 + (i as u64) * 250, line, bytes)
        })
        .collect()
}

/// Writes `records` as a capture; `finished == false` leaves out the index trailer (as after a
/// crash).
pub fn template_capture(
    records: &[Rec],
    block_bytes: usize,
    compression: Compression,
    finished: bool,
) -> Vec<u8> {
    let mut header = CaptureHeader::new(FeedKind::MoldUdp64, "FUZZ");
    header.creator = "fuzz".into();
    let options = WriterOptions {
        block_bytes,
        compression,
        zstd_level: 1,
        flush: FlushPolicy::EveryBlock,
    };
    let mut w = CaptureWriter::new(Vec::new(), &header, options).expect("valid options");
    for (ts, line, bytes) in records {
        w.write_record(*ts, *line, bytes).expect("in-memory write");
    }
    if finished {
        w.finish().expect("in-memory write").0
    } else {
        w.flush().expect("in-memory write");
        w.get_ref().clone()
    }
}

/// Whether `sub` is a subsequence of `all` (in order).
fn is_subsequence(sub: &[Rec], all: &[Rec]) -> bool {
    let mut it = all.iter();
    sub.iter().all(|s| it.any(|a| a == s))
}

/// `capture_reader`: [`CaptureReader`] over a `Cursor` of the fuzzer's bytes.
///
/// The first byte picks the mode. Even: the rest is the capture, as is. Odd: a small valid
/// capture is written (record count, block size, compression and whether the index trailer is
/// there come from the next bytes), then damaged by the remaining bytes, 5 at a time: flip a
/// byte (offset, xor mask), or cut the file at an offset.
///
/// Checks: opening and reading never panic; reading always ends, with the end final; records
/// fit in the file (uncompressed captures), errors point inside it and resume after the bad
/// block; the report matches what was read and `verify` agrees with it; rewinding reads the same
/// again. For a template capture with at most one damage, what is read is a subsequence of the
/// records written (every single-byte change is caught by a CRC32C); with none, exactly them,
/// with a clean report when the trailer was written.
pub fn capture_reader(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let seek_ts = u64::from(mode) * 997;
    if mode & 1 == 0 {
        check_capture(rest, seek_ts);
        return;
    }
    let get = |i: usize| rest.get(i).copied().unwrap_or(0);
    let n = usize::from(get(0) % 24);
    let block_bytes = 32 + usize::from(get(1)) * 4;
    let compression = if get(2) & 1 == 1 {
        Compression::Zstd
    } else {
        Compression::None
    };
    let finished = get(2) & 2 == 0;
    let records = template_records(n, get(3));
    let mut file = template_capture(&records, block_bytes, compression, finished);
    let ops = rest.get(4..).unwrap_or(&[]);
    let mut damages = 0;
    for op in ops.chunks_exact(5).take(16) {
        let at = u32::from_le_bytes([op[0], op[1], op[2], op[3]]) as usize;
        if file.is_empty() {
            break;
        }
        let at = at % file.len();
        if op[4] == 0 {
            file.truncate(at);
        } else {
            file[at] ^= op[4];
        }
        damages += 1;
    }
    let Some((pass, after)) = check_capture(&file, seek_ts) else {
        assert!(damages > 0, "a freshly written capture opens");
        return;
    };
    if damages <= 1 {
        assert!(
            is_subsequence(&pass.records, &records),
            "one damaged byte let a record through that was never written"
        );
    }
    if damages == 0 {
        assert_eq!(
            pass.records, records,
            "an undamaged capture reads back whole"
        );
        assert_eq!(pass.errors, 0);
        let later: Vec<Rec> = records.into_iter().filter(|r| r.0 >= seek_ts).collect();
        assert_eq!(
            after.records, later,
            "seek({seek_ts}) starts at the first later record"
        );
    }
}
