#![allow(clippy::unwrap_used)]
//! Tests that kill mutants of the MoldUDP64 receive session (`moldudp64/session.rs`) and the
//! packet parser and builder (`moldudp64/mod.rs`) that no other test caught: each pins one
//! behaviour (an outcome counter, a boundary, an event order) that a mutant changed silently.

use ticklane_feeds::moldudp64::session::{MoldUdp64Session, SessionConfig, SessionSink};
use ticklane_feeds::moldudp64::{MoldHeader, MoldRequest, Session, END_OF_SESSION_COUNT};
use zerocopy::IntoBytes;

const S: Session = *b"SESSION001";
const MS: u64 = 1_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Msg(u64, u8),
    Req(usize, u64, u16),
    Lost(u64, u64),
    End(u64),
    Rejoin(u64),
}

#[derive(Default)]
struct Rec {
    ev: Vec<Ev>,
}

impl SessionSink for Rec {
    fn message(&mut self, seq: u64, line: u8, bytes: &[u8]) {
        assert_eq!(bytes, body(seq), "bytes of message {seq}");
        self.ev.push(Ev::Msg(seq, line));
    }
    fn request(&mut self, server: usize, r: MoldRequest) {
        self.ev.push(Ev::Req(server, r.sequence, r.count));
    }
    fn gap_lost(&mut self, first: u64, count: u64) {
        self.ev.push(Ev::Lost(first, count));
    }
    fn end_of_session(&mut self, next: u64) {
        self.ev.push(Ev::End(next));
    }
    fn rejoined(&mut self, next: u64) {
        self.ev.push(Ev::Rejoin(next));
    }
}

fn body(seq: u64) -> Vec<u8> {
    let mut v = seq.to_be_bytes().to_vec();
    v.truncate(1 + (seq % 8) as usize);
    v
}

fn data_of(session: Session, seq: u64, count: u16) -> Vec<u8> {
    let mut p = MoldHeader::new(session, seq, count).as_bytes().to_vec();
    for s in seq..seq + u64::from(count) {
        let b = body(s);
        p.extend_from_slice(&(b.len() as u16).to_be_bytes());
        p.extend_from_slice(&b);
    }
    p
}

fn data(seq: u64, count: u16) -> Vec<u8> {
    data_of(S, seq, count)
}

fn hb(seq: u64) -> Vec<u8> {
    MoldHeader::new(S, seq, 0).as_bytes().to_vec()
}

fn eos(seq: u64) -> Vec<u8> {
    MoldHeader::new(S, seq, END_OF_SESSION_COUNT)
        .as_bytes()
        .to_vec()
}

fn msgs(range: std::ops::Range<u64>, line: u8) -> Vec<Ev> {
    range.map(|s| Ev::Msg(s, line)).collect()
}

fn cfg() -> SessionConfig {
    SessionConfig {
        first_sequence: Some(1),
        reorder_window: 8,
        max_packet: 256,
        ..SessionConfig::default()
    }
}

struct T {
    s: MoldUdp64Session,
    r: Rec,
}

impl T {
    fn new(c: SessionConfig) -> Self {
        Self {
            s: MoldUdp64Session::new(c),
            r: Rec::default(),
        }
    }
    fn pkt(&mut self, line: u8, p: &[u8], now: u64) -> Vec<Ev> {
        self.s.on_packet(line, p, now, &mut self.r).unwrap();
        self.check();
        std::mem::take(&mut self.r.ev)
    }
    fn poll(&mut self, now: u64) -> Vec<Ev> {
        self.s.poll(now, &mut self.r);
        self.check();
        std::mem::take(&mut self.r.ev)
    }
    fn check(&self) {
        let st = self.s.stats();
        assert!(st.accounted(self.s.missing_messages()), "{st:?}");
    }
}

fn joining(max_gap_messages: u64) -> SessionConfig {
    SessionConfig {
        first_sequence: None,
        max_gap_messages,
        ..cfg()
    }
}

