//! Fee models for the paper exchange: what a fill costs (or earns) by liquidity side.
//!
//! Fees are integers in **price units** (1/10000 of the currency unit), positive when paid,
//! negative for a rebate, and are reported on every [`ticklane_strategy::Fill`] (`fee`).

use serde::Deserialize;
use ticklane_core::{InstrumentId, Price, Side};
use ticklane_strategy::Liquidity;

/// What one fill costs.
pub trait FeeModel: Send {
    /// Fee of a fill of `qty` shares at `price`, price units (positive paid, negative rebate).
    fn fee(
        &self,
        instrument: InstrumentId,
        side: Side,
        price: Price,
        qty: u32,
        liquidity: Liquidity,
    ) -> i64;
}

/// A per-share fee or rebate by liquidity side, in price units per share: NASDAQ-like
/// `taker_per_share = 30` ($0.0030 paid) and `maker_per_share = -20` ($0.0020 rebate).
/// `PerShareFees::default()` charges nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerShareFees {
    /// Per share when the order rested and was hit (negative: rebate).
    #[serde(default)]
    pub maker_per_share: i64,
    /// Per share when the order took liquidity.
    #[serde(default)]
    pub taker_per_share: i64,
}

impl PerShareFees {
    /// The largest fee or rebate per share a configuration may set, in either direction:
    /// 10,000 price units, $1 a share (real per-share fees are fractions of a cent: NASDAQ
    /// charges $0.0030). Within it a fill's fee (at most `u32::MAX` shares) is exact, about
    /// 4.3 × 10^13 units at most, far from `i64`'s range, and so is any P&L summed from it.
    /// `ticklane`'s `[venue]` refuses fees outside `-MAX_PER_SHARE..=MAX_PER_SHARE`.
    pub const MAX_PER_SHARE: i64 = 10_000;

    /// No fees.
    pub const ZERO: Self = Self {
        maker_per_share: 0,
        taker_per_share: 0,
    };

    /// Maker and taker fees per share, price units.
    pub const fn new(maker_per_share: i64, taker_per_share: i64) -> Self {
        Self {
            maker_per_share,
            taker_per_share,
        }
    }
}

impl FeeModel for PerShareFees {
    fn fee(
        &self,
        _instrument: InstrumentId,
        _side: Side,
        _price: Price,
        qty: u32,
        liquidity: Liquidity,
    ) -> i64 {
        let per = match liquidity {
            Liquidity::Maker => self.maker_per_share,
            Liquidity::Taker => self.taker_per_share,
        };
        per.saturating_mul(i64::from(qty))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_share_by_liquidity() {
        let f = PerShareFees::new(-20, 30);
        let i = InstrumentId(1);
        assert_eq!(
            f.fee(i, Side::Bid, Price(10_0000), 100, Liquidity::Taker),
            3000
        );
        assert_eq!(
            f.fee(i, Side::Ask, Price(10_0000), 100, Liquidity::Maker),
            -2000
        );
        assert_eq!(
            PerShareFees::ZERO.fee(i, Side::Ask, Price(1), 7, Liquidity::Taker),
            0
        );
        let parsed: PerShareFees =
            toml::from_str("maker_per_share = -20\ntaker_per_share = 30").unwrap_or_default();
        assert_eq!(parsed, f);
        assert!(toml::from_str::<PerShareFees>("maker = 1").is_err());
    }
}
