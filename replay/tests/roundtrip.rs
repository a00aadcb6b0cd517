//! Write/read round trips, flush policies, seek, files on disk and bad headers.

mod common;

use std::io::Cursor;

use common::{header, options, read_all, reader, records, write_all};
use proptest::prelude::*;
use ticklane_replay::{
    CaptureError, CaptureReader, CaptureWriter, Compression, FlushPolicy, IndexState, Line,
    OwnedRecord, WriterOptions,
};

#[test]
fn round_trip_block_sizes_and_compression() {
    let recs = records(3000, 300);
    for compression in [Compression::None, Compression::Zstd] {
        for block_bytes in [1, 64, 1000, 65_536, 1 << 20] {
            let bytes = write_all(&recs, options(block_bytes, compression));
            let mut r = reader(&bytes);
            assert_eq!(r.header(), &header());
            assert_eq!(r.index_state(), IndexState::Present);
            let got: Vec<OwnedRecord> = (&mut r).map(|x| x.expect("record")).collect();
            assert_eq!(got, recs, "block_bytes {block_bytes} {compression:?}");
            let report = r.report().clone();
            assert!(report.is_clean(), "{report:?}");
            assert_eq!(report.records, recs.len() as u64);
            assert_eq!(report.good_blocks, r.index().len() as u64);
            if block_bytes == 1 {
                assert_eq!(r.index().len(), recs.len());
            }
        }
    }
}

#[test]
fn zstd_makes_compressible_data_smaller() {
    let recs: Vec<OwnedRecord> = (0..5000u64)
        .map(|i| OwnedRecord {
            ts_ns: i,
            line: Line::A,
            bytes: vec![b'x'; 100],
        })
        .collect();
    let plain = write_all(&recs, options(1 << 16, Compression::None));
    let packed = write_all(&recs, options(1 << 16, Compression::Zstd));
    assert!(
        packed.len() * 10 < plain.len(),
        "{} vs {}",
        packed.len(),
        plain.len()
    );
    assert_eq!(read_all(&packed).0, recs);
}

#[test]
fn empty_capture_reads_empty() {
    let bytes = write_all(&[], WriterOptions::default());
    let mut r = reader(&bytes);
    assert!(r.next_record().is_none());
    assert!(r.verify().expect("verify").is_clean());
    assert!(r.index().is_empty());
}

#[test]
fn verify_reports_and_rewinds() {
    let recs = records(500, 100);
    let bytes = write_all(&recs, options(2000, Compression::None));
    let mut r = reader(&bytes);
    let report = r.verify().expect("verify");
    assert!(report.is_clean());
    assert_eq!(report.records, 500);
    // After verify the reader is back at the start.
    assert_eq!(r.by_ref().count(), 500);
}

#[test]
fn flush_policies() {
    let recs = records(100, 50);
    // Interval: a block at least every 10 records.
    let mut w = CaptureWriter::new(
        Vec::new(),
        &header(),
        WriterOptions {
            flush: FlushPolicy::Interval { records: 10 },
            ..WriterOptions::default()
        },
    )
    .expect("writer");
    for r in &recs {
        w.write_record(r.ts_ns, r.line, &r.bytes).expect("write");
        assert!(w.pending_records() < 10);
    }
    let (bytes, summary) = w.finish().expect("finish");
    assert_eq!(summary.blocks, 10);
    assert_eq!(read_all(&bytes).0, recs);

    // Manual: nothing written past the header until flush.
    let mut w = CaptureWriter::new(
        Vec::new(),
        &header(),
        WriterOptions {
            flush: FlushPolicy::Manual,
            ..WriterOptions::default()
        },
    )
    .expect("writer");
    let header_len = w.bytes_written();
    for r in &recs {
        w.write_record(r.ts_ns, r.line, &r.bytes).expect("write");
    }
    assert_eq!(w.get_ref().len() as u64, header_len);
    assert_eq!(w.pending_records(), 100);
    w.flush().expect("flush");
    assert_eq!(w.pending_records(), 0);
    assert!(w.get_ref().len() as u64 > header_len);
}

#[test]
fn invalid_options_and_records_are_errors() {
    let bad = [
        WriterOptions {
            block_bytes: 0,
            ..WriterOptions::default()
        },
        WriterOptions {
            flush: FlushPolicy::Interval { records: 0 },
            ..WriterOptions::default()
        },
        WriterOptions {
            compression: Compression::Zstd,
            zstd_level: 99,
            ..WriterOptions::default()
        },
    ];
    for o in bad {
        assert!(matches!(
            CaptureWriter::new(Vec::new(), &header(), o),
            Err(CaptureError::InvalidOptions { .. })
        ));
    }
    let mut h = header();
    h.session = "s".repeat(5000);
    assert!(matches!(
        CaptureWriter::new(Vec::new(), &h, WriterOptions::default()),
        Err(CaptureError::HeaderFieldTooLong { .. })
    ));
    let mut w = CaptureWriter::new(Vec::new(), &header(), WriterOptions::default()).expect("w");
    let huge = vec![0u8; ticklane_replay::format::MAX_RECORD_LEN + 1];
    assert!(matches!(
        w.write_record(0, Line::A, &huge),
        Err(CaptureError::RecordTooLarge { .. })
    ));
}

