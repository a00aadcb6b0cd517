//! Configuration files (TOML under `config/`), validated on load with errors that name the key.

use std::path::Path;

use anyhow::{bail, Context};
use serde::Deserialize;

/// The embedded default of `ticklane demo`: `config/demo.toml`.
pub const DEMO_DEFAULT: &str = include_str!("../config/demo.toml");

/// `config/demo.toml`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DemoConfig {
    /// The synthetic session.
    pub session: SessionConfig,
    /// Book sizing.
    #[serde(default)]
    pub book: BookConfig,
}

/// `[session]`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SessionConfig {
    /// Seed of the generator.
    pub seed: u64,
    /// Exact message count.
    pub messages: u64,
    /// Instrument count.
    pub instruments: u16,
}

/// `[book]`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BookConfig {
    /// Live orders the index holds before it first grows.
    pub order_capacity: usize,
}

impl Default for BookConfig {
    fn default() -> Self {
        Self {
            order_capacity: 1 << 16,
        }
    }
}

impl DemoConfig {
    /// Parses and validates `text`; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &str) -> anyhow::Result<Self> {
        let cfg: DemoConfig =
            toml::from_str(text).with_context(|| format!("{origin}: invalid configuration"))?;
        if cfg.session.instruments == 0 {
            bail!("{origin}: session.instruments: must be at least 1");
        }
        if cfg.session.messages == 0 {
            bail!("{origin}: session.messages: must be at least 1");
        }
        // At least the day's fixed structure, at most 2^30 (it is generated in memory): checked
        // here, where the error can name the key (too few failed only once the demo ran, naming
        // neither; too many aborted the process on a failed allocation).
        let s = &cfg.session;
        crate::run_config::check_generated_messages(s.messages, s.instruments)
            .map_err(|why| anyhow::anyhow!("{origin}: session.messages: {why}"))?;
        let max = crate::run_config::MAX_ORDER_CAPACITY;
        if cfg.book.order_capacity == 0 || cfg.book.order_capacity > max {
            bail!(
                "{origin}: book.order_capacity: must be between 1 and 2^24 = {max} (a pre-size: \
                 the index grows past it when more orders are live)"
            );
        }
        Ok(cfg)
    }

    /// Loads `path`, or the embedded default when `None`.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        match path {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading {}", p.display()))?;
                Self::parse(&text, &p.display().to_string())
            }
            None => Self::parse(DEMO_DEFAULT, "config/demo.toml (embedded)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_default_is_valid() {
        let c = DemoConfig::load(None).unwrap();
        assert_eq!(c.session.seed, 1);
        assert_eq!(c.session.messages, 2_000_000);
        assert_eq!(c.session.instruments, 64);
        assert_eq!(c.book.order_capacity, 65_536);
    }

    /// A session too small for the day's structure, or larger than 2^30 messages, is refused
    /// on load naming the file and the key (too few failed later naming neither; 10^18 aborted
    /// the process on a failed allocation); so is an order capacity past 2^24 (2^30 was
    /// accepted: about 64 GB).
    #[test]
    fn session_size_and_order_capacity_are_bounded_on_load() {
        let doc = |messages: &str, capacity: &str| {
            format!(
                "[session]\nseed = 1\nmessages = {messages}\ninstruments = 2\n\
                 [book]\norder_capacity = {capacity}\n"
            )
        };
        for (messages, capacity, key) in [
            (
                "10",
                "1",
                "session.messages: messages = 10 is below the minimum",
            ),
            (
                "1_000_000_000_000_000_000",
                "1",
                "session.messages: 1000000000000000000 is more",
            ),
            ("1_073_741_825", "1", "session.messages"),
            ("1_000", "16_777_217", "book.order_capacity"),
            ("1_000", "1_073_741_824", "book.order_capacity"),
            ("1_000", "0", "book.order_capacity"),
        ] {
            let e = DemoConfig::parse(&doc(messages, capacity), "demo.toml").unwrap_err();
            let msg = format!("{e:#}");
            assert!(msg.starts_with("demo.toml: "), "{msg}");
            assert!(msg.contains(key), "{key}: {msg}");
        }
        let ok = DemoConfig::parse(&doc("1_073_741_824", "16_777_216"), "t").unwrap();
        assert_eq!(ok.session.messages, 1 << 30);
        assert_eq!(ok.book.order_capacity, 1 << 24);
    }

    /// A session too large for memory is an error from the generator, not an abort of the
    /// process (`Vec::with_capacity` aborted on the failed allocation).
    #[test]
    fn a_generated_session_too_large_for_memory_is_an_error() {
        use ticklane_feeds::synth::{generate_framed, SynthConfig, SynthError};
        for messages in [
            1_000_000_000_000_000,
            1_000_000_000_000_000_000,
            u64::MAX / 2,
        ] {
            let e = generate_framed(SynthConfig {
                seed: 1,
                messages,
                instruments: 2,
            })
            .unwrap_err();
            assert!(matches!(e, SynthError::OutOfMemory { .. }), "{e}");
            assert!(e.to_string().contains("cannot reserve"), "{e}");
        }
    }

    #[test]
    fn errors_name_the_key() {
        let e = DemoConfig::parse("[session]\nseed = 1\nmessages = 10\ninstruments = 0\n", "t")
            .unwrap_err();
        assert!(format!("{e:#}").contains("session.instruments"), "{e:#}");
        let e = DemoConfig::parse(
            "[session]\nseed = 1\nmessages = 10\ninstruments = 2\ncolour = 3\n",
            "t",
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("colour"), "{e:#}");
        let e = DemoConfig::parse(
            "[session]\nseed = \"x\"\nmessages = 10\ninstruments = 2\n",
            "t",
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("seed"), "{e:#}");
    }
}
