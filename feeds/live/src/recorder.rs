//! [`Recorder`]: writes what a live feed receives to a capture on its own thread, fed by its own
//! SPSC byte ring, so that disk I/O never blocks the feed thread (but for creating the capture
//! and writing its header, once, before the first record).
//!
//! [`Recorder::create`] gives the two ends: the [`Recorder`] the feed thread keeps, and the
//! [`RecorderThread`] that drains the ring into the file. The ring (64 MiB by default, every
//! page written before use) is built by the recorder thread as soon as it starts, in parallel
//! with the rest of the engine's start-up. The capture file is created by the feed's end once
//! the receiver's lines are open ([`Recorder::open`], as before the thread had an owner), so a
//! receiver that cannot start (a port in use) leaves an existing file alone; the feed's end
//! hands the file to the thread and takes the ring. In a live run the thread is a
//! [`Worker`] of the engine, owned by its actor under the supervisor (status shows its
//! counters, the run's report its outcome); `ticklane record udp://...`, which has no engine,
//! runs the same thread body on a plain thread ([`Recorder::start`]).
//!
//! The feed thread frames each record (receive time, line, length, bytes: the capture's own
//! record layout) into a reusable scratch buffer and pushes it into the ring in one publish. If
//! the ring has no room, the record is **dropped and counted** ([`RecorderStats::dropped`]),
//! never waited for: the live path does not slow down for the disk, and the capture says how
//! many records it lacks, and where: a `DROP` note (count) goes in ahead of the next record
//! that fits, or at the end (see `replay/FORMAT.md`, "Receiver notes"). The recorder thread drains the ring into a [`CaptureWriter`] with the
//! configured flush policy and finishes the file (index trailer) when the feed ends. A `kill -9`
//! loses at most what the flush policy allows (see `replay/FORMAT.md`, "Durability"), plus what
//! was still in the recorder's ring, not yet handed to the writer (the ring is what lets the
//! recorder fall behind a disk stall: at most its size, 64 MiB by default); unless the
//! policy is `Manual`, the recorder also writes out its partial block after about 0.1 s without
//! a record, so a quiet feed does not keep records in memory for long. If writing fails (disk
//! full), every record that did not reach the file (the unflushed ones and all that arrive
//! after) is counted as unwritten ([`RecorderSummary::unwritten`]), as ring drops are counted
//! as dropped.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use ticklane_replay::format::{CaptureHeader, Line};
use ticklane_replay::{CaptureWriter, FlushPolicy, WriterOptions};
use ticklane_ring::{ring, Consumer, Producer};
use ticklane_runtime::worker::LostReport;
use ticklane_runtime::{Worker, WorkerProbe, WorkerReport};

/// Bytes before each record in the ring: receive time (8), line (1), length (4).
const FRAME: usize = 13;
/// Empty polls of the ring (64 yields, then sleeps of 200 µs: about 0.1 s) after which the
/// recorder flushes a partial block.
const QUIET_SPINS: u32 = 64 + 500;

/// Counters of a recorder, shared between the feed thread and the recorder thread.
#[derive(Debug, Default)]
pub struct RecorderStats {
    /// Records handed to the ring.
    pub queued: AtomicU64,
    /// Records dropped because the ring was full (the capture lacks them).
    pub dropped: AtomicU64,
    /// Records in the capture file: flushed to the OS without error (updated as blocks go
    /// out).
    pub written: AtomicU64,
    /// Records queued but not in the file because writing failed (set when the recorder
    /// ends; the capture lacks them).
    pub unwritten: AtomicU64,
}

/// What the recorder thread ended with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecorderSummary {
    /// Records in the capture file.
    pub written: u64,
    /// Records dropped (ring full).
    pub dropped: u64,
    /// Records queued but not in the file: writing failed ([`RecorderSummary::error`]), taking
    /// with it the records not yet flushed and every record after.
    pub unwritten: u64,
    /// Why writing stopped early, if it did (records after that were not written).
    pub error: Option<String>,
}

/// The feed thread's end of a recorder.
#[derive(Debug)]
pub struct Recorder {
    /// The ring, once [`Recorder::open`] took it from the recorder thread; `None` before, or
    /// if the thread was gone by then: every record is then dropped and counted.
    tx: Option<Producer<u8>>,
    /// What [`Recorder::open`] needs, until it has run.
    opening: Option<Opening>,
    scratch: Vec<u8>,
    /// Records dropped since the last `DROP` note, and the time of the last of them.
    unnoted: (u64, u64),
    stats: Arc<RecorderStats>,
    /// The recorder thread, when this end started it ([`Recorder::start`]); `None` when its
    /// owner is elsewhere (an engine's worker actor), which then reports the outcome.
    thread: Option<JoinHandle<RecorderSummary>>,
}

/// The capture not yet created, and the channels to the recorder thread.
#[derive(Debug)]
struct Opening {
    path: PathBuf,
    header: CaptureHeader,
    options: WriterOptions,
    writer_to_thread: mpsc::SyncSender<CaptureWriter<BufWriter<File>>>,
    ring_from_thread: mpsc::Receiver<Producer<u8>>,
}