#[test]
fn bad_headers_are_typed_errors() {
    let bytes = write_all(&records(10, 10), WriterOptions::default());
    assert!(matches!(
        CaptureReader::new(Cursor::new(b"not a capture at all, no".to_vec())),
        Err(CaptureError::BadMagic { .. })
    ));
    assert!(matches!(
        CaptureReader::new(Cursor::new(Vec::new())),
        Err(CaptureError::BadHeader { .. })
    ));
    let mut v = bytes.clone();
    v[8] = 9; // version
    assert!(matches!(
        CaptureReader::new(Cursor::new(v)),
        Err(CaptureError::UnsupportedVersion { version: 9 })
    ));
    let mut v = bytes.clone();
    v[40] ^= 0xFF; // inside the session name: CRC mismatch
    assert!(matches!(
        CaptureReader::new(Cursor::new(v)),
        Err(CaptureError::BadHeader { .. })
    ));
    let header_len = reader(&bytes).data_start() as usize;
    for cut in 0..header_len {
        assert!(CaptureReader::new(Cursor::new(bytes[..cut].to_vec())).is_err());
    }
    // The header alone is an empty capture.
    let mut r = reader(&bytes[..header_len]);
    assert!(r.next_record().is_none());
}

#[test]
fn seek_by_time() {
    let recs = records(5000, 40);
    for (bytes, rebuilt) in [
        (write_all(&recs, options(1500, Compression::Zstd)), false),
        (write_all(&recs, options(700, Compression::None)), false),
    ]
    .into_iter()
    .chain(std::iter::once({
        // The same capture without its trailer: the index is rebuilt by a scan.
        let bytes = write_all(&recs, options(900, Compression::None));
        let r = reader(&bytes);
        let end = r.index().last().map(|e| e.offset).expect("blocks");
        // Cut where the index trailer starts (20 bytes of index framing, 40 per entry, 32 of
        // footer).
        let idx_off = bytes.len() - 32 - 20 - 40 * r.index().len();
        assert!(idx_off as u64 > end);
        (bytes[..idx_off].to_vec(), true)
    })) {
        let mut r = reader(&bytes);
        assert_eq!(r.index_state() == IndexState::Rebuilt, rebuilt);
        for probe in [0, 1, 17, 999, 2500, 4321, 4999] {
            let t = recs[probe].ts_ns;
            r.seek(t);
            let first = r.next_record().expect("some").expect("ok");
            let want = recs.iter().find(|x| x.ts_ns >= t).expect("exists");
            assert_eq!(first.to_owned(), *want);
            // Seeking between two timestamps lands on the next one.
            r.seek(t + 1);
            let next = r.next_record().map(|x| x.expect("ok").to_owned());
            assert_eq!(next.as_ref(), recs.iter().find(|x| x.ts_ns > t));
        }
        r.seek(0);
        assert_eq!(r.by_ref().count(), recs.len());
        r.seek(u64::MAX);
        assert!(r.next_record().is_none());
    }
}

#[test]
fn file_round_trip_with_sync() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("a.tlcap");
    let recs = records(2000, 200);
    let mut w = CaptureWriter::create(&path, &header(), options(10_000, Compression::Zstd))
        .expect("create");
    for (i, r) in recs.iter().enumerate() {
        w.write_record(r.ts_ns, r.line, &r.bytes).expect("write");
        if i == 1000 {
            w.sync().expect("sync");
        }
    }
    w.finish().expect("finish");
    let mut r = CaptureReader::open(&path).expect("open");
    let got: Vec<OwnedRecord> = r.by_ref().map(|x| x.expect("ok")).collect();
    assert_eq!(got, recs);
    assert!(r.report().is_clean());
}

fn arb_record() -> impl Strategy<Value = OwnedRecord> {
    (
        any::<u64>(),
        0u8..3,
        prop::collection::vec(any::<u8>(), 0..600),
    )
        .prop_map(|(ts_ns, l, bytes)| OwnedRecord {
            ts_ns,
            line: match l {
                0 => Line::A,
                1 => Line::B,
                _ => Line::Single,
            },
            bytes,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prop_round_trip(
        recs in prop::collection::vec(arb_record(), 0..200),
        block_bytes in 1usize..4000,
        zstd in any::<bool>(),
        interval in prop::option::of(1u64..50),
    ) {
        let opts = WriterOptions {
            block_bytes,
            compression: if zstd { Compression::Zstd } else { Compression::None },
            flush: interval.map_or(FlushPolicy::EveryBlock, |records| FlushPolicy::Interval { records }),
            ..WriterOptions::default()
        };
        let bytes = write_all(&recs, opts);
        let (got, errs) = read_all(&bytes);
        prop_assert!(errs.is_empty());
        prop_assert_eq!(got, recs);
    }

    #[test]
    fn prop_random_corruption_never_panics_and_keeps_order(
        recs in prop::collection::vec(arb_record(), 1..100),
        block_bytes in 100usize..2000,
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..5),
    ) {
        let mut bytes = write_all(&recs, common::options(block_bytes, Compression::None));
        let header_len = reader(&bytes).data_start() as usize;
        let body = bytes.len() - header_len;
        for (i, x) in flips {
            let at = header_len + i.index(body);
            bytes[at] ^= x;
        }
        let (got, _errs) = read_all(&bytes);
        // Whatever survives is a subsequence of what was written.
        let mut it = recs.iter();
        for g in &got {
            prop_assert!(it.any(|r| r == g));
        }
    }
}

/// Under `Manual` full blocks are written and flushed as they fill (as the
/// docs now say: "full blocks; the partial one only at the end"), the partial block not.
#[test]
fn manual_flush_flushes_full_blocks_and_keeps_the_partial_one() {
    let mut w = CaptureWriter::new(
        Vec::new(),
        &header(),
        WriterOptions {
            block_bytes: 1000,
            flush: FlushPolicy::Manual,
            ..WriterOptions::default()
        },
    )
    .expect("writer");
    for r in &records(100, 100) {
        w.write_record(r.ts_ns, r.line, &r.bytes).expect("write");
    }
    assert!(w.pending_records() > 0 && w.pending_records() < 100);
    assert_eq!(w.durable_records() + u64::from(w.pending_records()), 100);
}
