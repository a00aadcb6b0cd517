//! `ticklane`: the command-line front end of the engine.
//!
//! Each subcommand lives in its own module under `cmd/`. This binary is the edge of the system:
//! it may read the wall clock (for rates and progress) and uses `anyhow` for errors; the
//! libraries below it do neither.
//!
//! Output goes through `outln!` and `errln!` (`cmd/mod.rs`), which do not panic on a closed
//! pipe as `println!` and `eprintln!` do; the lints below keep it so.

#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[macro_use]
mod cmd;
mod config;
mod run_config;
mod strategies;

/// ticklane — decode NASDAQ ITCH 5.0 / MoldUDP64 feeds, build order books, generate sessions.
#[derive(Debug, Parser)]
#[command(name = "ticklane", version, about, long_about = None)]
struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `ticklane=debug`.
    #[arg(long, global = true, default_value = "warn", env = "TICKLANE_LOG")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

/// What `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Classic pcap, nanosecond timestamps.
    Pcap,
    /// pcapng, nanosecond timestamps.
    Pcapng,
}

/// Output format of `gen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenFormat {
    /// NASDAQ binary file: u16 big-endian length + message.
    Itch,
    /// pcap of MoldUDP64 packets over Ethernet/IPv4/UDP.
    Pcap,
    /// pcapng of MoldUDP64 packets over Ethernet/IPv4/UDP.
    Pcapng,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a deterministic synthetic NASDAQ session (same seed, same bytes).
    Gen {
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Exact number of ITCH messages.
        #[arg(long, default_value_t = 1_000_000)]
        messages: u64,
        /// Number of instruments.
        #[arg(long, default_value_t = 64)]
        instruments: u16,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GenFormat::Itch)]
        format: GenFormat,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write a capture back out as pcap or pcapng (for Wireshark, tcpdump, tcpreplay): each
    /// record as the UDP datagram it was received as.
    Export {
        /// Capture file (MoldUDP64 or raw datagrams).
        capture: PathBuf,
        /// Output file.
        #[arg(short, long)]
        output: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Pcap)]
        format: ExportFormat,
    },
    /// Summarize a file: message counts by type, instruments, time range, errors, decode rate.
    Inspect {
        /// ITCH binary file (plain or .gz), pcap or pcapng of MoldUDP64, ticklane capture, or
        /// LOBSTER message file.
        file: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        read: ReadOpts,
    },
    /// Print the order book of one instrument at a point in event time.
    Book {
        /// ITCH binary file (plain or .gz), pcap or pcapng of MoldUDP64, ticklane capture, or
        /// LOBSTER message file.
        file: PathBuf,
        /// Instrument symbol, e.g. AAPL.
        #[arg(long)]
        symbol: String,
        /// Levels per side (at least 1).
        #[arg(long, default_value_t = 10, value_parser = at_least_one)]
        depth: usize,
        /// Event time (HH:MM:SS[.fffffffff] or ns since midnight); default: end of file (or
        /// of `--day`).
        #[arg(long)]
        at: Option<String>,
        /// Trading day of a file that holds several (1: the first; each ITCH start of
        /// messages after other events begins the next): `--at` is a time of that day, and without
        /// `--at` the book is the one at that day's end. Default: the day `--at` is first
        /// reached, or the last day.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        day: Option<u64>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        read: ReadOpts,
    },
    /// Check the order book against a LOBSTER order-book file, row by row.
    LobsterCheck {
        /// LOBSTER message file.
        messages: PathBuf,
        /// LOBSTER order-book file of the same session.
        orderbook: PathBuf,
        /// Levels to compare (default: all levels of the file).
        #[arg(long)]
        levels: Option<usize>,
        /// How many differing rows to print (each with every level that differs).
        #[arg(long, default_value_t = 10)]
        max_diffs: usize,
    },
    /// Decode and book the embedded default session (no strategies): generate it in memory,
    /// decode it, build every book, and print what was seen and how fast. The main job, with
    /// strategies, risk and paper fills, is `replay`.
    Demo {
        /// A demo configuration (TOML, see config/demo.toml); default: the embedded one.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Override the session's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the session's message count.
        #[arg(long)]
        messages: Option<u64>,
    },
    /// Measure decode and decode+book throughput on a generated session (one core).
    Bench {
        /// Messages in the generated session.
        #[arg(long, default_value_t = 5_000_000)]
        messages: u64,
        /// Instruments in the generated session.
        #[arg(long, default_value_t = 64)]
        instruments: u16,
        /// Timed passes over the session (the best is reported; at least 1).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
        passes: u32,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Measure this NASDAQ binary file (loaded into memory) instead of a generated session.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run strategies: a source (a file, or a generated session) → feed thread → SPSC rings →
    /// pinned lanes (books, strategies, paper venue); prints the summary, per-hop latency and
    /// the run digest.
    Run {
        /// Run configuration (TOML, see config/run.toml); default: the embedded one.
        config: Option<PathBuf>,
        /// Read this file instead of the configured source.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Number of lanes (overrides engine.lanes; lanes are then not pinned).
        #[arg(long)]
        lanes: Option<u16>,
        /// Pace: max, 1x, 10x, ... or rate:N (events per second).
        #[arg(long)]
        pace: Option<String>,
        /// Messages of the generated session (overrides source.generate.messages).
        #[arg(long)]
        messages: Option<u64>,
        /// Do not stamp hops (no latency histograms).
        #[arg(long)]
        no_latency: bool,
        /// Binary files only: take each message's length from its ITCH type byte instead of the
        /// 2-byte prefix (for files whose prefixes are zero or damaged).
        #[arg(long)]
        lengths_from_type: bool,

        /// Write one HdrHistogram percentile file (`<hop>.hgrm`) per hop into this directory.
        #[arg(long)]
        hgrm: Option<PathBuf>,
        /// Write the run's reports into this directory: orders.csv, fills.csv, positions.csv,
        /// equity.csv, summary.json and the `.hgrm` files.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Paper trading: run strategies against a live MoldUDP64 feed (`--feed udp://...` or
    /// `quic://...`) or, without one, the configured source paced at 1x, with the paper exchange, a live status line, and the reports
    /// written at the end (Ctrl-C: kill switch, then stop).
    Paper {
        /// Configuration (TOML, same keys as `run`); default: the embedded config/paper.toml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Read this file instead of the configured source (not with --feed).
        #[arg(long)]
        file: Option<PathBuf>,
        /// Pace (default: the configuration's, 1x in config/paper.toml; not with --feed: a live
        /// feed is paced by the wire).
        #[arg(long)]
        pace: Option<String>,
        /// Where the reports go.
        #[arg(long, default_value = "paper-report")]
        out: PathBuf,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        live: FeedOpts,
    },
    /// The exchange simulator: publish a session (a file, a capture, or the embedded generated
    /// one) as MoldUDP64 over UDP on one or two lines, answer re-requests, inject faults.
    Serve {
        /// A file ticklane reads (binary, pcap, capture), or `generated[:SEED[:MESSAGES]]`.
        #[arg(default_value = "generated")]
        source: String,
        /// Line A destination (unicast or multicast ADDR:PORT).
        #[arg(long, default_value = "127.0.0.1:26400")]
        to: std::net::SocketAddr,
        /// Line B destination.
        #[arg(long)]
        line_b: Option<std::net::SocketAddr>,
        /// Where the re-request server listens (UDP).
        #[arg(long, default_value = "127.0.0.1:26402")]
        retransmit: std::net::SocketAddr,
        /// Pace: max, 1x, 10x, ...
        #[arg(long, default_value = "1x")]
        speed: String,
        /// Probability that a data packet is lost, per line.
        #[arg(long, default_value_t = 0.0)]
        loss: f64,
        /// Probability that a data packet is sent twice, per line.
        #[arg(long, default_value_t = 0.0)]
        dup: f64,
        /// Probability that a data packet is held back and sent after the next one (or just
        /// before a heartbeat or end of session that comes first), per line.
        #[arg(long, default_value_t = 0.0)]
        reorder: f64,
        /// Seed of the fault injection.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// MoldUDP64 session name.
        #[arg(long, default_value = "TICKLANE01")]
        session: String,
        /// Seconds to keep answering re-requests after the end of session.
        #[arg(long, default_value_t = 2.0)]
        linger: f64,
        /// Outgoing interface for multicast (IPv4 address).
        #[arg(long)]
        multicast_if: Option<std::net::Ipv4Addr>,
        /// Largest packet (UDP payload), bytes.
        #[arg(long, default_value_t = 1400)]
        max_packet: usize,
        /// Answer each re-request with one packet, as a MoldUDP64 server does (a request for
        /// more than a packet holds is answered in part; the receiver asks again for the
        /// rest); by default an answer has as many packets as the request needs.
        #[arg(long)]
        one_packet_answers: bool,
    },
    /// Relay a UDP MoldUDP64 feed (A/B arbitrated, gaps re-requested) to remote engines over
    /// QUIC, with TLS and a token or mutual TLS; catch-up of missed sequences on request.
    Relay {
        /// QUIC listen address.
        #[arg(long, default_value = "127.0.0.1:26500")]
        listen: std::net::SocketAddr,
        /// Relay certificate (PEM), e.g. from `ticklane cert`.
        #[arg(long, default_value = "certs/cert.pem")]
        cert: PathBuf,
        /// Relay private key (PEM).
        #[arg(long, default_value = "certs/key.pem")]
        key: PathBuf,
        /// Token clients must present (default: the TICKLANE_TOKEN environment variable).
        #[arg(long)]
        token: Option<String>,
        /// Require client certificates chaining to this CA (PEM): mutual TLS.
        #[arg(long)]
        client_ca: Option<PathBuf>,
        /// Session relayed.
        #[arg(long, default_value = "TICKLANE01")]
        session: String,
        /// Packets queued per subscriber before it is disconnected as slow (1 to 1048576).
        // Parsed as a u64 so that any out-of-range number says the range (a u32 said "number
        // too large to fit in target type" past 2^32).
        #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
        subscriber_queue: u64,
        /// Upstream line A (udp://ADDR:PORT[@IFACE]).
        #[arg(long = "from", default_value = "udp://127.0.0.1:26400")]
        from: String,
        /// Upstream line B.
        #[arg(long)]
        line_b: Option<String>,
        /// Upstream re-request servers.
        #[arg(long, value_delimiter = ',', default_value = "127.0.0.1:26402")]
        retransmit: Vec<std::net::SocketAddr>,
        /// Stop after this many seconds without a datagram.
        #[arg(long)]
        stop_after_silence: Option<f64>,
        /// Join the session mid-stream at the first packet seen (default: expect sequence
        /// number 1 and re-request what came before); subscribers are welcomed with "not known
        /// yet" until the first packet.
        #[arg(long)]
        join: bool,
        /// Largest MoldUDP64 packet the receiver holds for reordering, bytes (64 to 65,507;
        /// default 2,048, a standard Ethernet frame's): a feed sending larger packets (`serve
        /// --max-packet`, jumbo frames) needs this at least as large, or a packet that arrives
        /// ahead of its turn is left to recovery. Costs 1,024 times this in memory.
        #[arg(long)]
        max_packet: Option<usize>,
    },
    /// Write a self-signed development certificate and key (PEM) for the QUIC relay.
    Cert {
        /// DNS names and IP addresses the certificate is for.
        #[arg(long, value_delimiter = ',', default_value = "localhost,127.0.0.1")]
        names: Vec<String>,
        /// Output folder (cert.pem, key.pem; the key is written readable by its owner only).
        #[arg(long, default_value = "certs")]
        out: PathBuf,
        /// Replace a cert.pem or key.pem already in the folder (refused without it).
        #[arg(long)]
        force: bool,
    },
    /// Record a capture (replay/FORMAT.md) from a pcap/pcapng of MoldUDP64, a NASDAQ binary
    /// file, or a live feed (udp://, quic://); every command that reads files reads captures too.
    Record {
        /// Input: pcap, pcapng, or NASDAQ binary file (plain or .gz); or a live feed,
        /// `udp://ADDR:PORT[@IFACE]` or `quic://HOST:PORT` (then the feed options below apply).
        input: String,
        /// Output capture file.
        #[arg(short, long)]
        output: PathBuf,
        /// Compress blocks with zstd.
        #[arg(long)]
        zstd: bool,
        /// When the capture reaches the disk: `block` (every block, the default), `records:N`
        /// (also every N records), or `manual` (full blocks, and the last partial one only at
        /// the end, not after a quiet spell). What a `kill -9` can lose: the records since the
        /// last flush.
        #[arg(long, default_value = "block")]
        flush: String,
        /// Binary files only: take each message's length from its ITCH type byte instead of the
        /// 2-byte prefix (for files whose prefixes are zero or damaged).
        #[arg(long)]
        lengths_from_type: bool,

        /// Session name stored in the header (default: the input's file name); for a live
        /// feed, the only session accepted.
        #[arg(long)]
        session: Option<String>,
        /// Live feed: line B.
        #[arg(long)]
        line_b: Option<String>,
        /// Live feed: MoldUDP64 re-request servers.
        #[arg(long, value_delimiter = ',')]
        retransmit: Vec<std::net::SocketAddr>,
        /// Live feed: stop after this many seconds without a datagram.
        #[arg(long)]
        stop_after_silence: Option<f64>,
        /// Live feed: re-request timeout, ms (default 50).
        #[arg(long)]
        request_timeout_ms: Option<u64>,
        /// Live feed: re-request retries before a gap is declared lost (default 3).
        #[arg(long)]
        retries: Option<u32>,
        /// Live feed (quic://): the relay's certificate to trust.
        #[arg(long)]
        ca: Option<PathBuf>,
        /// Live feed (quic://): token (default: TICKLANE_TOKEN).
        #[arg(long)]
        token: Option<String>,
        /// Live feed (quic://): client certificate (PEM) for mutual TLS.
        #[arg(long, requires = "client_key")]
        client_cert: Option<PathBuf>,
        /// Live feed (quic://): client private key (PEM).
        #[arg(long, requires = "client_cert")]
        client_key: Option<PathBuf>,
        /// Live feed (quic://): live packets on a reliable stream instead of datagrams.
        #[arg(long)]
        quic_stream: bool,
        /// Live feed: join the session mid-stream at the first packet seen (default: expect
        /// sequence number 1 and re-request what came before).
        #[arg(long)]
        join: bool,
        /// Live feed: largest MoldUDP64 packet the receiver holds for reordering, bytes (64 to 65,507;
        /// default 2,048, a standard Ethernet frame's): a feed sending larger packets (`serve
        /// --max-packet`, jumbo frames) needs this at least as large, or a packet that arrives
        /// ahead of its turn is left to recovery. Costs 1,024 times this in memory.
        #[arg(long)]
        max_packet: Option<usize>,
    },
    /// Replay a capture, pcap or binary file through the engine (same as `run --file`): as fast
    /// as the pipeline allows by default, or paced by the recorded receive times (`--speed 1x`).
    /// Without a SOURCE, the configuration's own source (the embedded default: the generated
    /// session).
    Replay {
        /// Capture, pcap/pcapng or NASDAQ binary file (default: the configuration's source).
        source: Option<PathBuf>,
        /// Run configuration (strategies, engine); default: the embedded config/run.toml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Pace: max, 1x, 10x, ... or rate:N.
        #[arg(long, default_value = "max")]
        speed: String,
        /// Number of lanes.
        #[arg(long)]
        lanes: Option<u16>,
        /// Start of the replayed window (HH:MM:SS[.fff] or ns since midnight): earlier events
        /// warm up the books at full speed and are not shown to strategies.
        #[arg(long)]
        from: Option<String>,
        /// End of the replayed window (inclusive): the source stops after it.
        #[arg(long)]
        to: Option<String>,
        /// Only this trading day of a source of several (1: the first), replayed as if the
        /// source held it alone: the days before it are read, not replayed, and the next day's
        /// start ends the replay. `--from`/`--to` are then times of this day, and the reports'
        /// `day` columns number it as the source does.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        day: Option<u64>,
        /// Only these instruments (comma-separated symbols), plus market-wide events.
        #[arg(long, value_delimiter = ',')]
        symbols: Vec<String>,
        /// Run only this strategy of the configuration (repeat for more).
        #[arg(long = "strategy")]
        strategy: Vec<String>,
        /// Do not stamp hops (no latency histograms; the decisions and digest are the same).
        #[arg(long)]
        no_latency: bool,
        /// Binary files only: take each message's length from its ITCH type byte instead of the
        /// 2-byte prefix (for files whose prefixes are zero or damaged).
        #[arg(long)]
        lengths_from_type: bool,
        /// Write the run's reports here.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the strategy kinds this binary can run.
    Strategies,
    /// Measure how often the machine takes a core away from a busy thread (one pinned,
    /// spinning thread per core; counts the gaps between two clock reads).
    Jitter {
        /// How long, seconds.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Cores to spin on (default: 0 and 1).
        #[arg(long, value_delimiter = ',', default_values_t = [0usize, 1])]
        cores: Vec<usize>,
    },
    /// Print every change of the best bid or offer of one instrument.
    Bbo {
        /// ITCH binary file (plain or .gz), pcap or pcapng of MoldUDP64, ticklane capture, or
        /// LOBSTER message file.
        file: PathBuf,
        /// Instrument symbol, e.g. AAPL.
        #[arg(long)]
        symbol: String,
        /// CSV output (`timestamp_ns,bid_px,bid_qty,ask_px,ask_qty`); the default is CSV too,
        /// the flag is accepted for clarity.
        #[arg(long)]
        csv: bool,
        /// Trading day of a file that holds several (1: the first; each ITCH start of
        /// messages after other events begins the next): only that day's lines, as its own file
        /// would give them. Default: every day (each new day's start prints the emptied top).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        day: Option<u64>,
        #[command(flatten)]
        read: ReadOpts,
    },
}

/// A live feed for `paper`: UDP lines or a QUIC relay.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FeedOpts {
    /// Live feed instead of the configured source: `udp://ADDR:PORT` (unicast: the address
    /// to bind; multicast: the group, `udp://GROUP:PORT@IFACE` to join on an interface) or
    /// `quic://HOST:PORT` (a `ticklane relay`).
    #[arg(long)]
    feed: Option<String>,
    /// Line B (UDP), same session as --feed.
    #[arg(long, requires = "feed")]
    line_b: Option<String>,
    /// MoldUDP64 re-request servers (UDP ADDR:PORT, comma-separated).
    #[arg(long, requires = "feed", value_delimiter = ',')]
    retransmit: Vec<std::net::SocketAddr>,
    /// Record every datagram received (and the session's decisions) to this capture.
    #[arg(long, requires = "feed")]
    record: Option<PathBuf>,
    /// When the recording is flushed: block (every 1 MiB), records:N, or manual.
    #[arg(long, requires = "feed")]
    record_flush: Option<String>,
    /// The recorder's ring, MiB (1 to 4096; default 64): how much the recorder can fall behind
    /// (a disk stall) before records are dropped and counted.
    #[arg(long, requires = "feed")]
    record_ring_mb: Option<u32>,
    /// Accept only this MoldUDP64 session (default: the first packet's).
    #[arg(long, requires = "feed")]
    session: Option<String>,
    /// Join mid-session (default: expect sequence number 1 and recover what came before).
    #[arg(long, requires = "feed")]
    join: bool,
    /// Spin on the sockets (lowest latency; one core busy).
    #[arg(long, requires = "feed")]
    busy_poll: bool,
    /// Socket receive buffer, bytes.
    #[arg(long, requires = "feed", default_value_t = run_config::DEFAULT_RECV_BUFFER)]
    recv_buffer: usize,
    /// How long a gap waits for the other line before it is re-requested, µs (0: the default);
    /// also how long a partial re-request answer must be quiet before the rest is asked for.
    #[arg(long, requires = "feed", default_value_t = 2_000)]
    grace_us: u64,
    /// Re-request timeout, ms (0: the default).
    #[arg(long, requires = "feed", default_value_t = 50)]
    request_timeout_ms: u64,
    /// Re-request retries before a gap is declared lost.
    #[arg(long, requires = "feed", default_value_t = 3)]
    retries: u32,
    /// Most re-requests one gap has outstanding at once, 1 to 1024 (default 16): a larger gap
    /// is asked for a piece at a time.
    #[arg(long, requires = "feed")]
    requests_per_gap: Option<u16>,
    /// Never re-request: gaps the other line does not fill are reported lost.
    #[arg(long, requires = "feed")]
    no_recovery: bool,
    /// Largest MoldUDP64 packet the receiver holds for reordering, bytes (64 to 65,507;
    /// default 2,048, a standard Ethernet frame's): a feed sending larger packets (`serve
    /// --max-packet`, jumbo frames) needs this at least as large, or a packet that arrives
    /// ahead of its turn is left to recovery. Costs 1,024 times this in memory.
    #[arg(long, requires = "feed")]
    max_packet: Option<usize>,
    /// Stop after this many seconds without a datagram (a feed that stopped).
    #[arg(long, requires = "feed")]
    stop_after_silence: Option<f64>,
    /// quic://: the relay's certificate (PEM) to trust.
    #[arg(long, requires = "feed")]
    ca: Option<PathBuf>,
    /// quic://: token (default: the TICKLANE_TOKEN environment variable).
    #[arg(long, requires = "feed")]
    token: Option<String>,
    /// quic://: client certificate (PEM) for mutual TLS.
    #[arg(long, requires_all = ["feed", "client_key"])]
    client_cert: Option<PathBuf>,
    /// quic://: client private key (PEM).
    #[arg(long, requires_all = ["feed", "client_cert"])]
    client_key: Option<PathBuf>,
    /// quic://: live packets on a reliable stream instead of datagrams.
    #[arg(long, requires = "feed")]
    quic_stream: bool,
}

impl FeedOpts {
    fn args(&self) -> Option<cmd::live::FeedArgs> {
        let feed = self.feed.clone()?;
        Some(cmd::live::FeedArgs {
            feed,
            line_b: self.line_b.clone(),
            retransmit: self.retransmit.clone(),
            record: self.record.clone(),
            record_flush: self.record_flush.clone(),
            record_ring_mb: self.record_ring_mb,
            session: self.session.clone(),
            join: self.join,
            busy_poll: self.busy_poll,
            recv_buffer: self.recv_buffer,
            grace_us: self.grace_us,
            request_timeout_ms: self.request_timeout_ms,
            retries: self.retries,
            requests_per_gap: self.requests_per_gap,
            no_recovery: self.no_recovery,
            max_packet: self.max_packet,
            stop_after_silence_secs: self.stop_after_silence,
            ca: self.ca.clone(),
            token: self.token.clone(),
            client_cert: self.client_cert.clone().zip(self.client_key.clone()),
            server_name: None,
            quic_stream: self.quic_stream,
        })
    }
}

/// How to read a source.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadOpts {
    /// LOBSTER message files only: the matching order-book file. The book is seeded from its
    /// first row and replayed as `lobster-check` does (levels deeper than the file's are
    /// dropped, levels scrolling into view are re-synced from it), so that the book and BBO
    /// are those of the file. Without it, orders from before the file are unknown.
    #[arg(long)]
    orderbook: Option<PathBuf>,
    /// Binary files only: take each message's length from its ITCH type byte instead of the
    /// 2-byte prefix (for files whose prefixes are zero or damaged).
    #[arg(long)]
    lengths_from_type: bool,
    /// Binary ITCH files: decode each message straight into its event (no owned message:
    /// [`cmd::feed::Record::itch`] is `None`), for readers that use only the events.
    #[arg(skip)]
    events_only: bool,
}

