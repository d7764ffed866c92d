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

/// How long a client whose credential lookup failed is remembered.
const FAILED_LOOKUP_MEMORY_MS: u64 = 60_000;
/// The most clients remembered; past it, the memory starts over.
const FAILED_LOOKUP_CAPACITY: usize = 10_000;

/// Before a storage lookup of a credential no cache holds (an API key, a
/// member token, a stream ticket): a client whose lookups failed in the
/// last minute draws from its [`Tier::KeyLookups`] budget, so a flood of
/// forged credentials from one client cannot become a flood of database
/// reads, while clients whose credentials are good are never counted.
pub async fn guard_lookup(env: &Platform, client: &str, now_ms: u64) -> Result<(), ApiError> {
    let failed_lately = FAILED_LOOKUPS.with_borrow(|failed| {
        failed.get(client).is_some_and(|at| now_ms.saturating_sub(*at) < FAILED_LOOKUP_MEMORY_MS)
    });
    if failed_lately {
        return draw(env, Tier::KeyLookups, "*", client).await;
    }
    Ok(())
}

/// Remembers that a credential `client` presented does not exist.
pub fn note_failed_lookup(client: &str, now_ms: u64) {
    FAILED_LOOKUPS.with_borrow_mut(|failed| {
        if failed.len() >= FAILED_LOOKUP_CAPACITY && !failed.contains_key(client) {
            failed.clear();
        }
        failed.insert(client.to_owned(), now_ms);
    });
}

thread_local! {
    /// Clients whose credential lookups failed lately: client → when.
    static FAILED_LOOKUPS: RefCell<HashMap<String, u64>> = RefCell::new(HashMap::new());
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
