//! The control plane: `ractor` actors on `tokio` that own and supervise the data-plane threads.
//!
//! - [`Supervisor`] starts one [`LaneActor`] per lane, then the [`FeedActor`]; it collects their
//!   reports and answers when the run is over. It answers `Status`, and forwards `KillSwitch`
//!   and `Stop` to every child.
//! - A [`LaneActor`] owns its lane's pinned thread: it spawns it, flips its flags (stop, kill
//!   switch), reads its counters for `Status`, hears its incidents (a strategy panic and what
//!   the policy did), and joins it when it ends.
//! - The [`FeedActor`] owns the feed thread the same way.
//! - A [`WorkerActor`] owns each other data-plane thread of the plan (a live run's capture
//!   recorder, fed by its own ring from the feed thread): see [`crate::worker`].
//!
//! Ticks never pass through a mailbox: the threads talk through SPSC rings and atomics; an
//! actor message is sent only on start, stop, status, kill switch, incidents and thread exit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::lane_ring::{lane_ring, LaneConsumer, LaneProducer, RingKind};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use tokio::sync::oneshot;

use crate::feed::{FeedControl, FeedSource, FeedStats, Publisher, PublisherSettings, SourceReport};
use crate::lane::{
    pin_to_core, Lane, LaneControl, LaneIncident, LaneReport, LaneSettings, StrategySpec,
};
use crate::router::Router;
use crate::worker::{
    LostReport, Worker, WorkerActor, WorkerArgs, WorkerEnd, WorkerProbe, WorkerReport, WorkerStatus,
};
use ticklane_exec::Venue;

/// Engines started in this process (names their actors uniquely).
static ENGINES: AtomicU64 = AtomicU64::new(0);

/// Everything needed to start a run.
pub struct EnginePlan {
    /// One entry per lane: its settings and its strategies. Lane `i` of the list is numbered
    /// `i` (`LaneSettings::index`); [`Engine::start`] refuses another numbering.
    pub lanes: Vec<(LaneSettings, Vec<StrategySpec>)>,
    /// Core for the feed thread.
    pub feed_core: Option<usize>,
    /// Ring capacity per lane (rounded up to a power of two).
    pub ring_capacity: usize,
    /// Which ring feeds each lane.
    pub ring_kind: RingKind,
    /// Publisher behaviour.
    pub publisher: PublisherSettings,
    /// The source.
    pub source: Box<dyn FeedSource>,
    /// Builds each lane's venue (given the lane number).
    pub venue: VenueFactory,
    /// Other data-plane threads (the capture recorder of a live run), each owned by a
    /// [`WorkerActor`]; started before the feed, and the run ends when they have too.
    pub workers: Vec<Box<dyn Worker>>,
}

/// Builds a lane's venue (risk gate and paper exchange, or anything implementing [`Venue`]).
pub type VenueFactory = Arc<dyn Fn(u16) -> Box<dyn Venue> + Send + Sync>;

