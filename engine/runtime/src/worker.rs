//! [`Worker`]: a data-plane thread beside the feed and the lanes (a live run's capture
//! recorder), and the [`WorkerActor`] that owns it under the [`Supervisor`](crate::control::Supervisor).
//!
//! A worker is fed by its own ring from the feed thread and never sits on the hot path: the
//! feed hands it bytes without waiting (a full ring is the worker's own counted condition). The
//! actor spawns the worker's thread (the supervisor reads the worker's live counters for
//! status through its probe, as it reads the lanes' atomics) and, when the thread ends (its input is over: the feed dropped its end of the ring), joins it and
//! hands the [`WorkerReport`] to the supervisor, which puts it in the run's report. A worker
//! that panics is reported as an error of that worker, its report built by the worker's
//! [`LostReport`] once the feed has ended; the feed and the lanes keep running (losing a
//! recording must not stop trading), and the run's summary says what was lost.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use ractor::{Actor, ActorProcessingErr, ActorRef};

use crate::control::{join, spawn_owned, SupervisorMsg};

/// Named counters: `(name, value)`, in the worker's own order.
pub type Counters = Vec<(&'static str, u64)>;

/// Reads a worker's counters while it runs (from the control plane: relaxed atomics).
pub type WorkerProbe = Arc<dyn Fn() -> Counters + Send + Sync>;

/// Builds the report of a worker whose thread died, given what happened (the report's
/// `error`). The supervisor calls it once the feed thread has ended, so that the report counts
/// what the feed handed the worker after its death (the recorder: records queued into a ring
/// nobody read any more).
pub type LostReport = Arc<dyn Fn(String) -> WorkerReport + Send + Sync>;

/// A data-plane thread that is neither the feed nor a lane.
pub trait Worker: Send + 'static {
    /// Names the thread, the actor and the worker's lines in the report (e.g. `recorder`).
    fn name(&self) -> &'static str;

    /// Live counters, readable from the control plane while the thread runs.
    fn probe(&self) -> WorkerProbe;

    /// The report to give if the thread dies (a panic) or its actor fails.
    fn lost_report(&self) -> LostReport;

    /// The thread's body: runs until its input ends, then says what it did.
    fn run(self: Box<Self>) -> WorkerReport;
}

/// What a worker ended with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerReport {
    /// The worker's name.
    pub name: String,
    /// Final counters.
    pub counters: Counters,
    /// Lines for the run's summary.
    pub notes: Vec<String>,
    /// Items the worker's output lacks (the recorder: records dropped on a full ring or not
    /// written); a run whose worker lost anything exits with 1.
    pub lost: u64,
    /// What went wrong, if anything did (the run completed, the worker's output is
    /// incomplete): an I/O error, or the text of the panic that ended the thread.
    pub error: Option<String>,
}

/// A worker's live status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerStatus {
    /// The worker's name.
    pub name: String,
    /// Its counters now.
    pub counters: Counters,
    /// Whether its thread has ended.
    pub finished: bool,
}

/// Messages of a [`WorkerActor`] (its status is read by the supervisor from the worker's
/// probe, with no message).
#[derive(Debug)]
pub enum WorkerMsg {
    /// From the worker thread: it has finished.
    ThreadDone,
}

/// Owns one worker's thread.
#[derive(Debug)]
pub struct WorkerActor;

/// Arguments of a [`WorkerActor`].
#[allow(missing_debug_implementations)] // holds a thread body and actor refs
pub struct WorkerArgs {
    pub(crate) worker: Option<Box<dyn Worker>>,
    pub(crate) index: usize,
    pub(crate) finished: Arc<AtomicBool>,
    pub(crate) supervisor: ActorRef<SupervisorMsg>,
}

/// State of a [`WorkerActor`].
#[allow(missing_debug_implementations)] // holds a thread and actor refs
pub struct WorkerState {
    name: &'static str,
    index: usize,
    thread: Option<JoinHandle<WorkerReport>>,
    supervisor: ActorRef<SupervisorMsg>,
}

/// How a worker's thread ended: its report, or (it panicked) what happened, for the
/// supervisor to build the report with the worker's [`LostReport`].
pub type WorkerEnd = Result<WorkerReport, String>;

impl Actor for WorkerActor {
    type Msg = WorkerMsg;
    type State = WorkerState;
    type Arguments = WorkerArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        mut args: WorkerArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let Some(worker) = args.worker.take() else {
            return Err("worker actor started without its worker".into());
        };
        let name = worker.name();
        let me = myself.clone();
        let finished = args.finished;
        let thread = spawn_owned(
            name.to_string(),
            // Set even if `run` panics, so that status never shows a dead thread as running.
            move || {
                finished.store(true, Ordering::Release);
                let _ = me.cast(WorkerMsg::ThreadDone);
            },
            move || worker.run(),
        )?;
        Ok(WorkerState {
            name,
            index: args.index,
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
            WorkerMsg::ThreadDone => {
                let Some(result) = join(state.thread.take()).await? else {
                    return Ok(());
                };
                let end: WorkerEnd =
                    result.map_err(|panic| format!("the {} thread panicked: {panic}", state.name));
                let _ = state
                    .supervisor
                    .cast(SupervisorMsg::WorkerDone(state.index, Box::new(end)));
                myself.stop(None);
            }
        }
        Ok(())
    }
}
