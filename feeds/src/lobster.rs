//! LOBSTER message and order-book files (the academic limit-order-book data set).
//!
//! A LOBSTER download is a pair of CSV files without a header row, one row per event:
//!
//! * the **message file** (`TICKER_DATE_START_END_message_L.csv`): time, event type, order id,
//!   size, price, direction — parsed by [`parse_message`] into a [`LobsterMessage`];
//! * the **order-book file** (`..._orderbook_L.csv`): the book *after* the message of the same
//!   row, `L` levels of `ask price, ask size, bid price, bid size` — parsed by
//!   [`parse_book_row_into`] into a [`BookRow`]. An empty level is written as ask price
//!   [`EMPTY_ASK_PRICE`] / bid price [`EMPTY_BID_PRICE`] with size 0; such a side of a level is
//!   `None` here.
//!
//! [`MessageReader`] and [`BookReader`] stream a file through one buffered reader and one
//! reusable line buffer: no allocation per row, memory flat whatever the file size. A row that
//! does not parse is reported and reading goes on; a read error is reported once and ends the
//! stream (a source that failed, such as a directory opened as a file, is not read again).
//! [`EventMapper::to_event`] turns a message into a normalized [`MarketEvent`].
//! [`is_lobster_message_file`] recognises a message file from its first bytes.
//!
//! # Time
//!
//! LOBSTER time is **seconds after midnight of the file's date** (the date is in the file name),
//! a decimal with up to 9 fractional digits and trailing zeros dropped (`34200.18960767` is
//! 34 200.189 607 670 s). It becomes a [`Timestamp`] of nanoseconds since that midnight — the
//! same convention as ITCH — by exact integer arithmetic ([`parse_time`]); floating point is
//! never involved.
//!
//! # Prices, sides, ids
//!
//! Prices are dollars × 10 000, the scale of [`Price`], so they are copied unchanged.
//! Direction `1` is a buy order (bid), `-1` a sell order (ask); for executions it is the side of
//! the *resting* order. Order ids are kept as `i64` because LOBSTER writes cross trades
//! (type 6) with negative pseudo ids (-1 opening cross, -2 closing cross, -3/-4 other crosses);
//! for types 1–5 the parser refuses negative ids, so `OrderId(id as u64)` is lossless there.
//!
//! # Errors
//!
//! Parsing never panics: any byte string yields a value or a [`ParseError`] naming the 1-based
//! line and column and what was wrong ([`ParseErrorKind`]).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use ticklane_core::{
    AuctionKind, EventBody, InstrumentId, MarketEvent, MatchId, OrderId, Price, Qty, Side,
    Timestamp, TradingState,
};

/// Ask price LOBSTER writes for an empty ask level (with size 0).
pub const EMPTY_ASK_PRICE: i64 = 9_999_999_999;
/// Bid price LOBSTER writes for an empty bid level (with size 0).
pub const EMPTY_BID_PRICE: i64 = -9_999_999_999;

/// Columns of a message-file row.
pub const MESSAGE_COLUMNS: usize = 6;

/// Buffer size of the file readers.
const READ_BUFFER: usize = 1 << 16;

/// One row of a LOBSTER message file.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LobsterMessage {
    /// Nanoseconds after midnight of the file's date.
    pub time: Timestamp,
    /// Event type, `1..=7` (see [`EventMapper::to_event`]).
    pub kind: u8,
    /// Order reference; `>= 0` for types 1–5, a negative pseudo id for cross trades (type 6).
    pub order_id: i64,
    /// Shares.
    pub size: u32,
    /// Dollars × 10 000 (for type 7: -1 halt, 0 quoting resumes, 1 trading resumes).
    pub price: i64,
    /// `1` buy, `-1` sell (side of the resting order for executions); types 6 and 7 may also
    /// carry 0.
    pub direction: i8,
}

impl LobsterMessage {
    /// Side of the (resting) order: `Some(Bid)` for direction 1, `Some(Ask)` for -1.
    #[inline]
    pub fn side(&self) -> Option<Side> {
        match self.direction {
            1 => Some(Side::Bid),
            -1 => Some(Side::Ask),
            _ => None,
        }
    }
}

/// What was wrong with a field or row.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ParseErrorKind {
    /// The field is empty.
    #[error("empty field")]
    Empty,
    /// A byte that is not a digit (or a misplaced sign or decimal point).
    #[error("not a number")]
    InvalidNumber,
    /// The number does not fit its type.
    #[error("number out of range")]
    OutOfRange,
    /// More than 9 fractional digits in a time.
    #[error("more than 9 fractional digits")]
    TooManyFractionDigits,
    /// The row has fewer columns than required.
    #[error("missing column (expected {expected} columns)")]
    MissingColumn {
        /// Columns required.
        expected: usize,
    },
    /// The row has more columns than allowed.
    #[error("extra column (expected {expected} columns)")]
    ExtraColumn {
        /// Columns allowed.
        expected: usize,
    },
    /// Event type outside `1..=7`.
    #[error("event type {0} is not 1..=7")]
    EventType(i64),
    /// Direction other than 1 or -1 (0 is also allowed for types 6 and 7).
    #[error("direction {0} is not 1 or -1")]
    Direction(i64),
    /// A negative order id on a type 1–5 message.
    #[error("negative order id {0} on an order event")]
    NegativeOrderId(i64),
    /// A trading-halt row (type 7) whose price is not -1 (halted), 0 (quoting) or 1 (trading).
    #[error("halt indicator {0} is not -1, 0 or 1")]
    HaltIndicator(i64),
    /// An order-book row whose column count is not a positive multiple of 4.
    #[error("{0} columns is not a positive multiple of 4")]
    BookColumns(usize),
    /// An order-book row with another number of levels than the first row.
    #[error("{found} levels, the file started with {expected}")]
    LevelCount {
        /// Levels of the first row.
        expected: usize,
        /// Levels of this row.
        found: usize,
    },
    /// An empty-level sentinel price with a non-zero size, or a real price with size 0.
    #[error("inconsistent empty level (sentinel price with size, or size 0 with a price)")]
    InconsistentEmptyLevel,
    /// A negative size in an order-book row.
    #[error("negative size")]
    NegativeSize,
}

