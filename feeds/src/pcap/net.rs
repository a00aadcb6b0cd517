//! Link layer, IPv4 and UDP: parsing a captured frame, and building one.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::{
    LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP,
    LINKTYPE_NULL, LINKTYPE_RAW,
};

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const IPPROTO_UDP: u8 = 17;

/// What a captured frame turned out to carry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FrameKind<'a> {
    /// An unfragmented IPv4 / UDP datagram.
    Udp {
        /// Source address and port.
        src: SocketAddrV4,
        /// Destination address and port.
        dst: SocketAddrV4,
        /// UDP payload.
        payload: &'a [u8],
    },
    /// Not IPv4 (ARP, IPv6, LLC, ...).
    NonIpv4,
    /// IPv4 but not UDP.
    NonUdp,
    /// An IPv4 fragment (not reassembled).
    Fragment,
    /// A link type this module does not parse.
    UnsupportedLink,
}

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Parses one frame of link type `link_type` down to its UDP payload.
///
/// Errors (a static description) when a header is cut short or inconsistent.
pub fn parse_frame(link_type: u16, frame: &[u8]) -> Result<FrameKind<'_>, &'static str> {
    let ip = match link_type {
        LINKTYPE_ETHERNET => {
            let (ethertype, at) = ethertype_past_vlans(frame, 12, "Ethernet header cut short")?;
            if ethertype != ETHERTYPE_IPV4 {
                return Ok(FrameKind::NonIpv4);
            }
            return parse_ipv4(frame.get(at..).unwrap_or(&[]), true);
        }
        LINKTYPE_LINUX_SLL => {
            // libpcap puts a VLAN tag back at the protocol field of a cooked header.
            let (ethertype, at) = ethertype_past_vlans(frame, 14, "Linux SLL header cut short")?;
            if ethertype != ETHERTYPE_IPV4 {
                return Ok(FrameKind::NonIpv4);
            }
            return parse_ipv4(frame.get(at..).unwrap_or(&[]), true);
        }
        LINKTYPE_LINUX_SLL2 => {
            if frame.len() < 20 {
                return Err("Linux SLL2 header cut short");
            }
            if be16(frame, 0).ok_or("Linux SLL2 header cut short")? != ETHERTYPE_IPV4 {
                return Ok(FrameKind::NonIpv4);
            }
            return parse_ipv4(frame.get(20..).unwrap_or(&[]), true);
        }
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            // A 4-byte address family: the capturing host's byte order for NULL, big-endian
            // for LOOP. AF_INET is 2 everywhere (AF_INET6 differs by system).
            let Some(h) = frame.get(..4) else {
                return Err("loopback header cut short");
            };
            let h = [h[0], h[1], h[2], h[3]];
            let (be, le) = (u32::from_be_bytes(h), u32::from_le_bytes(h));
            let inet = be == 2 || (link_type == LINKTYPE_NULL && le == 2);
            if !inet {
                return Ok(FrameKind::NonIpv4);
            }
            return parse_ipv4(&frame[4..], true);
        }
        LINKTYPE_IPV4 => return parse_ipv4(frame, true),
        LINKTYPE_RAW => frame,
        _ => return Ok(FrameKind::UnsupportedLink),
    };
    // Raw IP: the version nibble says which.
    parse_ipv4(ip, false)
}

/// The ethertype at `at` and the offset of what follows it, past any 802.1Q / 802.1ad tags
/// (each: the tag type, 2 bytes of TCI, then the next ethertype).
fn ethertype_past_vlans(
    frame: &[u8],
    at: usize,
    cut: &'static str,
) -> Result<(u16, usize), &'static str> {
    let mut ethertype = be16(frame, at).ok_or(cut)?;
    let mut next = at + 2;
    while matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD
    ) {
        ethertype = be16(frame, next + 2).ok_or("VLAN tag cut short")?;
        next += 4;
    }
    Ok((ethertype, next))
}

