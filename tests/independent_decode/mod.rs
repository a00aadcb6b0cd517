//! Our decoder's messages as the field maps of the independent Python decoders
//! (`tests/crosscheck/itch_decode.py`), for the tests that compare with their goldens.

#![allow(dead_code)]

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use ticklane_feeds::itch::{decode, Message};

/// Splits the NASDAQ binary file format (u16 big-endian length + message) into messages.
pub fn frames(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while off < data.len() {
        assert!(off + 2 <= data.len(), "1 trailing byte at {off}");
        let n = usize::from(u16::from_be_bytes([data[off], data[off + 1]]));
        assert!(n > 0, "zero length prefix at byte {off}");
        assert!(
            off + 2 + n <= data.len(),
            "truncated message at byte {off}: length {n}, {} bytes left",
            data.len() - off - 2
        );
        out.push(&data[off + 2..off + 2 + n]);
        off += 2 + n;
    }
    out
}

fn ch(b: u8) -> Value {
    Value::String(char::from(b).to_string())
}

/// An alpha field as a string, padding kept (as `itch_decode.py` prints every alpha but `stock`).
fn alpha(b: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(b).into_owned())
}

/// `stock`, right padding stripped.
fn stock(b: &[u8; 8]) -> Value {
    Value::String(String::from_utf8_lossy(b).trim_end_matches(' ').to_owned())
}

/// Our decoded message as the same field map as `itch_decode.py --all-fields` (without
/// `"index"`): header, then every body field under its `wire.rs` name; prices and other
/// integers raw, one-character fields as 1-character strings.
pub fn fields(msg: &Message<'_>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), ch(msg.msg_type()));
    m.insert("stock_locate".into(), json!(msg.stock_locate()));
    m.insert("tracking_number".into(), json!(msg.tracking_number()));
    m.insert("timestamp".into(), json!(msg.timestamp()));
    let body: Vec<(&str, Value)> = match *msg {
        Message::SystemEvent(x) => vec![("event_code", ch(x.event_code))],
        Message::StockDirectory(x) => vec![
            ("stock", stock(&x.stock)),
            ("market_category", ch(x.market_category)),
            ("financial_status", ch(x.financial_status)),
            ("round_lot_size", json!(x.round_lot_size.get())),
            ("round_lots_only", ch(x.round_lots_only)),
            ("issue_classification", ch(x.issue_classification)),
            ("issue_subtype", alpha(&x.issue_subtype)),
            ("authenticity", ch(x.authenticity)),
            ("short_sale_threshold", ch(x.short_sale_threshold)),
            ("ipo_flag", ch(x.ipo_flag)),
            ("luld_tier", ch(x.luld_tier)),
            ("etp_flag", ch(x.etp_flag)),
            ("etp_leverage", json!(x.etp_leverage.get())),
            ("inverse", ch(x.inverse)),
        ],
        Message::StockTradingAction(x) => vec![
            ("stock", stock(&x.stock)),
            ("trading_state", ch(x.trading_state)),
            ("reserved", ch(x.reserved)),
            ("reason", alpha(&x.reason)),
        ],
        Message::RegShoRestriction(x) => vec![
            ("stock", stock(&x.stock)),
            ("reg_sho_action", ch(x.reg_sho_action)),
        ],
        Message::MarketParticipantPosition(x) => vec![
            ("mpid", alpha(&x.mpid)),
            ("stock", stock(&x.stock)),
            ("primary_market_maker", ch(x.primary_market_maker)),
            ("market_maker_mode", ch(x.market_maker_mode)),
            ("market_participant_state", ch(x.market_participant_state)),
        ],
        Message::MwcbDeclineLevel(x) => vec![
            ("level1", json!(x.level1.get())),
            ("level2", json!(x.level2.get())),
            ("level3", json!(x.level3.get())),
        ],
        Message::MwcbStatus(x) => vec![("breached_level", ch(x.breached_level))],
        Message::IpoQuotingPeriodUpdate(x) => vec![
            ("stock", stock(&x.stock)),
            (
                "ipo_quotation_release_time",
                json!(x.ipo_quotation_release_time.get()),
            ),
            (
                "ipo_quotation_release_qualifier",
                ch(x.ipo_quotation_release_qualifier),
            ),
            ("ipo_price", json!(x.ipo_price.get())),
        ],
        Message::LuldAuctionCollar(x) => vec![
            ("stock", stock(&x.stock)),
            (
                "auction_collar_reference_price",
                json!(x.auction_collar_reference_price.get()),
            ),
            (
                "upper_auction_collar_price",
                json!(x.upper_auction_collar_price.get()),
            ),
            (
                "lower_auction_collar_price",
                json!(x.lower_auction_collar_price.get()),
            ),
            (
                "auction_collar_extension",
                json!(x.auction_collar_extension.get()),
            ),
        ],
        Message::OperationalHalt(x) => vec![
            ("stock", stock(&x.stock)),
            ("market_code", ch(x.market_code)),
            ("operational_halt_action", ch(x.operational_halt_action)),
        ],
        Message::AddOrder(x) => vec![
            ("order_ref", json!(x.order_ref.get())),
            ("buy_sell", ch(x.buy_sell)),
            ("shares", json!(x.shares.get())),
            ("stock", stock(&x.stock)),
            ("price", json!(x.price.get())),
        ],
        Message::AddOrderMpid(x) => vec![
            ("order_ref", json!(x.order_ref.get())),
            ("buy_sell", ch(x.buy_sell)),
            ("shares", json!(x.shares.get())),
            ("stock", stock(&x.stock)),
            ("price", json!(x.price.get())),
            ("attribution", alpha(&x.attribution)),
        ],
        Message::OrderExecuted(x) => vec![
            ("order_ref", json!(x.order_ref.get())),
            ("executed_shares", json!(x.executed_shares.get())),
            ("match_number", json!(x.match_number.get())),
        ],
        Message::OrderExecutedWithPrice(x) => vec![
            ("order_ref", json!(x.order_ref.get())),
            ("executed_shares", json!(x.executed_shares.get())),
            ("match_number", json!(x.match_number.get())),
            ("printable", ch(x.printable)),
            ("execution_price", json!(x.execution_price.get())),
        ],
        Message::OrderCancel(x) => vec![
            ("order_ref", json!(x.order_ref.get())),
            ("cancelled_shares", json!(x.cancelled_shares.get())),
        ],
        Message::OrderDelete(x) => vec![("order_ref", json!(x.order_ref.get()))],
        Message::OrderReplace(x) => vec![
            ("original_order_ref", json!(x.original_order_ref.get())),
            ("new_order_ref", json!(x.new_order_ref.get())),
            ("shares", json!(x.shares.get())),
            ("price", json!(x.price.get())),
        ],
        Message::NonCrossTrade(x) => vec![
            ("order_ref", json!(x.order_ref.get())),
            ("buy_sell", ch(x.buy_sell)),
            ("shares", json!(x.shares.get())),
            ("stock", stock(&x.stock)),
            ("price", json!(x.price.get())),
            ("match_number", json!(x.match_number.get())),
        ],
        Message::CrossTrade(x) => vec![
            ("shares", json!(x.shares.get())),
            ("stock", stock(&x.stock)),
            ("cross_price", json!(x.cross_price.get())),
            ("match_number", json!(x.match_number.get())),
            ("cross_type", ch(x.cross_type)),
        ],
        Message::BrokenTrade(x) => vec![("match_number", json!(x.match_number.get()))],
        Message::Noii(x) => vec![
            ("paired_shares", json!(x.paired_shares.get())),
            ("imbalance_shares", json!(x.imbalance_shares.get())),
            ("imbalance_direction", ch(x.imbalance_direction)),
            ("stock", stock(&x.stock)),
            ("far_price", json!(x.far_price.get())),
            ("near_price", json!(x.near_price.get())),
            (
                "current_reference_price",
                json!(x.current_reference_price.get()),
            ),
            ("cross_type", ch(x.cross_type)),
            ("price_variation_indicator", ch(x.price_variation_indicator)),
        ],
        Message::Rpii(x) => vec![
            ("stock", stock(&x.stock)),
            ("interest_flag", ch(x.interest_flag)),
        ],
        Message::DirectListingPriceDiscovery(x) => vec![
            ("stock", stock(&x.stock)),
            ("open_eligibility_status", ch(x.open_eligibility_status)),
            (
                "minimum_allowable_price",
                json!(x.minimum_allowable_price.get()),
            ),
            (
                "maximum_allowable_price",
                json!(x.maximum_allowable_price.get()),
            ),
            ("near_execution_price", json!(x.near_execution_price.get())),
            ("near_execution_time", json!(x.near_execution_time.get())),
            (
                "lower_price_range_collar",
                json!(x.lower_price_range_collar.get()),
            ),
            (
                "upper_price_range_collar",
                json!(x.upper_price_range_collar.get()),
            ),
        ],
    };
    for (k, v) in body {
        m.insert(k.to_owned(), v);
    }
    m
}

