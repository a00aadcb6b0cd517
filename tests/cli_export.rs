//! `ticklane export`, `record` and `inspect` around captures: a pcap recorded into a capture
//! and exported back (pcap and pcapng) carries the same datagrams (the same messages, packets
//! and digest); a capture of a binary file is refused, with the reason; a capture's header says
//! who made it and when.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

mod live_support;

use live_support::{json_exit, json_of, run_ok, BIN};
use ticklane_replay::{CaptureHeader, CaptureReader, CaptureWriter, FeedKind, Line, WriterOptions};

fn ticklane(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    String::from_utf8(run_ok(args).stdout).unwrap()
}

fn json(args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.push("--json");
    json_of(&ticklane(&a))
}

/// A generated session of 20,000 messages as a pcap of MoldUDP64 packets.
fn gen_pcap(path: &str) {
    let args = [
        "gen",
        "--seed",
        "3",
        "--messages",
        "20000",
        "--format",
        "pcap",
        "-o",
        path,
    ];
    ok(&args);
}

#[test]
fn a_pcap_recorded_and_exported_back_carries_the_same_datagrams() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (pcap, cap, back, backng) = (p("a.pcap"), p("a.tlcap"), p("b.pcap"), p("c.pcapng"));
    gen_pcap(&pcap);
    ok(&["record", &pcap, "-o", &cap]);
    let out = ok(&["export", &cap, "-o", &back]);
    assert!(out.starts_with("exported "), "{out}");
    ok(&["export", &cap, "-o", &backng, "--format", "pcapng"]);

    let original = json(&["inspect", &pcap]);
    assert_eq!(original["messages"], 20_000);
    assert!(original["packets"].as_u64().unwrap() > 100, "{original}");
    let digest = json(&["replay", &pcap])["digest"].clone();
    for (file, format) in [(&back, "pcap"), (&backng, "pcapng")] {
        let v = json(&["inspect", file]);
        assert_eq!(v["format"], format, "{v}");
        for key in [
            "messages",
            "by_type",
            "packets",
            "gaps",
            "duplicates",
            "errors",
        ] {
            assert_eq!(v[key], original[key], "{file}: {key}");
        }
        assert_eq!(json(&["replay", file])["digest"], digest, "{file}");
    }
    // The exported pcap records into the same capture records again.
    let again = p("again.tlcap");
    ok(&["record", &back, "-o", &again]);
    let (a, b) = (json(&["inspect", &cap]), json(&["inspect", &again]));
    assert_eq!(a["packets"], b["packets"]);
    assert_eq!(a["by_type"], b["by_type"]);
}

#[test]
fn a_capture_header_says_who_made_it_and_a_binary_files_capture_does_not_export() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (itch, cap) = (p("s.itch"), p("s.tlcap"));
    ok(&["gen", "--seed", "3", "--messages", "5000", "-o", &itch]);
    ok(&["record", &itch, "-o", &cap]);
    let v = json(&["inspect", &cap]);
    let h = &v["capture"];
    assert_eq!(h["feed"], "itch-binary", "{v}");
    assert_eq!(h["session"], "s.itch", "{v}");
    assert!(
        h["creator"].as_str().unwrap().starts_with("ticklane "),
        "{v}"
    );
    // Made after this test was written (2026) and not in the far future.
    let created = h["created_ns"].as_u64().unwrap();
    assert!(
        (1_767_225_600_000_000_000..4_102_444_800_000_000_000).contains(&created),
        "{v}"
    );
    assert!(h["created"].as_str().unwrap().ends_with('Z'), "{v}");
    let text = ok(&["inspect", &cap]);
    assert!(
        text.contains("records     5000 (one ITCH message each)"),
        "{text}"
    );
    assert!(!text.contains("moldudp64"), "{text}");

    let o = ticklane(&["export", &cap, "-o", &p("x.pcap")]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("not datagrams"), "{err}");
    // Exporting over the input is refused before anything is written.
    let o = ticklane(&["export", &cap, "-o", &cap]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("both the input and the output"));
    assert_eq!(json(&["inspect", &cap])["messages"], 5_000);
}

