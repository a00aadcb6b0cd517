//! The files a run leaves behind (`ticklane run --out DIR`): `orders.csv` (every command and
//! every state change of every order), `fills.csv`, `positions.csv` (per strategy and
//! instrument, from the ledgers), `equity.csv` (each strategy's equity curve, one point per
//! second of event time) and `summary.json` (what `--json` prints).

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use ticklane_core::{InstrumentId, Price, Symbol};
use ticklane_runtime::{JournalEntry, RunReport};
use ticklane_strategy::{OrderCommand, OrderUpdateKind, TimeInForce};

fn file(dir: &Path, name: &str) -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
    let p = dir.join(name);
    Ok(std::io::BufWriter::new(
        std::fs::File::create(&p).with_context(|| format!("creating {}", p.display()))?,
    ))
}

fn px(p: Price) -> String {
    format!("{}", p.to_decimal())
}

/// Writes every report file into `dir` (created if needed).
pub fn write(r: &RunReport, summary: &serde_json::Value, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Names of strategies and symbols of instruments, for readable files.
    let mut names = std::collections::BTreeMap::new();
    let mut symbols: std::collections::BTreeMap<InstrumentId, Symbol> = Default::default();
    for l in &r.lanes {
        for s in &l.strategies {
            names.insert(s.id.0, s.name.clone());
            for (id, sym, ..) in &s.positions {
                if let Some(sym) = sym {
                    symbols.insert(*id, *sym);
                }
            }
        }
    }
    let name = |id: u16| names.get(&id).cloned().unwrap_or_default();
    let sym = |id: InstrumentId| {
        symbols
            .get(&id)
            .map_or(String::new(), |s| s.as_str().to_string())
    };

    let mut orders = file(dir, "orders.csv")?;
    writeln!(
        orders,
        "ts_ns,lane,strategy,order_id,event,instrument,symbol,side,price,qty,tif,reason"
    )?;
    let mut fills = file(dir, "fills.csv")?;
    writeln!(
        fills,
        "ts_ns,lane,strategy,order_id,instrument,symbol,side,price,qty,leaves,liquidity,fee"
    )?;
    for l in &r.lanes {
        for e in &l.journal {
            match e {
                JournalEntry::Command { ts, cmd } => {
                    let id = cmd.id();
                    let (event, rest) = match *cmd {
                        OrderCommand::Submit { request: q, .. } => (
                            "submit",
                            format!(
                                "{},{},{:?},{},{},{}",
                                q.instrument.0,
                                sym(q.instrument),
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
                        "{},{},{},{},{event},{rest},",
                        ts.0,
                        l.index,
                        name(id.strategy()),
                        id
                    )?;
                }
                JournalEntry::Update(u) => {
                    let (event, reason, price, qty) = match u.kind {
                        OrderUpdateKind::Accepted => {
                            ("accepted", String::new(), String::new(), String::new())
                        }
                        OrderUpdateKind::Rejected(why) => {
                            ("rejected", why.to_string(), String::new(), String::new())
                        }
                        OrderUpdateKind::AmendRejected(why) => (
                            "amend_rejected",
                            why.to_string(),
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
                    writeln!(
                        orders,
                        "{},{},{},{},{event},{},{},,{price},{qty},,{reason}",
                        u.ts.0,
                        l.index,
                        name(u.id.strategy()),
                        u.id,
                        u.instrument.0,
                        sym(u.instrument),
                    )?;
                }
                JournalEntry::Fill(f) => {
                    writeln!(
                        fills,
                        "{},{},{},{},{},{},{:?},{},{},{},{:?},{}",
                        f.ts.0,
                        l.index,
                        name(f.id.strategy()),
                        f.id,
                        f.instrument.0,
                        sym(f.instrument),
                        f.side,
                        px(f.price),
                        f.qty.0,
                        f.leaves.0,
                        f.liquidity,
                        Price(f.fee).to_decimal()
                    )?;
                }
            }
        }
    }
    let mut positions = file(dir, "positions.csv")?;
    writeln!(
        positions,
        "strategy,instrument,symbol,position,bought,sold,avg_cost,mark,realized,unrealized,fees,net_pnl"
    )?;
    let mut equity = file(dir, "equity.csv")?;
    writeln!(equity, "strategy,ts_ns,equity,drawdown")?;
    for l in &r.lanes {
        for s in &l.strategies {
            for (id, p) in s.ledger.iter() {
                writeln!(
                    positions,
                    "{},{},{},{},{},{},{},{},{},{},{},{}",
                    s.name,
                    id.0,
                    sym(id),
                    p.position,
                    p.bought,
                    p.sold,
                    p.avg_cost()
                        .map_or(String::new(), |c| c.round_dp(6).to_string()),
                    p.mark,
                    p.realized.round_dp(6),
                    p.unrealized().round_dp(6),
                    p.fees.round_dp(6),
                    p.net().round_dp(6)
                )?;
            }
            for e in s.ledger.equity_curve() {
                writeln!(
                    equity,
                    "{},{},{},{}",
                    s.name,
                    e.ts.0,
                    e.equity.round_dp(6),
                    e.drawdown.round_dp(6)
                )?;
            }
        }
    }
    let mut sj = file(dir, "summary.json")?;
    writeln!(sj, "{}", serde_json::to_string_pretty(summary)?)?;
    for mut f in [orders, fills, positions, equity, sj] {
        f.flush()?;
    }
    Ok(())
}