/// The recorder's writing end: builds the ring, waits for the capture the feed's end opens,
/// then drains the ring into it until the feed's end is dropped and the ring is empty, and
/// finishes the file.
#[derive(Debug)]
pub struct RecorderThread {
    ring_bytes: usize,
    ring_to_feed: mpsc::SyncSender<Producer<u8>>,
    writer_from_feed: mpsc::Receiver<CaptureWriter<BufWriter<File>>>,
    stats: Arc<RecorderStats>,
    flush_when_quiet: bool,
    path: PathBuf,
}

impl Recorder {
    /// The two ends of a recorder to `path` with `header`, joined by a ring of `ring_bytes`
    /// bytes. Nothing is created yet: run the [`RecorderThread`] on a thread of its own (as an
    /// engine [`Worker`], or with [`Recorder::start`]), and [`Recorder::open`] the capture
    /// once the feed's lines are open (a receiver that cannot start leaves any file at `path`
    /// as it was).
    pub fn create(
        path: &Path,
        header: &CaptureHeader,
        options: WriterOptions,
        ring_bytes: usize,
    ) -> (Self, RecorderThread) {
        let (ring_to_feed, ring_from_thread) = mpsc::sync_channel(1);
        let (writer_to_thread, writer_from_feed) = mpsc::sync_channel(1);
        let stats = Arc::new(RecorderStats::default());
        let thread = RecorderThread {
            ring_bytes: ring_bytes.max(1 << 16),
            ring_to_feed,
            writer_from_feed,
            stats: stats.clone(),
            flush_when_quiet: !matches!(options.flush, FlushPolicy::Manual),
            path: path.to_path_buf(),
        };
        let feed_end = Self {
            tx: None,
            opening: Some(Opening {
                path: path.to_path_buf(),
                header: header.clone(),
                options,
                writer_to_thread,
                ring_from_thread,
            }),
            scratch: Vec::with_capacity(FRAME + 65_536),
            unnoted: (0, 0),
            stats,
            thread: None,
        };
        (feed_end, thread)
    }

    /// [`Recorder::create`], with the recorder thread started here and owned by the returned
    /// end ([`Recorder::finish`] joins it): for a receiver that runs without an engine.
    pub fn start(
        path: &Path,
        header: &CaptureHeader,
        options: WriterOptions,
        ring_bytes: usize,
    ) -> Result<Self, String> {
        let (feed_end, body) = Self::create(path, header, options, ring_bytes);
        feed_end.with_own_thread(body)
    }

    /// Runs `body` (this recorder's other end) on a thread that this end owns
    /// ([`Recorder::finish`] joins it).
    pub fn with_own_thread(mut self, body: RecorderThread) -> Result<Self, String> {
        let thread = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || body.drain())
            .map_err(|e| format!("starting the recorder thread: {e}"))?;
        self.thread = Some(thread);
        Ok(self)
    }

    /// Counters, readable while recording.
    pub fn stats(&self) -> Arc<RecorderStats> {
        self.stats.clone()
    }

    /// Creates the capture (header on disk at once), hands it to the recorder thread and takes
    /// the ring the thread built (waiting for it, if the thread is still building it). Called
    /// once the receiver's lines are open; the first [`Recorder::record`] calls it if nobody
    /// did. An error creating the file is returned (and later records are dropped and
    /// counted); if the recorder thread is gone, that is logged and every record is dropped
    /// and counted.
    pub fn open(&mut self) -> Result<(), String> {
        let Some(o) = self.opening.take() else {
            return Ok(());
        };
        // The ring first: if the thread is gone, no file is created (nor truncated).
        let Ok(tx) = o.ring_from_thread.recv() else {
            tracing::error!("the recorder thread is gone: every record is dropped and counted");
            return Ok(());
        };
        let writer = CaptureWriter::create(&o.path, &o.header, o.options)
            .map_err(|e| format!("recording to {}: {e}", o.path.display()))?;
        if o.writer_to_thread.send(writer).is_ok() {
            self.tx = Some(tx);
        } else {
            tracing::error!("the recorder thread is gone: every record is dropped and counted");
        }
        Ok(())
    }

    /// Queues one record; never blocks (but for the first, if [`Recorder::open`] was not
    /// called: that creates the capture). Returns `false` (and counts it) if the ring was
    /// full. After drops, the next record that fits is preceded by a `DROP` note saying how
    /// many.
    pub fn record(&mut self, ts_ns: u64, line: Line, bytes: &[u8]) -> bool {
        if self.opening.is_some() {
            if let Err(e) = self.open() {
                tracing::error!("{e}");
            }
        }
        self.scratch.clear();
        if self.unnoted.0 > 0 {
            let (count, at) = self.unnoted;
            frame_into(&mut self.scratch, at, Line::Note, &drop_note(count));
        }
        frame_into(&mut self.scratch, ts_ns, line, bytes);
        let need = self.scratch.len();
        let Some(tx) = self
            .tx
            .as_mut()
            .and_then(|tx| (tx.slots() >= need).then_some(tx))
        else {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            self.unnoted = (self.unnoted.0 + 1, ts_ns);
            return false;
        };
        tx.push_slice(&self.scratch);
        self.unnoted = (0, 0);
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Closes the ring; if this end started the recorder thread, waits for it to write
    /// everything queued and finish the file and returns what it did. `None` when the thread
    /// belongs to an engine worker: it ends on its own once the ring is drained, and its report
    /// says what it wrote (only the drops, counted here, are known now).
    pub fn finish(mut self) -> Option<RecorderSummary> {
        if self.unnoted.0 > 0 {
            // Drops at the very end: the live path is over, so wait for room for the note.
            let (count, at) = self.unnoted;
            self.scratch.clear();
            frame_into(&mut self.scratch, at, Line::Note, &drop_note(count));
            if let Some(tx) = self.tx.as_mut() {
                while tx.slots() < self.scratch.len() && !tx.is_abandoned() {
                    std::thread::sleep(std::time::Duration::from_micros(200));
                }
                if tx.slots() >= self.scratch.len() {
                    tx.push_slice(&self.scratch);
                }
            }
        }
        let Recorder {
            tx,
            opening,
            thread,
            stats,
            ..
        } = self;
        // Dropping the producer (or, never opened, the channels) tells the thread there is
        // nothing more to come.
        drop((tx, opening));
        match thread.map(JoinHandle::join) {
            // Drops are counted here, on the feed's side: final now, whenever the thread
            // ended.
            Some(Ok(s)) => Some(RecorderSummary {
                dropped: stats.dropped.load(Ordering::Relaxed),
                ..s
            }),
            Some(Err(_)) => Some(lost_thread(&stats, "the recorder thread panicked")),
            None => None,
        }
    }
}