/// A binary file whose length prefixes are all zero: `replay`, `run` and `record` say where and
/// point to `--lengths-from-type`, which all three accept, and which then decides what the
/// intact file decides.
#[test]
fn zeroed_length_prefixes_are_read_with_lengths_from_type() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (itch, zeroed) = (p("s.itch"), p("zeroed.itch"));
    ok(&["gen", "--seed", "5", "--messages", "20000", "-o", &itch]);
    let mut bytes = std::fs::read(&itch).unwrap();
    let mut pos = 0;
    while pos < bytes.len() {
        let len = usize::from(u16::from_be_bytes([bytes[pos], bytes[pos + 1]]));
        bytes[pos] = 0;
        bytes[pos + 1] = 0;
        pos += 2 + len;
    }
    std::fs::write(&zeroed, &bytes).unwrap();
    let o = ticklane(&["replay", &zeroed, "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["first_errors"]
            .to_string()
            .contains("--lengths-from-type"),
        "{v}"
    );
    let digest = json(&["replay", &itch])["digest"].clone();
    let fixed = json(&["replay", &zeroed, "--lengths-from-type"]);
    assert_eq!(fixed["errors"], 0, "{fixed}");
    assert_eq!(fixed["digest"], digest);
    assert_eq!(
        json(&["run", "--file", &zeroed, "--lengths-from-type"])["digest"],
        digest
    );
    let cap = p("z.tlcap");
    ok(&["record", &zeroed, "-o", &cap, "--lengths-from-type"]);
    assert_eq!(json(&["replay", &cap])["digest"], digest);
    // The flag is for binary files: a capture, a pcap and a live input refuse it.
    let pcap = p("a.pcap");
    gen_pcap(&pcap);
    for file in [&cap, &pcap] {
        let o = ticklane(&["replay", file, "--lengths-from-type"]);
        assert!(!o.status.success(), "{file}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("--lengths-from-type applies to binary files only"),
            "{err}"
        );
    }
    let o = ticklane(&[
        "record",
        "udp://127.0.0.1:9",
        "-o",
        &p("l.tlcap"),
        "--lengths-from-type",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--lengths-from-type"));
}

/// `record --flush`: every policy writes the same capture contents; a policy it does not know
/// is refused, naming the flag.
#[test]
fn record_takes_a_flush_policy() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let itch = p("s.itch");
    ok(&["gen", "--seed", "4", "--messages", "20000", "-o", &itch]);
    let mut seen = Vec::new();
    for policy in ["block", "records:100", "manual"] {
        let cap = p(&format!("{}.tlcap", policy.replace(':', "_")));
        ok(&["record", &itch, "-o", &cap, "--flush", policy]);
        let v = json(&["inspect", &cap]);
        assert_eq!(v["errors"], 0, "{policy}: {v}");
        seen.push((v["messages"].clone(), v["by_type"].clone()));
    }
    assert_eq!(seen[0].0, 20_000);
    assert!(seen.windows(2).all(|w| w[0] == w[1]));
    let o = ticklane(&["record", &itch, "-o", &p("x.tlcap"), "--flush", "sometimes"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--flush") && err.contains("sometimes"),
        "{err}"
    );
}

/// A pcap and its capture with an undecodable message: `replay` (which decodes each message
/// straight into its event) counts the same messages and errors, at the same stage, as
/// `inspect` (which decodes to a message view first), and goes on past it.
#[test]
fn replay_and_inspect_count_a_bad_message_in_a_recording_alike() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (good, bad, cap) = (p("a.pcap"), p("b.pcap"), p("b.tlcap"));
    gen_pcap(&good);
    let mut bytes = std::fs::read(&good).unwrap();
    // The first message's type byte: pcap header 24, record header 16, Ethernet 14, IPv4 20,
    // UDP 8, MoldUDP64 header 20, message length 2.
    let at = 24 + 16 + 14 + 20 + 8 + 20 + 2;
    assert_eq!(bytes[at], b'S', "the first message is the system event");
    bytes[at] = b'z';
    std::fs::write(&bad, &bytes).unwrap();
    ok(&["record", &bad, "-o", &cap]);
    let intact = json(&["replay", &good])["events"].as_u64().unwrap();
    for file in [&bad, &cap] {
        let i = json(&["inspect", file]);
        let r = json(&["replay", file]);
        assert_eq!(i["messages"], 19_999, "{file}");
        assert_eq!(
            (&r["messages"], &r["errors"]),
            (&i["messages"], &i["errors"]),
            "{file}"
        );
        assert_eq!(r["errors"], 1);
        let first = r["first_errors"].to_string();
        assert!(
            first.contains("(decode): unknown ITCH message type 0x7a"),
            "{first}"
        );
        assert_eq!(
            r["events"].as_u64().unwrap() + 1,
            intact,
            "{file}: one event fewer than the intact file"
        );
    }
}

/// `from` (a capture) rewritten to `to` with the same header and records, `edit` choosing
/// each record's line (given its index) and what to write before the first; returns the lines.
fn rewrite_capture(
    from: &str,
    to: &str,
    before: Option<(Line, &[u8])>,
    line: impl Fn(usize, Line) -> Line,
) -> Vec<Line> {
    let reader = CaptureReader::open(from).unwrap();
    let header = reader.header().clone();
    let mut w = CaptureWriter::create(to, &header, WriterOptions::default()).unwrap();
    if let Some((l, bytes)) = before {
        w.write_record(0, l, bytes).unwrap();
    }
    let mut lines = Vec::new();
    for (i, rec) in reader.enumerate() {
        let rec = rec.unwrap();
        let l = line(i, rec.line);
        w.write_record(rec.ts_ns, l, &rec.bytes).unwrap();
        lines.push(l);
    }
    w.finish().unwrap();
    lines
}

/// A two-line capture exported to pcap and recorded back keeps its lines, line B first or not:
/// line A and line B go to export's two destinations, and `record` knows them (the lines were
/// merged into one).
#[test]
fn a_two_line_capture_exported_and_recorded_back_keeps_its_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (pcap, one, two, back, again) = (
        p("a.pcap"),
        p("one.tlcap"),
        p("two.tlcap"),
        p("two.pcap"),
        p("again.tlcap"),
    );
    gen_pcap(&pcap);
    ok(&["record", &pcap, "-o", &one]);
    // The same datagrams, alternately on lines B and A.
    let lines = rewrite_capture(
        &one,
        &two,
        None,
        |i, _| {
            if i % 2 == 0 {
                Line::B
            } else {
                Line::A
            }
        },
    );
    ok(&["export", &two, "-o", &back]);
    ok(&["record", &back, "-o", &again]);
    let got: Vec<Line> = CaptureReader::open(&again)
        .unwrap()
        .map(|r| r.unwrap().line)
        .collect();
    assert!(got.len() > 100);
    assert_eq!(got, lines);
    assert_eq!(
        json(&["replay", &again])["digest"],
        json(&["replay", &pcap])["digest"]
    );
}

