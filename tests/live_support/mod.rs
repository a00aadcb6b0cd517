//! Shared by the tests that run `ticklane` processes (against each other on loopback, or on
//! files they build).

#![allow(dead_code, clippy::unwrap_used)]

use std::net::{Ipv4Addr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ticklane");

/// A free loopback UDP port.
pub fn free_port() -> u16 {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `ticklane args` in `dir`, output captured.
pub fn spawn(args: &[&str], dir: &Path) -> Child {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `ticklane args` to its end and requires success.
pub fn run_ok(args: &[&str]) -> Output {
    let o = Command::new(BIN).args(args).output().unwrap();
    assert!(
        o.status.success(),
        "ticklane {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// Waits for a child and requires success.
pub fn finish(child: Child, what: &str) -> Output {
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    o
}

/// Its standard output as JSON.
pub fn json_of(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Requires exit code `code` (showing stderr if not), then its standard output as JSON.
pub fn json_exit(o: &Output, code: i32) -> serde_json::Value {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    json_of(o)
}

/// config/paper.toml of this checkout.
pub fn paper_config() -> String {
    format!("{}/config/paper.toml", env!("CARGO_MANIFEST_DIR"))
}

/// Waits (at most 60 s) until some process has bound UDP `port` on this machine (a receiver
/// under test opened its line), reading `/proc/net/udp*` so as not to race it for the port.
/// Returns whether it did; where `/proc` is not there to tell, waits a second and says yes.
pub fn wait_udp_bound(port: u16) -> bool {
    let needle = format!(":{port:04X} ");
    for _ in 0..3_000 {
        let mut readable = false;
        for table in ["/proc/net/udp", "/proc/net/udp6"] {
            if let Ok(text) = std::fs::read_to_string(table) {
                readable = true;
                // Each row: `sl local_address rem_address ...`, addresses as HEXIP:HEXPORT.
                let bound = text
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_whitespace().nth(1))
                    .any(|local| format!("{local} ").ends_with(&needle));
                if bound {
                    return true;
                }
            }
        }
        if !readable {
            std::thread::sleep(std::time::Duration::from_secs(1));
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

/// An ITCH binary file's messages (`bytes`: a 2-byte length before each) as the MoldUDP64
/// packets of `session`, numbered from 1, up to 8 messages each, its end-of-session packet
/// last.
pub fn mold_packets(bytes: &[u8], session: [u8; 10]) -> Vec<Vec<u8>> {
    let mut b = ticklane_feeds::moldudp64::MoldPacketBuilder::new(session, 1).with_max_count(8);
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let len = usize::from(u16::from_be_bytes([bytes[pos], bytes[pos + 1]]));
        b.push(&bytes[pos + 2..pos + 2 + len], |p| out.push(p.to_vec()))
            .unwrap();
        pos += 2 + len;
    }
    out.extend(b.flush().map(<[u8]>::to_vec));
    out.push(b.end_of_session().to_vec());
    out
}