/// The summary of a recorder whose thread died, once the feed has stopped handing it records:
/// what reached the file is in the shared counters; everything else queued is lost with it.
fn lost_thread(stats: &RecorderStats, why: &str) -> RecorderSummary {
    let written = stats.written.load(Ordering::Relaxed);
    let queued = stats.queued.load(Ordering::Relaxed);
    RecorderSummary {
        written,
        dropped: stats.dropped.load(Ordering::Relaxed),
        unwritten: queued.saturating_sub(written),
        error: Some(why.to_string()),
    }
}

impl RecorderThread {
    /// The thread's body: builds the ring (every page written) and hands its writing end to
    /// the feed's end, waits for the capture [`Recorder::open`] creates, then ring → capture
    /// (see [`drain`]) until the feed's end is gone and the ring is empty. If the feed's end
    /// goes without opening the capture, there is nothing to write: an empty summary.
    pub fn drain(self) -> RecorderSummary {
        let (tx, rx) = ring::<u8>(self.ring_bytes);
        let _ = self.ring_to_feed.send(tx);
        drop(self.ring_to_feed);
        let Ok(writer) = self.writer_from_feed.recv() else {
            return RecorderSummary {
                dropped: self.stats.dropped.load(Ordering::Relaxed),
                error: Some(
                    "no capture was created: the receiver stopped before opening it".to_string(),
                ),
                ..RecorderSummary::default()
            };
        };
        drain(rx, writer, &self.stats, self.flush_when_quiet)
    }
}

impl RecorderSummary {
    /// The summary's lines for a run's report.
    pub fn notes(&self, path: &std::path::Path) -> Vec<String> {
        let mut notes = vec![format!(
            "recorded {} records to {}; {} dropped because the recorder's ring was full",
            self.written,
            path.display(),
            self.dropped
        )];
        if let Some(e) = &self.error {
            notes.push(format!(
                "recording stopped early: {e}; {} records received after that are not in the \
                 capture",
                self.unwritten
            ));
        }
        notes
    }

    /// The summary as an engine worker's report. Its output lacks the records dropped and
    /// those not written.
    pub fn worker_report(self, path: &std::path::Path) -> WorkerReport {
        WorkerReport {
            name: "recorder".to_string(),
            counters: vec![
                ("written", self.written),
                ("dropped", self.dropped),
                ("unwritten", self.unwritten),
            ],
            notes: self.notes(path),
            lost: self.dropped + self.unwritten,
            error: self.error,
        }
    }
}

/// In a live run the recorder thread is one of the engine's workers: the supervisor's
/// [`WorkerActor`](ticklane_runtime::worker::WorkerActor) spawns it and reports its outcome.
impl Worker for RecorderThread {
    fn name(&self) -> &'static str {
        "recorder"
    }

    fn probe(&self) -> WorkerProbe {
        let stats = self.stats.clone();
        Arc::new(move || {
            vec![
                ("queued", stats.queued.load(Ordering::Relaxed)),
                ("dropped", stats.dropped.load(Ordering::Relaxed)),
                ("written", stats.written.load(Ordering::Relaxed)),
            ]
        })
    }

    fn lost_report(&self) -> LostReport {
        let (stats, path) = (self.stats.clone(), self.path.clone());
        Arc::new(move |why: String| lost_thread(&stats, &why).worker_report(&path))
    }

    fn run(self: Box<Self>) -> WorkerReport {
        let path = self.path.clone();
        self.drain().worker_report(&path)
    }
}

