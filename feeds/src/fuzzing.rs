//! The bodies of the cargo-fuzz targets in `feeds/fuzz/` (not a stable API).
//!
//! Each function takes the fuzzer's bytes, drives one decoder, and panics when a property does
//! not hold. The fuzz targets are one-line wrappers around them, and `feeds/tests/fuzz_corpus.rs`
//! runs every file of the checked-in corpora (`feeds/fuzz/corpus/<target>/`) and of the crash
//! reproducers (`feeds/fuzz/regressions/<target>/`) through the same functions on the stable
//! toolchain, so a fixed finding stays fixed.

use crate::itch::{decode, decode_prefix, message_len, normalize, DecodeError};
use crate::moldudp64::session::{MoldUdp64Session, SessionConfig, SessionSink};
use crate::moldudp64::{
    MoldHeader, MoldPacket, MoldRequest, PacketKind, Session, END_OF_SESSION_COUNT,
};
use crate::pcap::PcapReader;
use zerocopy::IntoBytes;

/// Runs every file of `fuzz_dir/corpus/<target>/` (which must exist and hold at least one
/// file) and of `fuzz_dir/regressions/<target>/` (crash reproducers; may be absent) through
/// `body`, in file-name order, and returns how many corpus files there were. The corpus
/// regression tests of every target (this crate's, the capture reader's in `ticklane-replay`,
/// the config loader's in the binary) share it.
///
/// # Panics
///
/// Naming the file, when `body` panics on it; when a directory cannot be read; when the corpus
/// is empty.
pub fn run_corpus(
    fuzz_dir: &std::path::Path,
    target: &str,
    body: impl Fn(&[u8]) + std::panic::RefUnwindSafe,
) -> usize {
    let mut corpus = 0;
    for (kind, required) in [("corpus", true), ("regressions", false)] {
        let dir = fuzz_dir.join(kind).join(target);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("{}: {e}", dir.display()),
        };
        let mut files: Vec<std::path::PathBuf> = entries
            .map(|e| {
                e.unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
                    .path()
            })
            .collect();
        files.sort();
        for f in &files {
            let data = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            let r = std::panic::catch_unwind(|| body(&data));
            assert!(r.is_ok(), "{target}: {} fails", f.display());
        }
        if kind == "corpus" {
            corpus = files.len();
        }
    }
    assert!(corpus > 0, "{target}: empty corpus");
    corpus
}

/// `itch_decode`: the ITCH 5.0 decoder and normalizer on arbitrary bytes.
///
/// Checks: nothing panics; `decode` agrees with `message_len`; `decode_prefix` consumes exactly
/// `message_len` bytes and agrees with `decode` on that prefix; a decoded message's bytes are
/// its input.
pub fn itch_decode(data: &[u8]) {
    match decode(data) {
        Ok(msg) => {
            assert_eq!(msg.as_bytes(), data);
            assert_eq!(message_len(data[0]), Some(data.len()));
            let _ = normalize(&msg);
        }
        Err(DecodeError::Empty) => assert!(data.is_empty()),
        Err(DecodeError::UnknownType { ty }) => assert_eq!(message_len(ty), None),
        Err(DecodeError::Truncated {
            expected, actual, ..
        }) => assert!(actual < expected),
        Err(DecodeError::LengthMismatch {
            expected, actual, ..
        }) => assert!(actual > expected),
    }

    // Walk the input as an unframed stream of back-to-back messages.
    let mut rest = data;
    while let Ok((msg, used)) = decode_prefix(rest) {
        assert_eq!(Some(used), message_len(rest[0]));
        assert_eq!(decode(&rest[..used]), Ok(msg));
        let _ = normalize(&msg);
        rest = &rest[used..];
    }
}

/// True when `inner` lies inside `outer` (same allocation, within its bounds).
fn within(outer: &[u8], inner: &[u8]) -> bool {
    let o = outer.as_ptr_range();
    let i = inner.as_ptr_range();
    o.start <= i.start && i.end <= o.end
}

