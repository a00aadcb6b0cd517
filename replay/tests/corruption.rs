//! Corrupted blocks, torn tails and missing index trailers: detected, reported with offsets,
//! and everything else read.

mod common;

use common::{options, read_all, reader, records, write_all};
use ticklane_replay::{
    CaptureError, CaptureWriter, Compression, Corruption, FlushPolicy, IndexState, OwnedRecord,
    WriterOptions,
};

/// Records of every block except block `skip`, given the index.
fn without_block(recs: &[OwnedRecord], counts: &[u32], skip: usize) -> Vec<OwnedRecord> {
    let start: usize = counts[..skip].iter().map(|&c| c as usize).sum();
    let end = start + counts[skip] as usize;
    recs[..start].iter().chain(&recs[end..]).cloned().collect()
}

#[test]
fn corrupted_middle_block_is_reported_and_skipped() {
    let recs = records(4000, 120);
    for compression in [Compression::None, Compression::Zstd] {
        let clean = write_all(&recs, options(4096, compression));
        let index = reader(&clean).index().to_vec();
        assert!(index.len() > 10);
        let counts: Vec<u32> = index.iter().map(|e| e.records).collect();
        let k = index.len() / 2;
        let off = index[k].offset;
        let next = index[k + 1].offset;
        // A byte in the payload, one in the header's sequence number, one in the magic.
        for at in [off + 52 + 7, off + 10, off] {
            let mut bytes = clean.clone();
            bytes[at as usize] ^= 0x5A;
            let (got, errs) = read_all(&bytes);
            assert_eq!(
                got,
                without_block(&recs, &counts, k),
                "{compression:?} at {at}"
            );
            assert_eq!(errs.len(), 1);
            match &errs[0] {
                CaptureError::CorruptBlock {
                    offset,
                    resumed_at,
                    skipped_bytes,
                    reason,
                } => {
                    assert_eq!(*offset, off);
                    assert_eq!(*resumed_at, next);
                    assert_eq!(*skipped_bytes, next - off);
                    if at == off + 52 + 7 {
                        assert!(matches!(reason, Corruption::PayloadCrc { .. }));
                    } else if at == off {
                        assert_eq!(*reason, Corruption::BadMagic);
                    } else {
                        assert!(matches!(reason, Corruption::HeaderCrc { .. }));
                    }
                }
                e => panic!("unexpected {e}"),
            }
            let mut r = reader(&bytes);
            let report = r.verify().expect("verify");
            assert_eq!(report.bad_blocks.len(), 1);
            assert_eq!(report.bad_blocks[0].offset, off);
            assert_eq!(
                report.bad_blocks[0].lost_records,
                Some(u64::from(counts[k]))
            );
            assert_eq!(report.missing_blocks, 1);
            assert_eq!(report.good_blocks, index.len() as u64 - 1);
            assert_eq!(report.records, (recs.len() - counts[k] as usize) as u64);
            assert!(report.truncated_tail.is_none());
            assert!(!report.is_clean());
        }
    }
}

#[test]
fn a_corrupted_first_block_is_a_missing_block() {
    let recs = records(2000, 100);
    let clean = write_all(&recs, options(2048, Compression::None));
    let index = reader(&clean).index().to_vec();
    let counts: Vec<u32> = index.iter().map(|e| e.records).collect();
    let mut bytes = clean.clone();
    // A byte of block 0's payload.
    bytes[index[0].offset as usize + 52 + 3] ^= 0x5A;
    let (got, errs) = read_all(&bytes);
    assert_eq!(got, without_block(&recs, &counts, 0));
    assert_eq!(errs.len(), 1);
    let report = reader(&bytes).verify().expect("verify");
    assert_eq!(report.bad_blocks.len(), 1);
    assert_eq!(report.missing_blocks, 1, "block 0 is counted missing");
    assert_eq!(
        report.bad_blocks[0].lost_records,
        Some(u64::from(counts[0]))
    );
    assert!(!report.is_clean());
}

