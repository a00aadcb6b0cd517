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

use ticklane_book::{InstrumentAnomalies, LevelView, Market};
use ticklane_core::{EventBody, InstrumentId, Symbol};

use super::feed;
use crate::ReadOpts;
use ticklane_core::TradingDays;

/// Price and total quantity of each side's best level (`None`: empty side).
type Top = (Option<(i64, u64)>, Option<(i64, u64)>);

/// Writes a CSV line whenever the top of book differs from the last line written.
struct BboLines<W: Write> {
    out: W,
    /// Whether the header is written: with the first line, or at the end (an instrument that
    /// turns out not to be the file's prints nothing, not a header alone).
    header: bool,
    last: Top,
    lines: u64,
    error: Option<std::io::Error>,
    /// A day before the one asked for (`--day`): the top is followed, no line is written.
    muted: bool,
}

impl<W: Write> BboLines<W> {
    fn new(out: W) -> std::io::Result<Self> {
        Ok(Self {
            out,
            header: false,
            last: (None, None),
            lines: 0,
            error: None,
            muted: false,
        })
    }

    fn write_header(&mut self) -> std::io::Result<()> {
        if !self.header {
            self.header = true;
            writeln!(self.out, "timestamp_ns,bid_px,bid_qty,ask_px,ask_qty")?;
        }
        Ok(())
    }

    /// Considers the top of `instrument` after an event at `ts`; breaks on a write error
    /// (kept for [`BboLines::finish`]).
    fn observe(&mut self, ts: u64, market: &Market, instrument: InstrumentId) -> ControlFlow<()> {
        let Some((bid, ask)) = market.bbo(instrument) else {
            return ControlFlow::Continue(());
        };
        self.write_top(ts, bid, ask)
    }

    /// A line with both sides empty (the symbol no longer names a book), unless the last line
    /// said so already.
    fn clear(&mut self, ts: u64) -> ControlFlow<()> {
        self.write_top(ts, None, None)
    }

    fn write_top(
        &mut self,
        ts: u64,
        bid: Option<LevelView>,
        ask: Option<LevelView>,
    ) -> ControlFlow<()> {
        let key = |l: Option<LevelView>| l.map(|l| (l.price.0, l.qty));
        let top = (key(bid), key(ask));
        if top == self.last {
            return ControlFlow::Continue(());
        }
        self.last = top;
        if self.muted {
            return ControlFlow::Continue(());
        }
        self.lines += 1;
        let written = self
            .write_header()
            .and_then(|()| writeln!(self.out, "{ts},{},{}", side_csv(bid), side_csv(ask)));
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    /// Flushes, returning the first write error. A closed pipe (`| head`) is reported like any
    /// other I/O error; the binary's edge treats it as a normal way for a reader to stop.
    fn finish(mut self) -> std::io::Result<u64> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.write_header()?;
        self.out.flush()?;
        Ok(self.lines)
    }
}