/// check_join `far_behind`: `seq + max < expected` (mutant `<=`). A packet of the joined session
/// exactly `max_gap_messages` behind the join is near it and confirms it: two later copies of it
/// are plain duplicates, not evidence that the join was corrupt.
#[test]
fn a_packet_exactly_max_gap_behind_the_join_confirms_it() {
    let mut t = T::new(joining(100));
    assert_eq!(t.pkt(0, &data(1000, 1), 0), msgs(1000..1001, 0));
    // 901 + 100 == 1001 == expected: near, confirms the join.
    assert_eq!(t.pkt(0, &data(901, 1), 0), []);
    assert_eq!(t.pkt(0, &data(901, 1), 0), []);
    assert_eq!(t.s.stats().rejoins, 0);
    assert_eq!(t.s.expected(), Some(1001));
    // With the join confirmed, even packets far behind are only duplicates.
    assert_eq!(t.pkt(0, &data(500, 1), 0), []);
    assert_eq!(t.pkt(0, &data(500, 1), 0), []);
    assert_eq!(t.s.stats().rejoins, 0);
    assert_eq!(t.s.stats().duplicate_packets, 4);
}

/// check_join `far_ahead`: `seq - highest > max` (mutants `>=`, `==`). A packet exactly
/// `max_gap_messages` past the data seen is near the join and confirms it.
#[test]
fn a_packet_exactly_max_gap_ahead_of_the_join_confirms_it() {
    let mut t = T::new(joining(100));
    assert_eq!(t.pkt(0, &data(1000, 1), 0), msgs(1000..1001, 0));
    // 1101 - 1001 == 100 == max: an ordinary gap, and the join is confirmed.
    assert_eq!(t.pkt(0, &data(1101, 1), 0), []);
    assert_eq!(t.s.stats().implausible_sequence, 0);
    assert_eq!(t.s.stats().gaps, 1);
    // Two packets far behind: duplicates of a confirmed join, no rejoin.
    assert_eq!(t.pkt(0, &data(500, 1), 0), []);
    assert_eq!(t.pkt(0, &data(500, 1), 0), []);
    assert_eq!(t.s.stats().rejoins, 0);
    assert_eq!(t.s.expected(), Some(1001));
}

fn other(seq: u64) -> Vec<u8> {
    data_of(*b"OTHERSESS1", seq, 1)
}

fn raw(t: &mut T, line: u8, p: &[u8]) {
    // Ignored packets (implausible jumps) return an error; the test only cares about the state.
    let _ = t.s.on_packet(line, p, 0, &mut t.r);
    t.check();
}

/// check_join: a same-session packet far *ahead* of the join neither confirms nor disputes it
/// (`s == session && near`, mutant `||`): the join stays on probation, so two packets far
/// behind it still join the session again.
#[test]
fn a_packet_far_ahead_does_not_confirm_the_join() {
    let mut t = T::new(joining(100));
    assert_eq!(t.pkt(0, &data(1000, 1), 0), msgs(1000..1001, 0));
    raw(&mut t, 0, &data(5000, 1));
    assert_eq!(t.s.stats().implausible_sequence, 1);
    assert_eq!(t.pkt(0, &data(500, 1), 0), []);
    assert_eq!(
        t.pkt(0, &data(500, 1), 0),
        [Ev::Rejoin(500), Ev::Msg(500, 0)]
    );
    assert_eq!(t.s.stats().rejoins, 1);
}

