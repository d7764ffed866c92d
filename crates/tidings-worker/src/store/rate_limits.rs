//! Drawing from rate-limit budgets, counted by the Workers Rate Limiting
//! bindings that [`Tier::binding`] names. Feed requests are drawn in units
//! of several requests, kept in this isolate's [`Ledger`].

use std::cell::RefCell;
use std::collections::HashMap;

use tidings_core::rate_limit::{counter_key, Decision, Ledger, Tier};

use super::platform::Platform;
use crate::error::ApiError;
use crate::platform::now_ms;

/// Counts one request against `owner`'s budget of `tier` in `environment`;
/// 429 `rate_limited` once it is spent. A deployment without the binding
/// is not limited (and says so in its log); a binding that fails lets the
/// request through, as the platform itself does.
pub async fn draw(env: &Platform, tier: Tier, environment: &str, owner: &str) -> Result<(), ApiError> {
    let limiter = match env.rate_limiter(tier.binding()) {
        Ok(limiter) => limiter,
        Err(_) => {
            warn_once(tier);
            return Ok(());
        }
    };
    let counter = counter_key(tier, environment, owner);
    match LEDGER.with(|ledger| ledger.borrow_mut().decide(tier, &counter, now_ms())) {
        Decision::Allow => return Ok(()),
        Decision::Refuse => return Err(ApiError::rate_limited(tier)),
        Decision::Draw => {}
    }
    match limiter.limit(counter.clone()).await {
        Ok(outcome) => {
            LEDGER.with(|ledger| ledger.borrow_mut().settle(tier, &counter, outcome.success, now_ms()));
            if outcome.success {
                Ok(())
            } else {
                Err(ApiError::rate_limited(tier))
            }
        }
        Err(error) => {
            worker::console_warn!("rate limiter {} failed: {error}", tier.binding());
            Ok(())
        }
    }
}

/// The most clients remembered as blocked; past it, the memory starts over.
const BLOCKED_CAPACITY: usize = 10_000;

/// Before a storage lookup of a credential no cache holds (an API key, a
/// member token, a stream ticket): refuses a client whose failed lookups
/// spent its [`Tier::KeyLookups`] budget, until the budget's window ends,
/// without reading storage. Good credentials never count.
pub fn guard_lookup(client: &str, now_ms: u64) -> Result<(), ApiError> {
    let blocked = BLOCKED.with_borrow(|blocked| blocked.get(client).is_some_and(|until| *until > now_ms));
    if blocked {
        return Err(ApiError::rate_limited(Tier::KeyLookups));
    }
    Ok(())
}

/// Counts a lookup of a credential that does not exist against `client`'s
/// [`Tier::KeyLookups`] budget; once it is spent, [`guard_lookup`] refuses
/// the client for the rest of the window.
pub async fn note_failed_lookup(env: &Platform, client: &str, now_ms: u64) {
    if draw(env, Tier::KeyLookups, "*", client).await.is_err() {
        let until = now_ms + u64::from(Tier::KeyLookups.period_seconds()) * 1000;
        BLOCKED.with_borrow_mut(|blocked| {
            if blocked.len() >= BLOCKED_CAPACITY && !blocked.contains_key(client) {
                blocked.clear();
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
    /// Tiers whose missing binding this isolate has already reported.
    static REPORTED: RefCell<Vec<Tier>> = const { RefCell::new(Vec::new()) };
}

/// Says once per isolate, not on every request, that a tier is unlimited.
fn warn_once(tier: Tier) {
    let first = REPORTED.with(|reported| {
        let mut reported = reported.borrow_mut();
        let first = !reported.contains(&tier);
        if first {
            reported.push(tier);
        }
        first
    });
    if first {
        worker::console_warn!("no {} binding: the {} tier is not limited", tier.binding(), tier.name());
    }
}
