//! Drawing from rate-limit budgets, counted by the Workers Rate Limiting
//! bindings that [`Tier::binding`] names.

use std::cell::RefCell;

use tidings_core::rate_limit::{counter_key, Tier};
use worker::Env;

use crate::error::ApiError;

/// Counts one request against `owner`'s budget of `tier` in `environment`;
/// 429 `rate_limited` once it is spent. A deployment without the binding
/// is not limited (and says so in its log); a binding that fails lets the
/// request through, as the platform itself does.
pub async fn draw(env: &Env, tier: Tier, environment: &str, owner: &str) -> Result<(), ApiError> {
    let limiter = match env.rate_limiter(tier.binding()) {
        Ok(limiter) => limiter,
        Err(_) => {
            warn_once(tier);
            return Ok(());
        }
    };
    match limiter.limit(counter_key(tier, environment, owner)).await {
        Ok(outcome) if !outcome.success => Err(ApiError::rate_limited(tier)),
        Ok(_) => Ok(()),
        Err(error) => {
            worker::console_warn!("rate limiter {} failed: {error}", tier.binding());
            Ok(())
        }
    }
}

thread_local! {
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