/// check_join run guard: a packet of another session (id dispute) and one of the joined session
/// far behind (sequence dispute) do not add up, however close their numbers (guard mutated to
/// `true`, or `(a && b) || c`).
#[test]
fn disputes_of_different_sessions_do_not_add_up() {
    let mut t = T::new(joining(100));
    assert_eq!(t.pkt(0, &data(1000, 1), 0), msgs(1000..1001, 0));
    // 901 + 100 == 1001: near the join, another session: a session-id dispute.
    assert_eq!(t.pkt(0, &other(901), 0), []);
    // 900 + 100 < 1001: the joined session far behind: a sequence-number dispute, run of one.
    assert_eq!(t.pkt(0, &data(900, 1), 0), []);
    assert_eq!(t.s.stats().rejoins, 0);
    assert_eq!(t.s.expected(), Some(1001));
    // A second one far behind completes the sequence run.
    assert_eq!(
        t.pkt(0, &data(900, 1), 0),
        [Ev::Rejoin(900), Ev::Msg(900, 0)]
    );
    assert_eq!(t.s.stats().rejoins, 1);
}

/// check_join run guard: the same other session, but a session-id dispute followed by header
/// disputes, does not count as one run (mutant `(a || b) && c`): four header disputes are
/// needed after it.
#[test]
fn a_change_of_dispute_restarts_the_run() {
    let mut t = T::new(joining(100));
    assert_eq!(t.pkt(0, &data(1000, 1), 0), msgs(1000..1001, 0));
    // 1101 - 1001 == 100: near (session-id dispute); 1102.. are far (header disputes).
    for seq in [1101, 1102, 1103, 1104] {
        assert_eq!(t.pkt(0, &other(seq), 0), []);
        assert_eq!(t.s.stats().rejoins, 0, "after {seq}");
    }
    assert_eq!(t.s.stats().foreign_session, 4);
    // The fourth header dispute in a row replaces the join at the lowest of the run; what the
    // three before carried is a gap like any other.
    assert_eq!(t.pkt(0, &other(1105), 0), [Ev::Rejoin(1102)]);
    assert_eq!(t.s.stats().rejoins, 1);
    assert_eq!(t.s.expected(), Some(1102));
    assert_eq!(t.s.missing_messages(), 3);
    assert_eq!(t.s.session(), Some(b"OTHERSESS1"));
}

/// check_join run guard: session-id disputes from two different other sessions do not add up
/// (mutant `(a || b) && c`).
#[test]
fn session_id_disputes_of_two_other_sessions_do_not_add_up() {
    let mut t = T::new(joining(100));
    assert_eq!(t.pkt(0, &data(1000, 1), 0), msgs(1000..1001, 0));
    assert_eq!(t.pkt(0, &other(1001), 0), []);
    for seq in 1002..1005 {
        assert_eq!(t.pkt(0, &data_of(*b"THIRDSESS1", seq, 1), 0), []);
    }
    assert_eq!(t.s.stats().rejoins, 0);
    assert_eq!(t.s.session(), Some(&S));
}

/// check_join: a run restarts at the *lowest* first sequence number among its packets (mutant:
/// `first` kept from the first packet).
#[test]
fn a_rejoin_restarts_at_the_lowest_of_the_run() {
    let mut t = T::new(joining(100));
    assert_eq!(t.pkt(0, &data(1000, 1), 0), msgs(1000..1001, 0));
    assert_eq!(t.pkt(0, &data(900, 1), 0), []);
    assert_eq!(
        t.pkt(0, &data(850, 1), 0),
        [Ev::Rejoin(850), Ev::Msg(850, 0)]
    );
    assert_eq!(t.s.expected(), Some(851));
}

/// check_join: each packet of a run must be near the *last* one (mutant: `last` kept from the
/// first packet): a run that drifts by less than `max_gap_messages` per packet goes on, even
/// past `max_gap_messages` from where it began.
#[test]
fn a_run_may_drift_packet_by_packet() {
    let mut t = T::new(joining(100));
    assert_eq!(t.pkt(0, &data(1000, 1), 0), msgs(1000..1001, 0));
    for seq in [5000, 5090, 5180] {
        assert_eq!(t.pkt(0, &other(seq), 0), []);
    }
    assert_eq!(t.s.stats().rejoins, 0);
    assert_eq!(t.pkt(0, &other(5100), 0), [Ev::Rejoin(5000)]);
    assert_eq!(t.s.stats().rejoins, 1);
    assert_eq!(t.s.session(), Some(b"OTHERSESS1"));
    assert_eq!(t.s.expected(), Some(5000));
}