/// Appends one framed record (the ring's layout) to `out`.
fn frame_into(out: &mut Vec<u8>, ts_ns: u64, line: Line, bytes: &[u8]) {
    out.extend_from_slice(&ts_ns.to_le_bytes());
    out.push(line.to_byte());
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The note for `count` records dropped: `DROP` + u64 BE.
fn drop_note(count: u64) -> [u8; 12] {
    let mut note = [0u8; 12];
    note[..4].copy_from_slice(b"DROP");
    note[4..].copy_from_slice(&count.to_be_bytes());
    note
}

/// The `DROP` notes among the records a [`CaptureWriter`] took, by record number, to count the
/// records (not notes) among the first `durable` of them. The notes already durable are only
/// counted: the list keeps the notes not yet durable (those of the block being filled), so it
/// stays bounded and each count is cheap however many notes the capture gets.
#[derive(Debug, Default)]
struct DropNotes {
    /// Notes below the durable mark last asked about.
    durable: u64,
    /// Record numbers of the notes at or above it, in increasing order.
    pending: std::collections::VecDeque<u64>,
}

impl DropNotes {
    /// The writer took a note as record `number` (numbers only grow).
    fn push(&mut self, number: u64) {
        self.pending.push_back(number);
    }

    /// Records that are not notes among the first `durable` (the writer's durable mark, which
    /// only grows).
    fn records_below(&mut self, durable: u64) -> u64 {
        while self.pending.front().is_some_and(|&n| n < durable) {
            self.pending.pop_front();
            self.durable += 1;
        }
        durable.saturating_sub(self.durable)
    }
}

/// The recorder thread: ring → capture, until the producer is gone and the ring is empty.
///
/// `flush_when_quiet`: after [`QUIET_SPINS`] empty polls (about 0.1 s without a record) the
/// partial block is written and flushed, so that a quiet feed (heartbeats before the open)
/// does not leave hours of records in memory for a crash to lose.
fn drain<W: Write>(
    mut rx: Consumer<u8>,
    mut writer: CaptureWriter<W>,
    stats: &RecorderStats,
    flush_when_quiet: bool,
) -> RecorderSummary {
    let mut summary = RecorderSummary::default();
    let mut buf = vec![0u8; 1 << 20];
    let mut pending: Vec<u8> = Vec::with_capacity(2 << 20);
    let mut idle = 0u32;
    // Records accepted by the writer since the last flush.
    let mut dirty = false;
    // Records offered (the recorder's own `DROP` notes are not counted: `written + dropped +
    // unwritten` is what the feed thread offered).
    let mut offered = 0u64;
    // The `DROP` notes the writer took, to tell notes from records among the records that
    // reached the file (one per burst of drops: under sustained overload, one every other
    // record).
    let mut notes_at = DropNotes::default();
    // Written = records that reached the file: what the writer has flushed without error.
    let written = |writer: &CaptureWriter<W>, notes_at: &mut DropNotes| {
        notes_at.records_below(writer.durable_records())
    };
    loop {
        let n = rx.pop_into(&mut buf);
        if n == 0 {
            if rx.is_abandoned() && rx.is_empty() {
                break;
            }
            idle = idle.saturating_add(1);
            if idle == QUIET_SPINS && dirty && flush_when_quiet && summary.error.is_none() {
                dirty = false;
                match writer.flush() {
                    Ok(()) => stats
                        .written
                        .store(written(&writer, &mut notes_at), Ordering::Relaxed),
                    Err(e) => {
                        tracing::error!("recording stopped: {e}");
                        summary.error = Some(e.to_string());
                    }
                }
            }
            if idle > 64 {
                std::thread::sleep(std::time::Duration::from_micros(200));
            } else {
                std::thread::yield_now();
            }
            continue;
        }
        idle = 0;
        pending.extend_from_slice(&buf[..n]);
        let mut at = 0usize;
        while let Some(head) = pending.get(at..at + FRAME) {
            let len = u32::from_le_bytes([head[9], head[10], head[11], head[12]]) as usize;
            let Some(bytes) = pending.get(at + FRAME..at + FRAME + len) else {
                break;
            };
            let ts = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
            let line = Line::from_byte(head[8]).unwrap_or_default();
            let counted = !(line == Line::Note && bytes.starts_with(b"DROP"));
            offered += u64::from(counted);
            // After an error nothing more is written: what is offered then is unwritten.
            if summary.error.is_none() {
                let number = writer.records();
                match writer.write_record(ts, line, bytes) {
                    Ok(()) => {
                        dirty = true;
                        if !counted {
                            notes_at.push(number);
                        }
                        stats
                            .written
                            .store(written(&writer, &mut notes_at), Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::error!("recording stopped: {e}");
                        summary.error = Some(e.to_string());
                    }
                }
            }
            at += FRAME + len;
        }
        pending.drain(..at);
    }
    // The last block goes to the disk first, then the index trailer: an error in the trailer
    // (a disk that fills there) leaves every record in the file and counted as such (`finish`
    // wrote both in one flush, and such an error counted the last block's records, which
    // read back, as not written).
    if summary.error.is_none() {
        if let Err(e) = writer.flush() {
            summary.error = Some(e.to_string());
        }
    }
    summary.written = written(&writer, &mut notes_at);
    if summary.error.is_none() {
        match writer.finish() {
            // Every record offered is in the file.
            Ok(_) => summary.written = offered,
            Err(e) => {
                summary.error = Some(format!(
                    "{e} (every record is in the file; its index trailer is not, so a reader \
                     rebuilds the index)"
                ))
            }
        }
    }
    // Records offered that did not reach the file (a write error): not in the capture, and
    // said to be.
    summary.unwritten = offered.saturating_sub(summary.written);
    stats.written.store(summary.written, Ordering::Relaxed);
    stats.unwritten.store(summary.unwritten, Ordering::Relaxed);
    summary.dropped = stats.dropped.load(Ordering::Relaxed);
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use ticklane_replay::format::FeedKind;
    use ticklane_replay::CaptureReader;

    fn test_header() -> CaptureHeader {
        CaptureHeader::new(FeedKind::MoldUdp64, "T")
    }

    #[test]
    fn records_after_a_write_error_are_counted_as_unwritten() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("ro.cap");
        std::fs::write(&path, b"").unwrap_or_else(|e| panic!("{e}"));
        // A read-only descriptor: the first block's write fails.
        let file = File::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let options = WriterOptions {
            block_bytes: 1024,
            ..WriterOptions::default()
        };
        let header = CaptureHeader::new(FeedKind::MoldUdp64, "T");
        let writer = CaptureWriter::new(BufWriter::new(file), &header, options)
            .unwrap_or_else(|e| panic!("{e}"));
        let (mut tx, rx) = ring::<u8>(1 << 20);
        let mut scratch = Vec::new();
        for i in 0..100u64 {
            frame_into(&mut scratch, i, Line::A, &[7u8; 100]);
        }
        frame_into(&mut scratch, 100, Line::Note, &drop_note(3));
        tx.push_slice(&scratch);
        drop(tx);
        let stats = RecorderStats::default();
        let s = drain(rx, writer, &stats, true);
        assert!(s.error.is_some(), "{s:?}");
        // Nothing reached the file (not even the header): every record offered is counted
        // as unwritten, the recorder's own note is not counted.
        assert_eq!(std::fs::metadata(&path).map(|m| m.len()).ok(), Some(0));
        assert_eq!((s.written, s.unwritten), (0, 100), "{s:?}");
        assert_eq!(stats.unwritten.load(Ordering::Relaxed), 100);
        assert_eq!(stats.written.load(Ordering::Relaxed), 0);
    }

    /// A sink that takes `cap` bytes and then refuses every write (a disk that fills), and
    /// keeps what it took.
    struct Filling {
        kept: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
        cap: usize,
    }

    impl std::io::Write for Filling {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
            let room = self.cap.saturating_sub(kept.len());
            if room == 0 {
                return Err(std::io::Error::other("no space left on device"));
            }
            let n = room.min(b.len());
            kept.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_disk_that_fills_in_the_index_trailer_leaves_every_record_counted_as_written() {
        // `finish` wrote the last block and the trailer in one go: a disk that filled in the
        // trailer counted the last block's records, which read back, as not written.
        let record_ten = |cap: usize| {
            let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let sink = Filling {
                kept: kept.clone(),
                cap,
            };
            let writer = CaptureWriter::new(sink, &test_header(), WriterOptions::default())
                .unwrap_or_else(|e| panic!("{e}"));
            let (mut tx, rx) = ring::<u8>(1 << 16);
            let mut scratch = Vec::new();
            for i in 0..10u64 {
                frame_into(&mut scratch, i, Line::A, &[i as u8; 100]);
            }
            tx.push_slice(&scratch);
            drop(tx);
            let s = drain(rx, writer, &RecorderStats::default(), false);
            let bytes = kept.lock().map(|k| k.clone()).unwrap_or_default();
            (s, bytes)
        };
        let (s, whole) = record_ten(usize::MAX);
        assert_eq!((s.written, s.unwritten, s.error), (10, 0, None));
        // The footer's first field is the index trailer's offset: fill the disk 8 bytes in.
        let at = whole.len() - 24;
        let index_offset = u64::from_le_bytes(whole[at..at + 8].try_into().unwrap_or_default());
        let (s, cut) = record_ten(index_offset as usize + 8);
        assert!(s.error.is_some(), "{s:?}");
        let mut reader = ticklane_replay::CaptureReader::new(std::io::Cursor::new(cut))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut in_file = 0u64;
        while let Some(r) = reader.next_record() {
            in_file += u64::from(r.is_ok());
        }
        assert_eq!(in_file, 10, "every record reached the file");
        assert_eq!((s.written, s.unwritten), (10, 0), "{s:?}");
    }

    /// With `--flush manual` full blocks reach the file (the capture's
    /// `BufWriter` passes a 1 MiB block straight to the file); a disk that fills later must not
    /// count the records of those blocks, which read back, as "not in the capture".
    #[test]
    fn a_disk_that_fills_under_manual_flush_counts_the_full_blocks_as_written() {
        let kept = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        // About two and a half blocks of 1 MiB fit on the "disk".
        let sink = std::io::BufWriter::with_capacity(
            64 << 10,
            Filling {
                kept: kept.clone(),
                cap: (5 << 20) / 2,
            },
        );
        let options = WriterOptions {
            flush: FlushPolicy::Manual,
            ..WriterOptions::default()
        };
        let writer =
            CaptureWriter::new(sink, &test_header(), options).unwrap_or_else(|e| panic!("{e}"));
        let (mut tx, rx) = ring::<u8>(8 << 20);
        let mut scratch = Vec::new();
        for i in 0..4_000u64 {
            frame_into(&mut scratch, i, Line::A, &[i as u8; 1_000]);
        }
        tx.push_slice(&scratch);
        drop(tx);
        let s = drain(rx, writer, &RecorderStats::default(), false);
        assert!(s.error.is_some(), "{s:?}");
        let bytes = kept.lock().map(|k| k.clone()).unwrap_or_default();
        let mut reader =
            CaptureReader::new(std::io::Cursor::new(bytes)).unwrap_or_else(|e| panic!("{e}"));
        let mut in_file = 0u64;
        while let Some(r) = reader.next_record() {
            in_file += u64::from(r.is_ok());
        }
        assert!(in_file > 0);
        assert_eq!(
            (s.written, s.unwritten),
            (in_file, 4_000 - in_file),
            "records that read back from the capture, counted as unwritten: {s:?}"
        );
    }

    /// A receiver that cannot start (its port is taken, maybe by another recorder writing to
    /// the same path) never opens its capture: a file already at the path is left as it was.
    #[test]
    fn a_recorder_that_never_opens_leaves_the_file_at_its_path_alone() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("busy.cap");
        std::fs::write(&path, b"another recording").unwrap_or_else(|e| panic!("{e}"));
        let r = Recorder::start(&path, &test_header(), WriterOptions::default(), 1)
            .unwrap_or_else(|e| panic!("{e}"));
        let s = r
            .finish()
            .unwrap_or_else(|| panic!("the recorder thread is owned here"));
        assert_eq!((s.written, s.dropped), (0, 0));
        assert_eq!(
            s.error.as_deref(),
            Some("no capture was created: the receiver stopped before opening it")
        );
        assert_eq!(
            std::fs::read(&path).ok().as_deref(),
            Some(&b"another recording"[..])
        );
    }

    #[test]
    fn a_quiet_feed_is_flushed_and_a_crash_loses_nothing_written_before() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("q.cap");
        let mut r = Recorder::start(&path, &test_header(), WriterOptions::default(), 1 << 16)
            .unwrap_or_else(|e| panic!("{e}"));
        r.open().unwrap_or_else(|e| panic!("{e}"));
        // The header is in the file once opened, before any record.
        let empty = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(empty.header().session, "T");
        for i in 0..10u64 {
            assert!(r.record(i, Line::A, &[i as u8; 50]));
        }
        // Far less than a block, then quiet: the recorder flushes it. Read the file while it
        // runs, as after a `kill -9`.
        let mut got = 0;
        for _ in 0..100 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let mut reader = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{e}"));
            got = 0;
            while let Some(rec) = reader.next_record() {
                if rec.is_ok() {
                    got += 1;
                }
            }
            if got == 10 {
                break;
            }
        }
        assert_eq!(got, 10, "the quiet recorder flushed its partial block");
        let s = r
            .finish()
            .unwrap_or_else(|| panic!("the recorder thread is owned here"));
        assert_eq!(
            (s.written, s.dropped, s.unwritten, s.error),
            (10, 0, 0, None)
        );
    }

    /// The engine's worker: the feed's end does not own the thread (`finish` says so), it
    /// takes the ring the thread builds, the probe shows the shared counters, and the report
    /// has what was written and dropped.
    #[test]
    fn as_an_engine_worker_the_thread_reports_what_it_wrote() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("w.cap");
        // The smallest ring (64 KiB), 1 KB records in a tight loop: drops or not, every record
        // is written or counted.
        let (mut r, body) = Recorder::create(&path, &test_header(), WriterOptions::default(), 1);
        let probe = body.probe();
        assert_eq!(probe(), vec![("queued", 0), ("dropped", 0), ("written", 0)]);
        let worker: Box<dyn Worker> = Box::new(body);
        assert_eq!(worker.name(), "recorder");
        let thread = std::thread::spawn(move || worker.run());
        let mut accepted = Vec::new();
        for i in 0..300u64 {
            if r.record(i, Line::A, &[i as u8; 1_000]) {
                accepted.push(i);
            }
        }
        let n = accepted.len() as u64;
        assert!(n > 0);
        assert_eq!(r.finish(), None, "the worker's owner reports, not the feed");
        let report = thread
            .join()
            .unwrap_or_else(|_| panic!("the worker panicked"));
        assert_eq!(report.error, None);
        assert_eq!(report.lost, 300 - n, "what the capture lacks: the drops");
        assert_eq!(
            report.counters,
            vec![("written", n), ("dropped", 300 - n), ("unwritten", 0)]
        );
        assert_eq!(
            probe(),
            vec![("queued", n), ("dropped", 300 - n), ("written", n)]
        );
        assert_eq!(
            report.notes,
            vec![format!(
                "recorded {n} records to {}; {} dropped because the recorder's ring was full",
                path.display(),
                300 - n
            )]
        );
        // The file: the accepted records in order, and notes for every drop.
        let mut reader = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let (mut got, mut noted) = (Vec::new(), 0u64);
        while let Some(rec) = reader.next_record() {
            let rec = rec.unwrap_or_else(|e| panic!("{e}"));
            if rec.line == Line::Note {
                noted += u64::from_be_bytes(rec.bytes[4..12].try_into().unwrap_or_default());
            } else {
                assert_eq!(rec.bytes, &[rec.ts_ns as u8; 1_000][..]);
                got.push(rec.ts_ns);
            }
        }
        assert_eq!((got, noted), (accepted, 300 - n));
    }

    /// If the recorder thread never runs (the engine did not start it), the feed's end does
    /// not wait for a ring that will not come: every record is dropped and counted.
    #[test]
    fn without_its_thread_the_feed_end_drops_and_counts() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("n.cap");
        let (mut r, body) = Recorder::create(&path, &test_header(), WriterOptions::default(), 1);
        let lost = body.lost_report();
        drop(body);
        assert!(!r.record(1, Line::A, b"x"));
        assert!(!r.record(2, Line::A, b"y"));
        assert_eq!(r.stats().dropped.load(Ordering::Relaxed), 2);
        assert_eq!(r.finish(), None);
        // What the engine reports for a recorder thread that died: built from the shared
        // counters once the feed has ended.
        let report = lost("the recorder thread panicked: boom".to_string());
        assert_eq!(
            report.counters,
            vec![("written", 0), ("dropped", 2), ("unwritten", 0)]
        );
        assert_eq!(report.lost, 2);
        assert_eq!(
            report.error.as_deref(),
            Some("the recorder thread panicked: boom")
        );
        assert!(
            report.notes[1].starts_with("recording stopped early"),
            "{:?}",
            report.notes
        );
    }

    #[test]
    fn records_arrive_in_order_and_a_full_ring_drops_and_counts() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("r.cap");
        let mut r = Recorder::start(&path, &test_header(), WriterOptions::default(), 1 << 16)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut accepted = Vec::new();
        // 4,000 records of 1,000 bytes in a tight loop: more than 64 KiB outruns the thread
        // at some point or not; either way every record is written or counted.
        for i in 0..4_000u64 {
            let body = vec![(i % 251) as u8; 1_000];
            if r.record(i, if i % 2 == 0 { Line::A } else { Line::B }, &body) {
                accepted.push(i);
            }
        }
        let stats = r.stats();
        let s = r
            .finish()
            .unwrap_or_else(|| panic!("the recorder thread is owned here"));
        assert_eq!(s.error, None);
        assert_eq!(s.written as usize, accepted.len());
        assert_eq!(s.written + s.dropped, 4_000);
        assert_eq!(stats.queued.load(Ordering::Relaxed), s.written);
        let mut reader = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut got = Vec::new();
        let mut noted = 0u64;
        while let Some(rec) = reader.next_record() {
            let rec = rec.unwrap_or_else(|e| panic!("{e}"));
            if rec.line == Line::Note {
                // Every drop is noted where it happened: before the next record written.
                assert_eq!(&rec.bytes[..4], b"DROP");
                noted += u64::from_be_bytes(rec.bytes[4..12].try_into().unwrap_or_default());
                continue;
            }
            assert_eq!(rec.bytes, &vec![(rec.ts_ns % 251) as u8; 1_000][..]);
            assert_eq!(rec.line, if rec.ts_ns % 2 == 0 { Line::A } else { Line::B });
            got.push(rec.ts_ns);
        }
        assert_eq!(got, accepted);
        assert_eq!(
            noted, s.dropped,
            "the capture says how many records it lacks"
        );
    }

    /// Sustained overload (drop, drop, fit, ...): a `DROP` note before every record. The count
    /// of records that reached the file stays exact, and the notes already durable are only
    /// counted: the list holds those of the block being filled, not one entry per note ever
    /// written (which made every count scan them all: quadratic).
    #[test]
    fn drop_notes_are_counted_exactly_and_forgotten_once_durable() {
        const BLOCK: u64 = 64;
        let mut notes = DropNotes::default();
        // The writer's next record number.
        let mut number = 0u64;
        let mut most_pending = 0usize;
        for _ in 0..100_000u64 {
            // The note, then the record it precedes.
            notes.push(number);
            number += 2;
            // Blocks of 64 records go out as they fill: notes are the even record numbers.
            let durable = number - number % BLOCK;
            assert_eq!(notes.records_below(durable), durable / 2);
            most_pending = most_pending.max(notes.pending.len());
        }
        assert!(
            most_pending <= BLOCK as usize / 2,
            "notes kept: {most_pending}"
        );
        // The end: everything durable, exactly half of it records.
        assert_eq!(notes.records_below(number), number / 2);
        assert!(notes.pending.is_empty());
    }

    #[test]
    fn sustained_overload_drop_drop_fit_is_noted_and_counted_exactly() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("o.cap");
        // Small blocks: the durable mark moves (and written is recounted) often.
        let options = WriterOptions {
            block_bytes: 4096,
            ..WriterOptions::default()
        };
        let mut r =
            Recorder::start(&path, &test_header(), options, 1).unwrap_or_else(|e| panic!("{e}"));
        // Larger than the whole (smallest) ring: never fits, whatever the thread does.
        let huge = vec![7u8; 70_000];
        const ROUNDS: u64 = 5_000;
        let mut accepted = Vec::new();
        for i in 0..ROUNDS {
            assert!(!r.record(3 * i, Line::A, &huge));
            assert!(!r.record(3 * i + 1, Line::B, &huge));
            // Fits unless the thread fell a whole ring behind: either way counted.
            if r.record(3 * i + 2, Line::A, &i.to_le_bytes()) {
                accepted.push(3 * i + 2);
            }
        }
        let n = accepted.len() as u64;
        assert!(n > 0);
        let stats = r.stats();
        let s = r
            .finish()
            .unwrap_or_else(|| panic!("the recorder thread is owned here"));
        assert_eq!(
            (s.written, s.dropped, s.unwritten, s.error),
            (n, 3 * ROUNDS - n, 0, None)
        );
        assert_eq!(stats.written.load(Ordering::Relaxed), n);
        let mut reader = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let (mut got, mut noted, mut notes) = (Vec::new(), 0u64, 0u64);
        while let Some(rec) = reader.next_record() {
            let rec = rec.unwrap_or_else(|e| panic!("{e}"));
            if rec.line == Line::Note {
                assert_eq!(&rec.bytes[..4], b"DROP");
                noted += u64::from_be_bytes(rec.bytes[4..12].try_into().unwrap_or_default());
                notes += 1;
            } else {
                got.push(rec.ts_ns);
            }
        }
        assert_eq!(got, accepted);
        assert_eq!(noted, 3 * ROUNDS - n, "the capture says how many it lacks");
        // A note before every record written (each follows drops), and one at the end if the
        // last record was dropped too.
        let dropped_last = accepted.last() != Some(&(3 * ROUNDS - 1));
        assert_eq!(notes, n + u64::from(dropped_last));
    }

    #[test]
    fn a_drop_is_noted_before_the_next_record_and_at_the_end() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("d.cap");
        let mut r = Recorder::start(&path, &test_header(), WriterOptions::default(), 1 << 16)
            .unwrap_or_else(|e| panic!("{e}"));
        // Records larger than the whole ring never fit: dropped, whatever the thread does.
        let huge = vec![7u8; 70_000];
        assert!(r.record(1, Line::A, &[1]));
        assert!(!r.record(2, Line::A, &huge));
        assert!(!r.record(3, Line::B, &huge));
        assert!(r.record(4, Line::A, &[4]));
        assert!(!r.record(5, Line::A, &huge));
        let s = r
            .finish()
            .unwrap_or_else(|| panic!("the recorder thread is owned here"));
        assert_eq!((s.written, s.dropped, s.error), (2, 3, None));
        let mut reader = CaptureReader::open(&path).unwrap_or_else(|e| panic!("{e}"));
        let mut got = Vec::new();
        while let Some(rec) = reader.next_record() {
            let rec = rec.unwrap_or_else(|e| panic!("{e}"));
            got.push((rec.ts_ns, rec.line, rec.bytes.to_vec()));
        }
        let note = |n: u64| {
            let mut b = b"DROP".to_vec();
            b.extend_from_slice(&n.to_be_bytes());
            b
        };
        assert_eq!(
            got,
            vec![
                (1, Line::A, vec![1]),
                (3, Line::Note, note(2)),
                (4, Line::A, vec![4]),
                (5, Line::Note, note(1)),
            ]
        );
    }
}