/// Parses an IPv4 packet (possibly followed by link-layer padding) down to UDP. `declared`:
/// the link layer said IPv4 (an ethertype, a family, an IPv4-only link type), so another
/// version is a corrupt header; otherwise (raw IP) version 6 is IPv6.
fn parse_ipv4(ip: &[u8], declared: bool) -> Result<FrameKind<'_>, &'static str> {
    let Some(&vihl) = ip.first() else {
        return Err("IP header missing");
    };
    match vihl >> 4 {
        4 => {}
        6 if !declared => return Ok(FrameKind::NonIpv4),
        _ if declared => return Err("link layer says IPv4 but the IP version is not 4"),
        _ => return Err("raw IP packet of a version neither 4 nor 6"),
    }
    let ihl = usize::from(vihl & 0x0F) * 4;
    if ihl < 20 {
        return Err("IPv4 header length below 20");
    }
    if ip.len() < ihl {
        return Err("IPv4 header cut short");
    }
    // Every fragment carries the protocol: a fragment of another protocol is not UDP. Both
    // come from the header alone, so a frame cut by the snap length is still classified.
    if ip[9] != IPPROTO_UDP {
        return Ok(FrameKind::NonUdp);
    }
    let frag = be16(ip, 6).ok_or("IPv4 header cut short")?;
    if frag & 0x2000 != 0 || frag & 0x1FFF != 0 {
        return Ok(FrameKind::Fragment);
    }
    let total = usize::from(be16(ip, 2).ok_or("IPv4 header cut short")?);
    if total < ihl {
        return Err("IPv4 total length below header length");
    }
    let ip = ip
        .get(..total)
        .ok_or("IPv4 packet shorter than its total length")?;
    let src_ip = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst_ip = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let udp = ip.get(ihl..).unwrap_or(&[]);
    let (Some(sport), Some(dport), Some(ulen)) = (be16(udp, 0), be16(udp, 2), be16(udp, 4)) else {
        return Err("UDP header cut short");
    };
    let ulen = usize::from(ulen);
    if ulen < 8 {
        return Err("UDP length below 8");
    }
    let payload = udp
        .get(8..ulen)
        .ok_or("UDP length exceeds the IPv4 packet")?;
    Ok(FrameKind::Udp {
        src: SocketAddrV4::new(src_ip, sport),
        dst: SocketAddrV4::new(dst_ip, dport),
        payload,
    })
}

/// Largest UDP payload an IPv4 datagram can carry.
pub(crate) const MAX_UDP_PAYLOAD: usize = 65_535 - 20 - 8;

/// Internet checksum (RFC 1071) over `data`, starting from `sum`.
fn ones_complement_sum(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// Destination MAC for `dst`: the IPv4 multicast mapping for multicast groups, else a fixed
/// locally administered address.
fn dst_mac(dst: Ipv4Addr) -> [u8; 6] {
    let o = dst.octets();
    if dst.is_multicast() {
        [0x01, 0x00, 0x5E, o[1] & 0x7F, o[2], o[3]]
    } else {
        [0x02, 0x00, 0x00, 0x00, 0x00, 0x02]
    }
}

const SRC_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];

/// Writes an Ethernet / IPv4 / UDP frame carrying `payload` into `buf` (cleared first).
///
/// The IPv4 header checksum and the UDP checksum are both computed. `payload` must be at most
/// [`MAX_UDP_PAYLOAD`] bytes (checked by the callers).
pub(crate) fn build_udp_frame(
    buf: &mut Vec<u8>,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    ip_id: u16,
    payload: &[u8],
) {
    buf.clear();
    let udp_len = (8 + payload.len()) as u16;
    let total = udp_len.wrapping_add(20);
    buf.extend_from_slice(&dst_mac(*dst.ip()));
    buf.extend_from_slice(&SRC_MAC);
    buf.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    let ip_start = buf.len();
    buf.extend_from_slice(&[0x45, 0x00]);
    buf.extend_from_slice(&total.to_be_bytes());
    buf.extend_from_slice(&ip_id.to_be_bytes());
    buf.extend_from_slice(&0x4000u16.to_be_bytes()); // don't fragment
    buf.extend_from_slice(&[64, IPPROTO_UDP, 0, 0]); // TTL, protocol, checksum placeholder
    buf.extend_from_slice(&src.ip().octets());
    buf.extend_from_slice(&dst.ip().octets());
    let ip_sum = fold(ones_complement_sum(0, &buf[ip_start..ip_start + 20]));
    buf[ip_start + 10..ip_start + 12].copy_from_slice(&ip_sum.to_be_bytes());
    let udp_start = buf.len();
    buf.extend_from_slice(&src.port().to_be_bytes());
    buf.extend_from_slice(&dst.port().to_be_bytes());
    buf.extend_from_slice(&udp_len.to_be_bytes());
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(payload);
    // UDP checksum over the pseudo-header, header and payload; 0 is sent as 0xFFFF.
    let mut sum = ones_complement_sum(0, &src.ip().octets());
    sum = ones_complement_sum(sum, &dst.ip().octets());
    sum += u32::from(IPPROTO_UDP) + u32::from(udp_len);
    sum = ones_complement_sum(sum, &buf[udp_start..]);
    let udp_sum = match fold(sum) {
        0 => 0xFFFF,
        s => s,
    };
    buf[udp_start + 6..udp_start + 8].copy_from_slice(&udp_sum.to_be_bytes());
}

