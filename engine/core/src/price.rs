//! Decimal-scaled integer prices.
//!
//! [`Price`] carries 4 implied decimals (1 unit = $0.0001), the scale of ITCH `Price(4)` fields
//! and of LOBSTER files, so decoding is a widening copy and book keys are exact integers.
//! [`WidePrice`] carries 8 implied decimals, the scale of ITCH `Price(8)` fields (MWCB levels).
//! Both are signed so that differences (spreads, P&L per share) stay in the same type.

use core::fmt;
use core::str::FromStr;

use rust_decimal::Decimal;

/// A price with 4 implied decimal places: `Price(1_234_500)` is $123.45.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct Price(pub i64);

/// A price with 8 implied decimal places (ITCH `Price(8)`, e.g. MWCB decline levels).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct WidePrice(pub i64);

/// Error from parsing a decimal price string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceParseError {
    /// Why the string was refused.
    pub reason: &'static str,
}

impl fmt::Display for PriceParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid price: {}", self.reason)
    }
}

impl std::error::Error for PriceParseError {}

macro_rules! scaled_price {
    ($ty:ident, $dp:expr) => {
        impl $ty {
            /// Number of implied decimal places.
            pub const DECIMALS: u32 = $dp;
            /// Integer units per 1.0 of currency.
            pub const SCALE: i64 = 10i64.pow($dp);
            /// Zero.
            pub const ZERO: Self = Self(0);

            /// The raw scaled integer.
            #[inline(always)]
            pub const fn raw(self) -> i64 {
                self.0
            }

            /// From a raw scaled integer.
            #[inline(always)]
            pub const fn from_raw(raw: i64) -> Self {
                Self(raw)
            }

            /// From whole currency units (e.g. dollars). Saturates on overflow.
            pub const fn from_units(units: i64) -> Self {
                Self(units.saturating_mul(Self::SCALE))
            }

            /// Exact conversion to a decimal for display, reports and P&L.
            pub fn to_decimal(self) -> Decimal {
                Decimal::new(self.0, Self::DECIMALS)
            }

            /// Exact conversion from a decimal; `None` if it has more than
            /// [`Self::DECIMALS`] significant decimals or does not fit.
            pub fn from_decimal(d: Decimal) -> Option<Self> {
                let scaled = d.checked_mul(Decimal::from(Self::SCALE))?;
                if scaled.fract() != Decimal::ZERO {
                    return None;
                }
                i64::try_from(scaled).ok().map(Self)
            }
        }

        impl fmt::Display for $ty {
            /// Always prints every implied decimal: `123.4500`.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let sign = if self.0 < 0 { "-" } else { "" };
                let abs = self.0.unsigned_abs();
                let scale = Self::SCALE as u64;
                write!(
                    f,
                    "{sign}{}.{:0width$}",
                    abs / scale,
                    abs % scale,
                    width = $dp as usize
                )
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($ty))
            }
        }

        impl FromStr for $ty {
            type Err = PriceParseError;

            /// Parses `"123.45"`, `"-0.0001"`, `"7"`; refuses more decimals than the scale holds.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let err = |reason| PriceParseError { reason };
                let (neg, body) = match s.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, s),
                };
                let (int, frac) = body.split_once('.').unwrap_or((body, ""));
                if int.is_empty() && frac.is_empty() {
                    return Err(err("empty"));
                }
                if frac.len() > $dp as usize {
                    return Err(err("too many decimal places"));
                }
                if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
                    return Err(err("not a decimal number"));
                }
                let mut v: i64 = 0;
                for b in int.bytes() {
                    v = v
                        .checked_mul(10)
                        .and_then(|v| v.checked_add(i64::from(b - b'0')))
                        .ok_or(err("out of range"))?;
                }
                let mut f: i64 = 0;
                for i in 0..$dp as usize {
                    let d = frac.as_bytes().get(i).map_or(0, |b| i64::from(b - b'0'));
                    f = f * 10 + d;
                }
                let v = v
                    .checked_mul(Self::SCALE)
                    .and_then(|v| v.checked_add(f))
                    .ok_or(err("out of range"))?;
                Ok(Self(if neg { -v } else { v }))
            }
        }
    };
}

scaled_price!(Price, 4);
scaled_price!(WidePrice, 8);

impl Price {
    /// Widens to 8 decimals (exact).
    pub const fn widen(self) -> WidePrice {
        WidePrice(self.0.saturating_mul(10_000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display_pads_all_decimals() {
        assert_eq!(Price(1_234_500).to_string(), "123.4500");
        assert_eq!(Price(1).to_string(), "0.0001");
        assert_eq!(Price(-1).to_string(), "-0.0001");
        assert_eq!(WidePrice(300_000_000_000).to_string(), "3000.00000000");
    }

    #[test]
    fn parse_refuses_bad_input() {
        assert_eq!("123.45".parse::<Price>(), Ok(Price(1_234_500)));
        assert_eq!("7".parse::<Price>(), Ok(Price(70_000)));
        assert_eq!(".5".parse::<Price>(), Ok(Price(5_000)));
        assert!("1.00001".parse::<Price>().is_err());
        assert!("1e5".parse::<Price>().is_err());
        assert!("".parse::<Price>().is_err());
        assert!("99999999999999999999".parse::<Price>().is_err());
    }

    #[test]
    fn decimal_is_exact() {
        assert_eq!(Price(1_234_567).to_decimal().to_string(), "123.4567");
        assert_eq!(
            Price::from_decimal(Decimal::new(12345, 2)),
            Some(Price(1_234_500))
        );
        assert_eq!(Price::from_decimal(Decimal::new(123_456, 5)), None);
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(raw in any::<i64>().prop_filter("min", |v| *v != i64::MIN)) {
            let p = Price(raw);
            prop_assert_eq!(p.to_string().parse::<Price>(), Ok(p));
            prop_assert_eq!(Price::from_decimal(p.to_decimal()), Some(p));
            let w = WidePrice(raw);
            prop_assert_eq!(w.to_string().parse::<WidePrice>(), Ok(w));
        }
    }
}
