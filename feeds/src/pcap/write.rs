//! pcap and pcapng writers for UDP datagrams (Ethernet / IPv4 / UDP, nanosecond timestamps).

use std::io::{self, Write};
use std::net::SocketAddrV4;

use super::net::{build_udp_frame, MAX_UDP_PAYLOAD};
use super::{UdpDatagram, LINKTYPE_ETHERNET};

const SNAPLEN: u32 = 262_144;

fn too_large(len: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("UDP payload of {len} bytes exceeds the IPv4 maximum of {MAX_UDP_PAYLOAD}"),
    )
}

/// Writes a classic pcap capture: little-endian, nanosecond magic (`0xA1B23C4D`), Ethernet.
///
/// One frame buffer is reused for every datagram.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    frame: Vec<u8>,
    ip_id: u16,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&0xA1B2_3C4Du32.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone, sigfigs: 0.
        h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
        h[20..24].copy_from_slice(&u32::from(LINKTYPE_ETHERNET).to_le_bytes());
        out.write_all(&h)?;
        Ok(Self {
            out,
            frame: Vec::with_capacity(1600),
            ip_id: 0,
        })
    }

    /// Writes one datagram with timestamp `ts_ns` (nanoseconds since the Unix epoch).
    pub fn write_udp(
        &mut self,
        ts_ns: u64,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: &[u8],
    ) -> io::Result<()> {
        if payload.len() > MAX_UDP_PAYLOAD {
            return Err(too_large(payload.len()));
        }
        build_udp_frame(&mut self.frame, src, dst, self.ip_id, payload);
        self.ip_id = self.ip_id.wrapping_add(1);
        let secs = u32::try_from(ts_ns / 1_000_000_000).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "timestamp beyond the pcap 32-bit seconds range",
            )
        })?;
        let nanos = (ts_ns % 1_000_000_000) as u32;
        let len = self.frame.len() as u32;
        let mut rec = [0u8; 16];
        rec[0..4].copy_from_slice(&secs.to_le_bytes());
        rec[4..8].copy_from_slice(&nanos.to_le_bytes());
        rec[8..12].copy_from_slice(&len.to_le_bytes());
        rec[12..16].copy_from_slice(&len.to_le_bytes());
        self.out.write_all(&rec)?;
        self.out.write_all(&self.frame)
    }

    /// Writes `d` (its timestamp, addresses and payload).
    pub fn write_datagram(&mut self, d: &UdpDatagram<'_>) -> io::Result<()> {
        self.write_udp(d.ts_ns, d.src, d.dst, d.payload)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Writes a pcapng capture: little-endian, one section, one Ethernet interface with
/// `if_tsresol = 9` (nanoseconds), one Enhanced Packet Block per datagram.
#[derive(Debug)]
pub struct PcapngWriter<W: Write> {
    out: W,
    frame: Vec<u8>,
    block: Vec<u8>,
    ip_id: u16,
}

fn push_u16(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn push_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

/// Pads to 4 bytes, then fills in the block length at offset 4 and as the trailer.
fn finish_block(b: &mut Vec<u8>) {
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
    let total = (b.len() + 4) as u32;
    b[4..8].copy_from_slice(&total.to_le_bytes());
    push_u32(b, total);
}

/// Appends an option (code, length, value padded to 4 bytes).
fn push_option(b: &mut Vec<u8>, code: u16, value: &[u8]) {
    push_u16(b, code);
    push_u16(b, value.len() as u16);
    b.extend_from_slice(value);
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
}

impl<W: Write> PcapngWriter<W> {
    /// Writes the Section Header Block and the Interface Description Block.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut b = Vec::with_capacity(128);
        // Section Header Block.
        push_u32(&mut b, 0x0A0D_0D0A);
        push_u32(&mut b, 0);
        push_u32(&mut b, 0x1A2B_3C4D);
        push_u16(&mut b, 1);
        push_u16(&mut b, 0);
        b.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
        push_option(&mut b, 4, b"ticklane"); // shb_userappl
        push_option(&mut b, 0, &[]);
        finish_block(&mut b);
        out.write_all(&b)?;
        // Interface Description Block.
        b.clear();
        push_u32(&mut b, 1);
        push_u32(&mut b, 0);
        push_u16(&mut b, LINKTYPE_ETHERNET);
        push_u16(&mut b, 0);
        push_u32(&mut b, SNAPLEN);
        push_option(&mut b, 9, &[9]); // if_tsresol: 10^-9
        push_option(&mut b, 0, &[]);
        finish_block(&mut b);
        out.write_all(&b)?;
        Ok(Self {
            out,
            frame: Vec::with_capacity(1600),
            block: b,
            ip_id: 0,
        })
    }

    /// Writes one datagram as an Enhanced Packet Block with timestamp `ts_ns`.
    pub fn write_udp(
        &mut self,
        ts_ns: u64,
        src: SocketAddrV4,
        dst: SocketAddrV4,
        payload: &[u8],
    ) -> io::Result<()> {
        if payload.len() > MAX_UDP_PAYLOAD {
            return Err(too_large(payload.len()));
        }
        build_udp_frame(&mut self.frame, src, dst, self.ip_id, payload);
        self.ip_id = self.ip_id.wrapping_add(1);
        let b = &mut self.block;
        b.clear();
        push_u32(b, 6);
        push_u32(b, 0);
        push_u32(b, 0); // interface 0
        push_u32(b, (ts_ns >> 32) as u32);
        push_u32(b, ts_ns as u32);
        push_u32(b, self.frame.len() as u32);
        push_u32(b, self.frame.len() as u32);
        b.extend_from_slice(&self.frame);
        finish_block(b);
        self.out.write_all(b)
    }

    /// Writes `d` (its timestamp, addresses and payload).
    pub fn write_datagram(&mut self, d: &UdpDatagram<'_>) -> io::Result<()> {
        self.write_udp(d.ts_ns, d.src, d.dst, d.payload)
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}
