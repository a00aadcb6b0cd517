//! The files a run leaves behind (`ticklane run --out DIR`): `orders.csv` (every command and
//! every state change of every order), `fills.csv`, `positions.csv` (per strategy and
//! instrument, from the ledgers), `equity.csv` (each strategy's equity curve, one point per
//! second of event time, and one at each day's close), `days.csv` (each strategy's fills,
//! shares, fees and P&L per trading day: [`super::daily`]) and `summary.json` (what `--json`
//! prints), written last: a run that
//! fails while writing (a full disk) leaves no `summary.json`, and no earlier run's either.
//!
//! `orders.csv` and `fills.csv` list each strategy's rows in the order they happened, merged by
//! trading day, event time, then strategy id: the same rows in the same order in every lane
//! layout (but for the `lane` column).
//!
//! Several trading days in one run (each ITCH start of messages after other events begins
//! one): the last column,
//! `day`, of `orders.csv`, `fills.csv` and `equity.csv` numbers the day of each row from 1,
//! as each day's event times start again. A row names its order's symbol on the day the order
//! was submitted (a stock locate may name another symbol on another day; the cancels of the
//! orders left working at a day's end are the new day's rows, of the old day's orders);
//! `positions.csv` names the symbols of the run's end, where positions carried overnight
//! follow their symbols.
//!
//! Text fields (strategy names, symbols, reasons) are written as RFC 4180 fields: quoted when
//! they hold a comma, a quote or a line break. Per-strategy files list the strategies in
//! configuration order (by id), whatever lane each ran on, so that `positions.csv` and
//! `equity.csv` are the same files in every lane layout.

use std::borrow::Cow;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use ticklane_core::{InstrumentId, Price, Symbol};
use ticklane_runtime::{JournalEntry, RunReport};
use ticklane_strategy::{OrderCommand, OrderUpdateKind, TimeInForce};

fn file(dir: &Path, name: &str) -> anyhow::Result<std::io::BufWriter<Named>> {
    let path = dir.join(name);
    let file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    Ok(std::io::BufWriter::new(Named { file, path }))
}

/// A report file whose write errors name it (a full disk said "File too large (os error 27)"
/// and no file).
struct Named {
    file: std::fs::File,
    path: std::path::PathBuf,
}

impl Named {
    fn named(&self, e: std::io::Error) -> std::io::Error {
        std::io::Error::new(e.kind(), format!("writing {}: {e}", self.path.display()))
    }
}

impl Write for Named {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.file.write(buf).map_err(|e| self.named(e))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush().map_err(|e| self.named(e))
    }
}

/// The files of a run's directory that say it finished (`summary.json`, written last) or
/// that belong to a finished run (the charts and `.hgrm` files, written after it): removed
/// before a new run's files are written, so that a run that fails on the way (a full disk)
/// leaves no earlier run's summary beside its own cut files.
fn remove_finished_run_files(dir: &Path) -> anyhow::Result<()> {
    let hgrm = ticklane_runtime::Hop::ALL.map(|h| format!("{}.hgrm", h.name()));
    let names = ["summary.json", "equity.svg", "latency.svg"]
        .into_iter()
        .chain(hgrm.iter().map(String::as_str));
    for name in names {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", path.display()));
            }
            _ => {}
        }
    }
    Ok(())
}

fn px(p: Price) -> String {
    format!("{}", p.to_decimal())
}

/// Money in the per-strategy files: six decimal places, always (`round_dp` keeps a value's own
/// scale below that: -12.520000 and 17.5100 in one column).
pub(crate) fn six(d: rust_decimal::Decimal) -> rust_decimal::Decimal {
    let mut d = d.round_dp(6);
    d.rescale(6);
    d
}

