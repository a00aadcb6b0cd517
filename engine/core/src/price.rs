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
            /// Always prints every implied decimal: `123.4500`. Width, fill and alignment
            /// (`{:>12}`) apply to the whole number, as for the integers: right-aligned by
            /// default, a precision ignored.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let sign = if self.0 < 0 { "-" } else { "" };
                let abs = self.0.unsigned_abs();
                let scale = Self::SCALE as u64;
                let (int, frac) = (abs / scale, abs % scale);
                let Some(width) = f.width() else {
                    return write!(f, "{sign}{int}.{frac:0width$}", width = $dp as usize);
                };
                // Padded: the digits go to a stack buffer first (no allocation). Not `pad`,
                // which aligns left by default and cuts the text to a precision.
                let mut buf = DigitBuffer::new();
                fmt::Write::write_fmt(
                    &mut buf,
                    format_args!("{sign}{int}.{frac:0width$}", width = $dp as usize),
                )?;
                let text = buf.as_str();
                let pad = width.saturating_sub(text.len());
                let (before, after) = match f.align() {
                    Some(fmt::Alignment::Left) => (0, pad),
                    Some(fmt::Alignment::Center) => (pad / 2, pad - pad / 2),
                    Some(fmt::Alignment::Right) | None => (pad, 0),
                };
                let fill = f.fill();
                for _ in 0..before {
                    fmt::Write::write_char(f, fill)?;
                }
                f.write_str(text)?;
                for _ in 0..after {
                    fmt::Write::write_char(f, fill)?;
                }
                Ok(())
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
                // The magnitude in `i128`, so that `i64::MIN` (one more than `i64::MAX`) parses.
                let mut v: i128 = 0;
                for b in int.bytes() {
                    v = v * 10 + i128::from(b - b'0');
                    if v > i128::from(i64::MAX) + 1 {
                        return Err(err("out of range"));
                    }
                }
                let mut f: i128 = 0;
                for i in 0..$dp as usize {
                    let d = frac.as_bytes().get(i).map_or(0, |b| i128::from(b - b'0'));
                    f = f * 10 + d;
                }
                let v = v * i128::from(Self::SCALE) + f;
                i64::try_from(if neg { -v } else { v })
                    .map(Self)
                    .map_err(|_| err("out of range"))
            }
        }
    };
}

scaled_price!(Price, 4);
scaled_price!(WidePrice, 8);

impl Price {
    /// Widens to 8 decimals, exactly; `None` past ±92,233,720,368.5477 (where 8 decimals no
    /// longer fit an `i64`).
    pub const fn widen(self) -> Option<WidePrice> {
        match self.0.checked_mul(10_000) {
            Some(raw) => Some(WidePrice(raw)),
            None => None,
        }
    }
}

/// The text of one price, for `Display` with a width: a sign, 19 digits, a point and up to 8
/// decimals fit in 32 bytes.
struct DigitBuffer {
    bytes: [u8; 32],
    len: usize,
}

impl DigitBuffer {
    const fn new() -> Self {
        Self {
            bytes: [0; 32],
            len: 0,
        }
    }

    fn as_str(&self) -> &str {
        // Only whole `&str`s are ever appended (`write_str`), so this never fails.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl fmt::Write for DigitBuffer {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        self.bytes
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
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
    fn display_honours_width_and_alignment() {
        assert_eq!(format!("{:>10}", Price(1)), "    0.0001");
        assert_eq!(format!("{:<9}|", Price(-1)), "-0.0001  |");
        assert_eq!(format!("{:*^12}", Price(1_234_500)), "**123.4500**");
        assert_eq!(format!("{:>3}", Price(1_234_500)), "123.4500");
        let widest = Price(i64::MIN);
        assert_eq!(format!("{widest:>1}"), widest.to_string());
        assert_eq!(format!("{:>14}", WidePrice(1)), "    0.00000001");
    }

    #[test]
    fn the_extremes_round_trip_and_one_past_them_is_refused() {
        for raw in [i64::MIN, i64::MIN + 1, i64::MAX] {
            assert_eq!(Price(raw).to_string().parse::<Price>(), Ok(Price(raw)));
            assert_eq!(
                WidePrice(raw).to_string().parse::<WidePrice>(),
                Ok(WidePrice(raw))
            );
        }
        assert!("-922337203685477.5809".parse::<Price>().is_err());
        assert!("922337203685477.5808".parse::<Price>().is_err());
        assert!("-92233720368.54775809".parse::<WidePrice>().is_err());
    }

    #[test]
    fn widen_is_exact_or_none() {
        assert_eq!(Price(-1_234_500).widen(), Some(WidePrice(-12_345_000_000)));
        assert_eq!(
            Price(922_337_203_685_477).widen(),
            Some(WidePrice(9_223_372_036_854_770_000))
        );
        assert_eq!(Price(922_337_203_685_478).widen(), None);
        assert_eq!(Price(i64::MIN).widen(), None);
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

    /// The module promises that width, fill and alignment apply "as for the
    /// integers". An integer right-aligns by default and ignores a precision; a price
    /// left-aligned by default and, once a width was given, a precision cut its digits
    /// (`{:>10.2}` of $123.45 printed `12`).
    #[test]
    fn width_without_alignment_and_precision_format_as_integers_do() {
        assert_eq!(format!("{:10}", 7i64), "         7");
        assert_eq!(format!("{:10}", Price(1)), "    0.0001");
        assert_eq!(format!("{:14}", WidePrice(-1)), "   -0.00000001");
        assert_eq!(format!("{:>10.2}", 7i64), "         7");
        assert_eq!(format!("{:>10.2}", Price(1_234_500)), "  123.4500");
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(raw in any::<i64>()) {
            let p = Price(raw);
            prop_assert_eq!(p.to_string().parse::<Price>(), Ok(p));
            prop_assert_eq!(Price::from_decimal(p.to_decimal()), Some(p));
            let w = WidePrice(raw);
            prop_assert_eq!(w.to_string().parse::<WidePrice>(), Ok(w));
        }
    }
}
