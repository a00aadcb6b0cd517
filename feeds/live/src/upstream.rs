//! [`RelayUpstream`]: the relay's side of the live receive loop. It takes the arbitrated,
//! recovered, in-order messages from [`crate::source::receive`] and repacks them into MoldUDP64
//! packets for [`crate::relay`]: one packet per burst of datagrams (or sooner when a packet is
//! full), a new packet after a lost gap (subscribers see the same gap; the relay's history
//! keeps serving what came before it), the end of session, a heartbeat for each burst of datagrams that brought
//! nothing new (the exchange's heartbeats: the relay is as quiet, and as alive, as its source),
//! and a restart of the numbering when the session joins again ([`RelayInput::Rejoin`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use ticklane_feeds::moldudp64::{MoldPacketBuilder, Session, DEFAULT_MAX_PACKET};
use tokio::sync::mpsc;

use crate::relay::RelayInput;
use crate::source::Downstream;

/// Feeds a relay's input channel from a live receive loop (see the module docs).
#[derive(Debug)]
pub struct RelayUpstream {
    tx: mpsc::Sender<RelayInput>,
    session: Session,
    builder: Option<MoldPacketBuilder>,
    /// Sequence number the next message must carry to join the current packet.
    next: u64,
    closed: bool,
    /// Packets of this session arrived in the current burst (not another session's, not
    /// malformed ones: those would make a dead session look alive to subscribers), and
    /// whether any gave a new message.
    arrived: bool,
    forwarded: bool,
    /// Set by the owner (Ctrl-C) to end the receive loop cleanly.
    stop: Option<Arc<AtomicBool>>,
}

impl RelayUpstream {
    /// Sends `session`'s packets into `tx` (blocking when the relay is behind: the receive
    /// loop runs on its own thread, and the socket buffer absorbs the wait).
    pub fn new(tx: mpsc::Sender<RelayInput>, session: Session) -> Self {
        Self {
            tx,
            session,
            builder: None,
            next: 0,
            closed: false,
            arrived: false,
            forwarded: false,
            stop: None,
        }
    }

    /// Ends the receive loop when `stop` is set (it then finishes as at the end of input:
    /// what is still missing is reported lost, a recording is finished with its index).
    pub fn with_stop(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = Some(stop);
        self
    }

    fn send(&mut self, input: RelayInput) {
        if !self.closed && self.tx.blocking_send(input).is_err() {
            self.closed = true;
        }
    }

    fn flush_packet(&mut self) {
        let packet = self
            .builder
            .as_mut()
            .and_then(|b| b.flush().map(Bytes::copy_from_slice));
        if let Some(p) = packet {
            self.send(RelayInput::Packet(p));
        }
    }
}

impl Downstream for RelayUpstream {
    fn arrived(&mut self, _kernel_ns: Option<u64>) {}

    fn of_session(&mut self) {
        self.arrived = true;
    }

    fn message(&mut self, seq: u64, bytes: &[u8]) {
        self.forwarded = true;
        if self.builder.is_none() || seq != self.next {
            // First message, or a jump over a lost gap: a new packet starts at `seq`.
            self.flush_packet();
            self.builder =
                Some(MoldPacketBuilder::new(self.session, seq).with_max_packet(DEFAULT_MAX_PACKET));
        }
        self.next = seq + 1;
        // A message longer than a relay packet holds goes in a packet of its own at its own
        // sequence number, after the packet so far (pushed into the current packet, it would
        // have been dropped and every later message of that packet sent one number early).
        let mut full: Vec<Bytes> = Vec::new();
        let pushed = match self.builder.as_mut() {
            Some(b) => b.push_any(bytes, |p| full.push(Bytes::copy_from_slice(p))),
            None => Ok(()),
        };
        for p in full {
            self.send(RelayInput::Packet(p));
        }
        if let Err(e) = pushed {
            // Longer than any MoldUDP64 message: the session's parser refuses such a packet
            // before it gets here. The next message starts a packet at its own number.
            tracing::error!(
                "message {seq} ({} bytes) cannot be relayed: {e}",
                bytes.len()
            );
            self.flush_packet();
            self.builder = None;
        }
    }

    fn gap_lost(&mut self, _first: u64, _count: u64) {
        self.flush_packet();
    }

