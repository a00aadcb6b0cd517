//! Decodes a real NASDAQ capture (first 10,000 messages of AAPL, 2020-01-30) if it is present.

use std::collections::BTreeMap;

use ticklane_feeds::itch::{decode, normalize, Message};

const PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/data/itch/nasdaq_20200130_aapl_first10k.itch50"
);

#[test]
fn nasdaq_aapl_first10k_decodes_with_expected_counts() {
    let Ok(data) = std::fs::read(PATH) else {
        println!("skipping: {PATH} not present");
        return;
    };
    let mut counts: BTreeMap<char, usize> = BTreeMap::new();
    let mut pos = 0usize;
    let mut n = 0usize;
    let mut last_ts = 0u64;
    let mut normalized = 0usize;
    while pos < data.len() {
        assert!(pos + 2 <= data.len(), "dangling length prefix at {pos}");
        let len = usize::from(u16::from_be_bytes([data[pos], data[pos + 1]]));
        let body = &data[pos + 2..pos + 2 + len];
        let msg = decode(body).unwrap_or_else(|e| panic!("message {n} at {pos}: {e}"));
        assert_eq!(msg.as_bytes(), body);
        assert_eq!(msg.msg_type(), body[0]);
        assert!(msg.timestamp() >= last_ts, "timestamps go backwards at {n}");
        last_ts = msg.timestamp();
        if let Some(ev) = normalize(&msg).unwrap_or_else(|e| panic!("message {n}: {e}")) {
            assert_eq!(ev.ts.0, msg.timestamp());
            assert_eq!(ev.instrument.0, u32::from(msg.stock_locate()));
            normalized += 1;
        }
        if let Message::StockDirectory(r) = msg {
            assert_eq!(&r.stock, b"AAPL    ");
        }
        *counts.entry(char::from(body[0])).or_default() += 1;
        pos += 2 + len;
        n += 1;
    }
    assert_eq!(n, 10_000);
    let expected: BTreeMap<char, usize> = [
        ('A', 4758),
        ('D', 4083),
        ('E', 849),
        ('P', 240),
        ('L', 52),
        ('U', 7),
        ('X', 6),
        ('F', 2),
        ('R', 1),
        ('H', 1),
        ('Y', 1),
    ]
    .into_iter()
    .collect();
    assert_eq!(counts, expected);
    // Everything but the 52 market participant positions normalizes.
    assert_eq!(normalized, 10_000 - 52);
}
