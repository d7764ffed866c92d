//! Drawing from rate-limit budgets, counted by the Workers Rate Limiting
//! bindings that [`Tier::binding`] and [`Tier::units`] name. A subscriber's
//! fast feed requests are drawn in units of many requests, kept in this
//! isolate's [`Ledger`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use tidings_core::rate_limit::{counter_key, Answer, Decision, Ledger, Tier, UnitId};
use worker::RateLimiter;

use super::platform::Platform;
use crate::error::ApiError;
use crate::platform::now_ms;

/// How many times one request asks the ledger: a refused draw of one kind
/// (single or unit) is followed by the other kind while it is not spent,
/// and a joined unit that never answers by another decision.
const DECISIONS_PER_REQUEST: usize = 4;

/// Counts one request against `owner`'s budget of `tier` in `environment`;
/// 429 `rate_limited` once it is spent. A deployment without the binding
/// is not limited (and says so in its log); a single draw that fails lets
/// the request through, as the platform itself does, and a unit that fails
/// turns the window to single draws, which count the requests it held.
pub async fn draw(env: &Platform, tier: Tier, environment: &str, owner: &str) -> Result<(), ApiError> {
    let singles = match env.rate_limiter(tier.binding()) {
        Ok(limiter) => limiter,
        Err(_) => {
            warn_once(tier.binding(), "its tier is not limited");
            return Ok(());
        }
    };
    let counter = counter_key(tier, environment, owner);
    for _ in 0..DECISIONS_PER_REQUEST {
        let decided = now_ms();
        // Deciding and finding (or opening) the unit's outcome happen without an `await` between
        // them, so a request that joins a unit always finds where its outcome will be.
        let step = LEDGER.with_borrow_mut(|ledger| match ledger.decide(tier, &counter, decided) {
            Decision::Allow => Step::Pass,
            Decision::Refuse => Step::Refuse,
            Decision::Single => Step::Single,
            Decision::Join(unit) => match DRAWS.with_borrow(|draws| draws.get(&unit).cloned()) {
                Some(outcome) => Step::Join(unit, outcome),
                // No outcome to wait for (its drawing request ended without one): decide again.
                None => {
                    ledger.abandon(tier, &counter, unit, decided);
                    Step::Again
                }
            },
            Decision::Draw(unit) => Step::Draw(unit, Outcome::opened(unit), false),
            Decision::Refill(unit) => Step::Draw(unit, Outcome::opened(unit), true),
        });
        let drawn_alone = matches!(step, Step::Single);
        let answer = match step {
            Step::Pass => return Ok(()),
            Step::Refuse => break,
            Step::Again => continue,
            Step::Single => draw_single(&singles, tier, &counter, decided).await,
            Step::Join(unit, outcome) => match outcome.wait().await {
                Some(answer) => answer,
                None => {
                    // The unit's request ended without an answer, or the binding kept it waiting:
                    // nobody joins the unit any more, and this request asks the ledger again.
                    LEDGER.with_borrow_mut(|ledger| ledger.abandon(tier, &counter, unit, now_ms()));
                    DRAWS.with_borrow_mut(|draws| draws.remove(&unit));
                    continue;
                }
            },
            Step::Draw(unit, outcome, paid) => {
                // Dropping the hold, here or where this request is dropped mid-draw, settles the unit.
                let hold = OutcomeGuard { unit, outcome, tier, counter: counter.clone() };
                let binding = tier.units().map_or(tier.binding(), |units| units.binding);
                let answer = match env.rate_limiter(binding) {
                    Ok(limiter) => ask(&limiter, &counter, tier).await,
                    // Without the units' binding, units are refused: requests are drawn one by one.
                    Err(_) => {
                        warn_once(binding, "requests are drawn one by one");
                        Answer::Refused
                    }
                };
                hold.outcome.0.set(State::Answered(answer));
                drop(hold);
                if paid {
                    return Ok(());
                }
                answer
            }
        };
        match (answer, drawn_alone) {
            (Answer::Granted, _) | (Answer::Failed, true) => return Ok(()),
            // The ledger knows what was refused, or which unit failed: asked again, it offers the
            // other kind of draw or refuses, so a failing units' binding leaves the counting to
            // the singles'.
            _ if tier.units().is_some() => continue,
            _ => break,
        }
    }
    Err(ApiError::rate_limited(tier, now_ms()))
}

/// Draws one request, decided at `decided`, alone from the tier's binding
/// and records the answer.
async fn draw_single(limiter: &RateLimiter, tier: Tier, counter: &str, decided: u64) -> Answer {
    let answer = ask(limiter, counter, tier).await;
    LEDGER.with_borrow_mut(|ledger| ledger.settle_single(tier, counter, decided, answer, now_ms()));
    answer
}

/// What a request does after the ledger decided.
enum Step {
    Pass,
    Refuse,
    /// Draw this request alone.
    Single,
    /// Wait for the outcome of another request's draw of that unit.
    Join(UnitId, Outcome),
    /// Ask the ledger again.
    Again,
    /// Draw, leave the answer for the requests that joined, and settle;
    /// `true` where this request is already paid for (a unit drawn ahead).
    Draw(UnitId, Outcome, bool),
}

/// Where the request drawing a unit leaves the binding's answer for the
/// requests that joined the unit.
///
/// A joined request looks for it on timers of its own instead of awaiting
/// the drawing request's promise or being woken by it: the runtime refuses
/// a request any I/O object or continuation that belongs to another one.
#[derive(Clone, Default)]
struct Outcome(Rc<Cell<State>>);

/// Where a unit's draw stands.
#[derive(Clone, Copy, Default)]
enum State {
    /// The binding has not answered yet.
    #[default]
    Drawing,
    /// The binding's answer.
    Answered(Answer),
    /// The drawing request ended without an answer.
    Abandoned,
}