/// check_jump: only a packet that moves the stream past the data seen clears an ignored jump
/// (`next_sequence > highest`, mutant `>=`): a heartbeat at the end of the data seen, or a
/// duplicate ending there, leaves it, and the next packet near the ignored one confirms it.
#[test]
fn a_heartbeat_at_the_end_of_the_data_keeps_an_ignored_jump() {
    let mut t = T::new(SessionConfig {
        max_gap_messages: 100,
        ..cfg()
    });
    assert_eq!(t.pkt(0, &data(1, 10), 0), msgs(1..11, 0));
    raw(&mut t, 0, &data(1_000_000, 1));
    assert_eq!(t.s.stats().implausible_sequence, 1);
    assert_eq!(t.pkt(0, &hb(11), 0), []);
    assert_eq!(t.pkt(1, &data(5, 6), 0), []);
    // Near the ignored packet: the jump is real, and lost at once.
    assert_eq!(
        t.pkt(0, &data(1_000_001, 1), 0),
        [Ev::Lost(11, 999_990), Ev::Msg(1_000_001, 0)]
    );
    assert_eq!(t.s.stats().implausible_sequence, 1);
}

/// give_up_before: a gap that ends exactly at `seq` is given up whole, with no empty remainder
/// left behind it (`g.end > seq`, mutant `>=`: an empty gap at `seq` would hold delivery up).
#[test]
fn giving_up_exactly_to_the_end_of_a_gap_delivers_what_follows() {
    let mut t = T::new(cfg());
    assert_eq!(t.pkt(0, &data(1, 1), 0), msgs(1..2, 0));
    assert_eq!(t.pkt(0, &data(5, 2), 0), []);
    t.s.give_up_before(5, &mut t.r);
    t.check();
    let mut want = vec![Ev::Lost(2, 3)];
    want.extend(msgs(5..7, 0));
    assert_eq!(std::mem::take(&mut t.r.ev), want);
    assert_eq!(t.s.expected(), Some(7));
    assert_eq!(t.s.outstanding_gaps(), 0);
    assert_eq!(t.s.next_deadline(), None);
}

/// on_data: a data packet wholly past an announced end of session is a duplicate and opens no
/// gap (`!ended && start < end`, mutant `||`: a gap past the end would be re-requested).
#[test]
fn a_packet_past_the_announced_end_opens_no_gap() {
    let mut t = T::new(cfg());
    assert_eq!(t.pkt(0, &data(1, 1), 0), msgs(1..2, 0));
    assert_eq!(t.pkt(0, &data(3, 1), 0), []);
    assert_eq!(t.pkt(0, &eos(4), 0), []);
    assert_eq!(t.pkt(0, &data(10, 1), 0), []);
    let st = t.s.stats();
    assert_eq!((st.gaps, st.gap_messages), (1, 1));
    assert_eq!((st.duplicate_packets, st.duplicate_messages), (1, 1));
    assert_eq!(t.s.outstanding_gaps(), 1);
    // Only message 2 is asked for.
    assert_eq!(t.poll(2 * MS), [Ev::Req(0, 2, 1)]);
}

/// MoldPacket::is_empty: false for a data packet (mutant `true`).
#[test]
fn a_data_packet_is_not_empty() {
    use ticklane_feeds::moldudp64::MoldPacket;
    let p = data(7, 2);
    let pkt = MoldPacket::parse(&p).unwrap();
    assert_eq!(pkt.len(), 2);
    assert!(!pkt.is_empty());
    let h = hb(7);
    assert!(MoldPacket::parse(&h).unwrap().is_empty());
}