impl std::fmt::Debug for EnginePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnginePlan")
            .field("lanes", &self.lanes.len())
            .field("feed_core", &self.feed_core)
            .field("ring_capacity", &self.ring_capacity)
            .field("ring_kind", &self.ring_kind)
            .field(
                "workers",
                &self.workers.iter().map(|w| w.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Errors starting or running the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// A strategy could not be built.
    #[error(transparent)]
    Strategy(#[from] ticklane_strategy::ParamError),
    /// An actor could not be spawned.
    #[error("could not start the control plane: {0}")]
    Spawn(String),
    /// A thread died outside the strategy sandbox (a bug in the engine).
    #[error("{0} thread failed: {1}")]
    ThreadFailed(String, String),
    /// The run ended without a report (the supervisor died, or the report was already taken
    /// by an earlier `wait`).
    #[error("the run ended without a report")]
    NoReport,
    /// The plan is malformed (its lanes must be numbered 0, 1, ... in order).
    #[error("invalid engine plan: {0}")]
    Plan(String),
}

/// One lane's live status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LaneStatus {
    /// Lane number.
    pub lane: u16,
    /// Items processed.
    pub events: u64,
    /// Commands sent.
    pub orders: u64,
    /// Fills.
    pub fills: u64,
    /// Strategy panics.
    pub panics: u64,
    /// Items waiting in its ring.
    pub ring_len: u64,
    /// Tick-to-decision p50, ns (refreshed when the lane runs dry, at most every 16,384 items;
    /// every 65,536 on a lane that never does).
    pub t2d_p50_ns: u64,
    /// Tick-to-decision p99, ns.
    pub t2d_p99_ns: u64,
    /// Trading disabled (kill switch or halt).
    pub trading_disabled: bool,
    /// Halted after a panic.
    pub halted: bool,
    /// Thread finished.
    pub finished: bool,
    /// Net P&L of the lane's strategies, price units (1/10000 $), refreshed at each equity
    /// sample (each second of event time).
    pub net_pnl: i64,
    /// Its books are stale (a `FeedGap` reached it: the feed lost messages or rejoined).
    pub stale: bool,
}

impl LaneStatus {
    fn read(lane: u16, c: &LaneControl) -> Self {
        Self {
            lane,
            events: c.events.load(Ordering::Relaxed),
            orders: c.orders.load(Ordering::Relaxed),
            fills: c.fills.load(Ordering::Relaxed),
            panics: c.panics.load(Ordering::Relaxed),
            ring_len: c.ring_len.load(Ordering::Relaxed),
            t2d_p50_ns: c.t2d_p50.load(Ordering::Relaxed),
            t2d_p99_ns: c.t2d_p99.load(Ordering::Relaxed),
            trading_disabled: c.trading_disabled.load(Ordering::Relaxed),
            halted: c.halted.load(Ordering::Relaxed),
            finished: c.finished.load(Ordering::Acquire),
            net_pnl: c.net_pnl.load(Ordering::Relaxed),
            stale: c.stale.load(Ordering::Relaxed),
        }
    }
}

/// The engine's live status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineStatus {
    /// Events published by the feed.
    pub feed_events: u64,
    /// Waits on full rings.
    pub feed_full_waits: u64,
    /// Per lane.
    pub lanes: Vec<LaneStatus>,
    /// Per worker (the recorder), in the plan's order.
    pub workers: Vec<WorkerStatus>,
    /// Incidents so far.
    pub incidents: Vec<LaneIncident>,
}

/// What a whole run produced.
#[derive(Clone, Debug)]
pub struct RunReport {
    /// Source counters.
    pub source: SourceReport,
    /// Feed-stage counters.
    pub feed: FeedStats,
    /// Core the feed thread was pinned to.
    pub feed_pinned_core: Option<usize>,
    /// Lane reports, by lane number.
    pub lanes: Vec<LaneReport>,
    /// Incidents: the kill switch's, by lane, then each strategy's in the order they happened,
    /// strategies in configuration order (by id). The same list on every run and in every
    /// lane layout (but for the lane numbers; the kill switch comes from outside the data, at
    /// a wall-clock moment): the lane threads' messages reach the supervisor in whatever
    /// order the threads run.
    pub incidents: Vec<LaneIncident>,
    /// Worker reports (the recorder), in the plan's order.
    pub workers: Vec<WorkerReport>,
    /// Wall-clock duration of the data plane, ns (feed start to last lane end).
    pub elapsed_ns: u64,
}

impl RunReport {
    /// Every strategy's report, in configuration order (by id) whatever lane it ran on: what
    /// a per-strategy output lists, so that it is the same in every lane layout.
    pub fn strategies_in_order(&self) -> Vec<&crate::lane::StrategyReport> {
        let mut all: Vec<_> = self.lanes.iter().flat_map(|l| &l.strategies).collect();
        all.sort_by_key(|s| s.id);
        all
    }

    /// Trading days in the data: 1, and one more for each start of messages after other
    /// events (every lane saw the same ones; see [`crate::lane::JournalEntry::DayStart`]).
    pub fn days(&self) -> usize {
        self.lanes.first().map_or(1, |l| l.day_symbols.len() + 1)
    }

    /// The source's number of the run's first trading day: 1, or the day a replay of one day
    /// of several played ([`crate::feed::Window::day`]).
    pub fn first_day(&self) -> usize {
        usize::try_from(self.feed.skipped_days).map_or(usize::MAX, |d| d.saturating_add(1))
    }
}