    /// The session joined again at `next`, below what was delivered: the messages not yet sent
    /// came from the corrupt packet (numbered wrong) and are dropped, and the relay restarts
    /// its live path at `next` (its hub dropped every later packet as a duplicate when it was
    /// not told).
    fn rejoined(&mut self, next: u64) {
        self.builder = None;
        self.next = next;
        // Something new for subscribers (the restart): no heartbeat after it for this burst.
        self.forwarded = true;
        self.send(RelayInput::Rejoin(next));
    }

    fn end_of_session(&mut self, next: u64) {
        self.flush_packet();
        // Something new for subscribers: no heartbeat after it for this burst.
        self.forwarded = true;
        self.send(RelayInput::EndOfSession(next));
    }

    fn flush(&mut self) -> bool {
        self.flush_packet();
        // A burst with nothing new (the exchange's heartbeat, or copies already relayed): the
        // session is alive; the relay tells its subscribers so with a heartbeat announcing its
        // next sequence number. A dead exchange sends nothing, and the relay then says nothing.
        if self.arrived && !self.forwarded {
            self.send(RelayInput::Heartbeat);
        }
        self.arrived = false;
        self.forwarded = false;
        !self.closed
    }

    fn stop_requested(&self) -> bool {
        self.closed
            || self
                .stop
                .as_ref()
                .is_some_and(|s| s.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticklane_feeds::moldudp64::MoldPacket;

    /// (first sequence number, messages) of every packet sent.
    fn packets(rx: &mut mpsc::Receiver<RelayInput>) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut out = Vec::new();
        while let Ok(input) = rx.try_recv() {
            if let RelayInput::Packet(p) = input {
                let p = MoldPacket::parse(&p).unwrap();
                let msgs = p.messages().map(|m| m.unwrap().to_vec()).collect();
                out.push((p.sequence(), msgs));
            }
        }
        out
    }

    #[test]
    fn a_message_longer_than_a_packet_goes_alone_and_numbers_stay_right() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut up = RelayUpstream::new(tx, *b"SESSION001");
        let big = vec![7u8; 2_000];
        up.message(1, b"one");
        up.message(2, &big);
        up.message(3, b"three");
        up.message(4, b"four");
        up.of_session();
        assert!(up.flush());
        assert_eq!(
            packets(&mut rx),
            vec![
                (1, vec![b"one".to_vec()]),
                (2, vec![big.clone()]),
                (3, vec![b"three".to_vec(), b"four".to_vec()]),
            ]
        );
    }

    #[test]
    fn a_burst_with_nothing_new_is_relayed_as_a_heartbeat() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut up = RelayUpstream::new(tx, *b"SESSION001");
        // Data: no heartbeat.
        up.of_session();
        up.message(1, b"one");
        assert!(up.flush());
        // The exchange's heartbeat (nothing new): one heartbeat.
        up.of_session();
        assert!(up.flush());
        // A flush with nothing arrived (a gap timer): nothing.
        assert!(up.flush());
        let mut got = Vec::new();
        while let Ok(input) = rx.try_recv() {
            got.push(match input {
                RelayInput::Packet(_) => "packet",
                RelayInput::Heartbeat => "heartbeat",
                RelayInput::EndOfSession(_) => "end",
                RelayInput::Rejoin(_) => "rejoin",
            });
        }
        assert_eq!(got, ["packet", "heartbeat"]);
    }

    #[test]
    fn a_rejoin_drops_the_unsent_corrupt_messages_and_restarts_the_numbering() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut up = RelayUpstream::new(tx, *b"SESSION001");
        let bogus = 1 << 40;
        up.message(bogus, b"corrupt");
        up.rejoined(1_002);
        up.message(1_012, b"real");
        up.of_session();
        assert!(up.flush());
        let mut got = Vec::new();
        while let Ok(input) = rx.try_recv() {
            got.push(match input {
                RelayInput::Packet(p) => {
                    let p = MoldPacket::parse(&p).unwrap();
                    format!("packet {} x{}", p.sequence(), p.len())
                }
                RelayInput::Heartbeat => "heartbeat".to_owned(),
                RelayInput::EndOfSession(n) => format!("end {n}"),
                RelayInput::Rejoin(n) => format!("rejoin {n}"),
            });
        }
        assert_eq!(got, ["rejoin 1002", "packet 1012 x1"]);
    }
}
