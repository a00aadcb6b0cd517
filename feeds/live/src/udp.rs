//! [`UdpLine`]: one UDP feed line (unicast or multicast) read without allocation, with the
//! kernel's receive timestamp of every datagram where the OS provides one.
//!
//! The socket is built with `socket2` so that everything a feed handler tunes is in one place:
//! the receive buffer (`SO_RCVBUF`; the kernel may cap it at `net.core.rmem_max`, and the size
//! it granted is reported), address reuse so several handlers can listen to one multicast group,
//! the group join on a named interface, and non-blocking mode. Receive timestamps come from
//! `SO_TIMESTAMPNS` through `recvmsg` (Linux): the time the kernel took the datagram off the
//! wire, on the realtime clock. That is the start of the wire-to-decision latency
//! ([`UdpLine::age_ns`] turns it into "how long ago").
//!
//! Datagrams the kernel dropped because a socket's receive buffer was full never reach the
//! handler, so the handler cannot count them itself: [`UdpLine::kernel_drops`] (and
//! [`socket_drops`] for any UDP socket) reads the kernel's own count for the socket (Linux: the
//! `drops` column of `/proc/net/udp`, the counter `SO_RXQ_OVFL` reports), which a run's
//! report shows beside what was received.
//!
//! Reads never block: a line is polled (busy-poll mode) or waited on with [`wait_readable`]
//! over all lines at once (blocking mode), so one quiet line never starves the other.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

/// How to open one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpLineConfig {
    /// Local address to bind (`0.0.0.0:PORT` or `127.0.0.1:PORT`; port 0 picks one). For a
    /// multicast line only its port counts: the socket is bound to `GROUP:PORT` (see
    /// [`UdpLine::open`]).
    pub bind: SocketAddr,
    /// Multicast group to join (IPv4), if any.
    pub group: Option<Ipv4Addr>,
    /// Interface to join the group on (its IPv4 address); `None` lets the kernel choose.
    pub interface: Option<Ipv4Addr>,
    /// Receive buffer to ask for, bytes (`0` keeps the OS default).
    pub recv_buffer: usize,
    /// Ask the kernel for receive timestamps.
    pub kernel_timestamps: bool,
}

impl UdpLineConfig {
    /// A unicast line bound to `bind`, 8 MiB receive buffer, kernel timestamps on.
    pub fn unicast(bind: SocketAddr) -> Self {
        Self {
            bind,
            group: None,
            interface: None,
            recv_buffer: 8 << 20,
            kernel_timestamps: true,
        }
    }
}

/// Why a line could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum UdpError {
    /// A socket call failed; `what` says which.
    #[error("{what} ({addr}): {source}")]
    Socket {
        /// The call.
        what: &'static str,
        /// The line's address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// Multicast needs an IPv4 bind address.
    #[error("multicast group {group} needs an IPv4 bind address, got {bind}")]
    MulticastNeedsIpv4 {
        /// The group.
        group: Ipv4Addr,
        /// The bind address given.
        bind: SocketAddr,
    },
}

/// One received datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Datagram {
    /// Bytes written to the buffer.
    pub len: usize,
    /// Kernel receive time, ns since the Unix epoch (realtime clock), where provided.
    pub kernel_ns: Option<u64>,
    /// Sender.
    pub from: Option<SocketAddr>,
}

/// One open UDP line.
#[derive(Debug)]
pub struct UdpLine {
    socket: UdpSocket,
    addr: SocketAddr,
    timestamps: bool,
    recv_buffer: usize,
    /// Control-message space for one timestamp, allocated once.
    cmsg: Vec<u8>,
}

