// The input of the `run_config_doc` fuzz target, shared with the corpus test at the end of
// `src/run_config.rs` (both `include!` this file after `run_config_check.rs`).
//
// The byte-level `run_config` target spends its time in the TOML grammar (lexer states, error
// paths of the `toml` crates), whose coverage keeps growing for hours. This target takes the
// grammar out: the fuzzer's bytes choose a *document* — which sections and keys of the run
// configuration's schema are present (plus a few that are not), and a value of some TOML type
// for each, mostly the type the key expects, drawn from boundary values — and `toml` writes it
// out as valid TOML. What is left to explore is the loader's own validation and placement, a
// finite space the fuzzer can exhaust.

/// The value a key expects, for choosing mostly well-typed values.
#[derive(Clone, Copy)]
enum DocKind {
    Int,
    Float,
    Bool,
    /// A string from this list of meaningful words (or, sometimes, any short string).
    Word(&'static [&'static str]),
    Ints,
    Words(&'static [&'static str]),
    Table,
}

const PACES: &[&str] = &["max", "1x", "10x", "0x", "rate:500000", "rate:0", "rate:x", "2.5x", ""];
const IDLE: &[&str] = &["spin", "spin-yield", "park", "busy"];
const PANIC: &[&str] = &["restart", "halt-lane", "abort"];
const VENUE: &[&str] = &["paper", "touch", "nyse"];
const LATENCY: &[&str] = &["constant", "lognormal", "gamma"];
const QUEUE: &[&str] = &["exact", "trade-through", "fifo"];
const KINDS: &[&str] = &["imbalance", "microprice_mm", "unknown"];
const SYMBOLS: &[&str] = &["AAPL", "MSFT", "*", "", "NVDA"];
const ADDRS: &[&str] = &[
    "udp://127.0.0.1:26400",
    "udp://239.1.1.1:26400",
    "quic://127.0.0.1:26500",
    "tcp://x:1",
    "udp://",
    "127.0.0.1:26402",
    "udp://[::1]:1",
];
const FLUSH: &[&str] = &["block", "never", "every:10", "ms:5", "each"];
const PATHS: &[&str] = &["run.toml", "", "/nonexistent/x.itch", "data.pcap"];
const NAMES: &[&str] = &["imb-aapl", "mm", "", "imb-aapl"];

/// `(section, [(key, kind)])`; `strategy` is an array of tables.
const SCHEMA: &[(&str, &[(&str, DocKind)])] = &[
    (
        "source",
        &[
            ("file", DocKind::Word(PATHS)),
            ("pace", DocKind::Word(PACES)),
        ],
    ),
    (
        "source.generate",
        &[
            ("seed", DocKind::Int),
            ("messages", DocKind::Int),
            ("instruments", DocKind::Int),
        ],
    ),
    (
        "source.live",
        &[
            ("feed", DocKind::Word(ADDRS)),
            ("line_b", DocKind::Word(ADDRS)),
            ("retransmit", DocKind::Words(ADDRS)),
            ("record", DocKind::Word(PATHS)),
            ("record_flush", DocKind::Word(FLUSH)),
            ("session", DocKind::Word(&["TICKLANE01", "", "TOOLONGSESSION"])),
            ("join", DocKind::Bool),
            ("busy_poll", DocKind::Bool),
            ("recv_buffer", DocKind::Int),
            ("grace_us", DocKind::Int),
            ("request_timeout_ms", DocKind::Int),
            ("retries", DocKind::Int),
            ("requests_per_gap", DocKind::Int),
            ("recovery", DocKind::Bool),
            ("max_packet", DocKind::Int),
            ("stop_after_silence_s", DocKind::Float),
            ("ca", DocKind::Word(PATHS)),
            ("token_env", DocKind::Word(&["TICKLANE_TOKEN", ""])),
            ("client_cert", DocKind::Word(PATHS)),
            ("client_key", DocKind::Word(PATHS)),
            ("quic_stream", DocKind::Bool),
        ],
    ),
    (
        "engine",
        &[
            ("lanes", DocKind::Int),
            ("lane_cores", DocKind::Ints),
            ("feed_core", DocKind::Int),
            ("ring_capacity", DocKind::Int),
            ("idle", DocKind::Word(IDLE)),
            ("batch", DocKind::Int),
            ("heartbeat_us", DocKind::Int),
            ("latency", DocKind::Bool),
            ("panic_policy", DocKind::Word(PANIC)),
            ("max_restarts", DocKind::Int),
            ("order_capacity", DocKind::Int),
        ],
    ),
    (
        "venue",
        &[
            ("kind", DocKind::Word(VENUE)),
            ("latency", DocKind::Word(LATENCY)),
            ("entry_latency_us", DocKind::Int),
            ("response_latency_us", DocKind::Int),
            ("latency_sigma", DocKind::Float),
            ("latency_seed", DocKind::Int),
            ("maker_fee_per_share", DocKind::Int),
            ("taker_fee_per_share", DocKind::Int),
            ("queue", DocKind::Word(QUEUE)),
        ],
    ),
    (
        "risk",
        &[
            ("max_order_qty", DocKind::Int),
            ("max_order_notional", DocKind::Float),
            ("max_position", DocKind::Int),
            ("max_gross_exposure", DocKind::Int),
            ("price_band_bps", DocKind::Int),
            ("max_orders_per_sec", DocKind::Int),
            ("daily_loss_limit", DocKind::Float),
        ],
    ),
    (
        "strategy",
        &[
            ("name", DocKind::Word(NAMES)),
            ("kind", DocKind::Word(KINDS)),
            ("symbols", DocKind::Words(SYMBOLS)),
            ("lane", DocKind::Int),
            ("params", DocKind::Table),
        ],
    ),
];