/// `moldudp64_parse`: the MoldUDP64 packet and request parsers on arbitrary bytes.
///
/// Checks: nothing panics; a packet that parses yields exactly `message_count` blocks for data
/// packets (none for heartbeat and end of session), each inside the packet, and their framing
/// adds up to the whole packet; a request that parses re-encodes to the same 20 bytes.
pub fn moldudp64_parse(data: &[u8]) {
    if let Ok(p) = MoldPacket::parse(data) {
        let mut blocks = 0usize;
        let mut framed = 20usize;
        for m in p.messages() {
            let m = m.expect("a parsed packet has well-formed blocks");
            assert!(within(data, m), "a block lies inside the packet");
            framed += 2 + m.len();
            blocks += 1;
        }
        assert_eq!(blocks, p.len());
        match p.kind() {
            PacketKind::Data => {
                assert_eq!(blocks, usize::from(p.message_count()));
                assert_eq!(framed, data.len(), "blocks cover the packet exactly");
            }
            PacketKind::Heartbeat | PacketKind::EndOfSession => {
                assert_eq!(blocks, 0);
                assert_eq!(data.len(), 20);
            }
        }
        assert!(p.next_sequence() >= p.sequence());
    }
    if let Ok(r) = MoldRequest::parse(data) {
        assert_eq!(&r.encode()[..], data);
    }
}

/// `pcap_reader`: the pcap / pcapng reader on arbitrary bytes.
///
/// Checks: nothing panics; reading ends (each record or error moves forward, and nothing comes
/// after a fatal error); every frame and datagram it yields lies inside the input, at an offset
/// inside the input; the counters add up.
pub fn pcap_reader(data: &[u8]) {
    // Raw frames.
    if let Ok(mut reader) = PcapReader::new(data) {
        let mut n = 0usize;
        let mut last_offset = None;
        while let Some(item) = reader.next_packet() {
            n += 1;
            assert!(n <= data.len(), "the reader makes progress");
            match item {
                Ok(p) => {
                    assert!(within(data, p.data), "a frame lies inside the capture");
                    assert!(p.offset < data.len() as u64);
                    assert!(last_offset.is_none_or(|l| p.offset > l), "offsets increase");
                    last_offset = Some(p.offset);
                }
                Err(e) => {
                    if e.is_fatal() {
                        assert!(reader.next_packet().is_none(), "nothing after {e:?}");
                        break;
                    }
                }
            }
        }
    }
    // UDP datagrams.
    if let Ok(mut reader) = PcapReader::new(data) {
        let mut n = 0u64;
        let mut udp = 0u64;
        let mut errors = 0u64;
        while let Some(item) = reader.next_udp() {
            n += 1;
            assert!(n <= data.len() as u64, "the reader makes progress");
            match item {
                Ok(d) => {
                    assert!(
                        within(data, d.payload),
                        "a datagram lies inside the capture"
                    );
                    udp += 1;
                }
                Err(e) => {
                    errors += 1;
                    if e.is_fatal() {
                        assert!(reader.next_udp().is_none(), "nothing after {e:?}");
                        break;
                    }
                }
            }
        }
        let st = *reader.stats();
        assert_eq!(st.udp, udp);
        assert!(st.errors <= errors, "{st:?}");
        assert!(
            st.udp + st.skipped() + st.errors >= st.packets.min(st.udp),
            "{st:?}"
        );
        assert!(st.udp + st.skipped() <= st.packets, "{st:?}");
    }
}

/// Reads the fuzzer's bytes as a stream of small numbers (zero once they run out).
struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        self.data = rest;
        head
    }
    /// A sequence number: mostly small (so that packets meet), sometimes near `u64::MAX`.
    fn seq(&mut self) -> u64 {
        let b = self.u8();
        match b {
            0..=239 => u64::from(b % 48),
            240..=247 => u64::MAX - u64::from(b - 240),
            248..=251 => (1 << 63) + u64::from(b - 248),
            _ => u64::from(self.u16()) * 1000,
        }
    }
    /// A time step in nanoseconds: mostly around the configured timers, sometimes huge.
    fn advance(&mut self) -> u64 {
        let b = self.u8();
        match b {
            0..=249 => u64::from(b) * 10,
            250..=253 => u64::from(self.u16()) * 1000,
            _ => u64::MAX / 2,
        }
    }
}

const FUZZ_SESSION: Session = *b"FUZZSESS01";

/// The sink of `mold_session`: checks what the session emits as it goes.
struct CheckSink {
    /// Everything before this has been delivered or reported lost.
    next: u64,
    /// Nothing has been emitted yet.
    fresh: bool,
    /// Last message delivered.
    last: Option<u64>,
    delivered: u64,
    lost: u64,
    ended: bool,
    servers: usize,
    max_request: u16,
    /// Session of the last request (checked against the session's after each step).
    request_session: Option<Session>,
}

impl CheckSink {
    fn at(&mut self, first: u64, what: &str) {
        // Contiguous: every sequence number after the first is delivered or reported lost,
        // exactly once, in order (a jump would be messages skipped silently).
        assert!(
            self.fresh || first == self.next,
            "{what} at {first}, but everything before {} was accounted for (out of order, \
             or skipped silently)",
            self.next
        );
        assert!(!self.ended, "{what} at {first} after end of session");
        self.fresh = false;
    }
}