/// One CSV text field: quoted, its quotes doubled, when it holds a comma, a quote or a line
/// break (a strategy named `imb, "aapl"` split every row it was on into one field too many).
pub(crate) fn csv(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\r', '\n']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

/// Every lane's journal as one sequence that is the same in every lane layout: each
/// strategy's entries in the order its lane made them (that order does not depend on the
/// layout), merged across strategies by event time, then by strategy id. Written lane after
/// lane, `orders.csv` and `fills.csv` went back in time at each lane's start and differed by
/// the lane count.
///
/// Each entry comes with its lane and its trading day (0 for the first: every lane's journal
/// has the same [`JournalEntry::DayStart`]s, which are not returned).
fn journal_in_run_order(r: &RunReport) -> Vec<(u16, usize, &JournalEntry)> {
    use std::collections::{BTreeMap, VecDeque};
    /// (strategy, event time), or `None` for a day's start.
    fn key(e: &JournalEntry) -> Option<(u16, u64)> {
        match e {
            JournalEntry::Command { ts, cmd } => Some((cmd.id().strategy(), ts.0)),
            JournalEntry::Update(u) => Some((u.id.strategy(), u.ts.0)),
            JournalEntry::Fill(f) => Some((f.id.strategy(), f.ts.0)),
            JournalEntry::DayStart { .. } => None,
        }
    }
    type Queue<'a> = VecDeque<(u16, usize, &'a JournalEntry)>;
    let mut queues: BTreeMap<u16, Queue<'_>> = BTreeMap::new();
    let mut total = 0;
    for l in &r.lanes {
        let mut day = 0;
        for e in &l.journal {
            match key(e) {
                Some((strategy, _)) => {
                    queues
                        .entry(strategy)
                        .or_default()
                        .push_back((l.index, day, e));
                    total += 1;
                }
                None => day += 1,
            }
        }
    }
    let order = |&(_, day, e): &(u16, usize, &JournalEntry)| key(e).map(|(s, ts)| (day, ts, s));
    let mut merged = Vec::with_capacity(total);
    // Strategies are few (64 a lane at most): the earliest head is found by a scan.
    while let Some((_, q)) = queues
        .iter_mut()
        .filter(|(_, q)| !q.is_empty())
        .min_by_key(|(_, q)| q.front().map(order))
    {
        if let Some(x) = q.pop_front() {
            merged.push(x);
        }
    }
    merged
}

