//! Identifiers, quantities, sides and event time.

use core::fmt;

/// Event time in nanoseconds. For ITCH this is nanoseconds since midnight of the trading day
/// (the 6-byte wire timestamp); other sources document their epoch. Never the wall clock.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[repr(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// Nanoseconds per second.
    pub const NANOS_PER_SEC: u64 = 1_000_000_000;

    /// Raw nanoseconds.
    #[inline(always)]
    pub const fn nanos(self) -> u64 {
        self.0
    }

    /// Parses `HH:MM:SS[.fffffffff]` (time of day; hours may pass 24, as [`Timestamp`]'s
    /// `Display` writes them for times past a day) or a plain integer of nanoseconds. `None`
    /// for anything else, including a time past `u64::MAX` nanoseconds.
    pub fn parse_time_of_day(s: &str) -> Option<Self> {
        // Digits only: `u64::from_str` would also take a leading `+` ("+9:+30:+00").
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !s.contains(':') {
            return if digits(s) {
                s.parse().ok().map(Self)
            } else {
                None
            };
        }
        let (hms, frac) = s.split_once('.').unwrap_or((s, ""));
        let mut parts = hms.split(':');
        let mut field = || parts.next().filter(|t| digits(t))?.parse::<u64>().ok();
        let (h, m, sec) = (field()?, field()?, field()?);
        if parts.next().is_some() || m >= 60 || sec >= 61 || frac.len() > 9 {
            return None;
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut nanos: u64 = 0;
        for i in 0..9 {
            nanos = nanos * 10 + frac.as_bytes().get(i).map_or(0, |b| u64::from(b - b'0'));
        }
        let secs = h.checked_mul(3600)?.checked_add(m * 60 + sec)?;
        Some(Self(
            secs.checked_mul(Self::NANOS_PER_SEC)?.checked_add(nanos)?,
        ))
    }
}

impl fmt::Display for Timestamp {
    /// `HH:MM:SS.nnnnnnnnn` (time since midnight).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 / Self::NANOS_PER_SEC;
        let nanos = self.0 % Self::NANOS_PER_SEC;
        write!(
            f,
            "{:02}:{:02}:{:02}.{:09}",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60,
            nanos
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

/// A quantity of shares (or contracts). ITCH order sizes are 32-bit.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
#[repr(transparent)]
pub struct Qty(pub u32);

impl Qty {
    /// Zero shares.
    pub const ZERO: Self = Self(0);
    /// Raw value.
    #[inline(always)]
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Qty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Side of an order: the side that rests in the book.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
#[repr(u8)]
pub enum Side {
    /// Buy order (bid).
    Bid = 0,
    /// Sell order (ask / offer).
    Ask = 1,
}

impl Side {
    /// The other side.
    #[inline(always)]
    pub const fn opposite(self) -> Self {
        match self {
            Side::Bid => Side::Ask,
            Side::Ask => Side::Bid,
        }
    }

    /// 0 for bid, 1 for ask: an array index.
    #[inline(always)]
    pub const fn index(self) -> usize {
        self as usize
    }
}

/// Exchange-assigned order reference number, unique per trading day.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
#[repr(transparent)]
pub struct OrderId(pub u64);

/// Exchange-assigned match (execution) number; links trades to broken-trade messages.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
#[repr(transparent)]
pub struct MatchId(pub u64);

/// Instrument index for the day. For ITCH it is the stock locate code; other sources assign
/// their own dense ids. `0` means "no instrument" (market-wide events).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
#[repr(transparent)]
pub struct InstrumentId(pub u32);

impl InstrumentId {
    /// Market-wide events carry this id.
    pub const NONE: Self = Self(0);
}

/// A ticker of up to 8 ASCII characters, right-padded with spaces (the ITCH `Alpha(8)` form).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Symbol(pub [u8; 8]);

impl Symbol {
    /// From a string; `None` if longer than 8 bytes or not ASCII.
    pub fn new(s: &str) -> Option<Self> {
        if s.len() > 8 || !s.is_ascii() {
            return None;
        }
        let mut b = [b' '; 8];
        b[..s.len()].copy_from_slice(s.as_bytes());
        Some(Self(b))
    }

    /// The symbol without trailing padding (lossy for non-UTF-8 bytes).
    pub fn as_str(&self) -> &str {
        let end = self.0.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1);
        core::str::from_utf8(&self.0[..end]).unwrap_or("?")
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({:?})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_of_day_round_trip() {
        let t = Timestamp::parse_time_of_day("09:30:00.000000001").unwrap();
        assert_eq!(t.0, 34_200_000_000_001);
        assert_eq!(t.to_string(), "09:30:00.000000001");
        assert_eq!(Timestamp::parse_time_of_day("09:30"), None);
        assert_eq!(Timestamp::parse_time_of_day("123"), Some(Timestamp(123)));
        assert_eq!(Timestamp::parse_time_of_day("09:61:00"), None);
        for signed in [
            "+123",
            "+9:30:00",
            "09:+30:00",
            "09:30:+00",
            "-1",
            " 9:30:00",
        ] {
            assert_eq!(Timestamp::parse_time_of_day(signed), None, "{signed}");
        }
        // Past a day is a time too (as `Display` writes it); past u64::MAX ns is refused, not
        // wrapped round to some time of the first day.
        let late = Timestamp(u64::MAX - 1);
        assert_eq!(Timestamp::parse_time_of_day(&late.to_string()), Some(late));
        assert_eq!(
            Timestamp::parse_time_of_day("48:00:00").map(|t| t.0),
            Some(48 * 3600 * 1_000_000_000)
        );
        assert_eq!(Timestamp::parse_time_of_day("5124096:00:00"), None);
        assert_eq!(
            Timestamp::parse_time_of_day("5124095:34:33.709551616"),
            None
        );
        assert_eq!(
            Timestamp::parse_time_of_day("5124095:34:33.709551615"),
            Some(Timestamp(u64::MAX))
        );
    }

    #[test]
    fn symbol_padding() {
        let s = Symbol::new("AAPL").unwrap();
        assert_eq!(&s.0, b"AAPL    ");
        assert_eq!(s.as_str(), "AAPL");
        assert!(Symbol::new("TOOLONGSYM").is_none());
    }
}