/// A row could not be parsed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct ParseError {
    /// 1-based line number in the file.
    pub line: u64,
    /// 1-based column (CSV field) number.
    pub column: usize,
    /// What was wrong.
    pub kind: ParseErrorKind,
}

/// Reading a LOBSTER file failed.
#[derive(Debug, thiserror::Error)]
pub enum LobsterError {
    /// A row could not be parsed.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// The file could not be read.
    #[error("line {line}: read error: {source}")]
    Io {
        /// 1-based line being read.
        line: u64,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl LobsterError {
    /// 1-based line the error refers to.
    pub fn line(&self) -> u64 {
        match self {
            LobsterError::Parse(e) => e.line,
            LobsterError::Io { line, .. } => *line,
        }
    }
}

// ------------------------------------------------------------------------ field parsing

/// Parses unsigned decimal digits (no sign) into a `u64`.
#[inline]
fn parse_u64(f: &[u8]) -> Result<u64, ParseErrorKind> {
    if f.is_empty() {
        return Err(ParseErrorKind::Empty);
    }
    let mut v: u64 = 0;
    for &b in f {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(ParseErrorKind::InvalidNumber);
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(ParseErrorKind::OutOfRange)?;
    }
    Ok(v)
}

/// Parses an optionally `-`-signed decimal integer into an `i64`.
#[inline]
fn parse_i64(f: &[u8]) -> Result<i64, ParseErrorKind> {
    let (neg, digits) = match f.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, f),
    };
    if neg && digits.is_empty() {
        return Err(ParseErrorKind::InvalidNumber);
    }
    let v = parse_u64(digits)?;
    if neg {
        // -(2^63) is representable.
        if v == 1u64 << 63 {
            return Ok(i64::MIN);
        }
        i64::try_from(v)
            .map(|v| -v)
            .map_err(|_| ParseErrorKind::OutOfRange)
    } else {
        i64::try_from(v).map_err(|_| ParseErrorKind::OutOfRange)
    }
}

/// Parses LOBSTER time — seconds after midnight, `SECONDS[.FRACTION]` with 1 to 9 fractional
/// digits (trailing zeros may be dropped) — exactly into nanoseconds. Integer arithmetic only.
///
/// ```
/// use ticklane_feeds::lobster::parse_time;
/// assert_eq!(parse_time(b"34200.18960767").map(|t| t.0), Ok(34_200_189_607_670));
/// assert_eq!(parse_time(b"34200.000000001").map(|t| t.0), Ok(34_200_000_000_001));
/// assert_eq!(parse_time(b"34200").map(|t| t.0), Ok(34_200_000_000_000));
/// ```
pub fn parse_time(f: &[u8]) -> Result<Timestamp, ParseErrorKind> {
    let (int, frac) = match f.iter().position(|&b| b == b'.') {
        Some(dot) => {
            let frac = &f[dot + 1..];
            if frac.is_empty() {
                return Err(ParseErrorKind::InvalidNumber);
            }
            (&f[..dot], Some(frac))
        }
        None => (f, None),
    };
    let secs = parse_u64(int)?;
    let mut nanos: u64 = 0;
    if let Some(frac) = frac {
        if frac.len() > 9 {
            // Reject even if the digit run is valid: more precision than a Timestamp holds.
            if frac.iter().all(u8::is_ascii_digit) {
                return Err(ParseErrorKind::TooManyFractionDigits);
            }
            return Err(ParseErrorKind::InvalidNumber);
        }
        for &b in frac {
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                return Err(ParseErrorKind::InvalidNumber);
            }
            nanos = nanos * 10 + u64::from(d);
        }
        for _ in frac.len()..9 {
            nanos *= 10;
        }
    }
    secs.checked_mul(Timestamp::NANOS_PER_SEC)
        .and_then(|s| s.checked_add(nanos))
        .map(Timestamp)
        .ok_or(ParseErrorKind::OutOfRange)
}

/// Splits a line into comma-separated fields without allocating; strips one trailing `\n`
/// and `\r`.
#[inline]
fn strip_eol(mut line: &[u8]) -> &[u8] {
    if let Some(rest) = line.strip_suffix(b"\n") {
        line = rest;
    }
    if let Some(rest) = line.strip_suffix(b"\r") {
        line = rest;
    }
    line
}