/// MoldPacketBuilder::with_max_packet raises a too small limit to a header and one empty block
/// (`max(HEADER_LEN + 2)`, mutant `HEADER_LEN - 2`: 18 bytes, no room for any block).
#[test]
fn a_tiny_packet_limit_still_carries_an_empty_message() {
    use ticklane_feeds::moldudp64::{MoldPacket, MoldPacketBuilder};
    let mut b = MoldPacketBuilder::new(S, 1).with_max_packet(0);
    assert_eq!(b.max_message_len(), 0);
    assert!(b.would_fit(0));
    assert!(!b.would_fit(1));
    assert!(b.try_push(&[]).unwrap());
    let p = b.flush().unwrap().to_vec();
    assert_eq!(p.len(), 22);
    let pkt = MoldPacket::parse(&p).unwrap();
    assert_eq!((pkt.sequence(), pkt.len()), (1, 1));
}

fn foreign(mut p: Vec<u8>) -> Vec<u8> {
    p[0] = b'X';
    p
}

/// on_packet: the join is checked while *either* the session id or the sequence number is on
/// probation (`probation_session || probation_sequence`, mutant `&&`). With `first_sequence`
/// configured only the session id is: a corrupt session id in the first packet is still
/// replaced by four packets of the real session near it, and the numbering goes on.
#[test]
fn a_corrupt_first_session_id_is_replaced_with_first_sequence_configured() {
    let mut t = T::new(cfg());
    assert_eq!(t.pkt(0, &foreign(data(1, 2)), 0), msgs(1..3, 0));
    assert_eq!(t.s.session(), Some(b"XESSION001"));
    for seq in 3..6 {
        assert_eq!(t.pkt(0, &data(seq, 1), 0), []);
    }
    assert_eq!(t.s.stats().rejoins, 0);
    assert_eq!(t.pkt(0, &data(6, 1), 0), []);
    assert_eq!(t.s.stats().rejoins, 1);
    assert_eq!(t.s.session(), Some(&S));
    assert_eq!(t.s.expected(), Some(3));
    // What the three set aside carried is a gap like any other, asked for at the grace.
    assert_eq!(t.s.missing_messages(), 3);
    assert_eq!(t.poll(2 * MS), [Ev::Req(0, 3, 3)]);
}

/// on_packet: once an end of session is announced no jump is checked (`!ended &&
/// eos_at.is_none()`, mutant `||`): a packet far past the announced end is a duplicate of
/// nothing, not an implausible sequence number (no error, nothing held as a suspect).
#[test]
fn a_packet_far_past_an_announced_end_is_no_implausible_jump() {
    let mut t = T::new(SessionConfig {
        max_gap_messages: 100,
        ..cfg()
    });
    assert_eq!(t.pkt(0, &data(1, 1), 0), msgs(1..2, 0));
    assert_eq!(t.pkt(0, &data(3, 1), 0), []);
    assert_eq!(t.pkt(0, &eos(4), 0), []);
    assert!(t.s.end_announced() && !t.s.ended());
    assert_eq!(t.pkt(0, &data(1_000, 1), 0), []);
    let st = t.s.stats();
    assert_eq!((st.implausible_sequence, st.duplicate_packets), (0, 1));
    assert_eq!(
        t.pkt(1, &data(2, 1), 0),
        [Ev::Msg(2, 1), Ev::Msg(3, 0), Ev::End(4)]
    );
}

