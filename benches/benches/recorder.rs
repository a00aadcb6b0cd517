//! `recorder`: what recording a live feed costs — the feed thread's side of the live recorder
//! (frame a datagram, push it into the recorder's ring: the hot path's whole cost) and the
//! recorder end to end (ring, recorder thread, capture file, finished with its index), against
//! writing the same datagrams to a capture or a pcap from one thread with no ring (tcpdump's
//! shape: the peer).
//!
//! Input: a generated session (seed 7, 64 instruments, 200,000 ITCH messages) packed into
//! MoldUDP64 packets of up to 1,400 bytes, as the exchange simulator sends them. Files go to
//! the system's temporary directory; each iteration removes the previous one's file and
//! creates its own untimed (rewriting a file in place costs its truncation), and only the
//! writing is timed.
//!
//! Run: `cargo bench -p ticklane-benches --bench recorder`.

use std::fs::File;
use std::hint::black_box;
use std::io::BufWriter;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ticklane_feeds::moldudp64::{MoldPacketBuilder, Session, DEFAULT_MAX_PACKET};
use ticklane_feeds::pcap::PcapWriter;
use ticklane_feeds::synth::{generate_framed, SynthConfig};
use ticklane_live::recorder::Recorder;
use ticklane_replay::format::{CaptureHeader, FeedKind, Line};
use ticklane_replay::{CaptureWriter, FlushPolicy, WriterOptions};

const SESSION: Session = *b"BENCH00001";