/// Parses one message-file row (with or without its line ending). `line` is the 1-based line
/// number reported in errors.
///
/// ```
/// use ticklane_feeds::lobster::parse_message;
/// let m = parse_message(b"34200.18960767,1,11885113,21,2238100,1\n", 2).expect("valid row");
/// assert_eq!((m.time.0, m.kind, m.order_id, m.size, m.price, m.direction),
///            (34_200_189_607_670, 1, 11_885_113, 21, 2_238_100, 1));
/// ```
pub fn parse_message(row: &[u8], line: u64) -> Result<LobsterMessage, ParseError> {
    let row = strip_eol(row);
    let err = |column: usize, kind: ParseErrorKind| ParseError { line, column, kind };
    let mut fields = row.split(|&b| b == b',');
    let mut next = |column: usize| {
        fields.next().ok_or(err(
            column,
            ParseErrorKind::MissingColumn {
                expected: MESSAGE_COLUMNS,
            },
        ))
    };
    let time = parse_time(next(1)?).map_err(|k| err(1, k))?;
    let kind_raw = parse_i64(next(2)?).map_err(|k| err(2, k))?;
    let kind = match kind_raw {
        1..=7 => kind_raw as u8,
        _ => return Err(err(2, ParseErrorKind::EventType(kind_raw))),
    };
    let order_id = parse_i64(next(3)?).map_err(|k| err(3, k))?;
    if order_id < 0 && kind <= 5 {
        return Err(err(3, ParseErrorKind::NegativeOrderId(order_id)));
    }
    let size_f = next(4)?;
    let size = parse_u64(size_f)
        .and_then(|v| u32::try_from(v).map_err(|_| ParseErrorKind::OutOfRange))
        .map_err(|k| err(4, k))?;
    let price = parse_i64(next(5)?).map_err(|k| err(5, k))?;
    // A type 7 row's price is its state: any other value has no event, and dropping the row
    // would leave the instrument in whatever state came before without a word.
    if kind == 7 && !(-1..=1).contains(&price) {
        return Err(err(5, ParseErrorKind::HaltIndicator(price)));
    }
    let dir = parse_i64(next(6)?).map_err(|k| err(6, k))?;
    let direction = match dir {
        1 => 1,
        -1 => -1,
        0 if kind >= 6 => 0,
        _ => return Err(err(6, ParseErrorKind::Direction(dir))),
    };
    if fields.next().is_some() {
        return Err(err(
            MESSAGE_COLUMNS + 1,
            ParseErrorKind::ExtraColumn {
                expected: MESSAGE_COLUMNS,
            },
        ));
    }
    Ok(LobsterMessage {
        time,
        kind,
        order_id,
        size,
        price,
        direction,
    })
}

// ------------------------------------------------------------------------ order-book rows

/// One side of one level of an order-book row.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Quote {
    /// Level price (dollars × 10 000).
    pub price: Price,
    /// Total displayed shares at the level.
    pub qty: u64,
}

/// One level of an order-book row; `None` where LOBSTER wrote the empty-level sentinel.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct BookLevel {
    /// Ask side of the level.
    pub ask: Option<Quote>,
    /// Bid side of the level.
    pub bid: Option<Quote>,
}

impl BookLevel {
    /// The given side.
    #[inline]
    pub fn side(&self, side: Side) -> Option<Quote> {
        match side {
            Side::Bid => self.bid,
            Side::Ask => self.ask,
        }
    }
}

/// One order-book row: levels 1..=L, best first. Reused across rows (no allocation per row
/// once its capacity is reached).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct BookRow {
    /// Levels, best first.
    pub levels: Vec<BookLevel>,
}

impl BookRow {
    /// Number of levels `L`.
    #[inline]
    pub fn level_count(&self) -> usize {
        self.levels.len()
    }

    /// Quote of level `i` (0-based) on `side`; `None` if empty or beyond `L`.
    #[inline]
    pub fn quote(&self, side: Side, i: usize) -> Option<Quote> {
        self.levels.get(i).and_then(|l| l.side(side))
    }

    /// Whether a non-empty level at `price` is shown on `side`.
    pub fn has_price(&self, side: Side, price: Price) -> bool {
        self.levels
            .iter()
            .any(|l| l.side(side).is_some_and(|q| q.price == price))
    }
}

/// Parses one order-book row into `row` (cleared first). `expected_levels`, if given, is the
/// level count every row of the file must have. `line` is the 1-based line number for errors.
pub fn parse_book_row_into(
    line_bytes: &[u8],
    line: u64,
    expected_levels: Option<usize>,
    row: &mut BookRow,
) -> Result<(), ParseError> {
    let line_bytes = strip_eol(line_bytes);
    row.levels.clear();
    let err = |column: usize, kind: ParseErrorKind| ParseError { line, column, kind };
    let mut fields = line_bytes.split(|&b| b == b',');
    let mut column = 0usize;
    while let Some(ask_px) = fields.next() {
        let base = column;
        let mut next = |c: usize| {
            fields
                .next()
                .ok_or(err(base + c, ParseErrorKind::BookColumns(base + c - 1)))
        };
        let ask_qty = next(2)?;
        let bid_px = next(3)?;
        let bid_qty = next(4)?;
        let ask = quote(ask_px, ask_qty, EMPTY_ASK_PRICE, base + 1, &err)?;
        let bid = quote(bid_px, bid_qty, EMPTY_BID_PRICE, base + 3, &err)?;
        row.levels.push(BookLevel { ask, bid });
        column += 4;
    }
    if row.levels.is_empty() {
        return Err(err(1, ParseErrorKind::BookColumns(0)));
    }
    if let Some(expected) = expected_levels {
        if expected != row.levels.len() {
            return Err(err(
                1,
                ParseErrorKind::LevelCount {
                    expected,
                    found: row.levels.len(),
                },
            ));
        }
    }
    Ok(())
}

