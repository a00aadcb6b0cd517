//! Integration tests of the QUIC relay over loopback: delivery in both live modes, token and
//! mutual-TLS authentication, slow-subscriber isolation, catch-up, the blocking bridge, and a
//! relay that joined its session mid-stream (its welcome before the first packet, and the
//! restart of its live path when its upstream joins again).
//!
//! Every test is bounded by [`LIMIT`] and makes no timing assertions.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns panic on failure by design

mod collect;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ticklane_feeds::moldudp64::{MoldPacket, MoldPacketBuilder, MoldRequest, PacketKind, Session};
use ticklane_live::relay::{
    CloseCode, LiveMode, RelayClient, RelayClientConfig, RelayConfig, RelayError, RelayInput,
    RelayItem, RelayLine, RelayServer, RelayStats, MAX_SUBSCRIBER_QUEUE,
};
use ticklane_live::tls::{self, DevCert};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::timeout;

const SESSION: Session = *b"TESTSESS01";
const LIMIT: Duration = Duration::from_secs(10);
const TOKEN: &str = "correct horse battery staple";

/// Message `seq`: its sequence number then a seq-dependent tail, 8 to 36 bytes.
fn msg(seq: u64) -> Vec<u8> {
    let mut m = seq.to_be_bytes().to_vec();
    m.extend((0..seq % 29).map(|i| (seq as u8).wrapping_mul(31).wrapping_add(i as u8)));
    m
}

/// Messages `first..first + n` packed into default-size (1400-byte) MoldUDP64 packets.
fn packets(first: u64, n: u64) -> Vec<Bytes> {
    let mut b = MoldPacketBuilder::new(SESSION, first);
    let mut out = Vec::new();
    for seq in first..first + n {
        b.push(&msg(seq), |p| out.push(Bytes::copy_from_slice(p)))
            .unwrap();
    }
    if let Some(p) = b.flush() {
        out.push(Bytes::copy_from_slice(p));
    }
    out
}

fn names() -> Vec<String> {
    vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
}

struct Relay {
    addr: std::net::SocketAddr,
    cert: DevCert,
    input: Option<mpsc::Sender<RelayInput>>,
    stats: Arc<RelayStats>,
    task: JoinHandle<Result<(), RelayError>>,
}

