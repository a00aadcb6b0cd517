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
        if cfg.book.order_capacity == 0 || cfg.book.order_capacity > 1 << 30 {
            bail!("{origin}: book.order_capacity: must be between 1 and 2^30");
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
