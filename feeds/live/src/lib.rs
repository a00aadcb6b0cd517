//! Live feeds for ticklane: the I/O edge around the sans-I/O codecs of `ticklane-feeds`.
//!
//! - [`udp`]: MoldUDP64 over UDP (unicast or multicast, kernel receive timestamps).
//! - [`history`]: recent messages by sequence number, to answer retransmission requests.
//! - [`simulator`]: the exchange simulator behind `ticklane serve` (publisher, retransmission
//!   server, seeded fault injection).
//! - [`tls`] and [`relay`]: the QUIC relay behind `ticklane relay` and its client;
//!   [`upstream`] feeds it from the live receive loop.
//! - [`source`]: the live feed source of the engine (lines A/B, session recovery, recording).
//! - [`recorder`]: the capture writer on its own thread, fed by its own ring.

pub mod history;
pub mod recorder;
pub mod relay;
pub mod simulator;
pub mod source;
pub mod tls;
pub mod udp;
pub mod upstream;
