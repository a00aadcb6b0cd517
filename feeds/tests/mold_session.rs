//! The MoldUDP64 receive session end to end: a random message stream, packed into packets, sent
//! on two lossy, duplicating, reordering lines plus a simulated re-request server, driven by a
//! simulated clock. Checks exactly-once in-order delivery, lost ranges in stream order, the
//! accounting identity, and (with recovery off) an exact model of what must be lost.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns panic on failure by design

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use proptest::prelude::*;
use ticklane_feeds::moldudp64::session::{
    MoldUdp64Session, SessionConfig, SessionSink, SessionStats,
};
use ticklane_feeds::moldudp64::{
    MoldError, MoldHeader, MoldPacket, MoldPacketBuilder, MoldRequest, Session,
    END_OF_SESSION_COUNT,
};
use ticklane_feeds::rng::SeededRng;
use zerocopy::IntoBytes;

const SESSION: Session = *b"PROPTEST01";
const US: u64 = 1_000;
const MS: u64 = 1_000_000;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Out {
    Msg(u64, u8, Vec<u8>),
    Lost(u64, u64),
    End(u64),
    Rejoin(u64),
    /// Not from the session: the test's mark where it told the session to join again
    /// (`rejoin_at`) and the session did not report it (nothing had been output since the
    /// last join).
    Moved(u64),
}

#[derive(Default)]
struct Sink {
    out: Vec<Out>,
    requests: Vec<(usize, MoldRequest)>,
}

impl SessionSink for Sink {
    fn message(&mut self, seq: u64, line: u8, bytes: &[u8]) {
        self.out.push(Out::Msg(seq, line, bytes.to_vec()));
    }
    fn request(&mut self, server: usize, request: MoldRequest) {
        self.requests.push((server, request));
    }
    fn gap_lost(&mut self, first: u64, count: u64) {
        self.out.push(Out::Lost(first, count));
    }
    fn end_of_session(&mut self, next: u64) {
        self.out.push(Out::End(next));
    }
    fn rejoined(&mut self, next: u64) {
        self.out.push(Out::Rejoin(next));
    }
}

fn identity(s: &MoldUdp64Session) {
    let st = s.stats();
    assert_eq!(
        st.gap_messages,
        st.filled_by_lines
            + st.recovered
            + st.filled_after_giving_up
            + st.lost_messages
            + s.missing_messages(),
        "accounting identity: {st:?}"
    );
}

/// Checks the output stream from `first`: every message and lost range starts where the previous
/// one ended (so delivery is strictly increasing, ranges disjoint and in stream order), nothing
/// follows end of session. Returns (next sequence, lost flags by sequence offset, ended).
fn check_stream(out: &[Out], first: u64, len: usize, body: impl Fn(u64) -> Vec<u8>) -> Checked {
    let mut c = Checked {
        next: first,
        lost: vec![false; len],
        delivered: 0,
        lost_messages: 0,
        lost_gaps: 0,
        ended: false,
        since_join: false,
    };
    for o in out {
        assert!(!c.ended, "output after end of session: {o:?}");
        match o {
            Out::Msg(seq, _, bytes) => {
                assert_eq!(*seq, c.next, "message out of order");
                assert_eq!(*bytes, body(*seq), "bytes of message {seq}");
                c.next += 1;
                c.delivered += 1;
                c.since_join = true;
            }
            Out::Lost(f, n) => {
                assert_eq!(*f, c.next, "gap_lost out of stream order");
                assert!(*n > 0);
                for s in *f..*f + *n {
                    if let Some(l) = c.lost.get_mut(s.wrapping_sub(first) as usize) {
                        *l = true;
                    }
                }
                c.next += n;
                c.lost_messages += n;
                c.since_join = true;
                c.lost_gaps += 1;
            }
            Out::End(next) => {
                assert_eq!(
                    *next, c.next,
                    "end of session before everything was accounted"
                );
                c.ended = true;
            }
            // A rejoin (only when joining mid-session) restarts the numbering below what was
            // delivered; the next output is at `next` (checked by the arms above).
            Out::Rejoin(next) => {
                assert!(*next < c.next, "rejoined at {next}, not below {}", c.next);
                assert!(
                    c.since_join,
                    "rejoined at {next} with nothing output since the join"
                );
                c.next = *next;
                c.since_join = false;
            }
            Out::Moved(next) => {
                assert!(!c.since_join, "moved to {next} unreported after output");
                c.next = *next;
            }
        }
    }
    c
}

