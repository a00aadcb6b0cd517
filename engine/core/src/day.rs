//! [`TradingDays`]: the trading days of a stream of events, counted as the engine's lanes
//! count them, for what reads one day of several (the feed's `replay --day` window, `book
//! --day`, `bbo --day`).
//!
//! ITCH's start of messages (`S` `O`) is "the first message sent in any trading day": one that
//! is not the data's first event begins a new day. The lanes decide so from the event's
//! sequence number (every lane, whatever it kept), so a run's `day` columns and these commands
//! number the days alike, even where the day before held nothing a book keeps (a capture that
//! starts with the evening's end of messages).

use crate::{EventBody, MarketEvent, SystemEventCode};

/// The day being read (1: the first) and whether any event came before.
#[derive(Clone, Copy, Debug)]
pub struct TradingDays {
    today: u64,
    seen: bool,
}

impl Default for TradingDays {
    fn default() -> Self {
        Self {
            today: 1,
            seen: false,
        }
    }
}

impl TradingDays {
    /// Before the data's first event: day 1.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether `ev`, the next event, begins a new day (ask before applying it: a day's books
    /// at its end are the market's before its successor's start of messages).
    pub fn begins(&self, ev: &MarketEvent) -> bool {
        self.seen
            && matches!(
                ev.body,
                EventBody::SystemEvent {
                    code: SystemEventCode::StartOfMessages,
                }
            )
    }

    /// Counts `ev`, the next event; returns whether it began a new day.
    pub fn observe(&mut self, ev: &MarketEvent) -> bool {
        let begins = self.begins(ev);
        if begins {
            self.today += 1;
        }
        self.seen = true;
        begins
    }

    /// The day of the events counted last (1: the first).
    pub fn today(&self) -> u64 {
        self.today
    }

    /// The days the events counted so far span: 0 before any event, else [`Self::today`].
    pub fn days_read(&self) -> u64 {
        if self.seen {
            self.today
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InstrumentId, Timestamp};

    fn system(code: SystemEventCode) -> MarketEvent {
        MarketEvent::new(
            Timestamp(1),
            InstrumentId::NONE,
            EventBody::SystemEvent { code },
        )
    }

    #[test]
    fn a_start_of_messages_after_any_event_begins_a_day() {
        let mut d = TradingDays::new();
        let start = system(SystemEventCode::StartOfMessages);
        // The data's first event begins no day, a start of messages or not.
        assert!(!d.begins(&start));
        assert!(!d.observe(&start));
        assert_eq!(d.today(), 1);
        assert!(!d.observe(&system(SystemEventCode::EndOfMessages)));
        assert!(d.begins(&start));
        assert!(d.observe(&start));
        assert_eq!(d.today(), 2);
        // After the evening's end of messages alone (a capture started late): a second day,
        // as the lanes count it.
        let mut d = TradingDays::new();
        d.observe(&system(SystemEventCode::EndOfMessages));
        assert!(d.observe(&start));
        assert_eq!(d.today(), 2);
        assert_eq!(d.days_read(), 2);
        assert_eq!(TradingDays::new().days_read(), 0);
    }
}