impl Relay {
    async fn start(
        token: Option<&str>,
        client_ca: Option<&str>,
        tweak: impl FnOnce(&mut RelayConfig),
    ) -> Relay {
        let cert = tls::self_signed(&names()).unwrap();
        let server = tls::server_config(&cert.cert_pem, &cert.key_pem, client_ca).unwrap();
        let mut config = RelayConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            server,
            token.map(str::to_owned),
            SESSION,
        );
        tweak(&mut config);
        let server = RelayServer::bind(config).unwrap();
        let addr = server.local_addr();
        let (input, rx) = mpsc::channel(256);
        let stats = Arc::new(RelayStats::new());
        let task = tokio::spawn(server.run(rx, stats.clone()));
        Relay {
            addr,
            cert,
            input: Some(input),
            stats,
            task,
        }
    }

    fn client(&self, token: Option<&str>, mode: LiveMode) -> RelayClientConfig {
        RelayClientConfig {
            server: self.addr,
            server_name: "localhost".to_owned(),
            client: tls::client_config(&self.cert.cert_pem, None).unwrap(),
            token: token.map(str::to_owned),
            mode,
        }
    }

    async fn send(&self, item: RelayInput) {
        self.input.as_ref().unwrap().send(item).await.unwrap();
    }

    /// Feeds messages `1..=n` then end of session.
    async fn feed_session(&self, n: u64) {
        for p in packets(1, n) {
            self.send(RelayInput::Packet(p)).await;
        }
        self.send(RelayInput::EndOfSession(n + 1)).await;
    }

    /// Waits until `n` subscribers have been admitted.
    async fn until_subscribed(&self, n: u64) {
        while self.stats.snapshot().subscribed_total < n {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Closes the input and waits for the relay to finish.
    async fn stop(mut self) {
        self.input = None;
        self.task.await.unwrap().unwrap();
    }
}

/// Records the messages of data packets by sequence number; live packets must come in order.
struct Delivery {
    messages: Vec<Option<Vec<u8>>>,
    next_live: u64,
    end: Option<u64>,
}

impl Delivery {
    fn new(n: u64) -> Self {
        Self {
            messages: vec![None; n as usize + 1],
            next_live: 1,
            end: None,
        }
    }

    fn record(&mut self, p: &MoldPacket<'_>) {
        for (i, m) in p.messages().enumerate() {
            let seq = p.sequence() + i as u64;
            let slot = &mut self.messages[seq as usize];
            assert!(slot.is_none(), "message {seq} delivered twice");
            *slot = Some(m.unwrap().to_vec());
        }
    }

    /// A live packet: in order (gaps allowed), never after end of session.
    fn live(&mut self, packet: &[u8]) {
        let p = MoldPacket::parse(packet).unwrap();
        assert_eq!(p.session(), &SESSION);
        assert!(self.end.is_none(), "live packet after end of session");
        match p.kind() {
            PacketKind::Data => {
                assert!(
                    p.sequence() >= self.next_live,
                    "live packet {} after {}",
                    p.sequence(),
                    self.next_live
                );
                self.record(&p);
                self.next_live = p.next_sequence();
            }
            PacketKind::Heartbeat => {}
            PacketKind::EndOfSession => self.end = Some(p.sequence()),
        }
    }

    fn missing(&self) -> Vec<u64> {
        (1..self.messages.len() as u64)
            .filter(|&s| self.messages[s as usize].is_none())
            .collect()
    }

    fn assert_complete(&self) {
        assert_eq!(self.missing(), Vec::<u64>::new());
        for (seq, m) in self.messages.iter().enumerate().skip(1) {
            assert_eq!(m.as_deref(), Some(&msg(seq as u64)[..]), "message {seq}");
        }
    }
}

/// Reads the live path until a heartbeat comes: everything sent before it is in the history.
async fn until_heartbeat(client: &mut RelayClient) {
    loop {
        let p = client.recv().await.unwrap().unwrap();
        if MoldPacket::parse(&p).unwrap().kind() == PacketKind::Heartbeat {
            return;
        }
    }
}

/// The relay's answer to a catch-up of `count` messages from `first` of the session.
async fn catch_up(client: &RelayClient, first: u64, count: u16) -> Vec<Bytes> {
    client
        .catch_up(MoldRequest {
            session: SESSION,
            sequence: first,
            count,
        })
        .await
        .unwrap()
}

/// Messages in `packets`.
fn messages_in(packets: &[Bytes]) -> usize {
    packets
        .iter()
        .map(|p| MoldPacket::parse(p).unwrap().len())
        .sum()
}

/// Catch-up of `count` messages from `first`, checked to be exactly that range.
async fn catch_up_exact(client: &RelayClient, first: u64, count: u16) -> Vec<Bytes> {
    let answer = catch_up(client, first, count).await;
    let mut next = first;
    for p in &answer {
        let p = MoldPacket::parse(p).unwrap();
        assert_eq!(p.kind(), PacketKind::Data);
        assert_eq!(p.sequence(), next);
        for m in p.messages() {
            assert_eq!(m.unwrap(), &msg(next)[..]);
            next += 1;
        }
    }
    assert_eq!(next, first + u64::from(count), "catch-up answer length");
    answer
}

async fn delivers_everything_in_order(mode: LiveMode) {
    const N: u64 = 20_000;
    let relay = Relay::start(Some(TOKEN), None, |_| {}).await;
    let (mut client, welcome) = RelayClient::connect(relay.client(Some(TOKEN), mode))
        .await
        .unwrap();
    assert_eq!(welcome.session, SESSION);
    assert_eq!(welcome.next_seq, 1);

    let feed = async {
        for (i, p) in packets(1, N).into_iter().enumerate() {
            relay.send(RelayInput::Packet(p)).await;
            if i % 100 == 0 {
                relay.send(RelayInput::Heartbeat).await;
            }
        }
        relay.send(RelayInput::EndOfSession(N + 1)).await;
    };
    let receive = async {
        let mut d = Delivery::new(N);
        while let Some(p) = client.recv().await {
            d.live(&p.unwrap());
        }
        d
    };
    let ((), mut d) = tokio::join!(feed, receive);
    assert_eq!(d.end, Some(N + 1));

    let missing = d.missing();
    if mode == LiveMode::Stream {
        assert!(
            missing.is_empty(),
            "stream mode lost {} messages",
            missing.len()
        );
    }
    // Datagrams may be lost: fill the gaps with catch-up, range by range.
    let mut i = 0;
    while i < missing.len() {
        let first = missing[i];
        let mut count = 1u16;
        while i + usize::from(count) < missing.len()
            && missing[i + usize::from(count)] == first + u64::from(count)
            && count < u16::MAX
        {
            count += 1;
        }
        for p in catch_up_exact(&client, first, count).await {
            d.record(&MoldPacket::parse(&p).unwrap());
        }
        i += usize::from(count);
    }
    if !missing.is_empty() {
        eprintln!("{mode:?}: {} messages filled by catch-up", missing.len());
    }
    d.assert_complete();

    let s = relay.stats.snapshot();
    assert_eq!(s.messages_in, N);
    assert_eq!(s.subscribed_total, 1);
    drop(client);
    relay.stop().await;
    assert_eq!(problems(&s), 0);
}

fn problems(s: &ticklane_live::relay::RelayStatsSnapshot) -> u64 {
    s.refused + s.disconnected_slow + s.bad_hello
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_mode_delivers_every_message_in_order() {
    timeout(LIMIT, delivers_everything_in_order(LiveMode::Stream))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagram_mode_delivers_every_message_in_order_with_catch_up() {
    timeout(LIMIT, delivers_everything_in_order(LiveMode::Datagrams))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_wrong_token_is_unauthorized() {
    timeout(LIMIT, async {
        let relay = Relay::start(Some(TOKEN), None, |_| {}).await;
        for token in [None, Some("wrong"), Some("correct horse battery stapl")] {
            let err = RelayClient::connect(relay.client(token, LiveMode::Stream))
                .await
                .unwrap_err();
            assert_eq!(err.close_code(), Some(CloseCode::Unauthorized), "{err}");
        }
        let s = relay.stats.snapshot();
        assert_eq!(s.refused, 3);
        assert_eq!(s.subscribed_total, 0);
        // The right token still works.
        let (_client, _) = RelayClient::connect(relay.client(Some(TOKEN), LiveMode::Stream))
            .await
            .unwrap();
        assert_eq!(relay.stats.snapshot().subscribed_total, 1);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_admits_trusted_certificates_only() {
    timeout(LIMIT, async {
        let engine = tls::self_signed(&["engine-1".to_owned()]).unwrap();
        let stranger = tls::self_signed(&["engine-1".to_owned()]).unwrap();
        let relay = Relay::start(None, Some(&engine.cert_pem), |_| {}).await;
        let with_cert = |cert: Option<&DevCert>| RelayClientConfig {
            client: tls::client_config(
                &relay.cert.cert_pem,
                cert.map(|c| (c.cert_pem.as_str(), c.key_pem.as_str())),
            )
            .unwrap(),
            ..relay.client(None, LiveMode::Datagrams)
        };

        let (mut client, welcome) = RelayClient::connect(with_cert(Some(&engine)))
            .await
            .unwrap();
        assert_eq!(welcome.session, SESSION);

        for cert in [Some(&stranger), None] {
            let err = RelayClient::connect(with_cert(cert)).await.unwrap_err();
            assert!(
                matches!(err, RelayError::Connection(_)),
                "refused at the handshake, not later: {err}"
            );
        }
        // The server counts the failed handshakes once it has seen them fail.
        while relay.stats.snapshot().handshake_failed < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let s = relay.stats.snapshot();
        assert_eq!(s.subscribed_total, 1);
        assert_eq!(s.refused, 0);

        // The admitted client is served.
        relay.feed_session(100).await;
        let mut d = Delivery::new(100);
        while let Some(p) = client.recv().await {
            d.live(&p.unwrap());
        }
        for gap in d.missing() {
            for p in catch_up_exact(&client, gap, 1).await {
                d.record(&MoldPacket::parse(&p).unwrap());
            }
        }
        d.assert_complete();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_with_a_token_needs_both() {
    timeout(LIMIT, async {
        let engine = tls::self_signed(&["engine-1".to_owned()]).unwrap();
        let relay = Relay::start(Some(TOKEN), Some(&engine.cert_pem), |_| {}).await;
        let cfg = |token: Option<&str>| RelayClientConfig {
            client: tls::client_config(
                &relay.cert.cert_pem,
                Some((&engine.cert_pem, &engine.key_pem)),
            )
            .unwrap(),
            ..relay.client(token, LiveMode::Stream)
        };
        let err = RelayClient::connect(cfg(None)).await.unwrap_err();
        assert_eq!(err.close_code(), Some(CloseCode::Unauthorized), "{err}");
        RelayClient::connect(cfg(Some(TOKEN))).await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_token_or_client_certificates_everyone_is_refused() {
    timeout(LIMIT, async {
        let relay = Relay::start(None, None, |_| {}).await;
        let err = RelayClient::connect(relay.client(Some("anything"), LiveMode::Stream))
            .await
            .unwrap_err();
        assert_eq!(err.close_code(), Some(CloseCode::Unauthorized), "{err}");
        assert_eq!(relay.stats.snapshot().refused, 1);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_is_disconnected_without_delaying_others() {
    const N: u64 = 50_000;
    const QUEUE: usize = 32;
    const BATCH: usize = 8;
    timeout(LIMIT, async {
        let relay = Relay::start(Some(TOKEN), None, |c| c.subscriber_queue = QUEUE).await;

        // The stalled subscriber never reads; a small receive window makes QUIC flow control
        // stop its stream soon, so that its queue fills up.
        let mut stalled_cfg = relay.client(Some(TOKEN), LiveMode::Stream);
        let mut transport = quinn::TransportConfig::default();
        transport.stream_receive_window(quinn::VarInt::from_u32(16 * 1024));
        stalled_cfg.client.transport_config(Arc::new(transport));
        let (mut stalled, _) = RelayClient::connect(stalled_cfg).await.unwrap();

        let (mut healthy, _) = RelayClient::connect(relay.client(Some(TOKEN), LiveMode::Stream))
            .await
            .unwrap();
        let (progress_tx, mut progress) = watch::channel(1u64);
        let reader = tokio::spawn(async move {
            let mut d = Delivery::new(N);
            while let Some(p) = healthy.recv().await {
                d.live(&p.unwrap());
                progress_tx.send_replace(d.next_live);
            }
            d
        });

        // Feed in small batches, each once the healthy subscriber has caught up, so that it never
        // has more than BATCH < QUEUE packets queued however the threads are scheduled.
        let all = packets(1, N);
        for batch in all.chunks(BATCH) {
            let mut end = 0;
            for p in batch {
                end = MoldPacket::parse(p).unwrap().next_sequence();
                relay.send(RelayInput::Packet(p.clone())).await;
            }
            progress.wait_for(|&next| next >= end).await.unwrap();
        }
        relay.send(RelayInput::EndOfSession(N + 1)).await;

        let d = reader.await.unwrap();
        assert_eq!(d.end, Some(N + 1));
        d.assert_complete();

        let s = relay.stats.snapshot();
        assert_eq!(s.disconnected_slow, 1);
        assert_eq!(s.subscribed_total, 2);

        // The stalled subscriber finds out why when it finally reads.
        let err = loop {
            match stalled.recv().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => break e,
                None => panic!("stalled subscriber ended cleanly"),
            }
        };
        assert_eq!(err.close_code(), Some(CloseCode::Slow), "{err}");
        assert!(stalled.recv().await.is_none());
    })
    .await
    .unwrap();
}

/// The relay's upstream lost messages 201..=300 for good: its live path jumps, and catch-up
/// still serves what came before the jump (the history used to start afresh at the jump, so a
/// subscriber that had missed a packet just before it lost that too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_serves_what_came_before_an_upstream_loss() {
    timeout(LIMIT, async {
        let relay = Relay::start(Some(TOKEN), None, |_| {}).await;
        let (mut client, _) = RelayClient::connect(relay.client(Some(TOKEN), LiveMode::Stream))
            .await
            .unwrap();
        for p in packets(1, 200).into_iter().chain(packets(301, 100)) {
            relay.send(RelayInput::Packet(p)).await;
        }
        relay.send(RelayInput::Heartbeat).await;
        until_heartbeat(&mut client).await;
        catch_up_exact(&client, 150, 51).await;
        catch_up_exact(&client, 301, 100).await;
        // Across the hole: up to it.
        assert_eq!(messages_in(&catch_up(&client, 190, 50).await), 11);
        drop(client);
        relay.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_answers_exactly_the_requested_range() {
    const N: u64 = 10_000;
    timeout(LIMIT, async {
        let relay = Relay::start(Some(TOKEN), None, |c| {
            c.history_messages = 5_000;
            c.max_catchup_messages = 300;
        })
        .await;
        let (mut client, _) = RelayClient::connect(relay.client(Some(TOKEN), LiveMode::Stream))
            .await
            .unwrap();
        for p in packets(1, N) {
            relay.send(RelayInput::Packet(p)).await;
        }
        relay.send(RelayInput::Heartbeat).await;
        // Once the heartbeat is live, every message is in the history.
        until_heartbeat(&mut client).await;

        catch_up_exact(&client, 9_000, 1).await;
        catch_up_exact(&client, 9_000, 250).await;
        catch_up_exact(&client, 9_701, 300).await;
        // Bounded by max_catchup_messages.
        let answer = catch_up(&client, 9_000, 1_000).await;
        assert_eq!(messages_in(&answer), 300);
        assert_eq!(MoldPacket::parse(&answer[0]).unwrap().sequence(), 9_000);
        // Up to the newest message held.
        catch_up_exact(&client, N - 9, 10).await;
        let tail = catch_up(&client, N - 4, 10).await;
        assert_eq!(messages_in(&tail), 5, "the held prefix of the range");

        // Ranges not held: evicted, not yet received, another session, nothing asked.
        for (session, sequence, count) in [
            (SESSION, 1, 10),
            (SESSION, N + 1, 10),
            (SESSION, u64::MAX, 10),
            (*b"OTHERSESS1", 9_000, 10),
            (SESSION, 9_000, 0),
        ] {
            let answer = client
                .catch_up(MoldRequest {
                    session,
                    sequence,
                    count,
                })
                .await
                .unwrap();
            assert!(answer.is_empty(), "{sequence}+{count} answered {answer:?}");
        }
        // Several at once.
        let (a, b) = tokio::join!(
            catch_up_exact(&client, 8_000, 300),
            catch_up_exact(&client, 9_500, 300)
        );
        assert!(!a.is_empty() && !b.is_empty());
        let s = relay.stats.snapshot();
        assert_eq!(s.catchup_requests, 13);
        drop(client);
        relay.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_subscriber_starts_at_the_live_edge_and_catches_up() {
    timeout(LIMIT, async {
        let relay = Relay::start(Some(TOKEN), None, |_| {}).await;
        for p in packets(1, 1_000) {
            relay.send(RelayInput::Packet(p)).await;
        }
        // Wait until the relay has taken in the first part.
        while relay.stats.snapshot().messages_in < 1_000 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let (mut client, welcome) =
            RelayClient::connect(relay.client(Some(TOKEN), LiveMode::Stream))
                .await
                .unwrap();
        assert_eq!(welcome.next_seq, 1_001);
        for p in packets(1_001, 1_000) {
            relay.send(RelayInput::Packet(p)).await;
        }
        relay.send(RelayInput::EndOfSession(2_001)).await;
        let mut d = Delivery::new(2_000);
        d.next_live = welcome.next_seq;
        while let Some(p) = client.recv().await {
            d.live(&p.unwrap());
        }
        assert_eq!(d.missing(), (1..=1_000).collect::<Vec<_>>());
        for p in catch_up_exact(&client, 1, 1_000).await {
            d.record(&MoldPacket::parse(&p).unwrap());
        }
        d.assert_complete();

        // A subscriber arriving after end of session gets it at once.
        let (mut late, welcome) =
            RelayClient::connect(relay.client(Some(TOKEN), LiveMode::Datagrams))
                .await
                .unwrap();
        assert_eq!(welcome.next_seq, 2_001);
        let p = late.recv().await.unwrap().unwrap();
        let p = MoldPacket::parse(&p).unwrap();
        assert_eq!((p.kind(), p.sequence()), (PacketKind::EndOfSession, 2_001));
        assert!(late.recv().await.is_none());
        drop((client, late));
        relay.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_line_bridges_live_packets_and_catch_up_to_a_blocking_thread() {
    const N: u64 = 2_000;
    timeout(LIMIT, async {
        let relay = Relay::start(Some(TOKEN), None, |_| {}).await;
        let cfg = relay.client(Some(TOKEN), LiveMode::Stream);
        let line = tokio::task::spawn_blocking(move || RelayLine::spawn(cfg))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(line.welcome().next_seq, 1);
        relay.feed_session(N).await;

        let reader = tokio::task::spawn_blocking(move || {
            let mut line = line;
            let mut d = Delivery::new(N);
            let mut caught_up = Vec::new();
            let mut closed = None;
            let mut requested = false;
            // Bounded by the test's timeout; polls like a feed thread would.
            while closed.is_none() || caught_up.len() < 100 {
                match line.try_recv() {
                    Some(RelayItem::Live(p)) => d.live(&p),
                    Some(RelayItem::CatchUp(p)) => {
                        let p = MoldPacket::parse(&p).unwrap();
                        for (i, m) in p.messages().enumerate() {
                            caught_up.push((p.sequence() + i as u64, m.unwrap().to_vec()));
                        }
                    }
                    Some(RelayItem::Closed(why)) => closed = Some(why),
                    None => std::thread::sleep(Duration::from_millis(1)),
                }
                if !requested && d.next_live > 500 {
                    line.request(MoldRequest {
                        session: SESSION,
                        sequence: 101,
                        count: 100,
                    });
                    requested = true;
                }
            }
            (d, caught_up, closed)
        });
        let (d, caught_up, closed) = reader.await.unwrap();
        assert_eq!(closed, Some(None), "clean end of session");
        assert_eq!(d.end, Some(N + 1));
        d.assert_complete();
        let expected: Vec<(u64, Vec<u8>)> = (101..201).map(|s| (s, msg(s))).collect();
        assert_eq!(caught_up, expected);
        relay.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_whose_relay_closes_catches_up_what_it_missed_before_it_ends() {
    use ticklane_live::source::{receive, LineSource, LiveConfig, LiveCounters, LiveReport};
    const N: u64 = 300;
    timeout(LIMIT, async {
        let relay = Relay::start(Some(TOKEN), None, |_| {}).await;
        relay.feed_session(N).await;
        // The session is over when this receiver joins (from message 1): its live path is the
        // end of session (announcing N + 1, so messages 1..=N are a gap) and then the close. The catch-up
        // still answers: everything must arrive, nothing be declared lost.
        let config = LiveConfig {
            lines: vec![LineSource::Relay(
                relay.client(Some(TOKEN), LiveMode::Datagrams),
            )],
            session: ticklane_feeds::moldudp64::session::SessionConfig {
                first_sequence: Some(1),
                ..Default::default()
            },
            retransmit: Vec::new(),
            busy_poll: false,
            silence_ns: 1_000_000_000,
            stop_after_silence_ns: Some(8_000_000_000),
            record: None,
        };
        let (got, live) = tokio::task::spawn_blocking(move || {
            let mut got = collect::Collect::default();
            let mut live = LiveReport::default();
            receive(&config, &mut got, &LiveCounters::default(), &mut live).unwrap();
            (got, live)
        })
        .await
        .unwrap();
        assert_eq!(got.lost, vec![], "declared lost");
        assert_eq!(got.messages.len() as u64, N);
        let expected: Vec<(u64, Vec<u8>)> = (1..=N).map(|s| (s, msg(s))).collect();
        assert!(got.messages == expected, "wrong messages");
        assert_eq!(got.ended, Some(N + 1));
        assert_eq!(live.errors, 0, "{:?}", live.first_errors);
        relay.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_announce_the_next_sequence_number_and_none_comes_before_the_first_data() {
    timeout(LIMIT, async {
        let relay = Relay::start(Some(TOKEN), None, |_| {}).await;
        let (mut client, _) = RelayClient::connect(relay.client(Some(TOKEN), LiveMode::Stream))
            .await
            .unwrap();
        // Before any data the next sequence number is unknown: this heartbeat is not sent
        // (it would announce 1, and a relay joined mid-session starts further on).
        relay.send(RelayInput::Heartbeat).await;
        for p in packets(1, 10) {
            relay.send(RelayInput::Packet(p)).await;
        }
        relay.send(RelayInput::Heartbeat).await;
        let first = client.recv().await.unwrap().unwrap();
        let first = MoldPacket::parse(&first).unwrap();
        assert_eq!((first.kind(), first.sequence()), (PacketKind::Data, 1));
        loop {
            let p = client.recv().await.unwrap().unwrap();
            let p = MoldPacket::parse(&p).unwrap();
            if p.kind() == PacketKind::Heartbeat {
                assert_eq!(p.sequence(), 11);
                break;
            }
        }
        drop(client);
        relay.stop().await;
    })
    .await
    .unwrap();
}

/// The relay's input stops before the exchange's end of session: the subscriber gets what was
/// relayed, then an UPSTREAM_LOST close, never an end of session (one made up would tell it the
/// session ended cleanly).
async fn an_input_that_stops_early_is_not_an_end_of_session(mode: LiveMode) {
    const N: u64 = 500;
    let relay = Relay::start(Some(TOKEN), None, |_| {}).await;
    let (mut client, _) = RelayClient::connect(relay.client(Some(TOKEN), mode))
        .await
        .unwrap();
    for p in packets(1, N) {
        relay.send(RelayInput::Packet(p)).await;
    }
    let stopped = tokio::spawn(relay.stop());
    let mut d = Delivery::new(N);
    let mut error = None;
    while let Some(p) = client.recv().await {
        match p {
            Ok(p) => d.live(&p),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    assert_eq!(d.end, None, "{mode:?}: an end of session was made up");
    let error = error.expect("the live path ended without saying why");
    assert_eq!(
        error.close_code(),
        Some(CloseCode::UpstreamLost),
        "{mode:?}: {error}"
    );
    if mode == LiveMode::Stream {
        // What was queued before the input stopped is delivered before the close.
        d.assert_complete();
    }
    stopped.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_mode_an_input_that_stops_early_is_not_an_end_of_session() {
    timeout(
        LIMIT,
        an_input_that_stops_early_is_not_an_end_of_session(LiveMode::Stream),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagram_mode_an_input_that_stops_early_is_not_an_end_of_session() {
    timeout(
        LIMIT,
        an_input_that_stops_early_is_not_an_end_of_session(LiveMode::Datagrams),
    )
    .await
    .unwrap();
}

/// A receiver that joins mid-session through a relay starts at the relay's welcome, not at
/// the first packet it happens to get: a first live packet that never arrives (here the relay
/// itself never had message 1001) is a gap, reported lost, not a silent later join point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_joining_through_a_relay_starts_at_the_welcome_and_sees_a_lost_first_packet() {
    timeout(Duration::from_secs(30), async {
        let relay = Relay::start(Some(TOKEN), None, |_| {}).await;
        for p in packets(1, 1_000) {
            relay.send(RelayInput::Packet(p)).await;
        }
        while relay.stats.snapshot().messages_in < 1_000 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let receiver = join_through(&relay, LiveMode::Stream);
        relay.until_subscribed(1).await;
        // Message 1001 never reaches the relay; the live path goes on from 1002.
        for p in packets(1_002, 500) {
            relay.send(RelayInput::Packet(p)).await;
        }
        relay.send(RelayInput::EndOfSession(1_502)).await;
        let (got, live) = receiver.await.unwrap();
        assert_eq!(got.lost, vec![(1_001, 1)], "{:?}", live.notes());
        let expected: Vec<(u64, Vec<u8>)> = (1_002..1_502).map(|s| (s, msg(s))).collect();
        assert!(got.messages == expected, "wrong messages");
        assert_eq!(got.ended, Some(1_502));
        relay.stop().await;
    })
    .await
    .unwrap();
}

/// A relay that itself joined mid-session (`ticklane relay --join`) and has not yet had its
/// first upstream packet welcomes a subscriber with 0, "not known yet"; a subscriber that
/// joins (`--join`) then joins on the first packet. (The welcome said 1, and every message
/// before the relay's first packet was reported lost for good.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_a_relay_before_its_first_packet_loses_nothing() {
    timeout(Duration::from_secs(30), async {
        let relay = Relay::start(Some(TOKEN), None, |c| c.first_sequence = None).await;
        let (raw, welcome) = RelayClient::connect(relay.client(Some(TOKEN), LiveMode::Stream))
            .await
            .unwrap();
        assert_eq!(welcome.next_seq, 0, "not known yet");
        drop(raw);
        let receiver = join_through(&relay, LiveMode::Stream);
        relay.until_subscribed(2).await;
        // The relay joined the exchange's session at message 5001.
        for p in packets(5_001, 500) {
            relay.send(RelayInput::Packet(p)).await;
        }
        relay.send(RelayInput::EndOfSession(5_501)).await;
        let (got, live) = receiver.await.unwrap();
        assert_eq!(got.lost, vec![], "{:?}", live.notes());
        assert_eq!(got.messages.len(), 500);
        assert_eq!(got.messages[0].0, 5_001);
        assert_eq!(got.ended, Some(5_501));
        relay.stop().await;
    })
    .await
    .unwrap();
}

/// A relay joins mid-session on a packet whose sequence number is corrupt (far ahead); its
/// upstream session joins again where the stream really is (`SessionSink::rejoined`). The relay
/// used to keep expecting the corrupt number and drop every later packet as a duplicate: its
/// subscribers got nothing more. Now the relay restarts its live path there, and the
/// subscribers' own sessions join again with it, in stream and datagram mode alike: they are
/// told (books stale), report what the relay lost, and get every later message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_whose_upstream_rejoins_restarts_its_live_path_and_its_subscribers_join_again() {
    use std::net::{Ipv4Addr, UdpSocket};
    use ticklane_feeds::moldudp64::session::SessionConfig;
    use ticklane_live::source::{receive, LineSource, LiveConfig, LiveCounters, LiveReport};
    use ticklane_live::udp::UdpLineConfig;
    use ticklane_live::upstream::RelayUpstream;
    /// A sequence number corrupted far ahead (bit 40 flipped).
    const BOGUS: u64 = 1 << 40;
    timeout(Duration::from_secs(60), async {
        let mut relay = Relay::start(Some(TOKEN), None, |c| c.first_sequence = None).await;
        let (mut raw, _) = RelayClient::connect(relay.client(Some(TOKEN), LiveMode::Stream))
            .await
            .unwrap();
        let reader = tokio::spawn(async move {
            let mut seqs = Vec::new();
            while let Some(Ok(p)) = raw.recv().await {
                let p = MoldPacket::parse(&p).unwrap();
                seqs.extend((0..p.len() as u64).map(|i| p.sequence() + i));
            }
            seqs
        });
        let stream = join_through(&relay, LiveMode::Stream);
        let datagrams = join_through(&relay, LiveMode::Datagrams);
        relay.until_subscribed(3).await;
        let a = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap();
        let config = LiveConfig {
            lines: vec![LineSource::Udp(UdpLineConfig::unicast(a))],
            session: SessionConfig {
                session: Some(SESSION),
                first_sequence: None, // `ticklane relay --join`
                ..Default::default()
            },
            retransmit: Vec::new(),
            busy_poll: false,
            silence_ns: 1_000_000_000,
            stop_after_silence_ns: Some(3_000_000_000),
            record: None,
        };
        let input = relay.input.take().unwrap();
        let live = tokio::task::spawn_blocking(move || {
            std::thread::scope(|s| {
                let rx = s.spawn(|| {
                    let mut up = RelayUpstream::new(input, SESSION);
                    let mut live = LiveReport::default();
                    receive(&config, &mut up, &LiveCounters::default(), &mut live).unwrap();
                    live
                });
                std::thread::sleep(Duration::from_millis(100));
                let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
                let pause = || std::thread::sleep(Duration::from_millis(20));
                // Message 1001's packet, its sequence number corrupted far ahead.
                tx.send_to(&packets(BOGUS, 1)[0], a).unwrap();
                pause();
                for first in (1_002..1_102).step_by(10) {
                    tx.send_to(&packets(first, 10)[0], a).unwrap();
                    pause();
                }
                let eos = MoldPacketBuilder::new(SESSION, 1_102).end_of_session();
                tx.send_to(&eos, a).unwrap();
                rx.join().unwrap()
            })
        })
        .await
        .unwrap();
        assert_eq!(live.session.rejoins, 1, "{:?}", live.notes());
        assert_eq!(relay.stats.snapshot().rejoins, 1);
        let seqs = reader.await.unwrap();
        let after_rejoin: Vec<u64> = seqs.into_iter().filter(|&s| s < BOGUS).collect();
        // 1002 (set aside as evidence) and 1003..1011 are lost upstream (no recovery).
        let later = (1_012..1_102).collect::<Vec<u64>>();
        assert_eq!(
            after_rejoin,
            later,
            "relay input dropped: {}",
            relay.stats.snapshot().input_dropped
        );
        for (mode, subscriber) in [("stream", stream), ("datagrams", datagrams)] {
            let (got, live) = subscriber.await.unwrap();
            let notes = live.notes();
            assert_eq!(live.relay_restarts, 1, "{mode}: {notes:?}");
            // The corrupt packet's message was delivered, then the downstream was told.
            assert_eq!(got.messages[0].0, BOGUS, "{mode}");
            let seqs: Vec<u64> = got.messages[1..].iter().map(|m| m.0).collect();
            assert_eq!(seqs, later, "{mode}: {notes:?}");
            assert_eq!(got.ended, Some(1_102), "{mode}");
            assert_eq!(live.rejoined_at, got.rejoined, "{mode}");
            if mode == "stream" {
                // The relay's restart heartbeat says exactly where: what the relay lost is
                // reported lost here too.
                assert_eq!(got.rejoined, vec![1_002], "{notes:?}");
                assert_eq!(got.lost, vec![(1_002, 10)], "{notes:?}");
            } else {
                // A datagram may be lost: the restart then shows on the next packet.
                assert_eq!(got.rejoined.len(), 1, "{notes:?}");
            }
            assert!(
                notes
                    .iter()
                    .any(|n| n.contains("restarted its live path 1 times")),
                "{notes:?}"
            );
        }
        relay.stop().await;
    })
    .await
    .unwrap();
}

/// A per-subscriber queue tokio cannot make is refused when the relay binds (every connection
/// task panicked on it, and no subscriber was ever admitted); the largest queue allowed admits
/// subscribers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_queue_out_of_range_is_refused_at_bind() {
    let cert = tls::self_signed(&names()).unwrap();
    for queue in [0, MAX_SUBSCRIBER_QUEUE + 1, usize::MAX >> 3, usize::MAX] {
        let server = tls::server_config(&cert.cert_pem, &cert.key_pem, None).unwrap();
        let mut config = RelayConfig::new(
            "127.0.0.1:0".parse().unwrap(),
            server,
            Some(TOKEN.to_owned()),
            SESSION,
        );
        config.subscriber_queue = queue;
        match RelayServer::bind(config) {
            Err(RelayError::Config(why)) => assert!(why.contains("subscriber queue"), "{why}"),
            other => panic!("{queue}: {other:?}"),
        }
    }
    timeout(LIMIT, async {
        let relay = Relay::start(Some(TOKEN), None, |c| {
            c.subscriber_queue = MAX_SUBSCRIBER_QUEUE;
        })
        .await;
        let r = RelayClient::connect(relay.client(Some(TOKEN), LiveMode::Stream)).await;
        assert!(r.is_ok(), "{:?}", r.err());
        drop(r);
        relay.feed_session(10).await;
        relay.stop().await;
    })
    .await
    .unwrap();
}

/// A receive loop that joins mid-session (`--join`) through `relay` in `mode`, on a
/// blocking thread: what it was handed, and its report.
fn join_through(
    relay: &Relay,
    mode: LiveMode,
) -> JoinHandle<(collect::Collect, ticklane_live::source::LiveReport)> {
    use ticklane_live::source::{receive, LineSource, LiveConfig, LiveCounters, LiveReport};
    let config = LiveConfig {
        lines: vec![LineSource::Relay(relay.client(Some(TOKEN), mode))],
        session: ticklane_feeds::moldudp64::session::SessionConfig {
            first_sequence: None,
            ..Default::default()
        },
        retransmit: Vec::new(),
        busy_poll: false,
        silence_ns: 1_000_000_000,
        stop_after_silence_ns: Some(8_000_000_000),
        record: None,
    };
    tokio::task::spawn_blocking(move || {
        let mut got = collect::Collect::default();
        let mut live = LiveReport::default();
        receive(&config, &mut got, &LiveCounters::default(), &mut live).unwrap();
        (got, live)
    })
}

/// The relay's upstream lost messages 201..=500 for good, and holds 501..=1100. A receiver
/// that missed everything (it joined after the end, from message 1) asks for its gap a piece
/// of `max_request_messages` (1000) at a time; the piece from 201 straddles the end of the
/// relay's hole, the relay answers "the longest held prefix" (nothing: 201 is not held), and
/// the whole piece 201..1001 is declared lost, 501..=1000 included, which the relay holds and
/// would serve to a request starting at 501. Only what the relay lost may be reported lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_piece_straddling_the_relays_own_hole_loses_only_the_hole() {
    use ticklane_live::source::{receive, LineSource, LiveConfig, LiveCounters, LiveReport};
    timeout(Duration::from_secs(20), async {
        let relay = Relay::start(Some(TOKEN), None, |_| {}).await;
        for p in packets(1, 200).into_iter().chain(packets(501, 600)) {
            relay.send(RelayInput::Packet(p)).await;
        }
        relay.send(RelayInput::EndOfSession(1101)).await;
        // The relay serves 501..=1000 on request.
        let (probe, _) = RelayClient::connect(relay.client(Some(TOKEN), LiveMode::Stream))
            .await
            .unwrap();
        assert_eq!(messages_in(&catch_up(&probe, 501, 500).await), 500);
        drop(probe);
        let config = LiveConfig {
            lines: vec![LineSource::Relay(
                relay.client(Some(TOKEN), LiveMode::Datagrams),
            )],
            session: ticklane_feeds::moldudp64::session::SessionConfig {
                first_sequence: Some(1),
                ..Default::default()
            },
            retransmit: Vec::new(),
            busy_poll: false,
            silence_ns: 1_000_000_000,
            stop_after_silence_ns: Some(8_000_000_000),
            record: None,
        };
        let (got, _live) = tokio::task::spawn_blocking(move || {
            let mut got = collect::Collect::default();
            let mut live = LiveReport::default();
            receive(&config, &mut got, &LiveCounters::default(), &mut live).unwrap();
            (got, live)
        })
        .await
        .unwrap();
        assert_eq!(got.lost, vec![(201, 300)], "declared lost (first, count)");
        assert_eq!(got.messages.len(), 800, "messages delivered");
        relay.stop().await;
    })
    .await
    .unwrap();
}

/// A subscriber that connects while the relay lingers after its input closed (the end of
/// session relayed, as `ticklane relay` does when its upstream ends; another subscriber keeps
/// the relay up for catch-up) is neither admitted nor refused: `set_server_config(None)`
/// makes the endpoint ignore it, and it waits the whole `CONNECT_TIMEOUT` (10 s) for
/// `RelayError::Timeout`, "the relay did not answer in time" (what `record quic://` printed
/// against a lingering relay, exit 2). It is refused at once now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_after_the_relays_input_closed_is_refused_not_left_to_time_out() {
    timeout(Duration::from_secs(30), async {
        let mut relay =
            Relay::start(Some(TOKEN), None, |c| c.linger = Duration::from_secs(20)).await;
        // An early subscriber that never closes keeps the relay lingering.
        let (_early, _) = RelayClient::connect(relay.client(Some(TOKEN), LiveMode::Stream))
            .await
            .unwrap();
        relay.until_subscribed(1).await;
        relay.feed_session(100).await;
        relay.input = None; // the upstream ended after its end of session, as in the CLI
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Once the relay has seen its input end (on a loaded machine it may take a while to
        // get there: a subscriber admitted before is let go, and the next try made), a new
        // subscriber is refused at once, not left to the connect timeout.
        let mut late = Ok(());
        for _ in 0..100 {
            late = RelayClient::connect(relay.client(Some(TOKEN), LiveMode::Datagrams))
                .await
                .map(drop);
            if late.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            late.is_err() && !matches!(late, Err(RelayError::Timeout)),
            "late subscriber: {late:?}; expected a refusal, not the connect timeout"
        );
    })
    .await
    .unwrap();
}
