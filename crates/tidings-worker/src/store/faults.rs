//! Test-only fault injection: makes chosen D1 writes of one request fail the
//! way D1 documents transient failures, so tests can prove that retries,
//! idempotency keys and 503 answers lose and duplicate nothing.
//!
//! Inert unless the worker's `TIDINGS_FAULT_INJECTION` variable is
//! `enabled`, which only the test stack sets (in its own `.dev.vars`); a
//! deployment never has it. A request then names its faults in the
//! `Tidings-Inject-Faults` header: `operation=fault,fault,…;operation=…`,
//! where each fault is taken by one attempt at that operation, in order:
//! - `fail`: the attempt fails before D1 runs it (nothing is written);
//! - `lost`: D1 runs and commits it, then the answer is lost, as with
//!   "Network connection lost" after the commit;
//! - `ok`: the attempt runs normally;
//! - `stall`: the attempt waits [`STALL`] first, then runs normally: any
//!   write that retries, and a reshard's fence (`reshard-fence=stall`: the
//!   bucket's pre-copy is done and it still takes writes);
//! - `pause`: the attempt waits [`PAUSE`] first, then runs normally (any
//!   write that retries), so a test can change something between what a
//!   request read and what it writes.
//!
//! Resharding also takes `reshard-switch=fail` (a bucket's switch fails
//! before the new shard's batch), `reshard-verify=fail` (a bucket's
//! catch-up is taken as not verified, so it is copied whole under its
//! fence) and `reshard-fence=lost` (the call ends once its fence is up,
//! leaving it there, as when its isolate ends mid-move).
//!
//! Attempts past the end of the list run normally.
//!
//! `handoff=drop` makes a trigger skip handing its webhook deliveries to
//! the queue, as when the isolate ends right after the commit;
//! `handoff=misroute` hands them off naming another environment, and
//! `handoff=forge` with a seal that is not the deployment's, so tests can
//! check what the sweep and the queue's consumer do.
//!
//! The scheduled sweep's clock can be set too: `wrangler dev
//! --test-scheduled` fires the Cron Trigger on `GET /__scheduled?cron=…`
//! (it drops a `time` parameter), and a cron text `clock <ms>` runs the sweep
//! as if it were that time ([`injected_clock`]).
//!
//! `worker=trap` makes the worker panic once the request is authenticated:
//! with `panic = "abort"` its Wasm instance traps, and the entry module
//! (`js/entry.mjs`) starts a fresh instance for the next request.

use std::cell::RefCell;

use super::platform::Platform;
use crate::request::IncomingRequest;

/// The variable that turns fault injection on.
const SWITCH: &str = "TIDINGS_FAULT_INJECTION";
/// The request header naming the faults.
const HEADER: &str = "Tidings-Inject-Faults";
/// The message of an injected failure: one D1 documents as retryable.
pub(super) const INJECTED: &str = "D1_ERROR: Network connection lost. (injected fault)";

/// How long a `stall` fault holds its step.
pub(super) const STALL: std::time::Duration = std::time::Duration::from_secs(12);

/// How long a `pause` fault holds its write.
pub(super) const PAUSE: std::time::Duration = std::time::Duration::from_secs(2);

/// The time a test asked the sweep to run at (`clock <ms>` as the cron
/// text), when fault injection is on; `None` otherwise.
pub fn injected_clock(env: &Platform, cron: &str) -> Option<u64> {
    if !clock_injection_enabled(env) {
        return None;
    }
    cron.strip_prefix("clock ")?.trim().parse().ok()
}

/// Whether tests may set the clock (fault injection is on): then the
/// deliveries consumer runs no earlier than a hand-off's own time.
pub fn clock_injection_enabled(env: &Platform) -> bool {
    env.var(SWITCH).is_some_and(|value| value == "enabled")
}

/// What happens to one attempt at a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    /// Fails before running.
    Fail,
    /// Runs and commits, then reports failure.
    Lost,
    /// Waits [`STALL`] first; runs normally.
    Stall,
    /// Waits [`PAUSE`] first; runs normally.
    Pause,
    /// Runs normally.
    None,
}

/// What a trigger does with its webhook deliveries after the commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HandOffFault {
    /// Hands them off.
    #[default]
    None,
    /// Does not hand them off.
    Drop,
    /// Names another environment.
    Misroute,
    /// Seals them with another key.
    Forge,
}

/// The faults one request asked for, consumed attempt by attempt.
#[derive(Debug, Default)]
pub struct FaultPlan {
    remaining: RefCell<Vec<(String, Vec<Fault>)>>,
    trap: bool,
    hand_off: HandOffFault,
    key_taken_over: bool,
}

impl FaultPlan {
    /// The plan of `request`: empty unless fault injection is enabled.
    pub fn of(request: &IncomingRequest, env: &Platform) -> Self {
        let enabled = env.var(SWITCH).is_some_and(|value| value == "enabled");
        if !enabled {
            return Self::default();
        }
        Self::parse(request.header(HEADER).unwrap_or_default())
    }

    fn parse(header: &str) -> Self {
        let mut remaining = Vec::new();
        let mut trap = false;
        let mut hand_off = HandOffFault::None;
        let mut key_taken_over = false;
        for part in header.split(';').map(str::trim).filter(|part| !part.is_empty()) {
            let Some((operation, faults)) = part.split_once('=') else { continue };
            if operation.trim() == "worker" {
                trap |= faults.trim() == "trap";
                continue;
            }
            if operation.trim() == "idempotency" {
                key_taken_over |= faults.trim() == "taken-over";
                continue;
            }
            if operation.trim() == "handoff" {
                hand_off = match faults.trim() {
                    "drop" => HandOffFault::Drop,
                    "misroute" => HandOffFault::Misroute,
                    "forge" => HandOffFault::Forge,
                    _ => HandOffFault::None,
                };
                continue;
            }
            let faults = faults
                .split(',')
                .map(|fault| match fault.trim() {
                    "fail" => Fault::Fail,
                    "lost" => Fault::Lost,
                    "stall" => Fault::Stall,
                    "pause" => Fault::Pause,
                    _ => Fault::None,
                })
                .rev()
                .collect();
            remaining.push((operation.trim().to_owned(), faults));
        }
        Self { remaining: RefCell::new(remaining), trap, hand_off, key_taken_over }
    }

    /// Whether another request is to take this request's idempotency key
    /// over right after it claimed it (`idempotency=taken-over`), as a retry
    /// does when it thinks the first request abandoned.
    pub(super) fn key_taken_over(&self) -> bool {
        self.key_taken_over
    }

    /// What the request asked its webhook deliveries' hand-off to do.
    pub fn hand_off(&self) -> HandOffFault {
        self.hand_off
    }

    /// Panics when the request asked for `worker=trap`.
    pub fn trap_if_asked(&self) {
        if self.trap {
            panic!("injected trap (Tidings-Inject-Faults: worker=trap)");
        }
    }

    /// Waits [`PAUSE`] when the next fault asked for `operation` is `pause`:
    /// for steps whose write is not retried (a control-plane batch), between
    /// what they read and what they write.
    pub(super) async fn pause_if_asked(&self, operation: &str) {
        if self.next(operation) == Fault::Pause {
            worker::Delay::from(PAUSE).await;
        }
    }

    /// The fault for the next attempt at `operation`.
    pub(super) fn next(&self, operation: &str) -> Fault {
        let mut remaining = self.remaining.borrow_mut();
        remaining
            .iter_mut()
            .find(|(name, _)| name == operation)
            .and_then(|(_, faults)| faults.pop())
            .unwrap_or(Fault::None)
    }
}
