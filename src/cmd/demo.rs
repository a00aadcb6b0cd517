//! `ticklane demo`: the main job on the embedded default, with no input files: generate a
//! NASDAQ-like session in memory (fixed seed), decode it, maintain the book of every
//! instrument, and report what was seen, the books of the busiest instruments, and the speed.

use std::collections::BTreeMap;
use std::process::ExitCode;

use ticklane_book::Market;
use ticklane_core::Side;

use ticklane_feeds::events::for_each_event;

use super::pipeline::generate_framed;
use super::stopwatch::Stopwatch;

/// Runs the command.
pub fn run(
    config: Option<&std::path::Path>,
    seed: Option<u64>,
    messages: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let cfg = crate::config::DemoConfig::load(config)?;
    let seed = seed.unwrap_or(cfg.session.seed);
    let instruments = cfg.session.instruments;
    if let Some(m) = messages {
        // The file's value was checked on load; the flag's is checked here, by name.
        crate::run_config::check_generated_messages(m, instruments)
            .map_err(|why| anyhow::anyhow!("--messages: {why}"))?;
    }
    let messages = messages.unwrap_or(cfg.session.messages);
    let clock = Stopwatch::start();
    let buf = generate_framed(seed, messages, instruments)?;
    let gen_secs = clock.elapsed().as_secs_f64();
    outln!(
        "generated {messages} ITCH 5.0 messages ({:.1} MB, {instruments} instruments, seed {seed}) in {gen_secs:.2} s",
        buf.len() as f64 / 1e6
    )?;

    let mut market = Market::with_capacity(cfg.book.order_capacity, usize::from(instruments) + 1);
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut top_changes = 0u64;
    let clock = Stopwatch::start();
    let stats = for_each_event(&buf, |ev| {
        *kinds.entry(ev.kind_name()).or_default() += 1;
        let r = market.apply(ev);
        top_changes += u64::from(r.top_changed());
    });
    let secs = clock.elapsed().as_secs_f64();
    outln!(
        "decoded {} messages into {} events and built every book in {:.3} s: {:.1} M messages/s on one thread",
        stats.messages,
        stats.events,
        secs,
        stats.messages as f64 / secs / 1e6
    )?;
    outln!(
        "errors {}, book anomalies {}",
        stats.errors,
        market.anomalies().total()
    )?;
    outln!("events by kind:")?;
    for (k, n) in &kinds {
        outln!("  {k:<26} {n:>10}")?;
    }
    outln!(
        "top-of-book changes {top_changes}; live at the end: {} orders on {} price levels",
        market.live_orders(),
        market.live_levels()
    )?;

    let mut books: Vec<_> = market.books().collect();
    books.sort_by_key(|b| std::cmp::Reverse(b.order_count()));
    outln!("\nbusiest books at the end of the session:")?;
    outln!(
        "{:<8} {:>7} {:>22} {:>22} {:>9} {:>11}",
        "symbol",
        "orders",
        "bid (qty)",
        "ask (qty)",
        "spread",
        "microprice"
    )?;
    for b in books.iter().take(8) {
        let lvl = |s: Side| {
            b.best(s)
                .map_or("-".to_string(), |l| format!("{} ({})", l.price, l.qty))
        };
        outln!(
            "{:<8} {:>7} {:>22} {:>22} {:>9} {:>11}",
            b.symbol().map_or("?".to_string(), |s| s.to_string()),
            b.order_count(),
            lvl(Side::Bid),
            lvl(Side::Ask),
            b.spread().map_or("-".to_string(), |p| p.to_string()),
            b.microprice().map_or("-".to_string(), |p| p.to_string()),
        )?;
    }
    Ok(if stats.errors == 0 && market.anomalies().total() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