/// The `--from`/`--to`/`--day`/`--symbols` of `replay`, checked.
fn replay_window(
    from: Option<&str>,
    to: Option<&str>,
    day: Option<u64>,
    symbols: &[String],
) -> anyhow::Result<ticklane_runtime::Window> {
    let time = |flag: &str, s: Option<&str>, default: u64| -> anyhow::Result<u64> {
        match s {
            None => Ok(default),
            Some(t) => ticklane_core::Timestamp::parse_time_of_day(t)
                .map(|t| t.0)
                .ok_or_else(|| anyhow::anyhow!("{flag}: `{t}` is not HH:MM:SS[.fff] or ns")),
        }
    };
    let from = time("--from", from, 0)?;
    let to = time("--to", to, u64::MAX)?;
    if from > to {
        anyhow::bail!("--from is after --to");
    }
    let symbols = if symbols.is_empty() {
        None
    } else {
        let mut list = Vec::with_capacity(symbols.len());
        for s in symbols {
            // Checked as `[[strategy]] symbols` are: a symbol no feed sends matches nothing.
            let sym =
                run_config::feed_symbol(s).map_err(|why| anyhow::anyhow!("--symbols: {why}"))?;
            // A symbol named twice is one instrument.
            if !list.contains(&sym) {
                list.push(sym);
            }
        }
        Some(list)
    };
    Ok(ticklane_runtime::Window {
        from,
        to,
        symbols,
        day,
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A filter that does not parse is a usage error, not `warn` without a word.
    let filter = match tracing_subscriber::EnvFilter::try_new(&cli.log) {
        Ok(f) => f,
        Err(e) => {
            errln!("error: --log (or TICKLANE_LOG) `{}`: {e}", cli.log);
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only on a terminal: a log file or a pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let result = match cli.command {
        Command::Run {
            config,
            file,
            lanes,
            pace,
            messages,
            no_latency,
            lengths_from_type,
            hgrm,
            out,
            json,
        } => cmd::run::run(
            config.as_deref(),
            cmd::run::RunOverrides {
                file,
                lanes,
                pace,
                messages,
                no_latency,
                hgrm_dir: hgrm,
                out_dir: out,
                json,
                status_line: false,
                default_config: None,
                window: ticklane_runtime::Window::default(),
                live: None,
                strategies: Vec::new(),
                lengths_from_type,
                ..cmd::run::RunOverrides::default()
            },
        ),
        Command::Paper {
            config,
            file,
            pace,
            out,
            json,
            live,
        } => live
            .args()
            .map(|a| match (&file, &pace) {
                // Not `conflicts_with`: clap then stops enforcing the live-only flags'
                // `requires = "feed"` (`--file F --record R` would ignore --record).
                (Some(_), _) => anyhow::bail!("--file and --feed are two sources: give one"),
                (_, Some(_)) => anyhow::bail!(
                    "--pace does not apply to --feed: a live feed is paced by the wire"
                ),
                _ => cmd::live::live_config(&a),
            })
            .transpose()
            .and_then(|live| {
                cmd::run::run(
                    config.as_deref(),
                    cmd::run::RunOverrides {
                        file,
                        // A live feed is paced by the wire (--pace with --feed is refused above).
                        pace: if live.is_some() {
                            Some("max".to_string())
                        } else {
                            pace
                        },
                        out_dir: Some(out),
                        status_line: !json,
                        json,
                        default_config: Some((run_config::PAPER_DEFAULT, "config/paper.toml")),
                        live,
                        ..cmd::run::RunOverrides::default()
                    },
                )
            }),
        Command::Serve {
            source,
            to,
            line_b,
            retransmit,
            speed,
            loss,
            dup,
            reorder,
            seed,
            session,
            linger,
            multicast_if,
            max_packet,
            one_packet_answers,
        } => cmd::live::serve(cmd::live::ServeArgs {
            source,
            to,
            line_b,
            retransmit: Some(retransmit),
            speed,
            faults: ticklane_live::simulator::Faults {
                loss,
                dup,
                reorder,
                seed,
            },
            session,
            linger_secs: linger,
            multicast_if,
            max_packet,
            one_packet_answers,
        }),
        Command::Relay {
            listen,
            cert,
            key,
            token,
            client_ca,
            session,
            subscriber_queue,
            from,
            line_b,
            retransmit,
            stop_after_silence,
            join,
            max_packet,
        } => cmd::relay::relay(cmd::relay::RelayArgs {
            feed: cmd::live::FeedArgs {
                feed: from,
                line_b,
                retransmit,
                recv_buffer: 8 << 20,
                retries: 3,
                stop_after_silence_secs: stop_after_silence,
                join,
                max_packet,
                ..cmd::live::FeedArgs::default()
            },
            listen,
            cert,
            key,
            token,
            client_ca,
            session,
            // At most 2^20 (clap checked it): fits.
            subscriber_queue: usize::try_from(subscriber_queue).unwrap_or(usize::MAX),
        }),
        Command::Cert { names, out, force } => cmd::relay::cert(&names, &out, force),
        Command::Jitter { seconds, cores } => cmd::jitter::run(seconds, &cores),
        Command::Record {
            input,
            output,
            zstd,
            flush,
            lengths_from_type,
            session,
            line_b,
            retransmit,
            stop_after_silence,
            request_timeout_ms,
            retries,
            ca,
            token,
            client_cert,
            client_key,
            quic_stream,
            join,
            max_packet,
        } => {
            if input.starts_with("udp://") || input.starts_with("quic://") {
                if zstd {
                    Err(anyhow::anyhow!(
                        "--zstd applies to file inputs: a live recording writes uncompressed blocks"
                    ))
                } else if lengths_from_type {
                    Err(anyhow::anyhow!(
                        "--lengths-from-type applies to binary files: a live feed's MoldUDP64 packets give every message's length"
                    ))
                } else {
                    cmd::record::run_live(
                        &cmd::live::FeedArgs {
                            feed: input,
                            line_b,
                            retransmit,
                            session,
                            recv_buffer: 8 << 20,
                            retries: retries.unwrap_or(3),
                            request_timeout_ms: request_timeout_ms.unwrap_or(50),
                            stop_after_silence_secs: stop_after_silence,
                            ca,
                            token,
                            client_cert: client_cert.zip(client_key),
                            quic_stream,
                            join,
                            max_packet,
                            ..cmd::live::FeedArgs::default()
                        },
                        &output,
                        &flush,
                    )
                }
            } else {
                let live_only = [
                    ("--line-b", line_b.is_some()),
                    ("--retransmit", !retransmit.is_empty()),
                    ("--stop-after-silence", stop_after_silence.is_some()),
                    ("--request-timeout-ms", request_timeout_ms.is_some()),
                    ("--retries", retries.is_some()),
                    ("--ca", ca.is_some()),
                    ("--token", token.is_some()),
                    ("--client-cert", client_cert.is_some()),
                    ("--quic-stream", quic_stream),
                    ("--join", join),
                    ("--max-packet", max_packet.is_some()),
                ];
                match live_only.iter().find(|(_, given)| *given) {
                    Some((flag, _)) => Err(anyhow::anyhow!(
                        "{flag} applies to live inputs (udp://, quic://), not to a file"
                    )),
                    None => cmd::record::run(
                        std::path::Path::new(&input),
                        &output,
                        zstd,
                        &flush,
                        session,
                        if lengths_from_type {
                            ticklane_feeds::binfile::LengthMode::FromType
                        } else {
                            ticklane_feeds::binfile::LengthMode::Prefix
                        },
                    ),
                }
            }
        }
        Command::Replay {
            source,
            config,
            speed,
            lanes,
            from,
            to,
            day,
            symbols,
            strategy,
            no_latency,
            lengths_from_type,
            out,
            json,
        } => replay_window(from.as_deref(), to.as_deref(), day, &symbols).and_then(|window| {
            cmd::run::run(
                config.as_deref(),
                cmd::run::RunOverrides {
                    file: source,
                    pace: Some(speed),
                    pace_flag: "--speed",
                    no_live: true,
                    lengths_from_type,
                    lanes,
                    out_dir: out,
                    json,
                    window,
                    strategies: strategy,
                    no_latency,
                    ..cmd::run::RunOverrides::default()
                },
            )
        }),
        Command::Strategies => strategies::REGISTRY
            .iter()
            .try_for_each(|d| outln!("{:<16} {}", d.name, d.summary))
            .map(|()| ExitCode::SUCCESS)
            .map_err(Into::into),
        Command::Gen {
            seed,
            messages,
            instruments,
            format,
            output,
        } => cmd::gen::run(seed, messages, instruments, format, &output),
        Command::Inspect { file, json, read } => cmd::inspect::run(&file, json, read),
        Command::Export {
            capture,
            output,
            format,
        } => cmd::export::run(
            &capture,
            &output,
            match format {
                ExportFormat::Pcap => ticklane_replay::convert::PcapFormat::Pcap,
                ExportFormat::Pcapng => ticklane_replay::convert::PcapFormat::Pcapng,
            },
        ),
        Command::Book {
            file,
            symbol,
            depth,
            at,
            day,
            json,
            read,
        } => cmd::book::run(&file, &symbol, depth, at.as_deref(), day, json, read),
        Command::LobsterCheck {
            messages,
            orderbook,
            levels,
            max_diffs,
        } => cmd::lobster_check::run(&messages, &orderbook, levels, max_diffs),
        Command::Demo {
            config,
            seed,
            messages,
        } => cmd::demo::run(config.as_deref(), seed, messages),
        Command::Bench {
            messages,
            instruments,
            passes,
            seed,
            file,
            json,
        } => cmd::bench::run(seed, messages, instruments, passes, file.as_deref(), json),
        Command::Bbo {
            file,
            symbol,
            day,
            read,
            ..
        } => cmd::bbo::run(&file, &symbol, day, read),
    };
    match result {
        Ok(code) => code,
        // A closed pipe (`ticklane bbo ... | head`) is a normal way for a reader to stop.
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            errln!("error: {}", error_chain(&e));
            ExitCode::from(2)
        }
    }
}

/// An error and its causes, `: `-separated, as `{:#}` prints them, but a cause whose text the
/// message already holds is left out (an error type that prints its source, such as
/// `CaptureError::Io`, said the OS error twice: "... File too large (os error 27): File too
/// large (os error 27)").
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if out.contains(&c) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&c);
    }
    out
}

/// A count that must be at least 1 (`--depth`): 0 would print a book of no levels.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
