//! `ticklane bbo`: one CSV line for every change of the best bid or offer (price or size) of one
//! instrument: `timestamp_ns,bid_px,bid_qty,ask_px,ask_qty`, prices with 4 decimals, an empty
//! side as empty fields.
//!
//! A line is printed after a message when the instrument's top of book differs from the last
//! line printed (the first line: the first time either side is non-empty). Events of other
//! instruments are applied to the market too (the order index is market-wide).

use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::Path;
use std::process::ExitCode;

use ticklane_book::{LevelView, Market};
use ticklane_core::{InstrumentId, Symbol};

use super::feed;
use crate::ReadOpts;

type Top = (Option<(i64, u64)>, Option<(i64, u64)>);

/// Runs the command.
pub fn run(path: &Path, symbol: &str, read: ReadOpts) -> anyhow::Result<ExitCode> {
    let Some(sym) = Symbol::new(symbol) else {
        anyhow::bail!("--symbol {symbol:?}: at most 8 ASCII characters");
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    writeln!(out, "timestamp_ns,bid_px,bid_qty,ask_px,ask_qty")?;
    let mut market = Market::with_capacity(1 << 16, 1024);
    let mut target: Option<InstrumentId> = None;
    let mut last: Top = (None, None);
    let mut io_error: Option<std::io::Error> = None;
    let mut lines = 0u64;
    if let Some(orderbook) = &read.orderbook {
        let mut failed: Option<std::io::Error> = None;
        let report = super::lobster_check::replay(path, orderbook, None, 0, |_, ts, market| {
            let id = feed::LOBSTER_INSTRUMENT;
            let Some((bid, ask)) = market.bbo(id) else {
                return ControlFlow::Continue(());
            };
            let key = |l: Option<LevelView>| l.map(|l| (l.price.0, l.qty));
            let top = (key(bid), key(ask));
            if top == last {
                return ControlFlow::Continue(());
            }
            last = top;
            match writeln!(out, "{},{},{}", ts.0, side_csv(bid), side_csv(ask)) {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    failed = Some(e);
                    ControlFlow::Break(())
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        out.flush()?;
        tracing::info!(rows = report.rows, "lobster bbo done");
        return Ok(ExitCode::SUCCESS);
    }
    let report = feed::read(path, &read, |rec| {
        let Some(ev) = rec.event else {
            return ControlFlow::Continue(());
        };
        let r = market.apply(ev);
        if target.is_none() {
            target = market.instrument_id(sym);
        }
        if Some(r.instrument) != target || !r.top_changed() {
            return ControlFlow::Continue(());
        }
        let Some((bid, ask)) = market.bbo(r.instrument) else {
            return ControlFlow::Continue(());
        };
        let key = |l: Option<LevelView>| l.map(|l| (l.price.0, l.qty));
        let top = (key(bid), key(ask));
        if top == last {
            return ControlFlow::Continue(());
        }
        last = top;
        lines += 1;
        if let Err(e) = writeln!(out, "{},{},{}", rec.ts, side_csv(bid), side_csv(ask)) {
            io_error = Some(e);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    })?;
    if let Some(e) = io_error {
        // A closed pipe (e.g. `| head`) is a normal way to stop reading.
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(ExitCode::SUCCESS);
        }
        return Err(e.into());
    }
    out.flush()?;
    report.print_errors();
    if target.is_none() {
        anyhow::bail!("symbol {symbol:?} not found in {}", path.display());
    }
    tracing::info!(lines, anomalies = market.anomalies().total(), "bbo done");
    let anomalies: Vec<String> = market
        .anomalies()
        .nonzero()
        .map(|(k, n)| format!("{}={n}", k.name()))
        .collect();
    if !anomalies.is_empty() {
        eprintln!("anomalies: {}", anomalies.join(" "));
    }
    Ok(if report.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `price,qty` of a level, or `,` for an empty side.
fn side_csv(l: Option<LevelView>) -> String {
    match l {
        Some(l) => format!("{},{}", l.price, l.qty),
        None => ",".to_string(),
    }
}