/// on_packet: a second end of session while the first still waits for a gap is a duplicate
/// (`ended || eos_at.is_some()`, mutant `&&`): it neither counts as new nor moves the end
/// further out (opening a gap past the end first announced).
#[test]
fn a_second_end_of_session_before_the_end_is_reached_is_a_duplicate() {
    let mut t = T::new(cfg());
    assert_eq!(t.pkt(0, &data(1, 1), 0), msgs(1..2, 0));
    assert_eq!(t.pkt(0, &data(3, 1), 0), []);
    assert_eq!(t.pkt(0, &eos(4), 0), []);
    assert_eq!(t.pkt(1, &eos(4), 0), []);
    assert_eq!(t.s.stats().duplicate_packets, 1);
    assert_eq!(t.pkt(1, &eos(10), 0), []);
    assert_eq!(t.s.stats().duplicate_packets, 2);
    assert_eq!((t.s.missing_messages(), t.s.stats().gap_messages), (1, 1));
    assert_eq!(
        t.pkt(1, &data(2, 1), 0),
        [Ev::Msg(2, 1), Ev::Msg(3, 0), Ev::End(4)]
    );
}

/// poll: an unanswered piece is split off from the rest of its gap only while the table keeps
/// one entry free (`gaps.len() + 1 < capacity`, mutants `<=`, `len - 1`, `len * 1`). With
/// fifteen gaps in a table of sixteen (`reorder_window` 0) the whole gap is lost with the piece,
/// and the rest is not asked for.
#[test]
fn a_piece_lost_with_one_gap_entry_free_loses_the_whole_gap() {
    let mut t = T::new(SessionConfig {
        reorder_window: 0,
        max_request_messages: 1,
        max_requests_per_gap: 1,
        max_retries: 0,
        ..cfg()
    });
    assert_eq!(t.pkt(0, &data(1, 1), 0), msgs(1..2, 0));
    // [2, 4), then fourteen one-message gaps with timers of their own: fifteen entries.
    assert_eq!(t.pkt(0, &hb(4), 0), []);
    for k in 1..15 {
        assert_eq!(t.pkt(0, &hb(4 + k), k), []);
    }
    assert_eq!(t.s.outstanding_gaps(), 15);
    let mut want = vec![Ev::Req(0, 2, 1)];
    want.extend((4..18).map(|q| Ev::Req(0, q, 1)));
    assert_eq!(t.poll(2 * MS + 14), want);
    // No answer, no retries: every gap is lost, [2, 4) whole.
    assert_eq!(t.poll(52 * MS + 14), [Ev::Lost(2, 16)]);
    assert_eq!(t.s.outstanding_gaps(), 0);
}

fn window_of_one() -> SessionConfig {
    SessionConfig {
        reorder_window: 1,
        ..cfg()
    }
}

/// buffer: a packet is buffered only while the segment table holds all its pieces, the
/// ranges of gaps it fills *and* the new range past the data seen (`pieces += 1` for each,
/// mutants `*=`; `tail < end`, mutant `<=`). With a window of one packet the table holds four.
#[test]
fn a_packet_is_buffered_only_while_its_pieces_fit_the_segment_table() {
    // Five one-message gaps with timers of their own: [2, 3) .. [6, 7).
    let gaps = || {
        let mut t = T::new(window_of_one());
        assert_eq!(t.pkt(0, &data(1, 1), 0), msgs(1..2, 0));
        for q in 3..8 {
            assert_eq!(t.pkt(0, &hb(q), q), []);
        }
        assert_eq!(t.s.outstanding_gaps(), 5);
        t
    };
    // Four pieces, nothing past the data seen: buffered.
    let mut t = gaps();
    assert_eq!(t.pkt(0, &data(3, 4), 10), []);
    assert_eq!(
        (t.s.buffered_packets(), t.s.stats().window_overflow),
        (1, 0)
    );
    assert_eq!(
        t.pkt(1, &data(2, 1), 11),
        msgs(2..3, 1)
            .into_iter()
            .chain(msgs(3..7, 0))
            .collect::<Vec<_>>()
    );
    // Four pieces and one past the data seen: five, the packet overflows (its tail is a gap).
    let mut t = gaps();
    assert_eq!(t.pkt(0, &data(3, 5), 10), []);
    assert_eq!(
        (t.s.buffered_packets(), t.s.stats().window_overflow),
        (0, 1)
    );
    assert_eq!(t.s.missing_messages(), 6);
}