/// How often a joined request looks for its unit's outcome.
const OUTCOME_POLL: Duration = Duration::from_millis(1);

/// How long it looks before it abandons the unit and asks the ledger
/// again: a drawing request that ends without an answer says so at once
/// (its hold's drop), so this only bounds a binding that keeps it waiting;
/// the binding answers in milliseconds.
const OUTCOME_PATIENCE_MS: u64 = 1_000;

impl Outcome {
    /// A new unit's outcome, where the requests that join it find it.
    fn opened(unit: UnitId) -> Self {
        let outcome = Self::default();
        DRAWS.with_borrow_mut(|draws| draws.insert(unit, outcome.clone()));
        outcome
    }

    /// The unit's answer; `None` where its drawing request ended without
    /// one, or once [`OUTCOME_PATIENCE_MS`] passed.
    async fn wait(&self) -> Option<Answer> {
        let deadline = now_ms() + OUTCOME_PATIENCE_MS;
        loop {
            match self.0.get() {
                State::Answered(answer) => return Some(answer),
                State::Abandoned => return None,
                State::Drawing => {}
            }
            if now_ms() >= deadline {
                return None;
            }
            worker::Delay::from(OUTCOME_POLL).await;
        }
    }
}

/// The drawing request's hold on its unit's outcome. When it ends, the
/// unit is settled and leaves [`DRAWS`]; where it ends without an answer
/// (its request was dropped), the unit is abandoned and the requests that
/// joined it ask the ledger again at once instead of waiting for an answer
/// that cannot come.
struct OutcomeGuard {
    unit: UnitId,
    outcome: Outcome,
    tier: Tier,
    counter: String,
}

impl Drop for OutcomeGuard {
    fn drop(&mut self) {
        let answer = match self.outcome.0.get() {
            State::Answered(answer) => Some(answer),
            State::Drawing | State::Abandoned => {
                self.outcome.0.set(State::Abandoned);
                None
            }
        };
        // No borrow of the ledger lives across an `await`, so it is free wherever a future is dropped.
        let _ = LEDGER.try_with(|ledger| {
            if let Ok(mut ledger) = ledger.try_borrow_mut() {
                match answer {
                    Some(answer) => ledger.settle(self.tier, &self.counter, self.unit, answer, now_ms()),
                    None => ledger.abandon(self.tier, &self.counter, self.unit, now_ms()),
                }
            }
        });
        DRAWS.with_borrow_mut(|draws| draws.remove(&self.unit));
    }
}

/// Asks a binding of `tier` for one draw on `counter`.
async fn ask(limiter: &RateLimiter, counter: &str, tier: Tier) -> Answer {
    match limiter.limit(counter.to_owned()).await {
        Ok(outcome) if outcome.success => Answer::Granted,
        Ok(_) => Answer::Refused,
        Err(error) => {
            worker::console_warn!("a rate limiter of the {} tier failed: {error}", tier.name());
            Answer::Failed
        }
    }
}

/// The most clients remembered as blocked; past it, lapsed blocks are
/// forgotten (and all of them only if that is not enough).
const BLOCKED_CAPACITY: usize = 10_000;

/// Before a storage lookup of a credential no cache holds (an API key, a
/// member token, a stream ticket): refuses a client whose failed lookups
/// spent its [`Tier::KeyLookups`] budget, until the budget's window ends,
/// without reading storage. Good credentials never count.
pub fn guard_lookup(client: &str, now_ms: u64) -> Result<(), ApiError> {
    let blocked = BLOCKED.with_borrow(|blocked| blocked.get(client).is_some_and(|until| *until > now_ms));
    if blocked {
        return Err(ApiError::rate_limited(Tier::KeyLookups, now_ms));
    }
    Ok(())
}

/// Counts a lookup of a credential that does not exist against `client`'s
/// [`Tier::KeyLookups`] budget; once it is spent, [`guard_lookup`] refuses
/// the client for the rest of the window.
pub async fn note_failed_lookup(env: &Platform, client: &str, now_ms: u64) {
    if draw(env, Tier::KeyLookups, "*", client).await.is_err() {
        // The window the binding refused in: it may have begun after the lookup did.
        let until = Tier::KeyLookups.window_end_ms(crate::platform::now_ms().max(now_ms));
        BLOCKED.with_borrow_mut(|blocked| {
            if blocked.len() >= BLOCKED_CAPACITY && !blocked.contains_key(client) {
                // Lapsed blocks go first: a flood of new clients must not lift current ones.
                blocked.retain(|_, blocked_until| *blocked_until > now_ms);
                if blocked.len() >= BLOCKED_CAPACITY {
                    blocked.clear();
                }
            }
            blocked.insert(client.to_owned(), until);
        });
    }
}

thread_local! {
    /// Clients whose failed lookups spent their budget: client → until when.
    static BLOCKED: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
    /// The units of feed budgets this isolate drew. An isolate's requests
    /// interleave only at `await`s, and no borrow lives across one.
    static LEDGER: RefCell<Ledger> = RefCell::new(Ledger::default());
    /// The draws under way, by unit, for the requests that join them.
    static DRAWS: RefCell<HashMap<UnitId, Outcome>> = RefCell::new(HashMap::new());
    /// Missing bindings this isolate has already reported.
    static REPORTED: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

/// Says once per isolate, not on every request, that a binding is missing
/// and what follows.
fn warn_once(binding: &'static str, consequence: &str) {
    let first = REPORTED.with(|reported| {
        let mut reported = reported.borrow_mut();
        let first = !reported.contains(&binding);
        if first {
            reported.push(binding);
        }
        first
    });
    if first {
        worker::console_warn!("no {binding} binding: {consequence}");
    }
}