struct Checked {
    next: u64,
    lost: Vec<bool>,
    delivered: u64,
    lost_messages: u64,
    lost_gaps: u64,
    ended: bool,
    /// A message or loss was output since the (last) join.
    since_join: bool,
}

#[derive(Clone, Debug)]
struct Params {
    seed: u64,
    messages: usize,
    /// Packet size of the feed's builder.
    feed_packet: usize,
    /// Per-mille loss on line A and B.
    loss: [u64; 2],
    /// Per-mille chance a packet is sent twice on a line.
    dup: u64,
    /// Arrival jitter per packet (bounded reordering).
    jitter: u64,
    /// Line B runs this much behind line A.
    b_delay: u64,
    /// Per-mille chance a request goes unanswered.
    answer_loss: u64,
    /// Answers arrive 1..=this after the request.
    answer_delay: u64,
    config: SessionConfig,
}

struct Run {
    out: Vec<Out>,
    requests: Vec<(usize, MoldRequest)>,
    stats: SessionStats,
    /// Per message (index seq - 1): carried by a packet that arrived on line A or B.
    on_lines: Vec<bool>,
    messages: Vec<Vec<u8>>,
    on_packet_calls: u64,
    session: MoldUdp64Session,
}

/// One packet arrival: (time, tie-break order, line, bytes).
type Arrival = Reverse<(u64, u64, u8, Vec<u8>)>;

fn simulate(p: &Params) -> Run {
    let mut rng = SeededRng::new(p.seed);
    let messages: Vec<Vec<u8>> = (0..p.messages)
        .map(|_| {
            let len = rng.below(48) as usize;
            (0..len).map(|_| rng.next_u64() as u8).collect()
        })
        .collect();
    let total = messages.len() as u64;

    // The feed: data packets, occasional heartbeats, end of session.
    let mut b = MoldPacketBuilder::new(SESSION, 1).with_max_packet(p.feed_packet);
    let mut packets: Vec<Vec<u8>> = Vec::new();
    for m in &messages {
        b.push(m, |pk| packets.push(pk.to_vec())).unwrap();
    }
    if let Some(pk) = b.flush() {
        packets.push(pk.to_vec());
    }
    let mut feed: Vec<Vec<u8>> = Vec::new();
    for pk in packets {
        let next = MoldPacket::parse(&pk).unwrap().next_sequence();
        feed.push(pk);
        if rng.chance(1, 10) {
            feed.push(MoldHeader::new(SESSION, next, 0).as_bytes().to_vec());
        }
    }
    feed.push(b.end_of_session().to_vec());

    let mut heap: BinaryHeap<Arrival> = BinaryHeap::new();
    let mut order = 0u64;
    let mut on_lines = vec![false; messages.len()];
    let last = feed.len() - 1;
    for (i, pk) in feed.iter().enumerate() {
        let sent = i as u64 * 10 * US;
        for line in 0..2u8 {
            // End of session always reaches line A, so the tail of the stream is known.
            if !(i == last && line == 0) && rng.chance(p.loss[usize::from(line)], 1000) {
                continue;
            }
            let base = sent + if line == 1 { p.b_delay } else { 0 };
            let copies = if rng.chance(p.dup, 1000) { 2 } else { 1 };
            for _ in 0..copies {
                let t = base + rng.below(p.jitter + 1);
                heap.push(Reverse((t, order, line, pk.clone())));
                order += 1;
            }
            let m = MoldPacket::parse(pk).unwrap();
            for s in m.sequence()..m.sequence() + m.len() as u64 {
                on_lines[(s - 1) as usize] = true;
            }
        }
    }

    let mut s = MoldUdp64Session::new(p.config.clone());
    let mut sink = Sink::default();
    let mut requests = Vec::new();
    let mut now = 0u64;
    let mut on_packet_calls = 0u64;
    let mut steps = 0u64;
    loop {
        steps += 1;
        assert!(steps < 2_000_000, "simulation does not terminate");
        let next_arrival = heap.peek().map(|Reverse((t, ..))| *t);
        let poll_at = match (next_arrival, s.next_deadline()) {
            (_, None) => None,
            (None, Some(d)) => Some(d),
            (Some(t), Some(d)) => (d <= t).then_some(d),
        };
        if let Some(d) = poll_at {
            now = now.max(d);
            s.poll(now, &mut sink);
            assert!(
                s.next_deadline().is_none_or(|d| d > now),
                "poll left work due"
            );
        } else if let Some(Reverse((t, _, line, bytes))) = heap.pop() {
            now = now.max(t);
            s.on_packet(line, &bytes, now, &mut sink).unwrap();
            on_packet_calls += 1;
        } else {
            break;
        }
        identity(&s);
        // The re-request server: answers from its own packetization, on line 2.
        for (server, req) in sink.requests.drain(..) {
            requests.push((server, req));
            if rng.chance(p.answer_loss, 1000) {
                continue;
            }
            let t = now + 1 + rng.below(p.answer_delay);
            let end = (req.sequence + u64::from(req.count)).min(total + 1);
            let size = 70 + rng.below(400) as usize;
            let mut ab = MoldPacketBuilder::new(SESSION, req.sequence).with_max_packet(size);
            let mut answer = Vec::new();
            for seq in req.sequence..end {
                ab.push(&messages[(seq - 1) as usize], |pk| answer.push(pk.to_vec()))
                    .unwrap();
            }
            if let Some(pk) = ab.flush() {
                answer.push(pk.to_vec());
            }
            for (k, pk) in answer.into_iter().enumerate() {
                heap.push(Reverse((t + k as u64, order, 2, pk)));
                order += 1;
            }
        }
    }
    s.finish(&mut sink);
    identity(&s);
    Run {
        out: sink.out,
        requests,
        stats: s.stats().clone(),
        on_lines,
        messages,
        on_packet_calls,
        session: s,
    }
}

