//! `ticklane book`: the book of one instrument at a point in event time.

use std::ops::ControlFlow;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use ticklane_book::{InstrumentAnomalies, LevelView, Market, OrderBook};
use ticklane_core::{EventBody, InstrumentId, Side, Timestamp};

use super::feed;
use crate::ReadOpts;
use ticklane_core::TradingDays;

#[derive(Debug, serde::Serialize)]
struct Level {
    price: String,
    qty: u64,
    orders: u32,
}

impl From<LevelView> for Level {
    fn from(l: LevelView) -> Self {
        Self {
            price: l.price.to_string(),
            qty: l.qty,
            orders: l.orders,
        }
    }
}

#[derive(Debug, serde::Serialize)]
struct BookJson {
    symbol: String,
    instrument: u32,
    at_ns: u64,
    at: String,
    /// The trading day of `at` (1: the first of the file).
    day: u64,
    messages: u64,
    orders: usize,
    bid_levels: usize,
    ask_levels: usize,
    bids: Vec<Level>,
    asks: Vec<Level>,
    spread: Option<String>,
    mid: Option<String>,
    microprice: Option<String>,
    crossed: bool,
    /// Set when the feed lost messages for good before this time: no book can be trusted.
    stale: Option<StaleJson>,
    trading_state: Option<String>,
    /// This instrument's anomalies ([`ticklane_book::OrderBook::anomalies`]).
    anomalies: std::collections::BTreeMap<&'static str, u64>,
    /// Every instrument's and the feed's (gaps).
    feed_anomalies: std::collections::BTreeMap<&'static str, u64>,
    errors: u64,
}

/// [`ticklane_book::StaleFeed`] as printed.
#[derive(Debug, serde::Serialize)]
struct StaleJson {
    since: String,
    gaps: u64,
    /// Messages lost in the gaps whose size is known.
    lost_messages: u64,
    /// Gaps whose size nobody knows (a capture of a binary file, a rejoin): `lost_messages`
    /// is then a lower bound.
    unknown_size_gaps: u64,
    first_lost_sequence: u64,
}

/// "N messages", "at least N messages" or "an unknown number of messages".
pub(crate) fn lost_text(known: u64, unknown_size_gaps: u64) -> String {
    match (known, unknown_size_gaps) {
        (n, 0) => format!("{n} messages"),
        (0, _) => "an unknown number of messages".to_string(),
        (n, _) => format!("at least {n} messages"),
    }
}