impl UdpLine {
    /// Opens, tunes, binds and (for multicast) joins. The socket is non-blocking.
    ///
    /// A multicast line is bound to its group's address (`GROUP:PORT`), whatever IP
    /// [`UdpLineConfig::bind`] names, so that it receives only datagrams sent to its group.
    /// Bound to `0.0.0.0:PORT`, Linux hands a socket every group joined on the port by any
    /// socket of the host (`IP_MULTICAST_ALL`, on by default): lines A and B on two groups that
    /// share a port would each receive both. Binding to the group (rather than turning
    /// `IP_MULTICAST_ALL` off, Linux only) also keeps out unicast datagrams sent to the port,
    /// and works the same on every Unix.
    pub fn open(config: &UdpLineConfig) -> Result<Self, UdpError> {
        let addr = match (config.group, config.bind) {
            (Some(group), SocketAddr::V4(bind)) => SocketAddr::from((group, bind.port())),
            (Some(group), bind) => return Err(UdpError::MulticastNeedsIpv4 { group, bind }),
            (None, bind) => bind,
        };
        let err = |what: &'static str| move |source| UdpError::Socket { what, addr, source };
        let domain = if addr.is_ipv4() {
            Domain::IPV4
        } else {
            Domain::IPV6
        };
        let socket =
            Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(err("socket"))?;
        if config.recv_buffer > 0 {
            // The kernel may grant less (net.core.rmem_max); what it granted is reported.
            socket
                .set_recv_buffer_size(config.recv_buffer)
                .map_err(err("SO_RCVBUF"))?;
        }
        if config.group.is_some() {
            socket
                .set_reuse_address(true)
                .map_err(err("SO_REUSEADDR"))?;
        }
        socket.bind(&addr.into()).map_err(err("bind"))?;
        if let Some(group) = config.group {
            socket
                .join_multicast_v4(&group, &config.interface.unwrap_or(Ipv4Addr::UNSPECIFIED))
                .map_err(err("IP_ADD_MEMBERSHIP"))?;
        }
        socket.set_nonblocking(true).map_err(err("O_NONBLOCK"))?;
        let recv_buffer = socket.recv_buffer_size().unwrap_or(0);
        let socket: UdpSocket = socket.into();
        let local = socket.local_addr().map_err(err("getsockname"))?;
        let timestamps = config.kernel_timestamps && enable_timestamps(&socket);
        Ok(Self {
            socket,
            addr: local,
            timestamps,
            recv_buffer,
            cmsg: timestamp_space(),
        })
    }

    /// The bound address (with the port the OS picked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Receive buffer the kernel granted, bytes.
    pub fn recv_buffer(&self) -> usize {
        self.recv_buffer
    }

    /// Whether kernel receive timestamps are on.
    pub fn kernel_timestamps(&self) -> bool {
        self.timestamps
    }

    /// Datagrams the kernel dropped for this line since it was opened because its receive
    /// buffer was full (see [`socket_drops`]); `None` where the OS does not say.
    pub fn kernel_drops(&self) -> Option<u64> {
        socket_drops(&self.socket)
    }

    /// The socket, for sending (retransmission requests go out of the line that owns them).
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// Reads one datagram into `buf` if one is waiting; `Ok(None)` when none is. A datagram
    /// larger than `buf` is cut (the caller sizes `buf` for the largest UDP payload).
    pub fn try_recv(&mut self, buf: &mut [u8]) -> Result<Option<Datagram>, UdpError> {
        let r = if self.timestamps {
            recv_with_timestamp(self.socket.as_raw_fd(), buf, &mut self.cmsg)
        } else {
            self.socket.recv_from(buf).map(|(len, from)| Datagram {
                len,
                kernel_ns: None,
                from: Some(from),
            })
        };
        match r {
            Ok(d) => Ok(Some(d)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(source) => Err(UdpError::Socket {
                what: "recvmsg",
                addr: self.addr,
                source,
            }),
        }
    }

    /// How long ago (ns) the kernel received a datagram stamped `kernel_ns`, by the realtime
    /// clock now; 0 if the clock went backwards.
    pub fn age_ns(kernel_ns: u64) -> u64 {
        wall_ns().saturating_sub(kernel_ns)
    }
}

/// The realtime clock now, ns since the Unix epoch: the clock kernel receive stamps and capture
/// records use.
#[allow(clippy::disallowed_methods)] // The I/O edge: receive times are realtime-clock times.
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Datagrams the kernel dropped on `socket` since it was opened, mostly because its receive
/// buffer was full: the socket's `drops` counter, the one `SO_RXQ_OVFL` reports (Linux, read
/// from `/proc/net/udp` or `/proc/net/udp6` by the socket's inode; not on the hot path: a run
/// reads it once at its end). `None` where the OS does not say (not Linux, no `/proc`).
pub fn socket_drops(socket: &UdpSocket) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        // `stat` of the descriptor's magic link is the socket's own inode.
        let inode = std::fs::metadata(format!("/proc/self/fd/{}", socket.as_raw_fd()))
            .ok()?
            .ino();
        let table = if socket.local_addr().ok()?.is_ipv4() {
            "/proc/net/udp"
        } else {
            "/proc/net/udp6"
        };
        udp_table_drops(&std::fs::read_to_string(table).ok()?, inode)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        None
    }
}

/// The `drops` column (the last) of the row of a `/proc/net/udp`-format table whose `inode`
/// column (the tenth) is `inode`; `None` if no row is, or the row does not parse.
pub fn udp_table_drops(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|row| {
        let mut fields = row.split_whitespace();
        let ino: u64 = fields.nth(9)?.parse().ok()?;
        if ino != inode {
            return None;
        }
        fields.last()?.parse().ok()
    })
}