/// Everything every run must satisfy.
fn check_run(p: &Params, r: &Run) -> Checked {
    let total = r.messages.len() as u64;
    let c = check_stream(&r.out, 1, r.messages.len(), |seq| {
        r.messages[(seq - 1) as usize].clone()
    });
    assert!(c.ended, "end of session not reached");
    assert_eq!(c.next, total + 1);
    assert!(r.session.ended());
    assert_eq!(r.session.expected(), Some(total + 1));
    assert_eq!(r.session.outstanding_gaps(), 0);
    assert_eq!(r.session.buffered_packets(), 0);
    let st = &r.stats;
    assert!(st.end_of_session);
    assert_eq!(st.messages, c.delivered);
    assert_eq!(st.lost_messages, c.lost_messages);
    assert_eq!(st.lost_gaps, c.lost_gaps);
    assert_eq!(st.messages + st.lost_messages, total);
    assert_eq!(
        st.gap_messages,
        st.filled_by_lines + st.recovered + st.filled_after_giving_up + st.lost_messages
    );
    assert_eq!(st.first_copies_per_line.iter().sum::<u64>(), st.messages);
    assert_eq!(st.packets, r.on_packet_calls);
    assert_eq!(st.malformed + st.foreign_session, 0);
    assert_eq!(st.requests + st.retries, r.requests.len() as u64);
    for (i, o) in r.out.iter().enumerate() {
        if let Out::Msg(_, line, _) = o {
            assert!(*line <= 2, "message {i} from unknown line {line}");
        }
    }
    let max_req = u64::from(p.config.max_request_messages.max(1));
    for (server, req) in &r.requests {
        assert!(*server < p.config.servers);
        assert_eq!(req.session, SESSION);
        assert!(req.count >= 1 && u64::from(req.count) <= max_req, "{req:?}");
        assert!(req.sequence >= 1 && req.sequence + u64::from(req.count) <= total + 1);
    }
    if !p.config.recovery || p.config.servers == 0 {
        assert!(r.requests.is_empty());
        assert_eq!(st.recovered, 0);
    }
    c
}

fn base_config() -> SessionConfig {
    SessionConfig {
        first_sequence: Some(1),
        session: Some(SESSION),
        ..SessionConfig::default()
    }
}

