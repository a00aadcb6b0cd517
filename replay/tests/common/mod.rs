//! Helpers shared by the capture tests.
#![allow(dead_code)]

use std::io::Cursor;

use ticklane_replay::{
    CaptureHeader, CaptureReader, CaptureWriter, Compression, FeedKind, Line, OwnedRecord,
    WriterOptions,
};

/// Deterministic records: increasing timestamps, lines cycling, lengths 0..=max_len.
pub fn records(n: usize, max_len: usize) -> Vec<OwnedRecord> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut ts = 34_200_000_000_000u64;
    (0..n)
        .map(|i| {
            ts += next() % 10_000;
            let len = (next() % (max_len as u64 + 1)) as usize;
            let bytes = (0..len).map(|_| next() as u8).collect();
            let line = match i % 3 {
                0 => Line::A,
                1 => Line::B,
                _ => Line::Single,
            };
            OwnedRecord {
                ts_ns: ts,
                line,
                bytes,
            }
        })
        .collect()
}

pub fn header() -> CaptureHeader {
    let mut h = CaptureHeader::new(FeedKind::MoldUdp64, "TICKLANE01");
    h.creator = "ticklane-replay tests".into();
    h.created_ns = 1_580_360_400_000_000_000;
    h
}

pub fn options(block_bytes: usize, compression: Compression) -> WriterOptions {
    WriterOptions {
        block_bytes,
        compression,
        ..WriterOptions::default()
    }
}

/// Writes `recs` into an in-memory finished capture.
pub fn write_all(recs: &[OwnedRecord], opts: WriterOptions) -> Vec<u8> {
    let mut w = CaptureWriter::new(Vec::new(), &header(), opts).expect("writer");
    for r in recs {
        w.write_record(r.ts_ns, r.line, &r.bytes).expect("write");
    }
    let (bytes, summary) = w.finish().expect("finish");
    assert_eq!(summary.records, recs.len() as u64);
    assert_eq!(summary.bytes, bytes.len() as u64);
    bytes
}

pub fn reader(bytes: &[u8]) -> CaptureReader<Cursor<Vec<u8>>> {
    CaptureReader::new(Cursor::new(bytes.to_vec())).expect("open")
}

/// Reads everything, splitting records from errors (as display strings).
pub fn read_all(bytes: &[u8]) -> (Vec<OwnedRecord>, Vec<ticklane_replay::CaptureError>) {
    let mut r = reader(bytes);
    let mut recs = Vec::new();
    let mut errs = Vec::new();
    for item in &mut r {
        match item {
            Ok(rec) => recs.push(rec),
            Err(e) => errs.push(e),
        }
    }
    (recs, errs)
}
