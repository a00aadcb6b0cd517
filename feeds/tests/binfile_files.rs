//! NASDAQ binary files: real files, zero length prefixes, gzip streaming, error offsets.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns panic on failure by design

use std::io::Write;
use std::path::PathBuf;

use flate2::write::GzEncoder;
use flate2::Compression;
use proptest::prelude::*;
use ticklane_feeds::binfile::{
    BinFile, Frame, Frames, FramingError, LengthMode, StreamFrames, STREAM_BUFFER_LEN,
};

fn shared(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/")).join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Collects every frame (owned) and the terminal error, if any, from a lending reader.
fn drain(
    mut next: impl FnMut() -> Option<Result<(u64, Vec<u8>), FramingError>>,
) -> (Vec<(u64, Vec<u8>)>, Option<FramingError>) {
    let mut frames = Vec::new();
    let mut err = None;
    while let Some(r) = next() {
        match r {
            Ok(f) => frames.push(f),
            Err(e) => {
                assert!(err.is_none(), "a second error after {err:?}");
                err = Some(e);
            }
        }
    }
    (frames, err)
}

fn owned(f: Frame<'_>) -> (u64, Vec<u8>) {
    (f.offset, f.bytes.to_vec())
}

#[test]
fn binfile_real_aapl() {
    let Some(path) = shared("itch/nasdaq_20200130_aapl_first10k.itch50") else {
        return;
    };
    let data = std::fs::read(&path).unwrap();
    assert_eq!(data.len(), 307_643);
    let frames: Vec<Frame<'_>> = Frames::new(&data).map(Result::unwrap).collect();
    assert_eq!(frames.len(), 10_000);
    let last = frames.last().unwrap();
    assert_eq!(last.offset as usize + 2 + last.bytes.len(), data.len());
    // Type counts from the file's provenance notes.
    let mut counts = std::collections::BTreeMap::new();
    for f in &frames {
        *counts.entry(f.bytes[0]).or_insert(0usize) += 1;
        assert_eq!(
            Some(f.bytes.len()),
            ticklane_feeds::itch::message_len(f.bytes[0])
        );
    }
    for (ty, n) in [
        (b'A', 4758),
        (b'D', 4083),
        (b'E', 849),
        (b'P', 240),
        (b'L', 52),
        (b'U', 7),
        (b'X', 6),
        (b'F', 2),
        (b'R', 1),
    ] {
        assert_eq!(counts.get(&ty), Some(&n), "type {}", ty as char);
    }
    // FromType agrees with the prefixes on a well-formed file.
    let by_type: Vec<Frame<'_>> = Frames::with_mode(&data, LengthMode::FromType)
        .map(Result::unwrap)
        .collect();
    assert_eq!(by_type, frames);
    // BinFile (mmap): next_frame and frames() agree.
    let mut f = BinFile::open(&path).unwrap();
    assert!(!f.is_gzip());
    assert_eq!(f.as_bytes().map(<[u8]>::len), Some(307_643));
    let (a, err) = drain(|| f.next_frame().map(|r| r.map(owned)));
    assert!(err.is_none());
    let b: Vec<_> = f.frames().unwrap().map(|r| owned(r.unwrap())).collect();
    assert_eq!(a, b);
    assert_eq!(a.len(), 10_000);
}

#[test]
fn binfile_zero_prefix_file() {
    let Some(path) = shared("itch/ritch_ex20101224_zero_prefix.itch50") else {
        return;
    };
    let data = std::fs::read(&path).unwrap();
    // Default: rejected at the first prefix.
    let mut it = Frames::new(&data);
    assert!(matches!(
        it.next(),
        Some(Err(FramingError::ZeroLength { offset: 0 }))
    ));
    assert!(it.next().is_none(), "framing is lost after an error");
    let mut f = BinFile::open(&path).unwrap();
    let err = f.next_frame().unwrap().unwrap_err();
    assert!(matches!(err, FramingError::ZeroLength { offset: 0 }));
    assert!(err.to_string().contains("zero length"), "{err}");
    assert!(f.next_frame().is_none());
    // FromType: reads to the end.
    let frames: Vec<Frame<'_>> = Frames::with_mode(&data, LengthMode::FromType)
        .map(Result::unwrap)
        .collect();
    eprintln!(
        "zero-prefix file, LengthMode::FromType: {} frames",
        frames.len()
    );
    let last = frames.last().unwrap();
    assert_eq!(last.offset as usize + 2 + last.bytes.len(), data.len());
    assert_eq!(frames.len(), 12_012); // observed; the last frame ends exactly at the end of the file
    let mut f = BinFile::open_with(&path, LengthMode::FromType).unwrap();
    let (a, err) = drain(|| f.next_frame().map(|r| r.map(owned)));
    assert!(err.is_none());
    assert_eq!(a.len(), frames.len());
}

#[test]
fn binfile_from_type_unknown_type_and_truncation() {
    // 'S' system event is 12 bytes; then an unknown type 'Z'.
    let mut data = vec![0, 0, b'S'];
    data.extend_from_slice(&[0; 11]);
    data.extend_from_slice(&[0, 0, b'Z', 1, 2]);
    let mut it = Frames::with_mode(&data, LengthMode::FromType);
    assert_eq!(it.next().unwrap().unwrap().bytes.len(), 12);
    assert!(matches!(
        it.next(),
        Some(Err(FramingError::UnknownType {
            offset: 14,
            ty: b'Z'
        }))
    ));
    assert!(it.next().is_none());
    // Cut inside a message, and a prefix with no type byte.
    let mut it = Frames::with_mode(&data[..10], LengthMode::FromType);
    assert!(matches!(
        it.next(),
        Some(Err(FramingError::TruncatedMessage {
            offset: 0,
            needed: 14,
            available: 10
        }))
    ));
    let mut it = Frames::with_mode(&data[..16], LengthMode::FromType);
    it.next();
    assert!(matches!(
        it.next(),
        Some(Err(FramingError::TruncatedMessage {
            offset: 14,
            needed: 3,
            available: 2
        }))
    ));
}

#[test]
fn binfile_gzip_round_trip() {
    let Some(path) = shared("itch/nasdaq_20200130_aapl_first10k.itch50") else {
        return;
    };
    let data = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let gz_path = dir.path().join("aapl.itch50.gz");
    std::fs::write(&gz_path, gz(&data)).unwrap();
    let mut f = BinFile::open(&gz_path).unwrap();
    assert!(f.is_gzip());
    assert!(f.frames().is_none());
    let (got, err) = drain(|| f.next_frame().map(|r| r.map(owned)));
    assert!(err.is_none());
    let want: Vec<_> = Frames::new(&data).map(|r| owned(r.unwrap())).collect();
    assert_eq!(got, want);
    // Concatenated gzip members read as one stream.
    let cut = Frames::new(&data)
        .map(Result::unwrap)
        .find(|f| f.offset >= 1000)
        .unwrap()
        .offset as usize;
    let mut two = gz(&data[..cut]);
    two.extend_from_slice(&gz(&data[cut..]));
    let multi = dir.path().join("multi.gz");
    std::fs::write(&multi, two).unwrap();
    let mut f = BinFile::open(&multi).unwrap();
    let (got, err) = drain(|| f.next_frame().map(|r| r.map(owned)));
    assert!(err.is_none());
    assert_eq!(got, want);
}

#[test]
fn binfile_gzip_large_stream_and_errors() {
    // Several buffers' worth, with frames straddling every refill boundary.
    let mut data = Vec::new();
    let mut i = 0u32;
    while data.len() < 3 * STREAM_BUFFER_LEN + 12_345 {
        let len = (i * 7919 % 9000 + 1) as u16;
        data.extend_from_slice(&len.to_be_bytes());
        data.extend((0..len).map(|k| (u32::from(k) ^ i) as u8));
        i += 1;
    }
    let big = {
        let len = u16::MAX;
        let mut v = len.to_be_bytes().to_vec();
        v.extend(std::iter::repeat_n(7u8, usize::from(len)));
        v
    };
    data.extend_from_slice(&big);
    let want: Vec<_> = Frames::new(&data).map(|r| owned(r.unwrap())).collect();
    let compressed = gz(&data);
    let mut s = StreamFrames::gzip(&compressed[..], LengthMode::Prefix);
    let (got, err) = drain(|| s.next_frame().map(|r| r.map(owned)));
    assert!(err.is_none());
    assert_eq!(got, want);
    // Truncated at the end of the decompressed data: typed error with the offset.
    let cut = data.len() - 100;
    let cut_gz = gz(&data[..cut]);
    let mut s = StreamFrames::gzip(&cut_gz[..], LengthMode::Prefix);
    let (got, err) = drain(|| s.next_frame().map(|r| r.map(owned)));
    assert_eq!(got.len(), want.len() - 1);
    let last_at = want.last().unwrap().0;
    assert!(
        matches!(err, Some(FramingError::TruncatedMessage { offset, .. }) if offset == last_at)
    );
    // A corrupt (cut) compressed stream: an I/O error, after the frames that decompressed.
    let mut s = StreamFrames::gzip(&compressed[..compressed.len() / 2], LengthMode::Prefix);
    let (got, err) = drain(|| s.next_frame().map(|r| r.map(owned)));
    assert!(!got.is_empty() && got.len() < want.len());
    assert!(err.is_some(), "a cut gzip stream must not end silently");
    assert!(s.next_frame().is_none());
}

proptest! {
    #[test]
    fn binfile_stream_equals_slice(
        data in prop::collection::vec(any::<u8>(), 0..600),
        from_type in any::<bool>(),
    ) {
        let mode = if from_type { LengthMode::FromType } else { LengthMode::Prefix };
        let slice: Vec<_> = Frames::with_mode(&data, mode)
            .map(|r| r.map(owned).map_err(|e| e.to_string()))
            .collect();
        let mut s = StreamFrames::new(&data[..], mode);
        let mut stream = Vec::new();
        while let Some(r) = s.next_frame() {
            stream.push(r.map(owned).map_err(|e| e.to_string()));
        }
        prop_assert_eq!(&slice, &stream);
        // At most one error, and only at the end.
        prop_assert!(slice.iter().rev().skip(1).all(Result::is_ok));
    }
}
