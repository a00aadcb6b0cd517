//! [`RelayUpstream`]: the relay's side of the live receive loop. It takes the arbitrated,
//! recovered, in-order messages from [`crate::source::receive`] and repacks them into MoldUDP64
//! packets for [`crate::relay`]: one packet per burst of datagrams (or sooner when a packet is
//! full), a new packet after a lost gap (the relay's history restarts there, and subscribers see
//! the same gap), and the end of session.

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
        }
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

    fn message(&mut self, seq: u64, bytes: &[u8]) {
        if self.builder.is_none() || seq != self.next {
            // First message, or a jump over a lost gap: a new packet starts at `seq`.
            self.flush_packet();
            self.builder =
                Some(MoldPacketBuilder::new(self.session, seq).with_max_packet(DEFAULT_MAX_PACKET));
        }
        self.next = seq + 1;
        let mut full = None;
        if let Some(b) = self.builder.as_mut() {
            if let Err(e) = b.push(bytes, |p| full = Some(Bytes::copy_from_slice(p))) {
                tracing::error!("message {seq} cannot be relayed: {e}");
            }
        }
        if let Some(p) = full {
            self.send(RelayInput::Packet(p));
        }
    }

    fn gap_lost(&mut self, _first: u64, _count: u64) {
        self.flush_packet();
    }

    fn end_of_session(&mut self, next: u64) {
        self.flush_packet();
        self.send(RelayInput::EndOfSession(next));
    }

    fn flush(&mut self) -> bool {
        self.flush_packet();
        !self.closed
    }

    fn stop_requested(&self) -> bool {
        self.closed
    }
}