/// Runs the command.
pub fn run(
    path: &Path,
    symbol: &str,
    depth: usize,
    at: Option<&str>,
    day: Option<u64>,
    json: bool,
    read: ReadOpts,
) -> anyhow::Result<ExitCode> {
    if ticklane_core::Symbol::new(symbol).is_none() {
        bail!("--symbol {symbol:?}: at most 8 ASCII characters");
    }
    let at = match at {
        Some(s) => match Timestamp::parse_time_of_day(s) {
            Some(t) => Some(t.0),
            None => {
                bail!("--at {s:?}: expected HH:MM:SS[.fffffffff] or nanoseconds since midnight")
            }
        },
        None => None,
    };
    if let Some(orderbook) = &read.orderbook {
        if day.is_some_and(|d| d > 1) {
            bail!("--day: a LOBSTER file is one trading day");
        }
        // LOBSTER with its order-book file: the replayed (checked) book after the last row at or
        // before `at`. A first pass counts those rows, so the book is copied only once.
        super::feed::require_lobster(path)?;
        let mut rows = 0u64;
        let messages = ticklane_feeds::lobster::MessageReader::open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        for m in messages {
            if at.is_some_and(|at| m.is_ok_and(|m| m.time.0 > at)) {
                break;
            }
            rows += 1;
        }
        if rows == 0 {
            bail!("no rows in {} at or before that time", path.display());
        }
        let mut snapshot: Option<(Market, u64)> = None;
        super::lobster_check::replay(path, orderbook, None, 0, |row, ts, market| {
            if row + 1 == rows {
                snapshot = Some((market.clone(), ts.0));
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        })?;
        let Some((market, ts)) = snapshot else {
            bail!("{}: fewer rows than expected", path.display());
        };
        // The rows replayed are the messages this book was built from.
        let report = feed::ReadReport {
            messages: rows,
            ..feed::ReadReport::default()
        };
        return print_book(
            (&market, None),
            symbol,
            None,
            depth,
            (at.unwrap_or(ts), 1),
            &report,
            json,
        );
    }
    let mut market = Market::with_capacity(1 << 16, 1024);
    let mut by_instrument = InstrumentAnomalies::new();
    let mut last_ts = 0u64;
    let mut past_at = false;
    // The trading day read (see `TradingDays`: as a run's lanes number them). With `--day`,
    // `--at` is a time of that day, and without `--at` the book is the one at that day's end,
    // before the next day's start empties it. The anomalies printed are the day's.
    let mut days = TradingDays::new();
    let mut report = feed::read(path, &read, |rec| {
        let ts = rec.ts;
        let ending =
            day.is_some_and(|d| days.today() >= d) && rec.event.is_some_and(|ev| days.begins(ev));
        if ending || (at.is_some_and(|at| ts > at) && day.is_none_or(|d| days.today() == d)) {
            past_at = true;
            return ControlFlow::Break(());
        }
        last_ts = ts;
        if let Some(ev) = rec.event {
            let new_day = days.observe(ev);
            let r = market.apply(ev);
            if new_day {
                by_instrument.start_day(&market);
            }
            by_instrument.observe(&market, &r);
        }
        ControlFlow::Continue(())
    })?;
    let today = days.today();
    if past_at {
        // The message that ended the read (the first past `at`, or the next day's start) was
        // counted, not applied (`saturating`: a LOBSTER file's announcement, before its first
        // row, is no message).
        report.messages = report.messages.saturating_sub(1);
    }
    if let Some(d) = day.filter(|&d| d > today) {
        bail!(
            "--day {d}: {} has {today} trading day{} (a day begins at each start of messages after another)",
            path.display(),
            if today == 1 { "" } else { "s" }
        );
    }
    report.print_errors();
    // Before the symbol's directory message its orders are in a book no symbol names yet (as
    // `bbo` prints them): that book, found from the first directory message naming the symbol,
    // as long as no directory message has named its instrument by then.
    let mut early = None;
    if market.book_by_symbol(symbol).is_none() {
        if let Some(sym) = ticklane_core::Symbol::new(symbol) {
            // On the day read only: another day's entry names its own day's locate (a day
            // that does not list the symbol has no book of it).
            let mut scan = TradingDays::new();
            feed::read(path, &read, |rec| {
                let Some(ev) = rec.event else {
                    return ControlFlow::Continue(());
                };
                scan.observe(ev);
                if scan.today() > today {
                    return ControlFlow::Break(());
                }
                match (ev.instrument, &ev.body) {
                    (id, EventBody::InstrumentDirectory(info))
                        if info.symbol == sym && scan.today() == today =>
                    {
                        early = Some(id);
                        ControlFlow::Break(())
                    }
                    _ => ControlFlow::Continue(()),
                }
            })?;
        }
        early = early.filter(|&id| market.instrument_info(id).is_none());
    }
    print_book(
        (&market, Some(&by_instrument)),
        symbol,
        early,
        depth,
        (at.unwrap_or(last_ts), today),
        &report,
        json,
    )
}

/// Prints the book of `symbol` in `market` as a table or JSON, with its anomalies as split by
/// `by_instrument` (the market's own when `None`: a LOBSTER file's one instrument).
fn print_book(
    (market, by_instrument): (&Market, Option<&InstrumentAnomalies>),
    symbol: &str,
    early: Option<InstrumentId>,
    depth: usize,
    (at_ns, day): (u64, u64),
    report: &feed::ReadReport,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let Some(book) = market
        .book_by_symbol(symbol)
        .or_else(|| early.and_then(|id| market.book(id)))
    else {
        bail!("symbol {symbol:?} has no book (no stock directory or orders before that time)");
    };
    let out = BookJson {
        symbol: symbol.to_string(),
        instrument: book.instrument().0,
        at_ns,
        at: Timestamp(at_ns).to_string(),
        day,
        messages: report.messages,
        orders: book.order_count(),
        bid_levels: book.level_count(Side::Bid),
        ask_levels: book.level_count(Side::Ask),
        bids: book
            .depth(Side::Bid, depth)
            .into_iter()
            .map(Level::from)
            .collect(),
        asks: book
            .depth(Side::Ask, depth)
            .into_iter()
            .map(Level::from)
            .collect(),
        spread: book.spread().map(|p| p.to_string()),
        mid: book.mid().map(|p| p.to_string()),
        microprice: book.microprice().map(|p| p.to_string()),
        crossed: book.is_crossed(),
        stale: market.stale().map(|s| StaleJson {
            since: s.since.to_string(),
            gaps: s.gaps,
            lost_messages: s.lost_messages,
            unknown_size_gaps: s.unknown_size_gaps,
            first_lost_sequence: s.first_lost,
        }),
        trading_state: book.trading_state().map(|s| format!("{s:?}")),
        // A LOBSTER file holds one instrument: the market's are its own.
        anomalies: by_instrument
            .map_or(*market.anomalies(), |a| a.get(book.instrument()))
            .nonzero()
            .map(|(k, n)| (k.name(), n))
            .collect(),
        feed_anomalies: by_instrument
            .map_or(*market.anomalies(), |a| a.feed(market))
            .nonzero()
            .map(|(k, n)| (k.name(), n))
            .collect(),
        errors: report.errors,
    };
    if json {
        outln!("{}", serde_json::to_string_pretty(&out)?)?;
    } else {
        print_table(&out, &book)?;
    }
    // Exit 1 when the input had errors or lost messages for good (the book is stale).
    Ok(if report.errors > 0 || report.source.gaps > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_table(b: &BookJson, _book: &OrderBook<'_>) -> std::io::Result<()> {
    outln!(
        "{} (instrument {}) at {}{} — {} orders, {} bid levels, {} ask levels{}{}",
        b.symbol,
        b.instrument,
        b.at,
        if b.day > 1 {
            format!(" of day {}", b.day)
        } else {
            String::new()
        },
        b.orders,
        b.bid_levels,
        b.ask_levels,
        if b.crossed { " — CROSSED" } else { "" },
        b.stale.as_ref().map_or(String::new(), |s| format!(
            " — STALE since {} ({} lost for good)",
            s.since,
            lost_text(s.lost_messages, s.unknown_size_gaps)
        ))
    )?;
    outln!(
        "{:>7} {:>10} {:>12} | {:<12} {:<10} {:<7}",
        "orders",
        "qty",
        "bid",
        "ask",
        "qty",
        "orders"
    )?;
    let rows = b.bids.len().max(b.asks.len());
    for i in 0..rows {
        let (bo, bq, bp) = b
            .bids
            .get(i)
            .map_or((String::new(), String::new(), String::new()), |l| {
                (l.orders.to_string(), l.qty.to_string(), l.price.clone())
            });
        let (ap, aq, ao) = b
            .asks
            .get(i)
            .map_or((String::new(), String::new(), String::new()), |l| {
                (l.price.clone(), l.qty.to_string(), l.orders.to_string())
            });
        outln!("{bo:>7} {bq:>10} {bp:>12} | {ap:<12} {aq:<10} {ao:<7}")?;
    }
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    outln!(
        "spread {}  mid {}  microprice {}  state {}",
        opt(&b.spread),
        opt(&b.mid),
        opt(&b.microprice),
        opt(&b.trading_state)
    )?;
    let line = |a: &std::collections::BTreeMap<&'static str, u64>| {
        a.iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect::<Vec<String>>()
            .join(" ")
    };
    if !b.anomalies.is_empty() {
        outln!("anomalies {}", line(&b.anomalies))?;
    }
    if b.feed_anomalies != b.anomalies {
        outln!("anomalies of the whole feed {}", line(&b.feed_anomalies))?;
    }
    Ok(())
}
