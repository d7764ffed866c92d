//! A subscriber's feed action (`POST …/feed/actions`), run at most once per
//! `Idempotency-Key`: an offline queue replaying an action whose answer it
//! never got cannot apply it again over what the subscriber did since.

use tidings_core::feed_action::FeedAction;
use tidings_core::feed_filter::FeedFilter;
use tidings_core::idempotency;
use tidings_core::subscriber::SubscriberId;
use tidings_core::wire::FeedCounts;

use crate::error::{ApiError, ApiResult};
use crate::services::idempotent::{self, Claimed};
use crate::store::{Environment, KeyHome};

/// What an action did.
pub struct ActionAnswer {
    /// Messages it changed (the first time, for a replay).
    pub updated: u64,
    /// The feed's counts now.
    pub counts: FeedCounts,
    /// Whether this is the answer to a request that ran before.
    pub replay: bool,
}

/// Applies `action`, through `key` (the header's key and the body's
/// fingerprint) when it has one. A replay answers the first `updated` with
/// the counts as they are now, and changes nothing.
pub async fn act(
    scope: &Environment,
    subscriber: &SubscriberId,
    action: &FeedAction,
    key: Option<(&str, &str)>,
    now: u64,
) -> ApiResult<ActionAnswer> {
    let Some((key, hash)) = key else {
        let (updated, counts) = scope.apply_action(subscriber, action, None, now).await?;
        return Ok(ActionAnswer { updated, counts, replay: false });
    };
    let stored_key = idempotency::feed_action_key(subscriber.as_str(), key);
    match idempotent::claim(scope, KeyHome::FeedOf(subscriber), stored_key, hash, None, now).await? {
        Claimed::Mine(ticket) => {
            let applied = scope.apply_action(subscriber, action, Some(ticket.claim()), now).await;
            let (updated, counts) = ticket.settle(scope, applied).await?;
            Ok(ActionAnswer { updated, counts, replay: false })
        }
        Claimed::Replay(_, body) => {
            let updated = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|answer| answer["updated"].as_u64())
                .ok_or_else(|| ApiError::internal("replay feed action", "the stored answer is unreadable"))?;
            let counts = scope.counts(subscriber, &[FeedFilter::default()]).await?.pop();
            let counts = counts.ok_or_else(|| ApiError::internal("replay feed action", "no counts"))?;
            Ok(ActionAnswer { updated, counts, replay: true })
        }
    }
}