/// `bytes` with the sequence number of the block at `off` replaced (header CRC recomputed, as
/// anyone forging a file can).
fn with_block_seq(bytes: &[u8], off: u64, seq: u64) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = off as usize;
    let len = ticklane_replay::format::BLOCK_HEADER_LEN;
    let mut h = [0u8; ticklane_replay::format::BLOCK_HEADER_LEN];
    h.copy_from_slice(&out[at..at + len]);
    let mut header = ticklane_replay::format::BlockHeader::decode(&h).expect("a valid header");
    header.seq = seq;
    out[at..at + len].copy_from_slice(&header.encode());
    out
}

#[test]
fn forged_sequence_numbers_are_counted_without_overflow() {
    let recs = records(2000, 100);
    let clean = write_all(&recs, options(2048, Compression::None));
    let index = reader(&clean).index().to_vec();
    assert!(index.len() >= 4);
    // The largest sequence number, then blocks that go on from 1: nothing may overflow, and
    // every record is still read.
    let forged = with_block_seq(&clean, index[0].offset, u64::MAX);
    let report = reader(&forged).verify().expect("verify");
    assert_eq!(report.records, recs.len() as u64);
    assert_eq!(
        report.missing_blocks,
        u64::MAX,
        "0 .. u64::MAX before block 0"
    );
    // Huge jumps whose sum passes u64::MAX: the count saturates.
    let mut forged = with_block_seq(&clean, index[1].offset, 1 << 63);
    forged = with_block_seq(&forged, index[2].offset, 1);
    forged = with_block_seq(&forged, index[3].offset, (1 << 63) + 3);
    let report = reader(&forged).verify().expect("verify");
    assert_eq!(report.records, recs.len() as u64);
    assert_eq!(report.missing_blocks, u64::MAX);
    // 1 after 2^63, and block 4 (still numbered 4) after 2^63 + 3, go backwards.
    assert_eq!(report.out_of_order_blocks, 2);
    assert!(!report.is_clean());
    // A repeated number is out of order too.
    let forged = with_block_seq(&clean, index[2].offset, index[1].seq);
    let report = reader(&forged).verify().expect("verify");
    assert_eq!(report.out_of_order_blocks, 1);
    assert_eq!(
        report.missing_blocks, 1,
        "the block after the repeat skips one"
    );
    assert_eq!(report.records, recs.len() as u64);
}

#[test]
fn several_corrupted_blocks_in_a_row() {
    let recs = records(3000, 100);
    let clean = write_all(&recs, options(2048, Compression::None));
    let index = reader(&clean).index().to_vec();
    let mut bytes = clean.clone();
    // Wipe blocks 3, 4 and 5 entirely.
    for b in &mut bytes[index[3].offset as usize..index[6].offset as usize] {
        *b = 0;
    }
    let mut r = reader(&bytes);
    let report = r.verify().expect("verify");
    assert_eq!(report.bad_blocks.len(), 1);
    assert_eq!(report.bad_blocks[0].offset, index[3].offset);
    assert_eq!(
        report.bad_blocks[0].skipped_bytes,
        index[6].offset - index[3].offset
    );
    let lost: u64 = index[3..6].iter().map(|e| u64::from(e.records)).sum();
    assert_eq!(report.bad_blocks[0].lost_records, Some(lost));
    assert_eq!(report.missing_blocks, 3);
    assert_eq!(report.records, recs.len() as u64 - lost);
}