// ---------------------------------------------------------------- lane actor

/// Messages of a [`LaneActor`].
#[derive(Debug)]
pub enum LaneMsg {
    /// Report live status.
    Status(RpcReplyPort<LaneStatus>),
    /// Stop trading and cancel every open order.
    KillSwitch,
    /// Stop the lane now.
    Stop,
    /// From the lane thread: an incident.
    Incident(LaneIncident),
    /// From the lane thread: it has finished.
    ThreadDone,
}

/// Owns one lane's thread.
#[derive(Debug)]
pub struct LaneActor;

/// Arguments of a [`LaneActor`].
#[allow(missing_debug_implementations)] // holds threads, rings and actor refs
pub struct LaneArgs {
    lane: Option<Lane<Box<dyn Venue>>>,
    rx: Option<LaneConsumer>,
    control: Arc<LaneControl>,
    index: u16,
    supervisor: ActorRef<SupervisorMsg>,
}

/// State of a [`LaneActor`].
#[allow(missing_debug_implementations)] // holds threads, rings and actor refs
pub struct LaneState {
    index: u16,
    control: Arc<LaneControl>,
    thread: Option<JoinHandle<LaneReport>>,
    supervisor: ActorRef<SupervisorMsg>,
}

impl Actor for LaneActor {
    type Msg = LaneMsg;
    type State = LaneState;
    type Arguments = LaneArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        mut args: LaneArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let (Some(mut lane), Some(rx)) = (args.lane.take(), args.rx.take()) else {
            return Err("lane actor started without its lane".into());
        };
        let me = myself.clone();
        lane.set_incident_sink(Box::new(move |i| {
            let _ = me.cast(LaneMsg::Incident(i));
        }));
        let me = myself.clone();
        let control = args.control.clone();
        let thread = spawn_owned(
            format!("lane-{}", args.index),
            // Set even if the lane thread panics (outside the strategy sandbox), so that
            // status never shows a dead thread as running (as for a worker).
            move || {
                control.finished.store(true, Ordering::Release);
                let _ = me.cast(LaneMsg::ThreadDone);
            },
            move || lane.run(rx),
        )?;
        Ok(LaneState {
            index: args.index,
            control: args.control,
            thread: Some(thread),
            supervisor: args.supervisor,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            LaneMsg::Status(reply) => {
                let _ = reply.send(LaneStatus::read(state.index, &state.control));
            }
            LaneMsg::KillSwitch => state.control.kill.store(true, Ordering::Relaxed),
            LaneMsg::Stop => state.control.stop.store(true, Ordering::Relaxed),
            LaneMsg::Incident(i) => {
                let _ = state.supervisor.cast(SupervisorMsg::Incident(i));
            }
            LaneMsg::ThreadDone => {
                let Some(result) = join(state.thread.take()).await? else {
                    return Ok(());
                };
                let _ = state
                    .supervisor
                    .cast(SupervisorMsg::LaneDone(state.index, Box::new(result)));
                myself.stop(None);
            }
        }
        Ok(())
    }
}

/// Spawns the data-plane thread `name` running `body`, then `on_exit` as it ends, a panic
/// included: how its actor hears that it ended (a feed that panicked would otherwise leave
/// the supervisor waiting for its report forever).
pub(crate) fn spawn_owned<T: Send + 'static>(
    name: String,
    on_exit: impl FnOnce() + Send + 'static,
    body: impl FnOnce() -> T + Send + 'static,
) -> std::io::Result<JoinHandle<T>> {
    std::thread::Builder::new().name(name).spawn(move || {
        let _done = OnExit(Some(on_exit));
        body()
    })
}

/// Runs its closure when dropped: at a thread's normal end and when a panic unwinds it.
struct OnExit<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> Drop for OnExit<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// Joins a data-plane thread off the async executor (it has finished, or is about to): its
/// result, or the text of the panic that ended it; `None` if it was already joined.
pub(crate) async fn join<T: Send + 'static>(
    thread: Option<JoinHandle<T>>,
) -> Result<Option<Result<T, String>>, ActorProcessingErr> {
    let Some(thread) = thread else {
        return Ok(None);
    };
    let joined = tokio::task::spawn_blocking(move || thread.join()).await?;
    Ok(Some(joined.map_err(|p| panic_text(p.as_ref()))))
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string())
}