/// Nineteen gaps in a table of twenty (a window of one): [2, 10), [10, 20), then seventeen of
/// one message, each with a timer of its own.
fn nineteen_gaps() -> T {
    let mut t = T::new(window_of_one());
    assert_eq!(t.pkt(0, &data(1, 1), 0), msgs(1..2, 0));
    assert_eq!(t.pkt(0, &hb(10), 0), []);
    assert_eq!(t.pkt(0, &hb(20), 1), []);
    for k in 0..17 {
        assert_eq!(t.pkt(0, &hb(21 + k), 2 + k), []);
    }
    assert_eq!(t.s.outstanding_gaps(), 19);
    t
}

/// buffer: a packet inside a gap splits it in two, and is buffered only while one gap entry
/// stays free after the split (`a > g.start && b < g.end` counts a split; mutants of either
/// comparison, `||`, `splits *= 1`). A packet at either end of a gap splits nothing.
#[test]
fn only_a_packet_inside_a_gap_needs_a_gap_entry_of_its_own() {
    // Inside [2, 10): the split would fill the table: the packet overflows.
    let mut t = nineteen_gaps();
    assert_eq!(t.pkt(0, &data(5, 1), 30), []);
    assert_eq!(
        (t.s.buffered_packets(), t.s.stats().window_overflow),
        (0, 1)
    );
    assert_eq!(t.s.outstanding_gaps(), 19);
    // At the end of [2, 10): buffered, no new entry.
    let mut t = nineteen_gaps();
    assert_eq!(t.pkt(0, &data(9, 1), 30), []);
    assert_eq!(
        (t.s.buffered_packets(), t.s.stats().window_overflow),
        (1, 0)
    );
    assert_eq!(t.s.outstanding_gaps(), 19);
    // At the start of [10, 20): buffered, no new entry.
    let mut t = nineteen_gaps();
    assert_eq!(t.pkt(0, &data(10, 1), 30), []);
    assert_eq!(
        (t.s.buffered_packets(), t.s.stats().window_overflow),
        (1, 0)
    );
    assert_eq!(t.s.outstanding_gaps(), 19);
}

/// buffer: a packet of exactly `max_packet` bytes that overflows a full window is no oversize
/// packet (`bytes.len() > max_packet`, mutant `>=`).
#[test]
fn a_packet_of_exactly_max_packet_bytes_is_not_oversize() {
    assert_eq!(data(5, 1).len(), 28);
    let mut t = T::new(SessionConfig {
        max_packet: 28,
        ..window_of_one()
    });
    assert_eq!(t.pkt(0, &data(1, 1), 0), msgs(1..2, 0));
    assert_eq!(t.pkt(0, &data(3, 1), 0), []);
    assert_eq!(t.s.buffered_packets(), 1);
    // The window is full: the packet overflows, but it is not too big for a slot.
    assert_eq!(t.pkt(0, &data(5, 1), 0), []);
    let st = t.s.stats();
    assert_eq!((st.window_overflow, st.oversize_packets), (1, 0));
    // Once the window has room, a packet of that size is buffered.
    assert_eq!(
        t.pkt(1, &data(2, 1), 0),
        msgs(2..3, 1)
            .into_iter()
            .chain(msgs(3..4, 0))
            .collect::<Vec<_>>()
    );
    assert_eq!(t.pkt(1, &data(5, 1), 0), []);
    assert_eq!(t.s.buffered_packets(), 1);
}

fn window_of_two() -> SessionConfig {
    SessionConfig {
        reorder_window: 2,
        ..cfg()
    }
}

