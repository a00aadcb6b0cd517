//! The fuzz corpora as regression tests: every file of `feeds/fuzz/corpus/<target>/` and of
//! `feeds/fuzz/regressions/<target>/` (crash reproducers of fixed findings) goes through the
//! target's body in `ticklane_feeds::fuzzing`, on the stable toolchain.
//!
//! The seed inputs the corpora started from are written by the ignored test `write_seeds`
//! (`cargo test -p ticklane-feeds --test fuzz_corpus -- --ignored write_seeds`); see
//! `feeds/fuzz/README.md`.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns panic on failure by design

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};

use ticklane_feeds::fuzzing;
use ticklane_feeds::moldudp64::{MoldPacketBuilder, MoldRequest, Session};
use ticklane_feeds::pcap::{PcapWriter, PcapngWriter};
use ticklane_feeds::rng::SeededRng;
use ticklane_feeds::synth::{SessionGenerator, SynthConfig};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Runs every corpus and regression file of `target` through `body`.
fn run_corpus(target: &str, body: fn(&[u8])) -> usize {
    fuzzing::run_corpus(&fuzz_dir(), target, body)
}

#[test]
fn itch_decode_corpus() {
    run_corpus("itch_decode", fuzzing::itch_decode);
}

#[test]
fn moldudp64_parse_corpus() {
    run_corpus("moldudp64_parse", fuzzing::moldudp64_parse);
}

#[test]
fn pcap_reader_corpus() {
    run_corpus("pcap_reader", fuzzing::pcap_reader);
}

#[test]
fn mold_session_corpus() {
    run_corpus("mold_session", fuzzing::mold_session);
}

/// The seeds pass too (so a change to a body that breaks valid inputs fails here first).
#[test]
fn seeds_pass() {
    for (target, files) in seeds() {
        let body: fn(&[u8]) = match target {
            "itch_decode" => fuzzing::itch_decode,
            "moldudp64_parse" => fuzzing::moldudp64_parse,
            "pcap_reader" => fuzzing::pcap_reader,
            "mold_session" => fuzzing::mold_session,
            other => panic!("{other}"),
        };
        for (name, data) in files {
            let r = std::panic::catch_unwind(|| body(&data));
            assert!(r.is_ok(), "{target}: seed {name} fails");
        }
    }
}

/// Writes the seed inputs into `feeds/fuzz/corpus/<target>/seed-*`.
#[test]
#[ignore = "writes the seed corpus; run by hand"]
fn write_seeds() {
    for (target, files) in seeds() {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, data) in files {
            std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
        }
    }
}

type Seeds = Vec<(&'static str, Vec<(String, Vec<u8>)>)>;

const SESSION: Session = *b"FUZZSESS01";

fn seeds() -> Seeds {
    // ITCH: one message of each type a small synthetic session has, and a stream of them.
    let mut generator = SessionGenerator::new(SynthConfig {
        seed: 3,
        messages: 400,
        instruments: 4,
    })
    .unwrap();
    let mut messages: Vec<Vec<u8>> = Vec::new();
    while let Some(m) = generator.next_message() {
        messages.push(m.to_vec());
    }
    let mut itch = Vec::new();
    let mut seen = Vec::new();
    for m in &messages {
        if !seen.contains(&m[0]) {
            seen.push(m[0]);
            itch.push((format!("type-{}", char::from(m[0])), m.clone()));
        }
    }
    itch.push(("stream".to_string(), messages[100..120].concat()));

    // MoldUDP64: packets of those messages, a heartbeat, end of session, a request.
    let mut packets: Vec<Vec<u8>> = Vec::new();
    let mut builder = MoldPacketBuilder::new(SESSION, 1).with_max_packet(200);
    for m in &messages[..40] {
        builder.push(m, |p| packets.push(p.to_vec())).unwrap();
    }
    if let Some(p) = builder.flush() {
        packets.push(p.to_vec());
    }
    let mut mold: Vec<(String, Vec<u8>)> = packets
        .iter()
        .take(3)
        .enumerate()
        .map(|(i, p)| (format!("data-{i}"), p.clone()))
        .collect();
    mold.push(("heartbeat".into(), builder.heartbeat().to_vec()));
    mold.push(("end-of-session".into(), builder.end_of_session().to_vec()));
    let request = MoldRequest {
        session: SESSION,
        sequence: 7,
        count: 3,
    };
    mold.push(("request".into(), request.encode().to_vec()));

    // pcap and pcapng of a few of those packets.
    let src = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 5000);
    let dst = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 1), 26477);
    let mut pcap = PcapWriter::new(Vec::new()).unwrap();
    let mut pcapng = PcapngWriter::new(Vec::new()).unwrap();
    for (i, p) in packets.iter().take(3).enumerate() {
        let ts = 1_700_000_000_000_000_000 + i as u64 * 1_000;
        pcap.write_udp(ts, src, dst, p).unwrap();
        pcapng.write_udp(ts, src, dst, p).unwrap();
    }
    let pcaps = vec![
        ("pcap".to_string(), pcap.into_inner().unwrap()),
        ("pcapng".to_string(), pcapng.into_inner().unwrap()),
    ];

    // Session scripts: a hand-written one (gap, grace, request, answer on line 2, end of
    // session, finish), and random ones.
    let mut script = vec![
        0b111, 1, 4, 4, 5, 1, 20, 2, 4, 4, // config
        0, 1, 0, 1, 1, 3, 4, // line 0: seq 1..=2
        0, 1, 0, 6, 1, 2, 2, // line 0: seq 6 (gap 3..=5)
        7, // poll at the deadline: request
        20, 1, 0, 3, 2, 5, 5, 5, // line 2: seq 3..=5
        0, 1, 12, 9, // end of session at 9
        9, // finish
    ];
    let mut sessions = vec![("script".to_string(), script.clone())];
    let mut rng = SeededRng::new(11);
    for i in 0..4 {
        script.clear();
        script.extend((0..10).map(|_| rng.below(256) as u8));
        script.extend((0..200).map(|_| rng.below(48) as u8));
        sessions.push((format!("random-{i}"), script.clone()));
    }

    vec![
        ("itch_decode", itch),
        ("moldudp64_parse", mold),
        ("pcap_reader", pcaps),
        ("mold_session", sessions),
    ]
}