// ---------------------------------------------------------------- feed actor

/// Messages of the [`FeedActor`].
#[derive(Debug)]
pub enum FeedMsg {
    /// Ask the source to stop.
    Stop,
    /// From the feed thread: it has finished.
    ThreadDone,
}

/// Owns the feed thread.
#[derive(Debug)]
pub struct FeedActor;

/// Arguments of the [`FeedActor`].
#[allow(missing_debug_implementations)] // holds threads, rings and actor refs
pub struct FeedArgs {
    source: Option<Box<dyn FeedSource>>,
    publisher: Option<Publisher>,
    control: Arc<FeedControl>,
    core: Option<usize>,
    supervisor: ActorRef<SupervisorMsg>,
}

type FeedThreadResult = (SourceReport, FeedStats, Option<usize>);

/// State of the [`FeedActor`].
#[allow(missing_debug_implementations)] // holds threads, rings and actor refs
pub struct FeedState {
    control: Arc<FeedControl>,
    thread: Option<JoinHandle<FeedThreadResult>>,
    supervisor: ActorRef<SupervisorMsg>,
}

impl Actor for FeedActor {
    type Msg = FeedMsg;
    type State = FeedState;
    type Arguments = FeedArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        mut args: FeedArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let (Some(mut source), Some(mut publisher)) = (args.source.take(), args.publisher.take())
        else {
            return Err("feed actor started without its source".into());
        };
        let core = args.core;
        let me = myself.clone();
        let thread = spawn_owned(
            "feed".to_string(),
            move || {
                let _ = me.cast(FeedMsg::ThreadDone);
            },
            move || {
                let pinned = core.filter(|&c| pin_to_core(c));
                if core.is_some() && pinned.is_none() {
                    tracing::warn!(?core, "could not pin the feed thread");
                }
                let report = source.run(&mut publisher);
                let stats = publisher.finish();
                (report, stats, pinned)
            },
        )?;
        Ok(FeedState {
            control: args.control,
            thread: Some(thread),
            supervisor: args.supervisor,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            FeedMsg::Stop => state.control.stop.store(true, Ordering::Relaxed),
            FeedMsg::ThreadDone => {
                let Some(result) = join(state.thread.take()).await? else {
                    return Ok(());
                };
                let _ = state
                    .supervisor
                    .cast(SupervisorMsg::FeedDone(Box::new(result)));
                myself.stop(None);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- supervisor

/// Messages of the [`Supervisor`].
#[derive(Debug)]
pub enum SupervisorMsg {
    /// Live status of the feed and every lane.
    Status(RpcReplyPort<EngineStatus>),
    /// Kill switch on every lane.
    KillSwitch,
    /// Stop the feed and every lane now.
    Stop,
    /// A lane's incident.
    Incident(LaneIncident),
    /// A lane's thread ended.
    LaneDone(u16, Box<Result<LaneReport, String>>),
    /// The feed thread ended.
    FeedDone(Box<Result<FeedThreadResult, String>>),
    /// A worker's thread ended: its report, or what killed it.
    WorkerDone(usize, Box<WorkerEnd>),
}

/// Owns the feed and lane actors.
#[derive(Debug)]
pub struct Supervisor;

/// Arguments of the [`Supervisor`].
#[allow(missing_debug_implementations)] // holds threads, rings and actor refs
pub struct SupervisorArgs {
    plan: Option<EnginePlan>,
    done: Option<oneshot::Sender<Result<RunReport, EngineError>>>,
}

/// A worker as the supervisor knows it: its actor, live counters, and whether its thread ended.
struct WorkerEntry {
    actor: ractor::ActorId,
    name: &'static str,
    probe: WorkerProbe,
    lost: LostReport,
    finished: Arc<std::sync::atomic::AtomicBool>,
}

/// State of the [`Supervisor`].
#[allow(missing_debug_implementations)] // holds threads, rings and actor refs
pub struct SupervisorState {
    lanes: Vec<ActorRef<LaneMsg>>,
    lane_controls: Vec<Arc<LaneControl>>,
    feed: Option<ActorRef<FeedMsg>>,
    feed_control: Arc<FeedControl>,
    lane_reports: Vec<Option<LaneReport>>,
    feed_result: Option<FeedThreadResult>,
    workers: Vec<WorkerEntry>,
    worker_ends: Vec<Option<WorkerEnd>>,
    failures: Vec<(String, String)>,
    incidents: Vec<LaneIncident>,
    done: Option<oneshot::Sender<Result<RunReport, EngineError>>>,
    started: quanta::Instant,
    clock: quanta::Clock,
}

impl Supervisor {
    fn maybe_finish(myself: &ActorRef<SupervisorMsg>, state: &mut SupervisorState) {
        let lanes_done = state.lane_reports.iter().all(Option::is_some)
            || state.failures.iter().any(|f| f.0.starts_with("lane"));
        let feed_done = state.feed_result.is_some() || state.failures.iter().any(|f| f.0 == "feed");
        // A worker always reports (a panic becomes its report's error), and ends once the
        // feed thread has dropped its input.
        let workers_done = state.worker_ends.iter().all(Option::is_some);
        if !(lanes_done && feed_done && workers_done) || state.done.is_none() {
            return;
        }
        let Some(done) = state.done.take() else {
            return;
        };
        if let Some((who, what)) = state.failures.first() {
            let _ = done.send(Err(EngineError::ThreadFailed(who.clone(), what.clone())));
            myself.stop(None);
            return;
        }
        let (source, feed, feed_pinned_core) = state.feed_result.take().unwrap_or_default();
        let mut lanes: Vec<LaneReport> = state
            .lane_reports
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        // What a stopped lane left in its ring, from both ends' counts now that both have
        // ended: the lane's own look at its ring came while the feed could still push (up to
        // a batch after the stop), and those items were counted nowhere.
        for l in &mut lanes {
            if let Some(&published) = feed.per_lane.get(usize::from(l.index)) {
                l.left_in_ring = l
                    .left_in_ring
                    .max(published.saturating_sub(l.events + l.heartbeats));
            }
        }
        #[allow(clippy::disallowed_methods)] // The control plane: the run's wall time, for rates.
        let elapsed_ns = state.clock.now().duration_since(state.started).as_nanos() as u64;
        let _ = done.send(Ok(RunReport {
            source,
            feed,
            feed_pinned_core,
            lanes,
            incidents: in_run_order(std::mem::take(&mut state.incidents)),
            // A worker that died is reported now that the feed has ended: its report counts
            // what the feed handed it after its death.
            workers: state
                .worker_ends
                .iter_mut()
                .zip(&state.workers)
                .filter_map(|(end, w)| Some(end.take()?.unwrap_or_else(|why| (w.lost)(why))))
                .collect(),
            elapsed_ns,
        }));
        myself.stop(None);
    }
}

/// The run's incidents in an order that does not depend on thread timing: the kill switch's
/// first, by lane (before the panics its cancels cause), then by strategy (each strategy
/// lives on one lane, whose incidents arrive in the order it sent them, so a stable sort keeps
/// each strategy's own order).
fn in_run_order(mut incidents: Vec<LaneIncident>) -> Vec<LaneIncident> {
    incidents.sort_by_key(|i| match i {
        LaneIncident::KillSwitch { lane, .. } => (0, *lane),
        LaneIncident::StrategyPanicked { strategy, .. }
        | LaneIncident::RiskTripped { strategy, .. } => (1, strategy.0),
    });
    incidents
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        mut args: SupervisorArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let Some(plan) = args.plan.take() else {
            return Err("supervisor started without a plan".into());
        };
        let clock = quanta::Clock::new();
        #[allow(clippy::disallowed_methods)] // The control plane: the run's wall time, for rates.
        let started = clock.now();
        // Actor names are process-wide: prefix them with this engine's number.
        let engine = ENGINES.fetch_add(1, Ordering::Relaxed);
        let mut pinned = Vec::new();
        let mut lanes = Vec::new();
        let mut lane_controls = Vec::new();
        let mut producers: Vec<LaneProducer> = Vec::new();
        let lane_count = plan.lanes.len() as u16;
        // Lanes that keep every book (by setting, without strategies, or with a `*`
        // subscription: see `BookScope`); the others are sent only their strategies' instruments.
        let keeps_all: Vec<bool> = plan
            .lanes
            .iter()
            .map(|(settings, strategies)| {
                settings.books == crate::lane::BookScope::All
                    || strategies.is_empty()
                    || strategies
                        .iter()
                        .any(|s| s.symbols.iter().any(|x| x.as_str() == "*"))
            })
            .collect();
        for (settings, strategies) in plan.lanes {
            for s in &strategies {
                for sym in &s.symbols {
                    if sym.as_str() != "*" {
                        pinned.push((*sym, settings.index));
                    }
                }
            }
            let control = Arc::new(LaneControl::default());
            let venue = (plan.venue)(settings.index);
            let lane = match Lane::new(settings, strategies, venue, control.clone(), None) {
                Ok(lane) => lane,
                Err(e) => {
                    // The caller gets the strategy's own error, not the failed start's.
                    let what = e.to_string();
                    if let Some(done) = args.done.take() {
                        let _ = done.send(Err(EngineError::Strategy(e)));
                    }
                    return Err(what.into());
                }
            };
            let (tx, rx) = lane_ring(plan.ring_kind, plan.ring_capacity);
            producers.push(tx);
            let (actor, _) = Actor::spawn_linked(
                Some(format!("engine{engine}-lane-{}", settings.index)),
                LaneActor,
                LaneArgs {
                    lane: Some(lane),
                    rx: Some(rx),
                    control: control.clone(),
                    index: settings.index,
                    supervisor: myself.clone(),
                },
                myself.get_cell(),
            )
            .await?;
            lanes.push(actor);
            lane_controls.push(control);
        }
        // Workers start before the feed, so that their rings are drained from the first record.
        let mut workers = Vec::with_capacity(plan.workers.len());
        for (index, worker) in plan.workers.into_iter().enumerate() {
            let name = worker.name();
            let probe = worker.probe();
            let lost = worker.lost_report();
            let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let (actor, _) = Actor::spawn_linked(
                Some(format!("engine{engine}-{name}-{index}")),
                WorkerActor,
                WorkerArgs {
                    worker: Some(worker),
                    index,
                    finished: finished.clone(),
                    supervisor: myself.clone(),
                },
                myself.get_cell(),
            )
            .await?;
            workers.push(WorkerEntry {
                actor: actor.get_id(),
                name,
                probe,
                lost,
                finished,
            });
        }
        let feed_control = Arc::new(FeedControl::default());
        let publisher = Publisher::new(
            producers,
            Router::new(lane_count, pinned).with_books_kept(keeps_all),
            plan.publisher,
            feed_control.clone(),
        );
        let (feed, _) = Actor::spawn_linked(
            Some(format!("engine{engine}-feed")),
            FeedActor,
            FeedArgs {
                source: Some(plan.source),
                publisher: Some(publisher),
                control: feed_control.clone(),
                core: plan.feed_core,
                supervisor: myself.clone(),
            },
            myself.get_cell(),
        )
        .await?;
        Ok(SupervisorState {
            lane_reports: vec![None; lanes.len()],
            lanes,
            lane_controls,
            feed: Some(feed),
            feed_control,
            feed_result: None,
            worker_ends: vec![None; workers.len()],
            workers,
            failures: Vec::new(),
            incidents: Vec::new(),
            done: args.done.take(),
            started,
            clock,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SupervisorMsg::Status(reply) => {
                let status = EngineStatus {
                    feed_events: state.feed_control.events.load(Ordering::Relaxed),
                    feed_full_waits: state.feed_control.full_waits.load(Ordering::Relaxed),
                    lanes: state
                        .lane_controls
                        .iter()
                        .enumerate()
                        .map(|(i, c)| LaneStatus::read(i as u16, c))
                        .collect(),
                    workers: state
                        .workers
                        .iter()
                        .map(|w| WorkerStatus {
                            name: w.name.to_string(),
                            counters: (w.probe)(),
                            finished: w.finished.load(Ordering::Acquire),
                        })
                        .collect(),
                    incidents: state.incidents.clone(),
                };
                let _ = reply.send(status);
            }
            SupervisorMsg::KillSwitch => {
                for l in &state.lanes {
                    let _ = l.cast(LaneMsg::KillSwitch);
                }
                // Lanes whose actor already ended still see the flag.
                for c in &state.lane_controls {
                    c.kill.store(true, Ordering::Relaxed);
                }
            }
            SupervisorMsg::Stop => {
                if let Some(f) = &state.feed {
                    let _ = f.cast(FeedMsg::Stop);
                }
                state.feed_control.stop.store(true, Ordering::Relaxed);
                for l in &state.lanes {
                    let _ = l.cast(LaneMsg::Stop);
                }
                for c in &state.lane_controls {
                    c.stop.store(true, Ordering::Relaxed);
                }
            }
            SupervisorMsg::Incident(i) => {
                tracing::warn!(?i, "lane incident");
                state.incidents.push(i);
            }
            SupervisorMsg::LaneDone(index, result) => {
                match *result {
                    Ok(report) => {
                        if let Some(slot) = state.lane_reports.get_mut(usize::from(index)) {
                            *slot = Some(report);
                        }
                    }
                    Err(e) => {
                        tracing::error!(lane = index, "lane thread failed: {e}");
                        state.failures.push((format!("lane {index}"), e));
                        // The feed must not wait for a dead lane forever.
                        state.feed_control.stop.store(true, Ordering::Relaxed);
                    }
                }
                Self::maybe_finish(&myself, state);
            }
            SupervisorMsg::WorkerDone(index, end) => {
                let error = match end.as_ref() {
                    Ok(r) => r.error.as_deref(),
                    Err(why) => Some(why.as_str()),
                };
                if let Some(e) = error {
                    // The data plane goes on: a worker's loss is reported, not fatal.
                    let name = state.workers.get(index).map_or("worker", |w| w.name);
                    tracing::error!(worker = name, "{e}");
                }
                if let Some(slot) = state.worker_ends.get_mut(index) {
                    *slot = Some(*end);
                }
                Self::maybe_finish(&myself, state);
            }
            SupervisorMsg::FeedDone(result) => {
                state.feed = None;
                match *result {
                    Ok(r) => state.feed_result = Some(r),
                    Err(e) => {
                        tracing::error!("feed thread failed: {e}");
                        state.failures.push(("feed".to_string(), e));
                        for c in &state.lane_controls {
                            c.stop.store(true, Ordering::Relaxed);
                        }
                    }
                }
                Self::maybe_finish(&myself, state);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(who, err) = event {
            // A worker's actor: its report will not come; the run goes on without it.
            if let Some(i) = state.workers.iter().position(|w| w.actor == who.get_id()) {
                let w = &state.workers[i];
                tracing::error!(worker = w.name, "worker actor failed: {err}");
                if state.worker_ends[i].is_none() {
                    state.worker_ends[i] = Some(Err(format!("the {} actor failed: {err}", w.name)));
                }
                Self::maybe_finish(&myself, state);
                return Ok(());
            }
            // An actor (not a strategy: those are contained by their lane) failed: stop the
            // data plane so that nothing waits on it, and report.
            tracing::error!(actor = ?who.get_name(), "actor failed: {err}");
            state.feed_control.stop.store(true, Ordering::Relaxed);
            for c in &state.lane_controls {
                c.stop.store(true, Ordering::Relaxed);
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- handle

/// A cloneable remote control of a running engine (for signal handlers and status pollers).
#[derive(Debug, Clone)]
pub struct EngineRemote {
    supervisor: ActorRef<SupervisorMsg>,
}

impl EngineRemote {
    /// Live status; `None` once the run is over.
    pub async fn status(&self) -> Option<EngineStatus> {
        ractor::call!(self.supervisor, SupervisorMsg::Status).ok()
    }

    /// Engages the kill switch on every lane.
    pub fn kill_switch(&self) {
        let _ = self.supervisor.cast(SupervisorMsg::KillSwitch);
    }

    /// Stops the feed and the lanes now.
    pub fn stop(&self) {
        let _ = self.supervisor.cast(SupervisorMsg::Stop);
    }
}

/// A running engine.
#[derive(Debug)]
pub struct Engine {
    supervisor: ActorRef<SupervisorMsg>,
    /// `None` once `wait` has answered.
    done: Option<oneshot::Receiver<Result<RunReport, EngineError>>>,
}

impl Engine {
    /// Starts the control plane and the data-plane threads (on the current tokio runtime).
    pub async fn start(plan: EnginePlan) -> Result<Self, EngineError> {
        // The router spreads instruments over 1 to `MAX_LANES` lanes (a plan without lanes
        // failed on the feed thread: index out of bounds).
        if plan.lanes.is_empty() || plan.lanes.len() > usize::from(crate::router::MAX_LANES) {
            return Err(EngineError::Plan(format!(
                "the plan has {} lanes (1 to {} lanes)",
                plan.lanes.len(),
                crate::router::MAX_LANES
            )));
        }
        // The supervisor finds a lane's report slot, status and ring by its number.
        for (i, (settings, _)) in plan.lanes.iter().enumerate() {
            if usize::from(settings.index) != i {
                return Err(EngineError::Plan(format!(
                    "lane {i} of the plan is numbered {} (lanes are numbered 0, 1, ... in order)",
                    settings.index
                )));
            }
        }
        // One lane per symbol: the router sends an instrument to one lane only, so a strategy
        // subscribed to it on another lane would never see it (the configuration refuses this).
        let mut symbol_lane: Vec<(ticklane_core::Symbol, u16, &str)> = Vec::new();
        for (settings, strategies) in &plan.lanes {
            for s in strategies {
                for sym in s.symbols.iter().filter(|x| x.as_str() != "*") {
                    match symbol_lane.iter().find(|e| e.0 == *sym) {
                        Some(&(_, lane, other)) if lane != settings.index => {
                            return Err(EngineError::Plan(format!(
                                "symbol {sym} is subscribed by strategy {other} on lane {lane} \
                                 and by strategy {} on lane {} (an instrument is sent to one \
                                 lane)",
                                s.name, settings.index
                            )));
                        }
                        Some(_) => {}
                        None => symbol_lane.push((*sym, settings.index, &s.name)),
                    }
                }
            }
        }
        let (tx, mut rx) = oneshot::channel();
        let (supervisor, _) = match Actor::spawn(
            None,
            Supervisor,
            SupervisorArgs {
                plan: Some(plan),
                done: Some(tx),
            },
        )
        .await
        {
            Ok(spawned) => spawned,
            // A strategy that could not be built is its own error.
            Err(e) => {
                return Err(rx
                    .try_recv()
                    .ok()
                    .and_then(Result::err)
                    .unwrap_or(EngineError::Spawn(e.to_string())))
            }
        };
        Ok(Self {
            supervisor,
            done: Some(rx),
        })
    }

    /// A remote control that can be cloned into other tasks.
    pub fn remote(&self) -> EngineRemote {
        EngineRemote {
            supervisor: self.supervisor.clone(),
        }
    }

    /// Live status.
    pub async fn status(&self) -> Option<EngineStatus> {
        ractor::call!(self.supervisor, SupervisorMsg::Status).ok()
    }

    /// Engages the kill switch: every lane stops trading and cancels its open orders.
    pub fn kill_switch(&self) {
        let _ = self.supervisor.cast(SupervisorMsg::KillSwitch);
    }

    /// Stops the feed and the lanes now.
    pub fn stop(&self) {
        let _ = self.supervisor.cast(SupervisorMsg::Stop);
    }

    /// Waits for the end of the run.
    pub async fn wait(&mut self) -> Result<RunReport, EngineError> {
        let Some(done) = self.done.as_mut() else {
            return Err(EngineError::NoReport);
        };
        let ended = done.await.map_err(|_| EngineError::NoReport);
        self.done = None;
        ended?
    }
}

/// Runs a plan to completion on a small private tokio runtime (the binary's and the tests'
/// entry point). `on_start` runs once the engine is up (e.g. to install a Ctrl-C handler).
pub fn run_to_end(
    plan: EnginePlan,
    on_start: impl FnOnce(&Engine),
) -> Result<RunReport, EngineError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("control")
        .build()
        .map_err(|e| EngineError::Spawn(e.to_string()))?;
    rt.block_on(async {
        let mut engine = Engine::start(plan).await?;
        on_start(&engine);
        engine.wait().await
    })
}