#[inline]
fn quote(
    px: &[u8],
    qty: &[u8],
    sentinel: i64,
    px_column: usize,
    err: &impl Fn(usize, ParseErrorKind) -> ParseError,
) -> Result<Option<Quote>, ParseError> {
    let price = parse_i64(px).map_err(|k| err(px_column, k))?;
    let q = parse_i64(qty).map_err(|k| err(px_column + 1, k))?;
    let q = u64::try_from(q).map_err(|_| err(px_column + 1, ParseErrorKind::NegativeSize))?;
    match (price == sentinel, q == 0) {
        (true, true) => Ok(None),
        (false, false) => Ok(Some(Quote {
            price: Price(price),
            qty: q,
        })),
        (true, false) => Err(err(px_column + 1, ParseErrorKind::InconsistentEmptyLevel)),
        (false, true) => Err(err(px_column + 1, ParseErrorKind::InconsistentEmptyLevel)),
    }
}

// ------------------------------------------------------------------------ readers

/// Reads lines into one reusable buffer; counts lines. After end of file or a read error it is
/// done: every later call returns `Ok(None)` without reading again.
#[derive(Debug)]
struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    line: u64,
    /// End of file reached or a read error returned: nothing more is read.
    done: bool,
}

impl<R: BufRead> LineReader<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::with_capacity(256),
            line: 0,
            done: false,
        }
    }

    /// Next line (with its ending), or `None` at end of file. A read error is returned once
    /// (with the line being read); the reader is then done, because a failing source (a
    /// directory, a vanished device) would fail the same way on every later call.
    fn next_line(&mut self) -> Result<Option<&[u8]>, LobsterError> {
        if self.done {
            return Ok(None);
        }
        self.buf.clear();
        match self.inner.read_until(b'\n', &mut self.buf) {
            Ok(0) => {
                self.done = true;
                Ok(None)
            }
            Ok(_) => {
                self.line += 1;
                Ok(Some(&self.buf))
            }
            Err(source) => {
                self.done = true;
                Err(LobsterError::Io {
                    line: self.line + 1,
                    source,
                })
            }
        }
    }
}

fn open_buffered(path: &Path) -> io::Result<BufReader<File>> {
    Ok(BufReader::with_capacity(READ_BUFFER, File::open(path)?))
}

/// Streams the rows of a message file. An iterator of `Result<LobsterMessage, LobsterError>`;
/// a bad row yields its error and reading continues with the next line. A read error
/// ([`LobsterError::Io`]) is yielded once and ends the iteration (`None` after it).
#[derive(Debug)]
pub struct MessageReader<R> {
    lines: LineReader<R>,
}

impl MessageReader<BufReader<File>> {
    /// Opens a message file (buffered, 64 KiB).
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(Self::new(open_buffered(path)?))
    }
}

impl<R: BufRead> MessageReader<R> {
    /// Reads messages from `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            lines: LineReader::new(inner),
        }
    }

    /// 1-based number of the last line read (0 before the first).
    pub fn line(&self) -> u64 {
        self.lines.line
    }
}

impl<R: BufRead> Iterator for MessageReader<R> {
    type Item = Result<LobsterMessage, LobsterError>;

    fn next(&mut self) -> Option<Self::Item> {
        let line = self.lines.line + 1;
        match self.lines.next_line() {
            Ok(Some(bytes)) => Some(parse_message(bytes, line).map_err(Into::into)),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// Streams the rows of an order-book file into one reused [`BookRow`]. The first row fixes the
/// level count `L`; a later row with another count is an error (reading continues with the
/// next line). A read error ([`LobsterError::Io`]) is returned once; every later
/// [`next_row`](BookReader::next_row) returns `Ok(None)`.
#[derive(Debug)]
pub struct BookReader<R> {
    lines: LineReader<R>,
    row: BookRow,
    levels: Option<usize>,
}

impl BookReader<BufReader<File>> {
    /// Opens an order-book file (buffered, 64 KiB).
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(Self::new(open_buffered(path)?))
    }
}

impl<R: BufRead> BookReader<R> {
    /// Reads order-book rows from `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            lines: LineReader::new(inner),
            row: BookRow::default(),
            levels: None,
        }
    }

    /// Level count `L` of the file (known after the first row).
    pub fn levels(&self) -> Option<usize> {
        self.levels
    }

    /// 1-based number of the last line read (0 before the first).
    pub fn line(&self) -> u64 {
        self.lines.line
    }

    /// The next row, or `None` at end of file or after a read error.
    pub fn next_row(&mut self) -> Result<Option<&BookRow>, LobsterError> {
        let line = self.lines.line + 1;
        let Some(bytes) = self.lines.next_line()? else {
            return Ok(None);
        };
        parse_book_row_into(bytes, line, self.levels, &mut self.row)?;
        self.levels = Some(self.row.levels.len());
        Ok(Some(&self.row))
    }
}

/// Reads a whole message file through any reader (convenience for tests and small files).
pub fn read_messages<R: Read>(inner: R) -> Result<Vec<LobsterMessage>, LobsterError> {
    MessageReader::new(BufReader::new(inner)).collect()
}

// ------------------------------------------------------------------------ normalization