/// Writes every report file into `dir` (created if needed).
pub fn write(r: &RunReport, summary: &serde_json::Value, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    remove_finished_run_files(dir)?;
    // Names of strategies and symbols of instruments, for readable files: every instrument a
    // lane has a book of (a strategy's refused orders name instruments it never traded), on
    // each trading day; the last day's (`symbols`) also names the positions carried overnight.
    let mut names = std::collections::BTreeMap::new();
    type Symbols = std::collections::BTreeMap<InstrumentId, Symbol>;
    // The days that ended before the last (every lane has the same).
    let days = r.days() - 1;
    let mut day_symbols: Vec<Symbols> = vec![Symbols::new(); days];
    let mut symbols = Symbols::new();
    for l in &r.lanes {
        for (d, v) in l.day_symbols.iter().enumerate() {
            if let Some(m) = day_symbols.get_mut(d) {
                m.extend(v.iter().copied());
            }
        }
        symbols.extend(l.symbols.iter().copied());
        for s in &l.strategies {
            names.insert(s.id.0, s.name.clone());
            for (id, sym, ..) in &s.positions {
                if let Some(sym) = sym {
                    symbols.insert(*id, *sym);
                }
            }
        }
    }
    let name = |id: u16| csv(names.get(&id).map_or("", String::as_str)).into_owned();
    day_symbols.push(symbols);
    // The symbol of `id` on trading day `day` (0 for the first).
    let sym = |day: usize, id: InstrumentId| {
        day_symbols
            .get(day)
            .and_then(|m| m.get(&id))
            .map_or(String::new(), |s| csv(s.as_str()).into_owned())
    };
    let journal = journal_in_run_order(r);
    // The day columns number the days as the source does (a replay of one day, `--day`,
    // started at its number).
    let first_day = r.first_day();

    let mut orders = file(dir, "orders.csv")?;
    writeln!(
        orders,
        "ts_ns,lane,strategy,order_id,event,instrument,symbol,side,price,qty,tif,reason,day"
    )?;
    let mut fills = file(dir, "fills.csv")?;
    writeln!(
        fills,
        "ts_ns,lane,strategy,order_id,instrument,symbol,side,price,qty,leaves,liquidity,fee,day"
    )?;
    // The instrument of every order submitted, and the day: a venue answers a command on an
    // order it no longer knows (an amend after the fill) with no instrument, and the row said
    // 0; the order's rows name the symbol its instrument had on that day.
    let mut order_instrument = std::collections::HashMap::new();
    for &(_, day, e) in &journal {
        if let JournalEntry::Command {
            cmd: OrderCommand::Submit { id, request },
            ..
        } = e
        {
            order_instrument.insert(*id, (day, request.instrument));
        }
    }
    let submit_day = |id, day| order_instrument.get(&id).map_or(day, |o| o.0);
    for &(lane, day, e) in &journal {
        match e {
            JournalEntry::DayStart { .. } => {}
            JournalEntry::Command { ts, cmd } => {
                let id = cmd.id();
                let (event, rest) = match *cmd {
                    OrderCommand::Submit { request: q, .. } => (
                        "submit",
                        format!(
                            "{},{},{:?},{},{},{}",
                            q.instrument.0,
                            sym(day, q.instrument),
                            q.side,
                            px(q.price),
                            q.qty.0,
                            match q.tif {
                                TimeInForce::Day => "day",
                                TimeInForce::Ioc => "ioc",
                                TimeInForce::Fok => "fok",
                                TimeInForce::PostOnly => "post-only",
                            }
                        ),
                    ),
                    OrderCommand::Cancel { .. } => ("cancel", ",,,,,".to_string()),
                    OrderCommand::Modify { price, qty, .. } => {
                        ("modify", format!(",,,{},{},", px(price), qty.0))
                    }
                };
                writeln!(
                    orders,
                    "{},{},{},{},{event},{rest},,{}",
                    ts.0,
                    lane,
                    name(id.strategy()),
                    id,
                    day + first_day
                )?;
            }
            JournalEntry::Update(u) => {
                let (event, reason, price, qty) = match u.kind {
                    OrderUpdateKind::Accepted => {
                        ("accepted", String::new(), String::new(), String::new())
                    }
                    OrderUpdateKind::Rejected(why) => (
                        "rejected",
                        csv(&why.to_string()).into_owned(),
                        String::new(),
                        String::new(),
                    ),
                    OrderUpdateKind::AmendRejected(why) => (
                        "amend_rejected",
                        csv(&why.to_string()).into_owned(),
                        String::new(),
                        String::new(),
                    ),
                    OrderUpdateKind::Modified { price, qty } => {
                        ("modified", String::new(), px(price), qty.0.to_string())
                    }
                    OrderUpdateKind::Cancelled => {
                        ("cancelled", String::new(), String::new(), String::new())
                    }
                    OrderUpdateKind::Expired => {
                        ("expired", String::new(), String::new(), String::new())
                    }
                    OrderUpdateKind::Filled => {
                        ("filled", String::new(), String::new(), String::new())
                    }
                };
                let instrument = if u.instrument == InstrumentId::NONE {
                    order_instrument.get(&u.id).map_or(u.instrument, |o| o.1)
                } else {
                    u.instrument
                };
                writeln!(
                    orders,
                    "{},{},{},{},{event},{},{},,{price},{qty},,{reason},{}",
                    u.ts.0,
                    lane,
                    name(u.id.strategy()),
                    u.id,
                    instrument.0,
                    sym(submit_day(u.id, day), instrument),
                    day + first_day
                )?;
            }
            JournalEntry::Fill(f) => {
                writeln!(
                    fills,
                    "{},{},{},{},{},{},{:?},{},{},{},{:?},{},{}",
                    f.ts.0,
                    lane,
                    name(f.id.strategy()),
                    f.id,
                    f.instrument.0,
                    sym(submit_day(f.id, day), f.instrument),
                    f.side,
                    px(f.price),
                    f.qty.0,
                    f.leaves.0,
                    f.liquidity,
                    six(Price(f.fee).to_decimal()),
                    day + first_day
                )?;
            }
        }
    }
    let mut positions = file(dir, "positions.csv")?;
    writeln!(
        positions,
        "strategy,instrument,symbol,position,bought,sold,avg_cost,mark,realized,unrealized,fees,net_pnl"
    )?;
    let mut equity = file(dir, "equity.csv")?;
    writeln!(equity, "strategy,ts_ns,equity,drawdown,day")?;
    for s in r.strategies_in_order() {
        for (id, p) in s.ledger.iter() {
            writeln!(
                positions,
                "{},{},{},{},{},{},{},{},{},{},{},{}",
                csv(&s.name),
                id.0,
                sym(days, id),
                p.position,
                p.bought,
                p.sold,
                p.avg_cost().map_or(String::new(), |c| six(c).to_string()),
                p.mark,
                six(p.realized),
                six(p.unrealized()),
                six(p.fees),
                six(p.net())
            )?;
        }
        for (e, day) in s.ledger.equity_curve().iter().zip(s.sample_days()) {
            writeln!(
                equity,
                "{},{},{},{},{}",
                csv(&s.name),
                e.ts.0,
                six(e.equity),
                six(e.drawdown),
                (day - 1).saturating_add(first_day as u64)
            )?;
        }
    }
    let mut days_file = file(dir, "days.csv")?;
    writeln!(
        days_file,
        "strategy,day,fills,bought,sold,fees,net_pnl,day_pnl,max_drawdown,close_ts_ns"
    )?;
    for (strategy, rows) in super::daily::daily(r) {
        for d in rows {
            writeln!(
                days_file,
                "{},{},{},{},{},{},{},{},{},{}",
                csv(&strategy),
                d.day,
                d.fills,
                d.bought,
                d.sold,
                six(d.fees),
                six(d.net),
                six(d.pnl),
                six(d.max_drawdown),
                d.close_ts.map_or(String::new(), |t| t.to_string())
            )?;
        }
    }
    for mut f in [orders, fills, positions, equity, days_file] {
        f.flush()?;
    }
    // Last: its presence says the files beside it are complete.
    let mut sj = file(dir, "summary.json")?;
    writeln!(sj, "{}", serde_json::to_string_pretty(summary)?)?;
    sj.flush()?;
    Ok(())
}