/// buffer: a packet that fills part of a gap and runs past the data seen holds its slot for
/// both segments (`refs += 1` for the tail, mutant `*=`): the slot is freed once, after the
/// last, and never shared by two packets buffered later.
#[test]
fn a_slot_with_a_gap_piece_and_a_tail_is_freed_once() {
    let mut t = T::new(window_of_two());
    assert_eq!(t.pkt(0, &data(1, 1), 0), msgs(1..2, 0));
    assert_eq!(t.pkt(0, &hb(4), 0), []);
    // [3, 4) of the gap [2, 4), and [4, 6) past it.
    assert_eq!(t.pkt(0, &data(3, 3), 0), []);
    assert_eq!(
        t.pkt(1, &data(2, 1), 0),
        msgs(2..3, 1)
            .into_iter()
            .chain(msgs(3..6, 0))
            .collect::<Vec<_>>()
    );
    // Two packets buffered now take two slots: neither overwrites the other.
    assert_eq!(t.pkt(0, &data(8, 1), 0), []);
    assert_eq!(t.pkt(0, &data(10, 1), 0), []);
    assert_eq!(t.s.buffered_packets(), 2);
    assert_eq!(
        t.pkt(1, &data(6, 2), 0),
        msgs(6..8, 1)
            .into_iter()
            .chain(msgs(8..9, 0))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        t.pkt(1, &data(9, 1), 0),
        msgs(9..10, 1)
            .into_iter()
            .chain(msgs(10..11, 0))
            .collect::<Vec<_>>()
    );
    assert_eq!(t.s.buffered_packets(), 0);
}

/// buffer: a packet that ends exactly at the data seen adds no (empty) segment past it
/// (`tail < end`, mutant `<=`): an empty segment would sort behind a later one at the same
/// start, and, never reached, hold back all later buffered data and its slot for good.
#[test]
fn a_packet_ending_at_the_data_seen_leaves_no_empty_segment() {
    let mut t = T::new(window_of_two());
    assert_eq!(t.pkt(0, &data(1, 1), 0), msgs(1..2, 0));
    assert_eq!(t.pkt(0, &hb(4), 0), []);
    // Fills [3, 4), the end of the gap [2, 4): ends at the data seen.
    assert_eq!(t.pkt(0, &data(3, 1), 0), []);
    assert_eq!(t.pkt(0, &data(4, 1), 0), []);
    assert_eq!(
        t.pkt(1, &data(2, 1), 0),
        msgs(2..3, 1)
            .into_iter()
            .chain(msgs(3..5, 0))
            .collect::<Vec<_>>()
    );
    assert_eq!(t.s.buffered_packets(), 0);
    // Later buffered data is delivered as usual.
    assert_eq!(t.pkt(0, &data(6, 1), 0), []);
    assert_eq!(
        t.pkt(1, &data(5, 1), 0),
        msgs(5..6, 1)
            .into_iter()
            .chain(msgs(6..7, 0))
            .collect::<Vec<_>>()
    );
    assert_eq!(t.s.buffered_packets(), 0);
}

/// buffer: a packet that splits the first gap moves on past the two halves (`i += 2`, mutant
/// `*=`: at the first gap it would look at the front half again and add an empty segment,
/// taking an entry of the segment table from a later packet).
#[test]
fn a_packet_splitting_the_first_gap_takes_one_segment() {
    let mut t = T::new(window_of_two());
    assert_eq!(t.pkt(0, &data(1, 1), 0), msgs(1..2, 0));
    // [2, 10), then seven one-message gaps with timers of their own: [10, 11) .. [16, 17).
    assert_eq!(t.pkt(0, &hb(10), 0), []);
    for q in 11..18 {
        assert_eq!(t.pkt(0, &hb(q), q), []);
    }
    assert_eq!(t.s.outstanding_gaps(), 8);
    // Inside [2, 10): one segment.
    assert_eq!(t.pkt(0, &data(5, 1), 20), []);
    // Seven pieces: with the one before, the eight entries of a window of two.
    assert_eq!(t.pkt(0, &data(10, 7), 21), []);
    let st = t.s.stats();
    assert_eq!((t.s.buffered_packets(), st.window_overflow), (2, 0));
}