impl SessionSink for CheckSink {
    fn message(&mut self, seq: u64, _line: u8, _bytes: &[u8]) {
        self.at(seq, "message");
        assert!(
            self.last.is_none_or(|l| seq > l),
            "delivered sequence not strictly increasing: {seq} after {:?}",
            self.last
        );
        self.last = Some(seq);
        self.next = seq.saturating_add(1);
        self.delivered += 1;
    }
    fn request(&mut self, server: usize, request: MoldRequest) {
        assert!(
            server < self.servers,
            "request to server {server} of {}",
            self.servers
        );
        assert!(request.count >= 1, "empty request {request:?}");
        assert!(
            request.count <= self.max_request,
            "request {request:?} over the limit {}",
            self.max_request
        );
        self.request_session = Some(request.session);
    }
    fn gap_lost(&mut self, first: u64, count: u64) {
        self.at(first, "gap_lost");
        assert!(count >= 1, "empty lost range at {first}");
        self.next = first.saturating_add(count);
        self.lost = self.lost.saturating_add(count);
    }
    fn rejoined(&mut self, next: u64) {
        // The numbering restarts elsewhere (below what was delivered when a corrupt first
        // sequence number was joined on; anywhere far from it when another session replaced
        // the join), only once something was output, and the next output is at `next`:
        // contiguity and order are checked from here.
        assert!(!self.ended, "rejoined at {next} after end of session");
        assert!(!self.fresh, "rejoined at {next} before any output");
        assert!(
            next != self.next,
            "rejoined at {next}, where the stream already was"
        );
        self.last = None;
        self.next = next;
    }
    fn end_of_session(&mut self, next: u64) {
        assert!(!self.ended, "end of session twice");
        assert!(
            self.fresh || next >= self.next,
            "end of session at {next} before {}",
            self.next
        );
        self.ended = true;
    }
}

/// A packet built from the fuzzer's bytes: mostly well-formed packets of the fuzzed session (data,
/// heartbeat, end of session), sometimes another session, sometimes raw bytes.
fn build_packet(b: &mut Bytes<'_>, out: &mut Vec<u8>) {
    out.clear();
    let kind = b.u8();
    let session = if kind & 0x80 != 0 && kind & 0x40 != 0 {
        *b"OTHERSESS1"
    } else {
        FUZZ_SESSION
    };
    match kind & 0x0F {
        0..=9 => {
            let seq = b.seq();
            let count = u16::from(b.u8() % 6) + 1;
            out.extend_from_slice(MoldHeader::new(session, seq, count).as_bytes());
            for k in 0..count {
                let len = usize::from(b.u8() % 12);
                out.extend_from_slice(&(len as u16).to_be_bytes());
                // Deterministic body: the message's sequence number, then padding.
                let tag = seq.wrapping_add(u64::from(k)).to_be_bytes();
                out.extend((0..len).map(|i| tag[i % 8]));
            }
        }
        10 | 11 => out.extend_from_slice(MoldHeader::new(session, b.seq(), 0).as_bytes()),
        12 => out
            .extend_from_slice(MoldHeader::new(session, b.seq(), END_OF_SESSION_COUNT).as_bytes()),
        _ => {
            let len = usize::from(b.u8() % 64);
            out.extend_from_slice(b.take(len));
        }
    }
}

/// The session configuration from the fuzzer's first bytes (small windows and timers).
fn session_config(b: &mut Bytes<'_>) -> SessionConfig {
    let flags = b.u8();
    let max_packets = [0usize, 20, 40, 64, 128, 2048];
    // Bounded: a gap's retries ask again for its outstanding piece, and the pieces follow one
    // another as they arrive, so an unbounded `max_gap_messages` lets one corrupt sequence
    // number keep the fuzzer asking for ~2^64 messages (what the guard is for). Huge gaps are
    // still made, and declared lost at once.
    let max_gaps = [0u64, 1, 5, 50, 1000, 4000];
    SessionConfig {
        session: (flags & 1 != 0).then_some(FUZZ_SESSION),
        first_sequence: (flags & 2 != 0).then(|| b.seq()),
        reorder_window: usize::from(b.u8() % 9),
        max_packet: max_packets[usize::from(b.u8()) % max_packets.len()],
        line_grace_ns: u64::from(b.u8()) * 10,
        recovery: flags & 4 != 0,
        servers: usize::from(b.u8() % 4),
        request_timeout_ns: u64::from(b.u8()) * 10,
        max_retries: u32::from(b.u8() % 4),
        max_request_messages: u16::from(b.u8() % 8),
        // From flag bits no earlier input used: the corpus keeps its meaning.
        max_requests_per_gap: u16::from((flags >> 3) & 3) + 1,
        max_gap_messages: max_gaps[usize::from(b.u8()) % max_gaps.len()],
    }
}