/// Waits until one of `sockets` (at most 3: lines A and B and the re-request socket) is
/// readable or `timeout_ms` passes; returns whether one is. Used in blocking mode, where the
/// feed thread sleeps in the kernel between packets; it allocates nothing.
pub fn wait_readable(sockets: &[UdpSocket], timeout_ms: u16) -> io::Result<bool> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let n = sockets.len().min(3);
    if n == 0 {
        return Ok(false);
    }
    // Missing entries repeat the first socket: polling one fd twice is harmless.
    let fd = |i: usize| PollFd::new(sockets[i.min(n - 1)].as_fd(), PollFlags::POLLIN);
    let mut fds = [fd(0), fd(1), fd(2)];
    match poll(&mut fds[..n], PollTimeout::from(timeout_ms)) {
        Ok(n) => Ok(n > 0),
        Err(nix::errno::Errno::EINTR) => Ok(false),
        Err(e) => Err(io::Error::from(e)),
    }
}

#[cfg(target_os = "linux")]
fn enable_timestamps(socket: &UdpSocket) -> bool {
    nix::sys::socket::setsockopt(socket, nix::sys::socket::sockopt::ReceiveTimestampns, &true)
        .is_ok()
}

#[cfg(not(target_os = "linux"))]
fn enable_timestamps(_socket: &UdpSocket) -> bool {
    false
}

#[cfg(target_os = "linux")]
fn timestamp_space() -> Vec<u8> {
    nix::cmsg_space!(nix::sys::time::TimeSpec)
}

#[cfg(not(target_os = "linux"))]
fn timestamp_space() -> Vec<u8> {
    Vec::new()
}

#[cfg(target_os = "linux")]
fn recv_with_timestamp(fd: RawFd, buf: &mut [u8], cmsg: &mut [u8]) -> io::Result<Datagram> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrStorage};
    let mut iov = [io::IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(cmsg), MsgFlags::MSG_DONTWAIT)
        .map_err(io::Error::from)?;
    let mut kernel_ns = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmTimestampns(ts) = c {
                let ns = i128::from(ts.tv_sec()) * 1_000_000_000 + i128::from(ts.tv_nsec());
                kernel_ns = u64::try_from(ns).ok();
            }
        }
    }
    let from = msg.address.as_ref().and_then(|a| {
        a.as_sockaddr_in()
            .map(|v4| SocketAddr::from((v4.ip(), v4.port())))
            .or_else(|| {
                a.as_sockaddr_in6()
                    .map(|v6| SocketAddr::from((v6.ip(), v6.port())))
            })
    });
    Ok(Datagram {
        len: msg.bytes,
        kernel_ns,
        from,
    })
}

#[cfg(not(target_os = "linux"))]
fn recv_with_timestamp(_fd: RawFd, _buf: &mut [u8], _cmsg: &mut [u8]) -> io::Result<Datagram> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two rows of a real `/proc/net/udp` (Linux 6.x), header included.
    const TABLE: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
  411: 0100007F:A1B2 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 918273 2 0000000000000000 0         
  412: 0100007F:A1B3 00000000:0000 07 00000000:00024000 00:00000000 00000000     0        0 918274 2 0000000000000000 1234      
";

    #[test]
    fn the_drops_column_is_read_from_the_row_of_the_socket_s_inode() {
        assert_eq!(udp_table_drops(TABLE, 918_273), Some(0));
        assert_eq!(udp_table_drops(TABLE, 918_274), Some(1234));
        // No row for the inode; the header never matches.
        assert_eq!(udp_table_drops(TABLE, 1), None);
        assert_eq!(udp_table_drops("", 918_273), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_flooded_line_reports_exactly_the_datagrams_the_kernel_dropped() {
        // The smallest receive buffer the kernel grants holds a few datagrams: most of a flood
        // sent while nobody reads is dropped, and every datagram sent is either read or counted.
        let mut config = UdpLineConfig::unicast(SocketAddr::from(([127, 0, 0, 1], 0)));
        config.recv_buffer = 1;
        let mut line = UdpLine::open(&config).unwrap();
        assert_eq!(line.kernel_drops(), Some(0));
        let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
        const SENT: u64 = 500;
        for _ in 0..SENT {
            sender.send_to(&[7u8; 1_000], line.local_addr()).unwrap();
        }
        // Loopback delivers (or drops) within the send call; the pause is a margin.
        std::thread::sleep(std::time::Duration::from_millis(50));
        let mut buf = vec![0u8; 2_048];
        let mut read = 0u64;
        while let Some(d) = line.try_recv(&mut buf).unwrap() {
            assert_eq!(d.len, 1_000);
            read += 1;
        }
        let drops = line.kernel_drops().unwrap();
        assert!(read > 0 && drops > 0, "read {read}, dropped {drops}");
        assert_eq!(read + drops, SENT, "read {read}, dropped {drops}");
    }
}