prop_compose! {
    fn line_params()(
        seed in any::<u64>(),
        messages in 200usize..2000,
        feed_packet in 70usize..400,
        loss_a in 0u64..300,
        loss_b in 0u64..300,
        dup in 0u64..200,
        jitter in 0u64..100 * US,
        b_delay in 0u64..200 * US,
    ) -> Params {
        Params {
            seed,
            messages,
            feed_packet,
            loss: [loss_a, loss_b],
            dup,
            jitter,
            b_delay,
            answer_loss: 0,
            answer_delay: 1,
            config: base_config(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Anything goes: small windows (overflow), small packet slots, few retries, lost answers,
    /// no servers, recovery off.
    #[test]
    fn random_lines_and_server_keep_every_invariant(
        mut p in line_params(),
        answer_loss in 0u64..=1000,
        answer_delay in 1u64..5 * MS,
        window in 0usize..64,
        max_packet in 40usize..512,
        grace in 0u64..MS,
        timeout in 1u64..3 * MS,
        retries in 0u32..4,
        servers in 0usize..4,
        max_request in 1u16..60,
        recovery in any::<bool>(),
    ) {
        p.answer_loss = answer_loss;
        p.answer_delay = answer_delay;
        p.config = SessionConfig {
            reorder_window: window,
            max_packet,
            line_grace_ns: grace,
            request_timeout_ns: timeout,
            max_retries: retries,
            servers,
            max_request_messages: max_request,
            recovery,
            ..base_config()
        };
        let r = simulate(&p);
        let c = check_run(&p, &r);
        // Whatever was lost was missing everywhere when it was given up on: at least it was
        // never delivered (checked by the stream) and the counts agree.
        prop_assert_eq!(c.lost.iter().filter(|l| **l).count() as u64, r.stats.lost_messages);
    }

    /// The server always answers (some answers late, overlapping retries) and retries are
    /// plenty: nothing is lost.
    #[test]
    fn server_that_answers_recovers_everything(
        mut p in line_params(),
        answer_delay in 1u64..3 * MS,
        servers in 1usize..4,
        max_request in 1u16..200,
        grace in 0u64..MS,
    ) {
        p.answer_delay = answer_delay;
        p.config = SessionConfig {
            reorder_window: 4096,
            max_packet: 512,
            line_grace_ns: grace,
            request_timeout_ns: 2 * MS,
            max_retries: 10,
            servers,
            max_request_messages: max_request,
            ..base_config()
        };
        let r = simulate(&p);
        let c = check_run(&p, &r);
        prop_assert_eq!(c.lost_messages, 0);
        prop_assert_eq!(r.stats.messages, p.messages as u64);
        prop_assert_eq!(r.stats.window_overflow, 0);
    }

    /// The same with unreliable answers but many retries.
    #[test]
    fn lossy_server_with_enough_retries_recovers_everything(
        mut p in line_params(),
        answer_loss in 0u64..300,
        servers in 1usize..4,
    ) {
        p.answer_loss = answer_loss;
        p.answer_delay = MS;
        p.config = SessionConfig {
            reorder_window: 4096,
            max_packet: 512,
            line_grace_ns: 300 * US,
            request_timeout_ns: 2 * MS,
            max_retries: 40,
            servers,
            ..base_config()
        };
        let r = simulate(&p);
        let c = check_run(&p, &r);
        prop_assert_eq!(c.lost_messages, 0);
        prop_assert_eq!(r.stats.lost_gaps, 0);
    }

    /// Model check: with recovery off (and a grace longer than any line delay, a window that
    /// never fills), exactly the messages missing from both lines are lost.
    #[test]
    fn recovery_off_loses_exactly_what_both_lines_missed(mut p in line_params()) {
        p.config = SessionConfig {
            reorder_window: 4096,
            max_packet: 512,
            line_grace_ns: 1_000 * MS,
            recovery: false,
            ..base_config()
        };
        let r = simulate(&p);
        let c = check_run(&p, &r);
        for (i, (lost, seen)) in c.lost.iter().zip(&r.on_lines).enumerate() {
            prop_assert_eq!(*lost, !*seen, "message {}", i + 1);
        }
        prop_assert_eq!(r.stats.filled_by_lines + r.stats.lost_messages, r.stats.gap_messages);
        prop_assert_eq!(r.stats.requests, 0);
        prop_assert_eq!(r.stats.window_overflow, 0);
    }
}

/// The bytes of message `seq` in the chaos test.
fn body(seq: u64) -> Vec<u8> {
    let mut v = seq.to_le_bytes().to_vec();
    v.truncate((seq % 9) as usize);
    v
}

fn data(seq: u64, count: u16) -> Vec<u8> {
    let mut p = MoldHeader::new(SESSION, seq, count).as_bytes().to_vec();
    for s in seq..seq + u64::from(count) {
        let b = body(s);
        p.extend_from_slice(&(b.len() as u16).to_be_bytes());
        p.extend_from_slice(&b);
    }
    p
}

#[derive(Clone, Debug)]
enum Op {
    Data {
        line: u8,
        seq: u64,
        count: u16,
    },
    Heartbeat {
        seq: u64,
    },
    End {
        seq: u64,
    },
    Garbage(Vec<u8>),
    Poll,
    GiveUp {
        seq: u64,
    },
    /// Told from outside that the numbering restarted this far behind what is expected (a
    /// relay's restart: `MoldUdp64Session::rejoin_at`).
    RejoinBehind {
        back: u64,
    },
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..4, 0u64..120, 1u16..8).prop_map(|(line, seq, count)| Op::Data { line, seq, count }),
        1 => (0u64..130).prop_map(|seq| Op::Heartbeat { seq }),
        1 => (0u64..130).prop_map(|seq| Op::End { seq }),
        1 => proptest::collection::vec(any::<u8>(), 0..40).prop_map(Op::Garbage),
        2 => Just(Op::Poll),
        1 => (0u64..140).prop_map(|seq| Op::GiveUp { seq }),
        1 => (1u64..40).prop_map(|back| Op::RejoinBehind { back }),
        3 => (0u64..3 * MS).prop_map(Op::Advance),
    ]
}

/// A well-formed packet is taken, or refused only for a sequence number that jumps more than
/// `max_gap_messages` past the highest seen, and then changes nothing.
fn well_formed(
    s: &mut MoldUdp64Session,
    line: u8,
    p: &[u8],
    now: u64,
    sink: &mut Sink,
) -> Result<(), TestCaseError> {
    let before = (s.expected(), s.outstanding_gaps(), s.missing_messages());
    let delivered = sink.out.len();
    let refused = s.stats().implausible_sequence;
    match s.on_packet(line, p, now, sink) {
        Ok(()) => prop_assert_eq!(s.stats().implausible_sequence, refused),
        Err(MoldError::ImplausibleSequence { jump, .. }) => {
            prop_assert!(jump > s.config().max_gap_messages);
            prop_assert_eq!(
                before,
                (s.expected(), s.outstanding_gaps(), s.missing_messages())
            );
            prop_assert_eq!(sink.out.len(), delivered);
            prop_assert_eq!(s.stats().implausible_sequence, refused + 1);
        }
        Err(e) => prop_assert!(false, "well-formed packet refused: {}", e),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Arbitrary packet sequences (overlaps, repeats, heartbeats and end of session anywhere,
    /// garbage, give-ups) never panic, keep the identity at every step, and produce a stream
    /// in order.
    #[test]
    fn chaos_keeps_stream_order_and_identity(
        ops in proptest::collection::vec(op(), 1..120),
        window in 0usize..6,
        servers in 0usize..3,
        max_gap in 1u64..200,
        join in any::<bool>(),
        per_gap in 1u16..4,
    ) {
        let mut s = MoldUdp64Session::new(SessionConfig {
            first_sequence: if join { None } else { Some(1) },
            reorder_window: window,
            max_packet: 64,
            line_grace_ns: 500 * US,
            request_timeout_ns: MS,
            max_retries: 1,
            servers,
            max_request_messages: 5,
            max_requests_per_gap: per_gap,
            max_gap_messages: max_gap,
            ..SessionConfig::default()
        });
        let mut sink = Sink::default();
        let mut now = 0u64;
        let mut told_rejoins = 0u64;
        for op in ops {
            match op {
                Op::Data { line, seq, count } => {
                    well_formed(&mut s, line, &data(seq, count), now, &mut sink)?;
                }
                Op::Heartbeat { seq } => {
                    let p = MoldHeader::new(SESSION, seq, 0);
                    well_formed(&mut s, 0, p.as_bytes(), now, &mut sink)?;
                }
                Op::End { seq } => {
                    let p = MoldHeader::new(SESSION, seq, END_OF_SESSION_COUNT);
                    well_formed(&mut s, 1, p.as_bytes(), now, &mut sink)?;
                }
                Op::Garbage(g) => {
                    let before = (s.expected(), s.outstanding_gaps(), s.missing_messages());
                    if s.on_packet(0, &g, now, &mut sink).is_err() {
                        prop_assert_eq!(
                            before,
                            (s.expected(), s.outstanding_gaps(), s.missing_messages())
                        );
                    }
                }
                Op::Poll => {
                    // Each gap has at most `per_gap` requests outstanding: a poll sends no more.
                    let most = usize::from(per_gap) * s.outstanding_gaps();
                    s.poll(now, &mut sink);
                    prop_assert!(sink.requests.len() <= most, "{} requests", sink.requests.len());
                }
                Op::GiveUp { seq } => s.give_up_before(seq, &mut sink),
                Op::RejoinBehind { back } => {
                    let at = s.expected().map_or(back, |e| e.saturating_sub(back));
                    told_rejoins += u64::from(!s.ended());
                    let outputs = sink.out.len();
                    s.rejoin_at(at, &mut sink);
                    if !s.ended() && sink.out.len() == outputs && !sink.out.is_empty() {
                        sink.out.push(Out::Moved(at));
                    }
                    prop_assert_eq!(s.missing_messages(), 0);
                    prop_assert_eq!(s.buffered_packets(), 0);
                }
                Op::Advance(d) => now += d,
            }
            identity(&s);
            for (server, req) in sink.requests.drain(..) {
                prop_assert!(server < servers);
                prop_assert!(req.count >= 1 && req.count <= 5);
            }
            if let Some(d) = s.next_deadline() {
                prop_assert!(!s.ended());
                prop_assert!(s.outstanding_gaps() > 0, "deadline {} without gaps", d);
            }
        }
        s.finish(&mut sink);
        identity(&s);
        prop_assert_eq!(s.missing_messages(), 0);
        prop_assert_eq!(s.buffered_packets(), 0);
        prop_assert_eq!(s.next_deadline(), None);
        // Where the stream starts: 1, or wherever the session joined.
        let first = sink.out.first().map(|o| match o {
            Out::Msg(seq, ..)
            | Out::Lost(seq, _)
            | Out::End(seq)
            | Out::Rejoin(seq)
            | Out::Moved(seq) => *seq,
        });
        if !join && told_rejoins == 0 && !sink.out.is_empty() {
            prop_assert_eq!(first, Some(1));
        }
        if !join {
            // Only a join is on probation; a configured first sequence is never replaced.
            prop_assert_eq!(s.stats().rejoins, told_rejoins);
        }
        if let Some(first) = first {
            let c = check_stream(&sink.out, first, 0, body);
            prop_assert_eq!(Some(c.next), s.expected());
            prop_assert_eq!(c.ended, s.ended());
            prop_assert_eq!(c.delivered, s.stats().messages);
            prop_assert_eq!(c.lost_messages, s.stats().lost_messages);
            prop_assert_eq!(c.lost_gaps, s.stats().lost_gaps);
        } else {
            prop_assert!(sink.out.is_empty());
        }
    }
}

#[test]
fn simulation_smoke_deterministic() {
    let mut p = Params {
        seed: 7,
        messages: 500,
        feed_packet: 120,
        loss: [100, 100],
        dup: 50,
        jitter: 30 * US,
        b_delay: 50 * US,
        answer_loss: 0,
        answer_delay: MS,
        config: base_config(),
    };
    p.config.line_grace_ns = 200 * US;
    p.config.request_timeout_ns = 2 * MS;
    let a = simulate(&p);
    let b = simulate(&p);
    check_run(&p, &a);
    assert_eq!(a.out, b.out);
    assert_eq!(a.stats, b.stats);
    // Both lines lost ~1% of packets together: some requests, everything recovered.
    assert!(a.stats.requests > 0, "{:?}", a.stats);
    assert!(a.stats.filled_by_lines > 0);
    assert_eq!(a.stats.lost_messages, 0);
    assert_eq!(a.stats.messages, 500);
}

/// A window smaller than what piles up behind a gap lost on both lines: some packets overflow,
/// and their messages come back through the other line or re-requests. (Deterministic seed; a
/// window far below the line skew can instead clog and exhaust retries, by design.)
#[test]
fn window_overflow_is_recovered_by_requests() {
    let mut p = Params {
        seed: 11,
        messages: 1500,
        feed_packet: 100,
        loss: [50, 50],
        dup: 100,
        jitter: 40 * US,
        b_delay: 80 * US,
        answer_loss: 100,
        answer_delay: 500 * US,
        config: base_config(),
    };
    p.config.reorder_window = 24;
    p.config.line_grace_ns = 200 * US;
    p.config.request_timeout_ns = MS;
    p.config.max_retries = 30;
    p.config.servers = 2;
    p.config.max_request_messages = 7;
    let r = simulate(&p);
    check_run(&p, &r);
    let st = &r.stats;
    assert!(st.window_overflow > 0, "{st:?}");
    assert!(st.out_of_order_packets > 0, "{st:?}");
    assert!(st.recovered > 0 && st.filled_by_lines > 0, "{st:?}");
    assert!(
        st.duplicate_messages > 0 && st.duplicate_packets > 0,
        "{st:?}"
    );
    assert_eq!(st.lost_messages, 0, "{st:?}");
    assert_eq!(st.messages, 1500);
    // Both servers were used, and every request asked for at most 7 messages.
    assert!(r.requests.iter().any(|(s, _)| *s == 0) && r.requests.iter().any(|(s, _)| *s == 1));
}

// ---------------------------------------------------------------------------------------------
// A brute-force model (what arrived, first copy's line) against the session.

#[derive(Clone, Debug)]
enum MOp {
    Data {
        line: u8,
        seq: u64,
        count: u16,
    },
    Heartbeat {
        seq: u64,
    },
    End {
        seq: u64,
    },
    Poll,
    Advance(u64),
    /// The re-request server answers pending request `idx % len` with one packet of at most
    /// `k` messages from its start (as a MoldUDP64 server answers: one packet).
    Answer {
        idx: usize,
        k: u16,
    },
    /// The server drops pending request `idx % len`.
    DropAnswer {
        idx: usize,
    },
    GiveUp {
        seq: u64,
    },
}

fn mop() -> impl Strategy<Value = MOp> {
    prop_oneof![
        8 => (0u8..2, 1u64..105, 1u16..8).prop_map(|(line, seq, count)| MOp::Data { line, seq, count }),
        1 => (1u64..110).prop_map(|seq| MOp::Heartbeat { seq }),
        1 => (1u64..110).prop_map(|seq| MOp::End { seq }),
        3 => Just(MOp::Poll),
        3 => (0u64..2 * MS).prop_map(MOp::Advance),
        4 => (any::<usize>(), 1u16..6).prop_map(|(idx, k)| MOp::Answer { idx, k }),
        1 => any::<usize>().prop_map(|idx| MOp::DropAnswer { idx }),
        1 => (1u64..110).prop_map(|seq| MOp::GiveUp { seq }),
    ]
}

struct Model {
    /// First copy of each message that arrived while still unaccounted for: its line.
    arrived: std::collections::BTreeMap<u64, u8>,
    /// Next sequence number the output must account for.
    next: u64,
    ended: bool,
    eos: Option<u64>,
    seen_out: usize,
}

impl Model {
    fn arrive(&mut self, line: u8, seq: u64, count: u16) {
        for s in seq..seq + u64::from(count) {
            if s >= self.next && self.eos.is_none_or(|e| s < e) && !self.ended {
                self.arrived.entry(s).or_insert(line);
            }
        }
    }
    /// Checks the new outputs; returns an error naming the first mismatch.
    fn check(&mut self, out: &[Out]) -> Result<(), TestCaseError> {
        for o in &out[self.seen_out..] {
            prop_assert!(!self.ended, "output after end: {:?}", o);
            match o {
                Out::Msg(seq, line, bytes) => {
                    prop_assert_eq!(*seq, self.next);
                    prop_assert_eq!(bytes.clone(), body(*seq));
                    prop_assert_eq!(
                        self.arrived.get(seq).copied(),
                        Some(*line),
                        "message {} delivered from line {} (first copy: {:?})",
                        seq,
                        line,
                        self.arrived.get(seq)
                    );
                    self.next += 1;
                }
                Out::Lost(f, n) => {
                    prop_assert_eq!(*f, self.next);
                    let arrived: Vec<_> = self.arrived.range(*f..*f + *n).collect();
                    prop_assert!(
                        arrived.is_empty(),
                        "lost [{}, +{}) but {:?} arrived",
                        f,
                        n,
                        arrived
                    );
                    self.next += n;
                }
                Out::End(next) => {
                    prop_assert_eq!(*next, self.next);
                    self.ended = true;
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
        self.seen_out = out.len();
        // Nothing that arrived waits at the front of the stream.
        if !self.ended {
            prop_assert!(
                !self.arrived.contains_key(&self.next),
                "message {} arrived but is not delivered",
                self.next
            );
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Against a brute-force model (no overflow possible: a big window): every message that
    /// arrived is delivered from its first copy's line as soon as it is next, a lost range
    /// holds nothing that arrived, every request asks only for missing messages, a one-packet
    /// server's answers are progress, and the identity holds.
    #[test]
    fn session_matches_a_model_of_what_arrived(
        ops in proptest::collection::vec(mop(), 1..200),
        servers in 1usize..3,
        retries in 0u32..3,
        max_request in 1u16..6,
        per_gap in 1u16..4,
        high in any::<bool>(),
    ) {
        // Near the top of the sequence space too (messages up to u64::MAX - 1).
        let base = if high { u64::MAX - 111 } else { 0 };
        let mut s = MoldUdp64Session::new(SessionConfig {
            first_sequence: Some(base + 1),
            session: Some(SESSION),
            reorder_window: 512,
            max_packet: 256,
            line_grace_ns: 300 * US,
            request_timeout_ns: MS,
            max_retries: retries,
            servers,
            max_request_messages: max_request,
            max_requests_per_gap: per_gap,
            max_gap_messages: 1_000,
            ..SessionConfig::default()
        });
        let mut sink = Sink::default();
        let mut m = Model { arrived: Default::default(), next: base + 1, ended: false, eos: None, seen_out: 0 };
        let mut pending: Vec<MoldRequest> = Vec::new();
        let mut now = 0u64;
        let mut total_requests = 0usize;
        for op in ops {
            match op {
                MOp::Data { line, seq, count } => {
                    let seq = seq + base;
                    s.on_packet(line, &data(seq, count), now, &mut sink).unwrap();
                    m.arrive(line, seq, count);
                }
                MOp::Heartbeat { seq } => {
                    s.on_packet(0, MoldHeader::new(SESSION, seq + base, 0).as_bytes(), now, &mut sink).unwrap();
                }
                MOp::End { seq } => {
                    s.on_packet(0, MoldHeader::new(SESSION, seq + base, END_OF_SESSION_COUNT).as_bytes(), now, &mut sink).unwrap();
                    if m.eos.is_none() {
                        m.eos = s.seen_end();
                    }
                }
                MOp::Poll => s.poll(now, &mut sink),
                MOp::Advance(d) => now += d,
                MOp::Answer { idx, k } => {
                    if !pending.is_empty() {
                        let r = pending.remove(idx % pending.len());
                        let n = r.count.min(k);
                        s.on_packet(2, &data(r.sequence, n), now, &mut sink).unwrap();
                        m.arrive(2, r.sequence, n);
                    }
                }
                MOp::DropAnswer { idx } => {
                    if !pending.is_empty() {
                        pending.remove(idx % pending.len());
                    }
                }
                MOp::GiveUp { seq } => s.give_up_before(seq + base, &mut sink),
            }
            m.check(&sink.out)?;
            identity(&s);
            for (server, r) in sink.requests.drain(..) {
                prop_assert!(server < servers);
                for q in r.sequence..r.sequence + u64::from(r.count) {
                    prop_assert!(q >= m.next && !m.arrived.contains_key(&q),
                        "request {:?} asks for {} (next {}, arrived {:?})", r, q, m.next, m.arrived.get(&q));
                }
                pending.push(r);
                total_requests += 1;
            }
        }
        s.finish(&mut sink);
        m.check(&sink.out)?;
        identity(&s);
        prop_assert!(total_requests < 10_000);
    }
}
