//! Reading a source to the end: decode, normalize, hand each message to the command, and keep
//! an account of every error (position and cause) so that nothing is skipped silently.

use std::ops::ControlFlow;
use std::path::Path;

use anyhow::Context;
use ticklane_core::MarketEvent;
use ticklane_feeds::binfile::{FramingError, LengthMode};
use ticklane_feeds::itch::{decode, normalize, Message};
use ticklane_feeds::source::{ItchSource, SourceError, SourceFormat, SourceOptions, SourceStats};

use crate::ReadOpts;

/// How many errors are kept with their detail; the rest are only counted.
const KEPT_ERRORS: usize = 20;

/// One error met while reading.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReadError {
    /// Byte offset (binary files) or packet index (captures), where known.
    pub position: Option<u64>,
    /// `framing`, `capture`, `decode` or `normalize`.
    pub stage: &'static str,
    /// What went wrong.
    pub error: String,
}

/// What a full read saw.
#[derive(Debug, Default)]
pub struct ReadReport {
    /// Messages decoded.
    pub messages: u64,
    /// Errors of any stage.
    pub errors: u64,
    /// The first errors, in order.
    pub first_errors: Vec<ReadError>,
    /// Counters of the source (packets, duplicates, gaps, ...).
    pub source: SourceStats,
    /// Detected format.
    pub format: Option<SourceFormat>,
}

impl ReadReport {
    fn record(&mut self, position: Option<u64>, stage: &'static str, error: String) {
        self.errors += 1;
        if self.first_errors.len() < KEPT_ERRORS {
            self.first_errors.push(ReadError {
                position,
                stage,
                error,
            });
        }
    }

    /// Prints the errors to stderr (for the text commands).
    pub fn print_errors(&self) {
        for e in &self.first_errors {
            match e.position {
                Some(p) => eprintln!("error at {p} ({}): {}", e.stage, e.error),
                None => eprintln!("error ({}): {}", e.stage, e.error),
            }
        }
        if self.errors > self.first_errors.len() as u64 {
            eprintln!(
                "... and {} more errors",
                self.errors - self.first_errors.len() as u64
            );
        }
    }
}

/// Opens `path` and calls `on_message` for every decoded message with its normalized event
/// (`None` for informational types). Stops early when `on_message` breaks.
pub fn read(
    path: &Path,
    opts: ReadOpts,
    mut on_message: impl FnMut(&Message<'_>, Option<&MarketEvent>, u64) -> ControlFlow<()>,
) -> anyhow::Result<ReadReport> {
    let options = SourceOptions {
        length_mode: if opts.lengths_from_type {
            LengthMode::FromType
        } else {
            LengthMode::Prefix
        },
        ..SourceOptions::default()
    };
    let mut src =
        ItchSource::open(path, options).with_context(|| format!("opening {}", path.display()))?;
    let mut report = ReadReport {
        format: Some(src.format()),
        ..ReadReport::default()
    };
    while let Some(item) = src.next() {
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                let (stage, position, hint) = match &e {
                    SourceError::Framing(f) => {
                        let hint = if matches!(f, FramingError::ZeroLength { .. }) {
                            "; rerun with --lengths-from-type to take lengths from the message types"
                        } else {
                            ""
                        };
                        ("framing", Some(f.offset()), hint)
                    }
                    SourceError::Mold { packet, .. } => ("capture", Some(*packet), ""),
                    _ => ("capture", None, ""),
                };
                report.record(position, stage, format!("{e}{hint}"));
                continue;
            }
        };
        let msg = match decode(item.bytes) {
            Ok(m) => m,
            Err(e) => {
                report.record(Some(item.position), "decode", e.to_string());
                continue;
            }
        };
        report.messages += 1;
        let ev = match normalize(&msg) {
            Ok(ev) => ev,
            Err(e) => {
                report.record(Some(item.position), "normalize", e.to_string());
                None
            }
        };
        if on_message(&msg, ev.as_ref(), item.position).is_break() {
            break;
        }
    }
    report.source = *src.stats();
    Ok(report)
}