/// The session's MoldUDP64 packets (receive time, bytes).
fn packets() -> Vec<(u64, Vec<u8>)> {
    let buf = generate_framed(SynthConfig {
        seed: 7,
        messages: 200_000,
        instruments: 64,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let mut b = MoldPacketBuilder::new(SESSION, 1).with_max_packet(DEFAULT_MAX_PACKET);
    let mut out = Vec::new();
    for frame in ticklane_feeds::binfile::Frames::new(&buf) {
        let frame = frame.unwrap_or_else(|e| panic!("{e}"));
        b.push(frame.bytes, |p| out.push(p.to_vec()))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    if let Some(p) = b.flush() {
        out.push(p.to_vec());
    }
    out.into_iter()
        .enumerate()
        .map(|(i, p)| (34_200_000_000_000 + i as u64 * 1_000, p))
        .collect()
}

/// A fresh path in the temporary directory.
fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ticklane-bench-{}-{name}", std::process::id()))
}

fn header() -> CaptureHeader {
    CaptureHeader::new(FeedKind::MoldUdp64, "BENCH00001")
}

fn options(flush: FlushPolicy) -> WriterOptions {
    WriterOptions {
        flush,
        ..WriterOptions::default()
    }
}

/// The live default ring.
const LIVE_RING: usize = 64 << 20;
/// A ring that holds the whole session (6.3 MB of packets and their frames), so that the end to
/// end rows drop nothing and their timing's share of freeing the ring stays small.
const SESSION_RING: usize = 8 << 20;

/// A recorder (its own thread) with its capture open, after removing any file at `path`.
fn start(path: &Path, flush: FlushPolicy, ring: usize) -> Recorder {
    let _ = std::fs::remove_file(path);
    let mut r =
        Recorder::start(path, &header(), options(flush), ring).unwrap_or_else(|e| panic!("{e}"));
    r.open().unwrap_or_else(|e| panic!("{e}"));
    r
}

#[allow(clippy::disallowed_methods)] // A benchmark: wall-clock timing is its purpose.
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

/// `iters` runs of `body`, each after an untimed `setup`; only `body` is timed (it returns
/// what `teardown`, untimed, consumes).
#[allow(clippy::disallowed_methods)] // A benchmark: wall-clock timing is its purpose.
fn timed<S, T>(
    iters: u64,
    mut setup: impl FnMut() -> S,
    mut body: impl FnMut(S) -> T,
    mut teardown: impl FnMut(T),
) -> std::time::Duration {
    let mut spent = std::time::Duration::ZERO;
    for _ in 0..iters {
        let s = setup();
        let t = now();
        let out = body(s);
        spent += t.elapsed();
        teardown(out);
    }
    spent
}

fn recorder(c: &mut Criterion) {
    let pkts = packets();
    let bytes: u64 = pkts.iter().map(|(_, p)| p.len() as u64).sum();
    eprintln!(
        "recorder bench: {} MoldUDP64 packets, {bytes} bytes",
        pkts.len()
    );
    let n = pkts.len() as u64;
    let mut g = c.benchmark_group("recorder");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(bytes));
    let path = temp_path("rec.tlcap");

    // The feed thread's side alone: framing and the ring push (the live 64 MiB ring, the
    // recorder thread draining meanwhile). Start and finish untimed.
    g.bench_function("feed side (record calls)", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || start(&path, FlushPolicy::EveryBlock, LIVE_RING),
                |mut r| {
                    for (ts, p) in &pkts {
                        black_box(r.record(*ts, Line::A, p));
                    }
                    r
                },
                |r| {
                    let s = r.finish().unwrap_or_else(|| panic!("owned thread"));
                    assert_eq!((s.written, s.dropped), (n, 0));
                },
            )
        });
    });
    // End to end: from the first record to the finished file (the recorder thread joined, its
    // ring freed). The start (thread, ring, file) is untimed: its own row below.
    for (name, flush) in [
        ("end to end, flush every block", FlushPolicy::EveryBlock),
        ("end to end, flush at the end", FlushPolicy::Manual),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                timed(
                    iters,
                    || start(&path, flush, SESSION_RING),
                    |mut r| {
                        for (ts, p) in &pkts {
                            r.record(*ts, Line::A, p);
                        }
                        r.finish().unwrap_or_else(|| panic!("owned thread"))
                    },
                    |s| assert_eq!((s.written, s.dropped), (n, 0)),
                )
            });
        });
    }
    // Peers: the same datagrams written from this thread, no ring; the file created (and any
    // old one removed) untimed, as the recorder's is.
    g.bench_function("peer: capture writer, one thread", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || {
                    let _ = std::fs::remove_file(&path);
                    CaptureWriter::create(&path, &header(), options(FlushPolicy::EveryBlock))
                        .unwrap_or_else(|e| panic!("{e}"))
                },
                |mut w| {
                    for (ts, p) in &pkts {
                        w.write_record(*ts, Line::A, p)
                            .unwrap_or_else(|e| panic!("{e}"));
                    }
                    w.finish().unwrap_or_else(|e| panic!("{e}"))
                },
                |out| {
                    black_box(out);
                },
            )
        });
    });
    let pcap_path = temp_path("rec.pcap");
    let src = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 26400);
    let dst = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 1), 26400);
    g.bench_function("peer: pcap writer, one thread", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || {
                    let _ = std::fs::remove_file(&pcap_path);
                    let f = File::create(&pcap_path).unwrap_or_else(|e| panic!("{e}"));
                    PcapWriter::new(BufWriter::with_capacity(64 << 10, f))
                        .unwrap_or_else(|e| panic!("{e}"))
                },
                |mut w| {
                    for (ts, p) in &pkts {
                        w.write_udp(*ts, src, dst, p)
                            .unwrap_or_else(|e| panic!("{e}"));
                    }
                    // Out to the file (the writer's buffer flushed), as the others are.
                    w.into_inner().unwrap_or_else(|e| panic!("{e}"))
                },
                |out| {
                    black_box(out);
                },
            )
        });
    });
    g.finish();
    // The recorder's start: thread, live ring (every page written), capture created and its
    // header written; the finish untimed.
    let mut g = c.benchmark_group("recorder start");
    g.sample_size(20);
    g.bench_function("start and open, 64 MiB ring", |b| {
        b.iter_custom(|iters| {
            timed(
                iters,
                || (),
                |()| start(&path, FlushPolicy::EveryBlock, LIVE_RING),
                |r| {
                    black_box(r.finish());
                },
            )
        });
    });
    g.finish();
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(&pcap_path);
}

criterion_group!(benches, recorder);
criterion_main!(benches);