#[test]
fn truncated_last_block_at_every_byte() {
    let recs = records(600, 80);
    for compression in [Compression::None, Compression::Zstd] {
        let full = write_all(&recs, options(3000, compression));
        let index = reader(&full).index().to_vec();
        let last = index.last().expect("blocks");
        let last_off = last.offset as usize;
        let data_end = full.len() - 32 - 20 - 40 * index.len();
        let before: usize = recs.len() - last.records as usize;
        for cut in last_off..full.len() {
            let bytes = &full[..cut];
            let mut r = reader(bytes);
            assert_eq!(r.index_state(), IndexState::Rebuilt, "cut {cut}");
            let got: Vec<OwnedRecord> = r.by_ref().filter_map(Result::ok).collect();
            let report = r.report().clone();
            if cut == last_off {
                assert_eq!(got, recs[..before], "cut {cut}");
                assert!(report.truncated_tail.is_none());
            } else if cut < data_end {
                assert_eq!(got, recs[..before], "cut {cut}");
                let (off, reason) = report.truncated_tail.clone().expect("tail");
                assert_eq!(off as usize, last_off, "cut {cut}");
                assert!(
                    matches!(reason, Corruption::Short { .. }),
                    "cut {cut}: {reason}"
                );
            } else if cut == data_end {
                assert_eq!(got, recs);
                assert!(report.truncated_tail.is_none());
            } else {
                // Inside the index trailer: every block read, the tail says so.
                // (under 4 bytes of it, the trailer magic cannot be told: a short block).
                assert_eq!(got, recs);
                let (off, reason) = report.truncated_tail.clone().expect("tail");
                assert_eq!(off as usize, data_end);
                if cut - data_end >= 4 {
                    assert_eq!(reason, Corruption::IncompleteTrailer, "cut {cut}");
                } else {
                    assert!(matches!(reason, Corruption::Short { .. }), "cut {cut}");
                }
            }
            assert!(report.bad_blocks.is_empty());
            // The reported tail matches the error the iterator returned.
            let (_, errs) = read_all(bytes);
            assert_eq!(errs.len(), usize::from(report.truncated_tail.is_some()));
            if let Some(e) = errs.first() {
                assert!(matches!(e, CaptureError::TruncatedTail { .. }));
            }
        }
    }
}

#[test]
fn corrupted_tail_block_is_a_truncated_tail() {
    let recs = records(500, 60);
    let full = write_all(&recs, options(2500, Compression::None));
    let index = reader(&full).index().to_vec();
    let last = *index.last().expect("blocks");
    // Cut the trailer (as after a crash) and corrupt the last block's payload.
    let data_end = full.len() - 32 - 20 - 40 * index.len();
    let mut bytes = full[..data_end].to_vec();
    bytes[last.offset as usize + 60] ^= 1;
    let mut r = reader(&bytes);
    let report = r.verify().expect("verify");
    assert_eq!(report.records, recs.len() as u64 - u64::from(last.records));
    let (off, reason) = report.truncated_tail.clone().expect("tail");
    assert_eq!(off, last.offset);
    assert!(matches!(reason, Corruption::PayloadCrc { .. }));
    // Without a trailer nobody can say how much the tail held.
    assert_eq!((report.tail_lost, report.lost_records()), (None, None));
}

#[test]
fn a_damaged_end_of_a_finished_file_is_counted_from_its_index() {
    let recs = records(500, 60);
    let full = write_all(&recs, options(2500, Compression::None));
    let index = reader(&full).index().to_vec();
    assert!(index.len() > 4);
    let n = index.len();
    let count = |k: usize| u64::from(index[k].records);
    // The last block damaged in place: the trailer and footer are intact.
    let mut bytes = full.clone();
    bytes[index[n - 1].offset as usize + 60] ^= 1;
    let report = reader(&bytes).verify().expect("verify");
    assert_eq!(report.records, recs.len() as u64 - count(n - 1));
    assert_eq!(
        report.truncated_tail.as_ref().map(|t| t.0),
        Some(index[n - 1].offset)
    );
    assert_eq!(report.tail_lost, Some((1, count(n - 1))));
    assert_eq!(report.missing_blocks, 1);
    assert_eq!(report.lost_records(), Some(count(n - 1)));
    // The last two: the first is a bad block (the second's header is intact, so reading
    // resumes there), the second the tail; every lost record is counted.
    bytes[index[n - 2].offset as usize + 60] ^= 1;
    let report = reader(&bytes).verify().expect("verify");
    assert_eq!(report.bad_blocks.len(), 1);
    assert_eq!(report.bad_blocks[0].lost_records, Some(count(n - 2)));
    assert_eq!(report.tail_lost, Some((1, count(n - 1))));
    assert_eq!(report.lost_records(), Some(count(n - 2) + count(n - 1)));
}

