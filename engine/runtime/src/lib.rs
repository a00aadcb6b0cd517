//! The runtime of ticklane: the data plane (feed stage, rings, pinned lanes, strategies, venue,
//! latency histograms, digest) and the control plane (`ractor` actors on `tokio`) that owns and
//! supervises its threads.
//!
//! ```text
//!                 ┌────────────── control plane (tokio + ractor) ──────────────┐
//!                 │ Supervisor ── FeedActor ── LaneActor × N  (start, stop,    │
//!                 │   └─ WorkerActor (recorder)  status, kill switch, panics)  │
//!                 └──────┬─────────────────────────┬──────────────────────────┘
//!                        │ owns                    │ owns
//!   source ──▶ feed thread (decode, route) ══SPSC══▶ lane thread (books, strategies, venue)
//!                     ║                    ══SPSC══▶ lane thread ...
//!                     ╚══SPSC (bytes)══▶ worker thread (a live run's recorder: capture file)
//! ```
//!
//! Ticks never go through an actor mailbox: they go through [`ticklane_ring`] rings from the
//! feed thread to the lanes. Actors only start and stop threads, read their counters, flip their
//! flags and hear about incidents. This is the one engine crate that depends on tokio and
//! ractor (below the binary, `ticklane-live`, the network edge, also uses tokio), and the one
//! engine crate allowed to read a machine clock: [`clock::HopClock`], for latency and pacing,
//! and the control plane's wall time for rates (the live feed's network timers, outside
//! `engine/`, read one too); strategies see event time.

pub mod clock;
pub mod control;
pub mod digest;
pub mod envelope;
pub mod feed;
pub mod idle;
pub mod lane;
pub mod lane_ring;
pub mod latency;
pub mod router;
pub mod worker;

pub use clock::HopClock;
pub use control::{
    run_to_end, Engine, EngineError, EnginePlan, EngineRemote, EngineStatus, LaneStatus, RunReport,
    VenueFactory,
};
pub use envelope::LaneEvent;
pub use feed::{
    EventsSource, FeedSource, Pace, Publisher, PublisherSettings, SourceReport, Window,
};
pub use idle::IdlePolicy;
pub use lane::{
    available_cores, BookScope, IncidentSink, JournalEntry, Lane, LaneControl, LaneIncident,
    LaneReport, LaneSettings, PanicAction, PanicPolicy, StrategyFactory, StrategyReport,
    StrategySpec,
};
pub use lane_ring::{lane_ring, LaneConsumer, LaneProducer, RingKind};
pub use latency::{Hop, HopSummary, LatencyRecorder};
pub use router::{Route, Router};
pub use ticklane_exec::{TouchVenue, Venue, VenueReport};
pub use worker::{Counters, LostReport, Worker, WorkerProbe, WorkerReport, WorkerStatus};