const INTS: &[i64] = &[
    0,
    1,
    2,
    3,
    7,
    63,
    64,
    65,
    100,
    1_000,
    65_535,
    65_536,
    1 << 20,
    u32::MAX as i64,
    1 << 32,
    18_446_744_073_709,
    i64::MAX,
    -1,
    i64::MIN,
];
const FLOATS: &[f64] = &[
    0.0,
    -0.0,
    0.3,
    1.0,
    -1.0,
    2.5,
    1e-9,
    1e15,
    1e308,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
];

/// Reads choices from the fuzzer's bytes; zeros once they run out.
struct DocBytes<'a>(&'a [u8]);

impl DocBytes<'_> {
    fn byte(&mut self) -> u8 {
        let (&b, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        b
    }
    fn pick(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }
    fn int(&mut self) -> i64 {
        match self.pick(4) {
            0 => i64::from_le_bytes(std::array::from_fn(|_| self.byte())),
            1 => i64::from(self.byte()),
            _ => INTS[self.pick(INTS.len())],
        }
    }
    fn word(&mut self, words: &[&str]) -> String {
        if self.pick(8) == 0 {
            let n = self.pick(6);
            (0..n).map(|_| char::from(b' ' + self.byte() % 95)).collect()
        } else {
            words[self.pick(words.len())].to_owned()
        }
    }
    fn value(&mut self, kind: DocKind) -> toml::Value {
        use toml::Value as V;
        // One value in five is of a type drawn at random, to reach the type errors.
        let kind = if self.pick(5) == 0 {
            [
                DocKind::Int,
                DocKind::Float,
                DocKind::Bool,
                DocKind::Word(PACES),
                DocKind::Ints,
                DocKind::Table,
            ][self.pick(6)]
        } else {
            kind
        };
        match kind {
            DocKind::Int => V::Integer(self.int()),
            DocKind::Float => V::Float(FLOATS[self.pick(FLOATS.len())]),
            DocKind::Bool => V::Boolean(self.byte() & 1 == 1),
            DocKind::Word(words) => V::String(self.word(words)),
            DocKind::Ints => V::Array((0..self.pick(4)).map(|_| V::Integer(self.int())).collect()),
            DocKind::Words(words) => {
                V::Array((0..self.pick(4)).map(|_| V::String(self.word(words))).collect())
            }
            DocKind::Table => {
                let mut t = toml::Table::new();
                for _ in 0..self.pick(4) {
                    let key = self.word(&["levels", "threshold", "alpha", "order_qty", "spread"]);
                    let v = self.value(DocKind::Int);
                    t.insert(key, v);
                }
                V::Table(t)
            }
        }
    }
    /// A table holding some keys of `keys` (and, sometimes, one that is not in the schema).
    fn table(&mut self, keys: &[(&str, DocKind)]) -> toml::Table {
        let mut t = toml::Table::new();
        for &(key, kind) in keys {
            if self.pick(3) != 0 {
                let v = self.value(kind);
                t.insert(key.to_owned(), v);
            }
        }
        if self.pick(16) == 0 {
            let v = self.value(DocKind::Int);
            t.insert(self.word(&["bogus", "lane", "seed"]), v);
        }
        t
    }
}

/// The TOML run configuration that `data` chooses (see the top of this file).
pub fn run_config_document(data: &[u8]) -> String {
    let mut b = DocBytes(data);
    let mut doc = toml::Table::new();
    for &(section, keys) in SCHEMA {
        if section == "strategy" {
            let n = b.pick(4);
            let list: Vec<toml::Value> = (0..n)
                .map(|_| toml::Value::Table(b.table(keys)))
                .collect();
            if n > 0 {
                doc.insert("strategy".to_owned(), toml::Value::Array(list));
            }
            continue;
        }
        // `source` is required: leave it out only rarely.
        let present = if section == "source" { b.pick(16) != 0 } else { b.pick(2) == 0 };
        if !present {
            continue;
        }
        let table = b.table(keys);
        match section.split_once('.') {
            None => {
                doc.insert(section.to_owned(), toml::Value::Table(table));
            }
            Some((parent, child)) => {
                let parent = doc
                    .entry(parent.to_owned())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                if let toml::Value::Table(p) = parent {
                    p.insert(child.to_owned(), toml::Value::Table(table));
                }
            }
        }
    }
    // A table of strings, numbers, booleans, arrays and tables always serializes.
    toml::to_string(&doc).expect("a chosen document serializes to TOML")
}