#[test]
fn kill_after_flush_recovers_every_flushed_record() {
    let recs = records(5000, 100);
    let opts = WriterOptions {
        block_bytes: 16 << 10,
        compression: Compression::Zstd,
        flush: FlushPolicy::Manual,
        ..WriterOptions::default()
    };
    let mut w = CaptureWriter::new(Vec::new(), &common::header(), opts).expect("writer");
    for r in &recs[..3000] {
        w.write_record(r.ts_ns, r.line, &r.bytes).expect("write");
    }
    w.flush().expect("flush");
    let at_flush = w.get_ref().clone();
    for r in &recs[3000..] {
        w.write_record(r.ts_ns, r.line, &r.bytes).expect("write");
    }
    // "kill -9": the writer is dropped without finish; what reached the Vec is the file.
    let after = w.get_ref().clone();
    drop(w);

    let mut r = reader(&at_flush);
    assert_eq!(r.index_state(), IndexState::Rebuilt);
    let got: Vec<OwnedRecord> = r.by_ref().map(|x| x.expect("ok")).collect();
    assert_eq!(got, recs[..3000]);
    let report = r.report();
    assert!(report.truncated_tail.is_none() && report.bad_blocks.is_empty());

    // Full blocks written after the flush are read too; the pending block is lost, nothing more.
    let (got, errs) = read_all(&after);
    assert!(errs.is_empty());
    assert!(got.len() >= 3000 && got.len() < 5000);
    assert_eq!(got, recs[..got.len()]);

    // A torn write of the next block: the flushed records are intact and the tail reported.
    let mut torn = at_flush.clone();
    torn.extend_from_slice(&after[at_flush.len()..at_flush.len() + 100]);
    let mut r = reader(&torn);
    let report = r.verify().expect("verify");
    assert_eq!(report.records, 3000);
    assert_eq!(
        report.truncated_tail.map(|t| t.0),
        Some(at_flush.len() as u64)
    );
}

#[test]
fn data_that_ends_like_a_footer_does_not_hide_blocks() {
    // A crashed recording (no trailer) whose last record happens to end with 32 bytes that
    // form a valid footer pointing at a block: the index is not there, so the footer is not
    // believed and every block is read.
    let mut recs = records(1500, 100);
    let last = recs.len() - 1;
    recs[last].bytes = vec![0u8; 64];
    let probe = write_all(&recs, options(2048, Compression::None));
    let index = reader(&probe).index().to_vec();
    assert!(index.len() > 3);
    let footer = ticklane_replay::format::encode_footer(index[2].offset, recs.len() as u64);
    recs[last].bytes[32..].copy_from_slice(&footer);
    let finished = write_all(&recs, options(2048, Compression::None));
    assert_eq!(
        reader(&finished).index(),
        &index[..],
        "same blocks as the probe"
    );
    let data_end = finished.len() - 32 - 20 - 40 * index.len();
    let crashed = &finished[..data_end];
    assert_eq!(&crashed[crashed.len() - 32..], &footer[..]);
    let mut r = reader(crashed);
    assert_eq!(r.index_state(), IndexState::Rebuilt);
    assert_eq!(r.index(), &index[..]);
    let (got, errs) = read_all(crashed);
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(got, recs);
    assert_eq!(r.verify().expect("verify").records, recs.len() as u64);
}

#[test]
fn damaged_index_trailer_is_rebuilt() {
    let recs = records(1000, 50);
    let mut bytes = write_all(&recs, options(4000, Compression::None));
    let index = reader(&bytes).index().to_vec();
    let data_end = bytes.len() - 32 - 20 - 40 * index.len();
    bytes[data_end + 20] ^= 0xFF; // inside the first index entry
    let mut r = reader(&bytes);
    assert_eq!(r.index_state(), IndexState::Rebuilt);
    assert_eq!(r.index(), &index[..]);
    let report = r.verify().expect("verify");
    assert_eq!(report.records, 1000);
    assert!(report.truncated_tail.is_none() && report.bad_blocks.is_empty());
}

