//! Sans-I/O feed codecs and the sources that read them from files.
//!
//! - [`itch`]: NASDAQ TotalView-ITCH 5.0 — zero-copy wire views, decoder, encoder, and
//!   normalization into [`ticklane_core::MarketEvent`].
//! - [`moldudp64`]: MoldUDP64 packet framing (downstream packets, heartbeats, end of session,
//!   retransmission requests) and a packet builder.
//! - [`pcap`]: pcap and pcapng capture reading and writing (Ethernet / IPv4 / UDP).
//! - [`binfile`]: NASDAQ's binary file format (u16 big-endian length + message), mmap or gzip.
//! - [`lobster`]: LOBSTER message and order-book files (the academic order-book data set).
//! - [`events`]: the hot loop from a binary-file image in memory to normalized events.
//! - [`source`]: one API over all of the above: open a path, get ITCH messages in order.
//! - [`synth`]: a deterministic synthetic NASDAQ session generator (ITCH 5.0 messages).
//! - [`rng`]: the seeded generator it uses (fixed algorithm: same seed, same bytes).
//!
//! Decoders do no I/O and never panic: any byte sequence yields a message or a typed error.

pub mod binfile;
pub mod events;
#[doc(hidden)]
pub mod fuzzing;
pub mod itch;
pub mod lobster;
pub mod moldudp64;
pub mod pcap;
pub mod rng;
pub mod source;
pub mod synth;
