//! A receive loop's downstream for tests: everything it was handed, in order.

use ticklane_live::source::Downstream;

/// Everything the receive loop handed downstream.
#[derive(Default)]
pub struct Collect {
    pub messages: Vec<(u64, Vec<u8>)>,
    pub lost: Vec<(u64, u64)>,
    pub ended: Option<u64>,
    /// Where the session was joined again ([`Downstream::rejoined`]).
    pub rejoined: Vec<u64>,
}

impl Downstream for Collect {
    fn arrived(&mut self, _kernel_ns: Option<u64>) {}
    fn message(&mut self, seq: u64, bytes: &[u8]) {
        self.messages.push((seq, bytes.to_vec()));
    }
    fn gap_lost(&mut self, first: u64, count: u64) {
        self.lost.push((first, count));
    }
    fn rejoined(&mut self, next: u64) {
        self.rejoined.push(next);
    }
    fn end_of_session(&mut self, next: u64) {
        self.ended = Some(next);
    }
    fn flush(&mut self) -> bool {
        true
    }
    fn stop_requested(&self) -> bool {
        false
    }
}