#[test]
fn a_seek_into_a_corrupted_block_still_skips_earlier_records() {
    // Receive times that step back at a block boundary (a live recorder stamps lines A and B
    // with their own kernel times): block 2 starts earlier than block 1 ends.
    let mut recs = records(60, 40);
    for (i, r) in recs.iter_mut().enumerate() {
        r.bytes = vec![i as u8; 100];
        r.ts_ns = 1_000 + i as u64 * 10;
    }
    let opts = options(1024, Compression::None);
    let clean = write_all(&recs, opts);
    let index = reader(&clean).index().to_vec();
    assert!(index.len() >= 4, "{index:?}");
    let per_block = index[0].records as usize;
    // Rewrite with block 2's records stamped before block 1's last ones.
    for r in &mut recs[2 * per_block..3 * per_block] {
        r.ts_ns -= 15 * 10;
    }
    let bytes = write_all(&recs, opts);
    let index = reader(&bytes).index().to_vec();
    let t = recs[per_block + per_block / 2].ts_ns;
    assert!(index[1].max_ts >= t && index[0].max_ts < t);
    // Corrupt block 1, the seek target.
    let mut broken = bytes.clone();
    broken[index[1].offset as usize + 60] ^= 0x5A;
    let mut r = reader(&broken);
    r.seek(t);
    let mut got = Vec::new();
    let mut errors = 0;
    for item in &mut r {
        match item {
            Ok(rec) => got.push(rec.ts_ns),
            Err(_) => errors += 1,
        }
    }
    assert_eq!(errors, 1);
    // Block 2 starts before `t`: those records are skipped, the rest are read.
    let want: Vec<u64> = recs[2 * per_block..]
        .iter()
        .map(|r| r.ts_ns)
        .skip_while(|&ts| ts < t)
        .collect();
    assert!(recs[2 * per_block].ts_ns < t && !want.is_empty());
    assert_eq!(got, want);
}

#[test]
fn a_damaged_footer_is_told_from_an_interrupted_finish() {
    let recs = records(800, 50);
    let full = write_all(&recs, options(3000, Compression::None));
    assert!(reader(&full).index().len() > 3);
    // A byte of the 32-byte footer: the trailer before it is whole.
    let mut bytes = full.clone();
    let at = bytes.len() - 5;
    bytes[at] ^= 0x5A;
    let report = reader(&bytes).verify().expect("verify");
    assert_eq!(report.records, recs.len() as u64);
    assert_eq!(report.index, IndexState::Rebuilt);
    assert_eq!(
        report.truncated_tail.as_ref().map(|t| &t.1),
        Some(&Corruption::DamagedFooter)
    );
    assert_eq!(report.lost_records(), Some(0), "every block was read");
    // The footer cut off (the writer stopped while writing it): interrupted.
    let cut = &full[..full.len() - 10];
    let report = reader(cut).verify().expect("verify");
    assert_eq!(report.records, recs.len() as u64);
    assert_eq!(
        report.truncated_tail.as_ref().map(|t| &t.1),
        Some(&Corruption::IncompleteTrailer)
    );
    assert_eq!(report.lost_records(), Some(0));
}