/// `mold_session`: a [`MoldUdp64Session`] driven by a fuzzer-chosen sequence of packets on four
/// lines, clock steps, `poll`, `give_up_before` and `finish`.
///
/// Checks: nothing panics; messages and lost ranges come out in stream order (the delivered
/// sequence strictly increasing), each lost range non-empty, end of session once and last;
/// requests go to a configured server, for the session's id, and ask for
/// `1..=max_request_messages` messages; after
/// every step `gap_messages == filled_by_lines + recovered + lost_messages +
/// missing_messages()`, and the delivered / lost counts match the stats.
pub fn mold_session(data: &[u8]) {
    let mut b = Bytes { data };
    let config = session_config(&mut b);
    let mut sink = CheckSink {
        next: 0,
        fresh: true,
        last: None,
        delivered: 0,
        lost: 0,
        ended: false,
        servers: if config.recovery { config.servers } else { 0 },
        max_request: config.max_request_messages.clamp(1, 0xFFFE),
        request_session: None,
    };
    let timeout = config.request_timeout_ns;
    let mut s = MoldUdp64Session::new(config);
    let mut now = 0u64;
    let mut pkt = Vec::with_capacity(128);
    let mut steps = 0u32;
    while !b.is_empty() && steps < 512 {
        steps += 1;
        let op = b.u8();
        match op % 10 {
            0..=5 => {
                let line = op / 10 % 4;
                now = now.saturating_add(b.advance());
                build_packet(&mut b, &mut pkt);
                let _ = s.on_packet(line, &pkt, now, &mut sink);
            }
            6 => {
                now = now.saturating_add(b.advance());
                s.poll(now, &mut sink);
            }
            7 => {
                if let Some(d) = s.next_deadline() {
                    now = now.max(d);
                }
                s.poll(now, &mut sink);
                if let Some(d) = s.next_deadline() {
                    assert!(
                        d > now || now.saturating_add(timeout) <= now,
                        "poll at {now} left a deadline at {d} due"
                    );
                }
            }
            8 => {
                s.give_up_before(b.seq(), &mut sink);
            }
            _ => {
                s.finish(&mut sink);
                assert_eq!(s.outstanding_gaps(), 0);
                assert_eq!(s.buffered_packets(), 0);
                assert_eq!(s.missing_messages(), 0);
            }
        }
        if let Some(rs) = sink.request_session.take() {
            assert_eq!(Some(&rs), s.session(), "a request for another session");
        }
        let st = s.stats();
        assert!(
            st.accounted(s.missing_messages()),
            "accounting identity: {st:?}, missing {}",
            s.missing_messages()
        );
        assert_eq!(st.messages, sink.delivered, "{st:?}");
        assert_eq!(st.lost_messages, sink.lost, "{st:?}");
        assert_eq!(st.end_of_session, sink.ended, "{st:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::run_corpus;

    /// The corpus runner runs every file, fails naming the file a body panics on, and refuses
    /// an empty or missing corpus.
    #[test]
    fn run_corpus_runs_every_file_and_names_a_failing_one() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("corpus/t");
        std::fs::create_dir_all(&corpus).unwrap();
        assert!(std::panic::catch_unwind(|| run_corpus(dir.path(), "t", |_| {})).is_err());
        std::fs::write(corpus.join("a"), b"ok").unwrap();
        std::fs::write(corpus.join("b"), b"bad").unwrap();
        let seen = std::sync::Mutex::new(Vec::new());
        assert_eq!(
            run_corpus(dir.path(), "t", |d| seen.lock().unwrap().push(d.to_vec())),
            2
        );
        assert_eq!(*seen.lock().unwrap(), vec![b"ok".to_vec(), b"bad".to_vec()]);
        let regressions = dir.path().join("regressions/t");
        std::fs::create_dir_all(&regressions).unwrap();
        std::fs::write(regressions.join("r"), b"bad").unwrap();
        let failed = std::panic::catch_unwind(|| {
            run_corpus(dir.path(), "t", |d| assert_ne!(d, b"bad"));
        })
        .unwrap_err();
        let msg = failed.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("corpus/t/b fails"), "{msg}");
        assert!(std::panic::catch_unwind(|| run_corpus(dir.path(), "missing", |_| {})).is_err());
    }
}