/// Maps LOBSTER messages to [`MarketEvent`]s, numbering executions.
///
/// | type | event | notes |
/// |---|---|---|
/// | 1 | [`EventBody::OrderAdded`] | side from direction, `mpid` all zero |
/// | 2 | [`EventBody::OrderCancelled`] | partial cancel; `qty` = shares removed |
/// | 3 | [`EventBody::OrderDeleted`] | the size column (shares deleted) is not carried |
/// | 4 | [`EventBody::OrderExecuted`] | execution of a visible order at its limit price |
/// | 5 | [`EventBody::Trade`] | hidden execution: does not touch the displayed book; side of the hidden resting order from direction (id usually 0) |
/// | 6 | [`EventBody::CrossTrade`] | auction print; LOBSTER's pseudo id says which auction: -1 [`AuctionKind::Opening`], -2 [`AuctionKind::Closing`], anything else [`AuctionKind::HaltOrIpo`] (LOBSTER's -3/-4: IPO, halt/pause and other intraday crosses) |
/// | 7 | [`EventBody::TradingStatus`] | price -1 [`TradingState::Halted`], 0 [`TradingState::QuotationOnly`], 1 [`TradingState::Trading`]; `reason` 4 spaces (LOBSTER gives none) |
///
/// **Match ids.** LOBSTER carries no match number, so each execution-type message (4, 5 and 6)
/// gets the next value of a running counter starting at 1: match id *n* is the *n*-th
/// execution of the stream this mapper has seen. (LOBSTER writes one row per resting order
/// filled, as ITCH does, so one aggressive order sweeping two orders gives two match ids.)
///
/// `to_event` returns `None` only for a message that has no faithful event and that
/// [`parse_message`] never produces (it refuses both): a type 1–5 message with direction 0,
/// or a type 7 with a price other than -1, 0, 1.
#[derive(Clone, Debug, Default)]
pub struct EventMapper {
    next_match_id: u64,
}

impl EventMapper {
    /// A mapper whose first execution gets match id 1.
    pub fn new() -> Self {
        Self { next_match_id: 0 }
    }

    /// Number of match ids handed out so far.
    pub fn matches(&self) -> u64 {
        self.next_match_id
    }

    fn next_match(&mut self) -> MatchId {
        self.next_match_id += 1;
        MatchId(self.next_match_id)
    }

    /// The normalized event for `msg`, for `instrument` (see the table above).
    pub fn to_event(
        &mut self,
        msg: &LobsterMessage,
        instrument: InstrumentId,
    ) -> Option<MarketEvent> {
        let order_id = OrderId(msg.order_id.max(0) as u64);
        let body = match msg.kind {
            1 => EventBody::OrderAdded {
                order_id,
                side: msg.side()?,
                price: Price(msg.price),
                qty: Qty(msg.size),
                mpid: [0; 4],
            },
            2 => {
                msg.side()?;
                EventBody::OrderCancelled {
                    order_id,
                    qty: Qty(msg.size),
                }
            }
            3 => {
                msg.side()?;
                EventBody::OrderDeleted { order_id }
            }
            4 => {
                msg.side()?;
                EventBody::OrderExecuted {
                    order_id,
                    qty: Qty(msg.size),
                    match_id: self.next_match(),
                }
            }
            5 => {
                let side = msg.side()?;
                EventBody::Trade {
                    order_id,
                    side,
                    price: Price(msg.price),
                    qty: Qty(msg.size),
                    match_id: self.next_match(),
                }
            }
            6 => EventBody::CrossTrade {
                price: Price(msg.price),
                qty: u64::from(msg.size),
                match_id: self.next_match(),
                kind: match msg.order_id {
                    -1 => AuctionKind::Opening,
                    -2 => AuctionKind::Closing,
                    _ => AuctionKind::HaltOrIpo,
                },
            },
            7 => EventBody::TradingStatus {
                state: match msg.price {
                    -1 => TradingState::Halted,
                    0 => TradingState::QuotationOnly,
                    1 => TradingState::Trading,
                    _ => return None,
                },
                reason: [b' '; 4],
            },
            _ => return None,
        };
        Some(MarketEvent::new(msg.time, instrument, body))
    }
}

// ------------------------------------------------------------------------ detection

/// Whether `first_bytes` (the start of a file) look like a LOBSTER message file: among the
/// first four non-blank lines, every complete one is a text row (printable ASCII, first byte a
/// digit) and at least one has the shape of a message row (a final partial line is judged only
/// when no complete line was). Blank lines are skipped: the reader names them. Empty input is
/// `false`.
///
/// The shape, not a full parse: six comma-separated fields. A file whose first rows are
/// damaged (a bad field after the first, a missing or extra column, a blank line) is still a
/// LOBSTER file, so that its reader names the bad row and reads the rest (refusing it made the
/// file be read as a NASDAQ binary file: a framing error at offset 0, every row lost). A line
/// among the first four that is not a text row (a header, a leading blank or tab, a first
/// field not starting with a digit, a non-ASCII byte) makes the file not LOBSTER. An order-book file has a
/// multiple of four columns in every row, a binary file a length prefix (first byte 0), so
/// neither has a message row.
pub fn is_lobster_message_file(first_bytes: &[u8]) -> bool {
    let mut rest = first_bytes;
    let mut rows = 0;
    let mut message_rows = 0;
    while rows < 4 && !rest.is_empty() {
        let (line, complete) = match rest.iter().position(|&b| b == b'\n') {
            Some(nl) => {
                let line = &rest[..nl];
                rest = &rest[nl + 1..];
                (line, true)
            }
            None => (core::mem::take(&mut rest), false),
        };
        if !complete && rows > 0 {
            break;
        }
        let line = strip_eol(line);
        if line.is_empty() {
            continue;
        }
        if !is_text_row(line) {
            return false;
        }
        rows += 1;
        if has_message_row_shape(line) {
            message_rows += 1;
        }
    }
    message_rows > 0
}