#[test]
fn blocks_cut_out_cleanly_or_repeated_are_errors_before_the_records_that_reveal_them() {
    // Both were only counted (`missing_blocks`, `out_of_order_blocks`): a consumer reading
    // the records saw a clean file, and `lost_records` said `Some(0)` with a block missing.
    let recs = records(2000, 100);
    let clean = write_all(&recs, options(2048, Compression::None));
    let index = reader(&clean).index().to_vec();
    let counts: Vec<u32> = index.iter().map(|e| e.records).collect();
    assert!(index.len() >= 4);
    let (b1, b2, b3) = (
        index[1].offset as usize,
        index[2].offset as usize,
        index[3].offset as usize,
    );

    // Block 1 cut out (its bytes removed; every block left is valid).
    let mut cut = clean.clone();
    cut.drain(b1..b2);
    // (The finished file's footer no longer points at its trailer: a damaged footer too.)
    let footer = |e: &CaptureError| {
        matches!(
            e,
            CaptureError::TruncatedTail {
                reason: Corruption::DamagedFooter,
                ..
            }
        )
    };
    let (got, mut errs) = read_all(&cut);
    errs.retain(|e| !footer(e));
    assert_eq!(got, without_block(&recs, &counts, 1));
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0]
            .to_string()
            .contains("blocks 1 to 1 missing before the block at offset"),
        "{errs:?}"
    );
    let mut r = reader(&cut);
    let mut first_error_after = None;
    let mut n = 0u64;
    while let Some(item) = r.next_record() {
        match item {
            Ok(_) => n += 1,
            Err(CaptureError::MissingBlocks {
                offset,
                expected,
                found,
            }) => {
                assert_eq!((offset, expected, found), (b1 as u64, 1, 2));
                first_error_after = Some(n);
            }
            Err(e) if footer(&e) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        first_error_after,
        Some(u64::from(counts[0])),
        "reported after block 0's records, before block 2's"
    );
    let report = reader(&cut).verify().expect("verify");
    assert_eq!((report.missing_blocks, report.cut_blocks), (1, 1));
    // The trailer (still whole at the end) lists block 1 by number: its records are counted.
    if report.index == ticklane_replay::IndexState::Present {
        assert_eq!(report.lost_records(), Some(u64::from(counts[1])));
    } else {
        assert_eq!(report.lost_records(), None);
    }
    // Without a trailer nothing tells how many records the cut took.
    let mut w = ticklane_replay::CaptureWriter::new(
        Vec::new(),
        &common::header(),
        options(2048, Compression::None),
    )
    .expect("writer");
    for r in &recs {
        w.write_record(r.ts_ns, r.line, &r.bytes).expect("write");
    }
    w.flush().expect("flush");
    let mut unfinished = w.get_ref().clone();
    let idx = reader(&unfinished).index().to_vec();
    unfinished.drain(idx[1].offset as usize..idx[2].offset as usize);
    let report = reader(&unfinished).verify().expect("verify");
    assert_eq!((report.missing_blocks, report.cut_blocks), (1, 1));
    assert_eq!(report.lost_records(), None, "{report:?}");

    // Block 1 repeated after itself (a spliced file): read twice, and said.
    let mut spliced = clean.clone();
    let block: Vec<u8> = clean[b1..b2].to_vec();
    spliced.splice(b2..b2, block);
    let (got, mut errs) = read_all(&spliced);
    errs.retain(|e| !footer(e));
    assert_eq!(got.len(), recs.len() + counts[1] as usize);
    // The repeat, then block 2 where 2 came next: one error.
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0]
            .to_string()
            .contains("is number 1 where 2 came next"),
        "{errs:?}"
    );
    let _ = b3;
    let report = reader(&spliced).verify().expect("verify");
    assert_eq!(report.out_of_order_blocks, 1);
    assert_eq!(report.cut_blocks, 0);

    // A corrupt block's missing number is its own error, not a second one.
    let mut bad = clean.clone();
    bad[b1 + 52 + 3] ^= 0x5A;
    let (_, errs) = read_all(&bad);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        matches!(errs[0], CaptureError::CorruptBlock { .. }),
        "{errs:?}"
    );
    assert_eq!(reader(&bad).verify().expect("verify").cut_blocks, 0);
}

#[test]
fn a_capture_cut_inside_its_version_field_is_a_short_header() {
    // It said "unsupported capture format version 0": the version read past the end as 0.
    let recs = records(3, 10);
    let bytes = write_all(&recs, options(1 << 20, Compression::None));
    for cut in 8..=9 {
        let Err(e) =
            ticklane_replay::CaptureReader::new(std::io::Cursor::new(bytes[..cut].to_vec()))
        else {
            panic!("cut at {cut}: opened");
        };
        assert!(
            matches!(
                e,
                CaptureError::BadHeader {
                    reason: "file shorter than the header"
                }
            ),
            "cut at {cut}: {e:?}"
        );
    }
}
