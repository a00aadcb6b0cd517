//! Every single-byte flip and every cut of a small finished capture; the
//! report's counts must agree with what was read.

mod common;

use common::{options, reader, records, write_all};
use ticklane_replay::{Compression, OwnedRecord};

fn check(bytes: &[u8], recs: &[OwnedRecord], what: &str, fails: &mut Vec<String>) {
    let mut r = match ticklane_replay::CaptureReader::new(std::io::Cursor::new(bytes.to_vec())) {
        Ok(r) => r,
        Err(_) => return,
    };
    let got: Vec<OwnedRecord> = r.by_ref().filter_map(Result::ok).collect();
    let rep = r.report().clone();
    let mut it = recs.iter();
    if !got.iter().all(|g| it.any(|x| x == g)) {
        fails.push(format!("{what}: not a subsequence"));
    }
    if rep.records != got.len() as u64 {
        fails.push(format!(
            "{what}: report.records {} != read {}",
            rep.records,
            got.len()
        ));
    }
    let clean_cut = what.contains("cut") && rep.truncated_tail.is_none();
    if let Some(lost) = rep.lost_records().filter(|_| !clean_cut) {
        if got.len() as u64 + lost != recs.len() as u64 {
            fails.push(format!(
                "{what}: read {} + lost {lost} != written {} ({:?})",
                got.len(),
                recs.len(),
                rep
            ));
        }
    }
}

#[test]
fn every_flip_and_cut_counts_what_was_lost() {
    let recs = records(120, 60);
    let mut fails = Vec::new();
    for compression in [Compression::None, Compression::Zstd] {
        let full = write_all(&recs, options(700, compression));
        let start = reader(&full).data_start() as usize;
        for at in start..full.len() {
            for mask in [0x01u8, 0x80, 0xFF] {
                let mut b = full.clone();
                b[at] ^= mask;
                check(
                    &b,
                    &recs,
                    &format!("{compression:?} flip {at}^{mask:#x}"),
                    &mut fails,
                );
            }
            check(
                &full[..at],
                &recs,
                &format!("{compression:?} cut {at}"),
                &mut fails,
            );
        }
    }
    assert!(
        fails.is_empty(),
        "{} failures, first: {:#?}",
        fails.len(),
        &fails[..fails.len().min(5)]
    );
}

#[test]
fn random_pairs_of_damage_count_what_was_lost() {
    let recs = records(120, 60);
    let mut fails = Vec::new();
    let mut state = 0x1234_5678_9abc_def1u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for compression in [Compression::None, Compression::Zstd] {
        let full = write_all(&recs, options(700, compression));
        let start = reader(&full).data_start() as usize;
        let body = full.len() - start;
        for _ in 0..20_000 {
            let mut b = full.clone();
            let a = start + (next() % body as u64) as usize;
            let c = start + (next() % body as u64) as usize;
            b[a] ^= (next() % 255 + 1) as u8;
            let cut = next() % 3 == 0;
            if cut {
                b.truncate(c.max(a + 1));
            } else {
                b[c] ^= (next() % 255 + 1) as u8;
            }
            check(
                &b,
                &recs,
                &format!(
                    "{compression:?} flip {a} {} {c}",
                    if cut { "cut" } else { "flip" }
                ),
                &mut fails,
            );
        }
    }
    assert!(
        fails.is_empty(),
        "{} failures, first: {:#?}",
        fails.len(),
        &fails[..fails.len().min(5)]
    );
}

#[test]
fn the_trailer_index_matches_the_blocks_walked() {
    use ticklane_replay::{CaptureWriter, FlushPolicy, WriterOptions};
    for compression in [Compression::None, Compression::Zstd] {
        for block in [1usize, 13, 50, 700, 1 << 20] {
            for flush in [
                FlushPolicy::EveryBlock,
                FlushPolicy::Interval { records: 7 },
                FlushPolicy::Manual,
            ] {
                let recs = records(200, 120);
                let opts = WriterOptions {
                    block_bytes: block,
                    compression,
                    flush,
                    ..WriterOptions::default()
                };
                let mut w = CaptureWriter::new(Vec::new(), &common::header(), opts).expect("w");
                for (i, r) in recs.iter().enumerate() {
                    w.write_record(r.ts_ns, r.line, &r.bytes).expect("write");
                    if i % 37 == 0 {
                        w.flush().expect("flush");
                    }
                }
                let (full, sum) = w.finish().expect("finish");
                let r = reader(&full);
                assert_eq!(r.index_state(), ticklane_replay::IndexState::Present);
                let present = r.index().to_vec();
                let foot = &full[full.len() - 32..];
                let index_off = u64::from_le_bytes(foot[8..16].try_into().unwrap()) as usize;
                let total = u64::from_le_bytes(foot[16..24].try_into().unwrap());
                assert_eq!(total, 200);
                assert_eq!(sum.blocks, present.len() as u64);
                let cut = reader(&full[..index_off]);
                assert_eq!(cut.index_state(), ticklane_replay::IndexState::Rebuilt);
                assert_eq!(
                    cut.index(),
                    &present[..],
                    "{compression:?} {block} {flush:?}"
                );
                let n: u64 = present.iter().map(|e| u64::from(e.records)).sum();
                assert_eq!(n, 200);
                for (k, e) in present.iter().enumerate() {
                    assert_eq!(e.seq, k as u64);
                }
                let (got, errs) = common::read_all(&full);
                assert!(errs.is_empty());
                assert_eq!(got, recs);
            }
        }
    }
}