/// A LOST note with no FROM note before it (a live recording whose first block was lost, or a
/// hand-made capture) is reported, not applied and not skipped silently.
#[test]
fn a_lost_note_without_a_from_note_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let (pcap, one, odd) = (p("a.pcap"), p("one.tlcap"), p("odd.tlcap"));
    gen_pcap(&pcap);
    ok(&["record", &pcap, "-o", &one]);
    let mut lost = b"LOST".to_vec();
    lost.extend_from_slice(&5u64.to_be_bytes());
    lost.extend_from_slice(&3u64.to_be_bytes());
    rewrite_capture(&one, &odd, Some((Line::Note, &lost)), |_, l| l);
    let v = json_exit(&ticklane(&["inspect", &odd, "--json"]), 1);
    assert_eq!(v["errors"], 1, "{v}");
    assert!(
        v.to_string().contains("a LOST note without a FROM note"),
        "{v}"
    );
    // Everything else is read as without the note.
    assert_eq!(v["messages"], json(&["inspect", &one])["messages"]);
}

#[test]
fn a_refused_input_leaves_the_output_as_it_was_and_export_never_touches_its_input() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    // A pcap magic and nothing else: the reader refuses it after the output would have been
    // created (it was: an empty capture that inspected as clean, exit 0).
    std::fs::write(p("bad.pcap"), [0xd4, 0xc3, 0xb2, 0xa1]).unwrap();
    let o = ticklane(&["record", &p("bad.pcap"), "-o", &p("new.cap")]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(!dir.path().join("new.cap").exists());
    // An earlier capture at the output's name is kept whole.
    gen_pcap(&p("a.pcap"));
    ok(&["record", &p("a.pcap"), "-o", &p("old.cap")]);
    let before = std::fs::read(p("old.cap")).unwrap();
    let o = ticklane(&["record", &p("bad.pcap"), "-o", &p("old.cap")]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(std::fs::read(p("old.cap")).unwrap(), before);
    // A header the writer refuses (a session name over its limit) is refused the same way.
    let long = "x".repeat(2000);
    let o = ticklane(&[
        "record",
        &p("a.pcap"),
        "-o",
        &p("old.cap"),
        "--session",
        &long,
    ]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert_eq!(std::fs::read(p("old.cap")).unwrap(), before);
    // No temporary file is left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("partial")), "{names:?}");

    // A capture whose name is the output's plus `.partial` (the old temporary name): export
    // truncated it while reading it.
    std::fs::copy(p("old.cap"), p("c.partial")).unwrap();
    ok(&["export", &p("c.partial"), "-o", &p("c")]);
    assert_eq!(std::fs::read(p("c.partial")).unwrap(), before);
    assert!(dir.path().join("c").exists());
}

/// `record` of an input it cannot record (a ticklane capture, a LOBSTER message file) is
/// refused by name, with nothing written (both used to be read as a NASDAQ binary file: a
/// framing error at offset 0, exit 1, and a capture of nothing left behind).
#[test]
fn record_refuses_a_capture_and_a_lobster_file_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    ok(&[
        "gen",
        "--seed",
        "3",
        "--messages",
        "2000",
        "-o",
        &p("s.itch"),
    ]);
    let out = ok(&["record", &p("s.itch"), "-o", &p("s.tlcap")]);
    assert!(out.starts_with("recorded 2000 ITCH messages"), "{out}");
    std::fs::write(
        p("X_message_1.csv"),
        "34200.004241176,1,16113575,18,5853300,1\n",
    )
    .unwrap();
    for (input, says) in [
        ("s.tlcap", "is already a ticklane capture"),
        ("X_message_1.csv", "is a LOBSTER message file"),
    ] {
        let o = ticklane(&["record", &p(input), "-o", &p("again.tlcap")]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{input}: {err}");
        assert!(err.contains(says) && err.contains(input), "{input}: {err}");
        assert!(!std::path::Path::new(&p("again.tlcap")).exists(), "{input}");
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

/// Copies capture `from` to `to` in 16 KiB blocks (`note` first, if any), then flips one
/// byte in the middle of the file: one data block is corrupt.
fn small_blocks_with_a_corrupt_middle(from: &str, to: &str, note: Option<&[u8]>) {
    let reader = CaptureReader::open(from).unwrap();
    let header = reader.header().clone();
    let options = WriterOptions {
        block_bytes: 16 << 10,
        ..WriterOptions::default()
    };
    let mut w = CaptureWriter::create(to, &header, options).unwrap();
    if let Some(n) = note {
        w.write_record(0, Line::Note, n).unwrap();
    }
    for rec in reader {
        let rec = rec.unwrap();
        w.write_record(rec.ts_ns, rec.line, &rec.bytes).unwrap();
    }
    w.finish().unwrap();
    let mut bytes = std::fs::read(to).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(to, bytes).unwrap();
}

/// A corrupt block in a live recording (it starts with a FROM note, so its gaps are decided
/// by LOST notes) loses that block's messages and nothing else: the next packet past the hole
/// closes the gap there. (No note ever closed it: the reorder window filled and every later
/// packet overflowed it until the end of the file.) In a capture of a binary file, which has
/// no sequence numbers, the hole is a `FeedGap` too: the books are stale from there.
#[test]
fn a_corrupt_block_loses_its_own_messages_only_and_marks_the_books_stale() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    const TOTAL: u64 = 200_000;
    let n = TOTAL.to_string();
    ok(&[
        "gen",
        "--seed",
        "3",
        "--messages",
        &n,
        "--format",
        "pcap",
        "-o",
        &p("a.pcap"),
    ]);
    ok(&["record", &p("a.pcap"), "-o", &p("a.tlcap")]);
    let mut from = b"FROM".to_vec();
    from.extend_from_slice(&1u64.to_be_bytes());
    small_blocks_with_a_corrupt_middle(&p("a.tlcap"), &p("live.tlcap"), Some(&from));
    let v = json_exit(&ticklane(&["inspect", &p("live.tlcap"), "--json"]), 1);
    let (messages, missing) = (
        v["messages"].as_u64().unwrap(),
        v["missing"].as_u64().unwrap(),
    );
    assert_eq!(v["gaps"], 1, "{v}");
    assert_eq!(messages + missing, TOTAL, "{v}");
    // One 16 KiB block holds well under 2,000 messages.
    assert!(missing > 0 && missing < 2_000, "{v}");

    ok(&[
        "gen",
        "--seed",
        "3",
        "--messages",
        "50000",
        "-o",
        &p("b.itch"),
    ]);
    ok(&["record", &p("b.itch"), "-o", &p("b.tlcap")]);
    small_blocks_with_a_corrupt_middle(&p("b.tlcap"), &p("b_bad.tlcap"), None);
    let v = json_exit(&ticklane(&["inspect", &p("b_bad.tlcap"), "--json"]), 1);
    assert_eq!(v["gaps"], 1, "{v}");
    let messages = v["messages"].as_u64().unwrap();
    assert!(messages > 48_000 && messages < 50_000, "{v}");
    // The finished capture's trailer index says how many records the corrupt block held:
    // that is the gap's size (it said 0, "unknown", while the recovery line counted them).
    assert_eq!(v["missing"].as_u64(), Some(50_000 - messages), "{v}");
}

/// An ITCH system event ('S', 12 bytes).
fn sys_event(ts: u64) -> Vec<u8> {
    let mut m = vec![b'S', 0, 0, 0, 0];
    m.extend_from_slice(&ts.to_be_bytes()[2..]);
    m.push(b'O');
    m
}

/// A MoldUDP64 packet of session TICKLANE01 carrying `count` messages from `seq`.
fn packet(seq: u64, count: u16) -> Vec<u8> {
    let mut p = b"TICKLANE01".to_vec();
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&count.to_be_bytes());
    for i in 0..u64::from(count) {
        let m = sys_event(1_000 + seq + i);
        p.extend_from_slice(&(m.len() as u16).to_be_bytes());
        p.extend_from_slice(&m);
    }
    p
}

/// A live recording: packets 1..=10, then 21 (11..=20 missing on the wire: a pending gap the
/// receiver re-requested), [block: 22], 23, the retransmission answer for 11..=20, 24. The
/// live run delivered 1..=24. Returns the file and the offset of the block holding 22.
fn live_recording(path: &std::path::Path) -> u64 {
    let header = CaptureHeader::new(FeedKind::MoldUdp64, "TICKLANE01");
    let mut w = CaptureWriter::create(path, &header, WriterOptions::default()).unwrap();
    let mut ts = 1_000u64;
    let mut put = |w: &mut CaptureWriter<_>, line, bytes: &[u8]| {
        ts += 1_000;
        w.write_record(ts, line, bytes).unwrap();
    };
    let mut from = b"FROM".to_vec();
    from.extend_from_slice(&1u64.to_be_bytes());
    put(&mut w, Line::Note, &from);
    for s in 1..=10 {
        put(&mut w, Line::A, &packet(s, 1));
    }
    put(&mut w, Line::A, &packet(21, 1));
    w.flush().unwrap();
    put(&mut w, Line::A, &packet(22, 1));
    w.flush().unwrap();
    put(&mut w, Line::A, &packet(23, 1));
    put(&mut w, Line::Retransmit, &packet(11, 10));
    put(&mut w, Line::A, &packet(24, 1));
    w.finish().unwrap();
    CaptureReader::open(path).unwrap().index()[1].offset
}

#[test]
fn a_corrupt_block_in_a_live_recording_loses_only_its_own_messages() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("live.tlcap");
    let block = live_recording(&good);
    let inspect = |p: &std::path::Path| {
        json_of(
            &Command::new(BIN)
                .args(["inspect", p.to_str().unwrap(), "--json"])
                .output()
                .unwrap(),
        )
    };
    let v = inspect(&good);
    assert_eq!(
        (v["messages"].as_u64(), v["missing"].as_u64()),
        (Some(24), Some(0)),
        "{v}"
    );
    // Flip a byte in the payload of the block that holds packet 22 only.
    let mut bytes = std::fs::read(&good).unwrap();
    bytes[block as usize + 60] ^= 0x40;
    let bad = dir.path().join("bad.tlcap");
    std::fs::write(&bad, bytes).unwrap();
    let v = inspect(&bad);
    // Only message 22 was in the corrupt block: 23 messages delivered, 1 missing.
    assert_eq!(
        (v["messages"].as_u64(), v["missing"].as_u64()),
        (Some(23), Some(1)),
        "{v}"
    );
}

/// The bytes of a capture of a binary file of 3 blocks of 5 system events, unfinished (no
/// trailer, as after a crash), and the offsets of its blocks 1 and 2.
fn three_blocks_of_a_binary_file(dir: &std::path::Path) -> (Vec<u8>, usize, usize) {
    let path = dir.join("itch.tlcap");
    let mut header = CaptureHeader::new(FeedKind::ItchBinary, "X");
    header.flags = ticklane_replay::FLAG_TS_SINCE_MIDNIGHT;
    let mut w = CaptureWriter::create(&path, &header, WriterOptions::default()).unwrap();
    for b in 0..3u64 {
        for i in 0..5u64 {
            let ts = 1_000 + b * 10 + i;
            w.write_record(ts, Line::Single, &sys_event(ts)).unwrap();
        }
        w.flush().unwrap();
    }
    drop(w);
    let r = CaptureReader::open(&path).unwrap();
    let (b1, b2) = (r.index()[1].offset as usize, r.index()[2].offset as usize);
    (std::fs::read(&path).unwrap(), b1, b2)
}

/// A capture of a binary file (3 blocks of 5 messages, no trailer) with its middle block cut
/// out cleanly (its bytes removed: every block left is valid). The reader only counted the
/// missing block (`1 blocks missing`), and the CLI treated the file as clean: no error, no
/// gap, exit 0.
#[test]
fn a_block_missing_by_its_sequence_number_is_not_a_silent_skip() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bytes, b1, b2) = three_blocks_of_a_binary_file(dir.path());
    bytes.drain(b1..b2);
    let cut = dir.path().join("cut.tlcap");
    std::fs::write(&cut, bytes).unwrap();
    let rep = CaptureReader::open(&cut).unwrap().verify().unwrap();
    assert_eq!(rep.missing_blocks, 1);
    let o = Command::new(BIN)
        .args(["inspect", cut.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let v = json_of(&o);
    assert_eq!(v["messages"], 10, "{v}");
    // Five messages are gone: said as an error (exit 1) and as a gap, as a corrupt block is.
    assert!(
        v["errors"].as_u64().unwrap() > 0 && o.status.code() == Some(1),
        "{v}"
    );
    assert_eq!(v["gaps"], 1, "{v}");
}

/// The same capture with its middle block repeated (a spliced file): the reader counted it
/// out of order, the replay delivered its five messages twice, and `inspect` exited 0.
#[test]
fn a_repeated_block_is_not_replayed_twice_silently() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bytes, b1, b2) = three_blocks_of_a_binary_file(dir.path());
    let block: Vec<u8> = bytes[b1..b2].to_vec();
    bytes.splice(b2..b2, block);
    let spliced = dir.path().join("spliced.tlcap");
    std::fs::write(&spliced, bytes).unwrap();
    let o = Command::new(BIN)
        .args(["inspect", spliced.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let v = json_of(&o);
    assert!(
        v["recovery"].as_str().unwrap().contains("1 out of order"),
        "{v}"
    );
    assert!(
        o.status.code() == Some(1) && v["errors"].as_u64().unwrap() > 0,
        "{v}"
    );
}

/// A live recording whose recorder dropped records (a `DROP` note: "the capture lacks them;
/// a replay reports it as an error"): `export` wrote the pcap with no word of the loss and
/// exited 0, while `inspect` of the same capture exits 1.
#[test]
fn export_of_a_capture_with_a_drop_note_says_records_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drop.tlcap");
    let header = CaptureHeader::new(FeedKind::MoldUdp64, "TICKLANE01");
    let mut w = CaptureWriter::create(&path, &header, WriterOptions::default()).unwrap();
    let mut from = b"FROM".to_vec();
    from.extend_from_slice(&1u64.to_be_bytes());
    w.write_record(1, Line::Note, &from).unwrap();
    w.write_record(2, Line::A, &packet(1, 1)).unwrap();
    let mut drop_note = b"DROP".to_vec();
    drop_note.extend_from_slice(&5u64.to_be_bytes());
    w.write_record(3, Line::Note, &drop_note).unwrap();
    w.write_record(4, Line::A, &packet(7, 1)).unwrap();
    w.finish().unwrap();
    let i = Command::new(BIN)
        .args(["inspect", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(i.status.code(), Some(1));
    let out = dir.path().join("drop.pcap");
    let e = Command::new(BIN)
        .args([
            "export",
            path.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&e.stderr);
    assert!(
        e.status.code() == Some(1) || stderr.contains("dropped"),
        "export: exit {:?}, stderr {stderr:?}, stdout {:?}",
        e.status.code(),
        String::from_utf8_lossy(&e.stdout)
    );
}