/// Printable ASCII (spaces allowed), the first byte a digit: a CSV row of numbers, valid or not.
fn is_text_row(line: &[u8]) -> bool {
    line.first().is_some_and(u8::is_ascii_digit)
        && line.iter().all(|&b| b == b' ' || b.is_ascii_graphic())
}

/// A text row of six comma-separated fields: a message row, valid or not.
fn has_message_row_shape(line: &[u8]) -> bool {
    let line = strip_eol(line);
    is_text_row(line) && line.iter().filter(|&&b| b == b',').count() == MESSAGE_COLUMNS - 1
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> Result<u64, ParseErrorKind> {
        parse_time(s.as_bytes()).map(|t| t.0)
    }

    #[test]
    fn time_is_exact() {
        assert_eq!(t("34200.004241176"), Ok(34_200_004_241_176));
        assert_eq!(t("34200.00426064"), Ok(34_200_004_260_640));
        assert_eq!(t("34200.18960767"), Ok(34_200_189_607_670));
        assert_eq!(t("34200.1"), Ok(34_200_100_000_000));
        assert_eq!(t("34200"), Ok(34_200_000_000_000));
        assert_eq!(t("0.000000001"), Ok(1));
        assert_eq!(t("57599.999999999"), Ok(57_599_999_999_999));
        assert_eq!(t("86399.999999999"), Ok(86_399_999_999_999));
        assert_eq!(
            t("1.0000000001"),
            Err(ParseErrorKind::TooManyFractionDigits)
        );
        assert_eq!(t("34200."), Err(ParseErrorKind::InvalidNumber));
        assert_eq!(t(".5"), Err(ParseErrorKind::Empty));
        assert_eq!(t("-1.5"), Err(ParseErrorKind::InvalidNumber));
        assert_eq!(t("1e5"), Err(ParseErrorKind::InvalidNumber));
        assert_eq!(t("1.2.3"), Err(ParseErrorKind::InvalidNumber));
        assert_eq!(t(""), Err(ParseErrorKind::Empty));
        assert_eq!(t("99999999999999999999"), Err(ParseErrorKind::OutOfRange));
        assert_eq!(t("18446744074"), Err(ParseErrorKind::OutOfRange));
    }

    #[test]
    fn message_rows() {
        let m = parse_message(b"34200.017459617,5,0,1,2238200,-1\r\n", 1).unwrap();
        assert_eq!(m.kind, 5);
        assert_eq!(m.side(), Some(Side::Ask));
        let e = parse_message(b"34200.1,8,1,1,1,1", 7).unwrap_err();
        assert_eq!(
            (e.line, e.column, e.kind),
            (7, 2, ParseErrorKind::EventType(8))
        );
        let e = parse_message(b"34200.1,1,1,1,1,2", 3).unwrap_err();
        assert_eq!((e.line, e.column), (3, 6));
        let e = parse_message(b"34200.1,1,1,1,1", 4).unwrap_err();
        assert_eq!(
            (e.line, e.column, e.kind),
            (4, 6, ParseErrorKind::MissingColumn { expected: 6 })
        );
        let e = parse_message(b"34200.1,1,1,1,1,1,9", 5).unwrap_err();
        assert_eq!(
            (e.column, e.kind),
            (7, ParseErrorKind::ExtraColumn { expected: 6 })
        );
        let e = parse_message(b"34200.1,1,1,4294967296,1,1", 5).unwrap_err();
        assert_eq!((e.column, e.kind), (4, ParseErrorKind::OutOfRange));
        let e = parse_message(b"34200.1,3,-5,1,1,1", 5).unwrap_err();
        assert_eq!((e.column, e.kind), (3, ParseErrorKind::NegativeOrderId(-5)));
        let c = parse_message(b"34200.5,6,-1,1000,585000,-1", 5).unwrap();
        assert_eq!(c.order_id, -1);
        let h = parse_message(b"34200.5,7,0,0,-1,0", 5).unwrap();
        assert_eq!((h.kind, h.price, h.direction), (7, -1, 0));
        assert!(parse_message(b"", 9).is_err());
        assert_eq!(
            parse_message(b"34200.1,1,1,1,1,1", 1).unwrap().time,
            Timestamp(34_200_100_000_000)
        );
        assert!(
            format!("{}", parse_message(b"x,1,1,1,1,1", 12).unwrap_err())
                .starts_with("line 12, column 1:")
        );
    }

    #[test]
    fn book_rows_and_sentinels() {
        let mut row = BookRow::default();
        parse_book_row_into(
            b"2239500,100,2231800,100,9999999999,0,-9999999999,0\n",
            1,
            None,
            &mut row,
        )
        .unwrap();
        assert_eq!(row.level_count(), 2);
        assert_eq!(
            row.quote(Side::Ask, 0),
            Some(Quote {
                price: Price(2_239_500),
                qty: 100
            })
        );
        assert_eq!(row.quote(Side::Bid, 1), None);
        assert_eq!(row.quote(Side::Ask, 1), None);
        assert!(row.has_price(Side::Bid, Price(2_231_800)));
        let e = parse_book_row_into(b"1,2,3", 4, None, &mut row).unwrap_err();
        assert_eq!((e.line, e.column), (4, 4));
        let e = parse_book_row_into(b"1,2,3,4", 5, Some(2), &mut row).unwrap_err();
        assert_eq!(
            e.kind,
            ParseErrorKind::LevelCount {
                expected: 2,
                found: 1
            }
        );
        let e = parse_book_row_into(b"9999999999,5,3,4", 6, None, &mut row).unwrap_err();
        assert_eq!(
            (e.column, e.kind),
            (2, ParseErrorKind::InconsistentEmptyLevel)
        );
        let e = parse_book_row_into(b"1,2,3,x", 6, None, &mut row).unwrap_err();
        assert_eq!((e.column, e.kind), (4, ParseErrorKind::InvalidNumber));
        let e = parse_book_row_into(b"", 6, None, &mut row).unwrap_err();
        assert_eq!(e.line, 6);
    }

    #[test]
    fn readers_stream_and_number_lines() {
        let data = b"34200.1,1,5,10,100,1\n34200.2,3,5,10,100,1\nbad\n34200.3,5,0,1,100,-1\n";
        let got: Vec<_> = MessageReader::new(&data[..]).collect();
        assert_eq!(got.len(), 4);
        assert!(got[0].is_ok() && got[1].is_ok() && got[3].is_ok());
        assert_eq!(got[2].as_ref().unwrap_err().line(), 3);
        let book = b"10,1,9,2\n10,1,9,3\n10,1\n";
        let mut r = BookReader::new(&book[..]);
        assert_eq!(r.next_row().unwrap().unwrap().level_count(), 1);
        assert_eq!(
            r.next_row()
                .unwrap()
                .unwrap()
                .quote(Side::Bid, 0)
                .unwrap()
                .qty,
            3
        );
        assert_eq!(r.next_row().unwrap_err().line(), 3);
        assert!(r.next_row().unwrap().is_none());
    }

    /// A source that fails every read, as reading a directory does (EISDIR).
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("always fails"))
        }
    }

    /// Good lines, then a source that fails every read.
    fn good_then_failing(good: &'static [u8]) -> BufReader<io::Chain<&'static [u8], Failing>> {
        BufReader::new(good.chain(Failing))
    }

    #[test]
    fn message_reader_stops_after_a_read_error() {
        // Before: every call read again, yielded another Err and bumped the line: endless.
        let got: Vec<_> = MessageReader::new(BufReader::new(Failing))
            .take(5)
            .collect();
        assert_eq!(got.len(), 1);
        assert!(matches!(got[0], Err(LobsterError::Io { line: 1, .. })));

        let mut r = MessageReader::new(good_then_failing(b"34200.1,1,5,10,100,1\n"));
        assert!(r.next().unwrap().is_ok());
        assert_eq!(r.next().unwrap().unwrap_err().line(), 2);
        assert!(r.next().is_none());
        assert!(r.next().is_none());
        assert_eq!(r.line(), 1);
    }

    #[test]
    fn book_reader_stops_after_a_read_error() {
        let mut r = BookReader::new(BufReader::new(Failing));
        let mut results = Vec::new();
        for _ in 0..5 {
            match r.next_row() {
                Ok(None) => break,
                Ok(Some(_)) => results.push(Ok(())),
                Err(e) => results.push(Err(e)),
            }
        }
        assert_eq!(results.len(), 1);
        assert!(matches!(results[0], Err(LobsterError::Io { line: 1, .. })));

        let mut r = BookReader::new(good_then_failing(b"10,1,9,2\n"));
        assert_eq!(r.next_row().unwrap().unwrap().level_count(), 1);
        assert_eq!(r.next_row().unwrap_err().line(), 2);
        assert!(r.next_row().unwrap().is_none());
        assert!(r.next_row().unwrap().is_none());
        assert_eq!(r.line(), 1);
    }

    #[test]
    fn mapping() {
        let mut m = EventMapper::new();
        let msg = |s: &str| parse_message(s.as_bytes(), 1).unwrap();
        let i = InstrumentId(1);
        let add = m.to_event(&msg("34200.1,1,5,10,100,-1"), i).unwrap();
        assert_eq!(add.ts, Timestamp(34_200_100_000_000));
        assert!(matches!(
            add.body,
            EventBody::OrderAdded {
                order_id: OrderId(5),
                side: Side::Ask,
                price: Price(100),
                qty: Qty(10),
                ..
            }
        ));
        assert!(matches!(
            m.to_event(&msg("1,2,5,3,100,-1"), i).unwrap().body,
            EventBody::OrderCancelled {
                order_id: OrderId(5),
                qty: Qty(3)
            }
        ));
        assert!(matches!(
            m.to_event(&msg("1,3,5,7,100,-1"), i).unwrap().body,
            EventBody::OrderDeleted {
                order_id: OrderId(5)
            }
        ));
        assert!(matches!(
            m.to_event(&msg("1,4,5,7,100,-1"), i).unwrap().body,
            EventBody::OrderExecuted {
                match_id: MatchId(1),
                ..
            }
        ));
        assert!(matches!(
            m.to_event(&msg("1,5,0,7,100,1"), i).unwrap().body,
            EventBody::Trade {
                side: Side::Bid,
                match_id: MatchId(2),
                ..
            }
        ));
        assert!(matches!(
            m.to_event(&msg("1,6,-2,700,100,-1"), i).unwrap().body,
            EventBody::CrossTrade {
                kind: AuctionKind::Closing,
                qty: 700,
                match_id: MatchId(3),
                ..
            }
        ));
        for (p, s) in [
            (-1, TradingState::Halted),
            (0, TradingState::QuotationOnly),
            (1, TradingState::Trading),
        ] {
            let e = m.to_event(&msg(&format!("1,7,0,0,{p},-1")), i).unwrap();
            assert!(matches!(e.body, EventBody::TradingStatus { state, .. } if state == s));
        }
        // The parser refuses it; a message built by hand has no event.
        assert_eq!(
            parse_message(b"1,7,0,0,5,-1", 9).map_err(|e| (e.column, e.kind)),
            Err((5, ParseErrorKind::HaltIndicator(5)))
        );
        let halt5 = LobsterMessage {
            price: 5,
            ..msg("1,7,0,0,1,-1")
        };
        assert!(m.to_event(&halt5, i).is_none());
        assert_eq!(m.matches(), 3);
    }

    #[test]
    fn detection() {
        assert!(is_lobster_message_file(
            b"34200.017459617,5,0,1,2238200,-1\n34200.18960767,1,11885113,21,2238100,1\n3420"
        ));
        assert!(is_lobster_message_file(b"34200.017459617,5,0,1,2238200,-1"));
        assert!(!is_lobster_message_file(b""));
        assert!(!is_lobster_message_file(b"2239500,100,2231800,100\n"));
        assert!(!is_lobster_message_file(b"\0\x13S\0\0\0\0\0\0\0\0O"));
        // Damaged rows are still rows: the reader names them (as a binary file, every row
        // was lost to a framing error at offset 0).
        assert!(is_lobster_message_file(
            b"34200.1,1,1,100,5000,2\n34200.2,1,2,100,10000,-1\n"
        ));
        assert!(is_lobster_message_file(b"34200.,1,1,100,5000,1\n"));
        assert!(!is_lobster_message_file(b"34200.1,1,1,100,5000\n"));
        assert!(!is_lobster_message_file(b"34200.1,1,1,100,5000,1,7\n"));
        assert!(!is_lobster_message_file(
            b"time,type,id,size,price,direction\n"
        ));
    }

    /// A blank line, or a row with a missing or extra column, among the first four lines is a
    /// damaged row of a LOBSTER file like any other: the reader must name it and read the rest.
    /// Detection refused the whole file, so it was decoded as a NASDAQ binary file (a framing
    /// error at offset 0, every row lost) — what the module docs say detection no longer does.
    #[test]
    fn detection_survives_a_blank_line_or_a_short_row_among_the_first_lines() {
        let cases: [&[u8]; 4] = [
            b"\n34200.1,1,1,100,10000,1\n34200.2,1,2,100,10100,-1\n",
            b"\r\n34200.1,1,1,100,10000,1\r\n34200.2,1,2,100,10100,-1\r\n",
            b"34200.1,1,1,100,10000,1\n34200.2,1,2,100,10100\n34200.3,3,1,100,10000,1\n",
            b"34200.1,1,1,100,10000,1\n\n34200.3,3,1,100,10000,1\n34200.4,1,3,9,10000,1,7\n",
        ];
        let got: Vec<bool> = cases.iter().map(|c| is_lobster_message_file(c)).collect();
        assert_eq!(got, vec![true; 4], "detected as LOBSTER, case by case");
        // The rows themselves: the good ones read, the bad ones named by line.
        let lines: Vec<Result<u64, u64>> = MessageReader::new(cases[2])
            .map(|r| r.map(|m| m.time.0).map_err(|e| e.line()))
            .collect();
        assert_eq!(
            lines,
            vec![Ok(34_200_100_000_000), Err(2), Ok(34_200_300_000_000)]
        );
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_lines(line in proptest::collection::vec(any::<u8>(), 0..80),
                                           n in 1u64..1_000_000) {
            if let Err(e) = parse_message(&line, n) {
                prop_assert_eq!(e.line, n);
                prop_assert!(e.column >= 1 && e.column <= MESSAGE_COLUMNS + 1);
            }
            let mut row = BookRow::default();
            if let Err(e) = parse_book_row_into(&line, n, None, &mut row) {
                prop_assert_eq!(e.line, n);
            }
            let _ = is_lobster_message_file(&line);
        }

        #[test]
        fn never_panics_on_csv_like_lines(line in "[-0-9.,\r]{0,60}", n in 1u64..100) {
            if let Err(e) = parse_message(line.as_bytes(), n) {
                prop_assert_eq!(e.line, n);
            }
            let _ = parse_time(line.as_bytes());
        }

        #[test]
        fn time_round_trip(secs in 0u64..86_400, nanos in 0u64..1_000_000_000) {
            let full = format!("{secs}.{nanos:09}");
            let want = secs * 1_000_000_000 + nanos;
            prop_assert_eq!(t(&full), Ok(want));
            let trimmed = full.trim_end_matches('0');
            let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
            prop_assert_eq!(t(trimmed), Ok(want));
        }

        #[test]
        fn row_round_trip(kind in 1u8..=5, id in 0i64..i64::MAX, size in any::<u32>(),
                          price in any::<i64>(), buy in any::<bool>(), ns in 0u64..86_400_000_000_000) {
            let dir = if buy { 1 } else { -1 };
            let line = format!("{}.{:09},{kind},{id},{size},{price},{dir}\n",
                               ns / 1_000_000_000, ns % 1_000_000_000);
            let m = parse_message(line.as_bytes(), 1).unwrap();
            prop_assert_eq!(m, LobsterMessage { time: Timestamp(ns), kind, order_id: id, size, price, direction: dir });
        }
    }
}