/// IPv4 header checksum verification helper for tests: true when the header sums to 0xFFFF.
#[cfg(test)]
pub(crate) fn ipv4_header_ok(header: &[u8]) -> bool {
    fold(ones_complement_sum(0, header)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_frame_parses_and_checksums() {
        let mut buf = Vec::new();
        let src = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 1234);
        let dst = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 111), 26400);
        build_udp_frame(&mut buf, src, dst, 7, b"hello");
        assert_eq!(&buf[..6], &[0x01, 0x00, 0x5E, 0x36, 0x0C, 0x6F]);
        assert!(ipv4_header_ok(&buf[14..34]));
        // UDP checksum verifies: sum over pseudo-header + segment folds to 0.
        let mut sum = ones_complement_sum(0, &buf[26..34]);
        sum += u32::from(IPPROTO_UDP) + 13;
        sum = ones_complement_sum(sum, &buf[34..]);
        assert_eq!(fold(sum), 0);
        match parse_frame(LINKTYPE_ETHERNET, &buf) {
            Ok(FrameKind::Udp {
                src: s,
                dst: d,
                payload,
            }) => {
                assert_eq!((s, d, payload), (src, dst, &b"hello"[..]));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn vlan_sll_raw_fragments() {
        let mut eth = Vec::new();
        let src = SocketAddrV4::new(Ipv4Addr::new(1, 2, 3, 4), 5);
        let dst = SocketAddrV4::new(Ipv4Addr::new(6, 7, 8, 9), 10);
        build_udp_frame(&mut eth, src, dst, 1, b"xyz");
        let ip = eth[14..].to_vec();
        // Two VLAN tags.
        let mut vlan = eth[..12].to_vec();
        vlan.extend_from_slice(&[0x88, 0xA8, 0, 5, 0x81, 0x00, 0, 7, 0x08, 0x00]);
        vlan.extend_from_slice(&ip);
        assert!(matches!(
            parse_frame(1, &vlan),
            Ok(FrameKind::Udp {
                payload: b"xyz",
                ..
            })
        ));
        // SLL.
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        assert!(matches!(
            parse_frame(113, &sll),
            Ok(FrameKind::Udp {
                payload: b"xyz",
                ..
            })
        ));
        sll[14] = 0x86;
        sll[15] = 0xDD;
        assert_eq!(parse_frame(113, &sll), Ok(FrameKind::NonIpv4));
        // Raw.
        assert!(matches!(parse_frame(101, &ip), Ok(FrameKind::Udp { .. })));
        assert!(matches!(parse_frame(228, &ip), Ok(FrameKind::Udp { .. })));
        let mut v6 = ip.clone();
        v6[0] = 0x60;
        assert_eq!(parse_frame(101, &v6), Ok(FrameKind::NonIpv4));
        // Fragment (MF set), then non-UDP.
        let mut frag = ip.clone();
        frag[6] = 0x20;
        assert_eq!(parse_frame(101, &frag), Ok(FrameKind::Fragment));
        let mut frag2 = ip.clone();
        frag2[6] = 0x00;
        frag2[7] = 0x10;
        assert_eq!(parse_frame(101, &frag2), Ok(FrameKind::Fragment));
        let mut tcp = ip.clone();
        tcp[9] = 6;
        assert_eq!(parse_frame(101, &tcp), Ok(FrameKind::NonUdp));
        assert_eq!(parse_frame(9999, &ip), Ok(FrameKind::UnsupportedLink));
        // Cut short.
        assert!(parse_frame(101, &ip[..ip.len() - 1]).is_err());
        assert!(parse_frame(1, &eth[..10]).is_err());
    }

    /// libpcap on Linux puts a frame's 802.1Q tag back into a cooked (SLL) header at the
    /// protocol field (`vlan_offset = SLL_HDR_LEN - 2`): `tcpdump -i any` on a host that takes a
    /// VLAN-tagged feed writes protocol 0x8100, the tag's TCI, then the inner ethertype. The
    /// datagram is IPv4 / UDP and must be read, as it is for Ethernet.
    #[test]
    fn sll_frame_with_a_vlan_tag_carries_udp() {
        let mut eth = Vec::new();
        let src = SocketAddrV4::new(Ipv4Addr::new(1, 2, 3, 4), 5);
        let dst = SocketAddrV4::new(Ipv4Addr::new(233, 54, 12, 1), 26400);
        build_udp_frame(&mut eth, src, dst, 1, b"xyz");
        let ip = &eth[14..];
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x81, 0x00, 0x00, 0x07, 0x08, 0x00]); // VLAN 7, then IPv4
        sll.extend_from_slice(ip);
        assert_eq!(
            parse_frame(LINKTYPE_LINUX_SLL, &sll),
            Ok(FrameKind::Udp {
                src,
                dst,
                payload: b"xyz"
            })
        );
    }
}