/// Compares a decode golden written without `--index` and `--all-fields` (its `sample` is the
/// first `per_type` messages of each type in file order, each with the header and the subset
/// of fields `itch_decode.py` prints by default) with our decode of `frames`: counts per type,
/// which messages are sampled, and every field the golden holds. Returns one line per
/// difference.
pub fn compare_first_per_type(frames: &[&[u8]], golden: &Value, per_type: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut by_type: BTreeMap<String, u64> = BTreeMap::new();
    let mut ours = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let m = match decode(f) {
            Ok(m) => m,
            Err(e) => {
                out.push(format!("frame {i}: our decoder: {e}"));
                continue;
            }
        };
        let t = char::from(m.msg_type()).to_string();
        let n = by_type.entry(t).or_default();
        *n += 1;
        if *n <= per_type as u64 {
            ours.push((i, fields(&m)));
        }
    }
    if golden["messages"] != json!(frames.len()) {
        out.push(format!(
            "messages: ours {} golden {}",
            frames.len(),
            golden["messages"]
        ));
    }
    if golden["by_type"] != json!(by_type) {
        out.push(format!(
            "by_type: ours {} golden {}",
            json!(by_type),
            golden["by_type"]
        ));
    }
    let Some(sample) = golden["sample"].as_array() else {
        out.push("golden without a \"sample\" array".to_string());
        return out;
    };
    if sample.len() != ours.len() {
        out.push(format!(
            "sample: ours {} messages, golden {}",
            ours.len(),
            sample.len()
        ));
    }
    for ((i, ours), g) in ours.iter().zip(sample) {
        let Some(g) = g.as_object() else {
            out.push(format!("frame {i}: golden entry is not an object"));
            continue;
        };
        let diff: Vec<String> = g
            .iter()
            .filter(|(k, v)| ours.get(*k) != Some(*v))
            .map(|(k, v)| format!("{k}: ours {:?} golden {v}", ours.get(k)))
            .collect();
        if !diff.is_empty() {
            out.push(format!("frame {i}: {}", diff.join(", ")));
        }
    }
    out
}