/// Runs the command.
pub fn run(
    path: &Path,
    symbol: &str,
    day: Option<u64>,
    read: ReadOpts,
) -> anyhow::Result<ExitCode> {
    let Some(sym) = Symbol::new(symbol) else {
        anyhow::bail!("--symbol {symbol:?}: at most 8 ASCII characters");
    };
    let stdout = std::io::stdout();
    if let Some(orderbook) = &read.orderbook {
        if day.is_some_and(|d| d > 1) {
            anyhow::bail!("--day: a LOBSTER file is one trading day");
        }
        feed::require_lobster(path)?;
        let mut lines = BboLines::new(BufWriter::with_capacity(1 << 16, stdout.lock()))?;
        let mut found = false;
        let report = super::lobster_check::replay(path, orderbook, None, 0, |_, ts, market| {
            found = market.instrument_id(sym) == Some(feed::LOBSTER_INSTRUMENT);
            if !found {
                return ControlFlow::Break(());
            }
            lines.observe(ts.0, market, feed::LOBSTER_INSTRUMENT)
        })?;
        if !found {
            anyhow::bail!(
                "symbol {symbol:?} is not the instrument of {}",
                path.display()
            );
        }
        let n = lines.finish()?;
        tracing::info!(rows = report.rows, lines = n, "lobster bbo done");
        return Ok(ExitCode::SUCCESS);
    }
    // The symbol's instrument first, from the first directory message that names it (at the
    // start of a normal day, so this pass stops at once): the book can change before that
    // message, and those changes are lines too. Nothing is printed for a symbol not there.
    let mut target: Option<InstrumentId> = None;
    let first = feed::read(path, &read, |rec| {
        match rec.event.map(|ev| (ev.instrument, &ev.body)) {
            Some((instrument, EventBody::InstrumentDirectory(info))) if info.symbol == sym => {
                target = Some(instrument);
                ControlFlow::Break(())
            }
            _ => ControlFlow::Continue(()),
        }
    })?;
    let Some(mut target) = target else {
        // Errors met on the way (a framing error that ended the read) may be why.
        first.print_errors();
        anyhow::bail!("symbol {symbol:?} not found in {}", path.display());
    };
    let mut lines = BboLines::new(BufWriter::with_capacity(1 << 16, stdout.lock()))?;
    let mut market = Market::with_capacity(1 << 16, 1024);
    let mut by_instrument = InstrumentAnomalies::new();
    // The trading day read (see `TradingDays`, `book --day`). The lines of `--day` alone are
    // written, and its anomalies: the same as the file of that day alone gives.
    let mut days = TradingDays::new();
    // Whether a directory message of the day read (or of any day) names the symbol.
    let mut named = false;
    // Without `--day`: the symbol's own anomalies of the days before the current one.
    let mut own_before = ticklane_book::Anomalies::new();
    lines.muted = day.is_some_and(|d| d > 1);
    let report = feed::read(path, &read, |rec| {
        let Some(ev) = rec.event else {
            return ControlFlow::Continue(());
        };
        if day.is_some_and(|d| days.today() >= d) && days.begins(ev) {
            return ControlFlow::Break(());
        }
        let new_day = days.observe(ev);
        let r = market.apply(ev);
        if new_day {
            // Stock locates are the day's own: the symbol's anomalies of the day that ended
            // are those of its locate that day (by the whole file's locate, another symbol's
            // day-1 anomalies were said of the symbol that day 2 gave that locate).
            if day.is_none() {
                own_before = own_before.plus(&by_instrument.get(target));
            }
            by_instrument.start_day(&market);
        }
        by_instrument.observe(&market, &r);
        if new_day {
            if lines.muted && day == Some(days.today()) {
                // The day asked for begins, from empty books, as its own file would.
                lines.muted = false;
                lines.last = (None, None);
                return ControlFlow::Continue(());
            }
            // A new trading day emptied every book: the target's top is empty now.
            return lines.clear(rec.ts);
        }
        if let EventBody::InstrumentDirectory(info) = &ev.body {
            named |= info.symbol == sym && day.is_none_or(|d| d == days.today());
            // The symbol moved to another instrument (`book` follows it too): its top now.
            match market.instrument_id(sym) {
                Some(now) if now != target => {
                    target = now;
                    return lines.observe(rec.ts, &market, target);
                }
                // Another symbol took the target's locate and no instrument has this symbol
                // now (`book` then says it has no book): both sides empty, and no line of the
                // other symbol's book. (Before the symbol's own directory message the target
                // has no directory entry yet: its early changes stay lines.)
                None if market
                    .instrument_info(target)
                    .is_some_and(|i| i.symbol != sym) =>
                {
                    target = InstrumentId::NONE;
                    return lines.clear(rec.ts);
                }
                _ => {}
            }
        }
        if r.instrument != target || !r.top_changed() {
            return ControlFlow::Continue(());
        }
        lines.observe(rec.ts, &market, r.instrument)
    })?;
    let today = days.today();
    if let Some(d) = day.filter(|&d| d > today) {
        anyhow::bail!(
            "--day {d}: {} has {today} trading day{} (a day begins at each start of messages after another)",
            path.display(),
            if today == 1 { "" } else { "s" }
        );
    }
    if let Some(d) = day.filter(|_| !named) {
        anyhow::bail!(
            "symbol {symbol:?} not found on day {d} of {}",
            path.display()
        );
    }
    let n = lines.finish()?;
    report.print_errors();
    tracing::info!(
        lines = n,
        anomalies = market.anomalies().total(),
        "bbo done"
    );
    let line = |a: &ticklane_book::Anomalies| {
        a.nonzero()
            .map(|(k, n)| format!("{}={n}", k.name()))
            .collect::<Vec<String>>()
            .join(" ")
    };
    // The symbol's own, then the whole feed's when they differ.
    let (own, all) = (
        line(&own_before.plus(&by_instrument.get(target))),
        line(&if day.is_some() {
            by_instrument.feed(&market)
        } else {
            *market.anomalies()
        }),
    );
    if !own.is_empty() {
        errln!("anomalies: {own}");
    }
    if all != own {
        errln!("anomalies of the whole feed: {all}");
    }
    if let Some(s) = market.stale() {
        errln!(
            "stale: the feed lost {} for good (from sequence {}) at {}; the lines from then on may be wrong",
            super::book::lost_text(s.lost_messages, s.unknown_size_gaps),
            s.first_lost,
            s.since
        );
    }
    // Exit 1 when the input had errors or lost messages for good (the lines after are stale).
    Ok(if report.errors > 0 || report.source.gaps > 0 {
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
