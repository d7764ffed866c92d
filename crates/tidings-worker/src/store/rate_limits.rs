//! Drawing from rate-limit budgets, counted by the Workers Rate Limiting
//! bindings that [`Tier::binding`] names. Feed requests are drawn in units
//! of several requests, kept in this isolate's [`Ledger`].

use std::cell::RefCell;

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

thread_local! {
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
