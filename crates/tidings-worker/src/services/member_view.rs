//! What a member reads of an environment's data in the console, with the
//! environment's privacy settings applied: personal fields masked and
//! message contents hidden for members whose role there does not include
//! seeing personal data. Routes parse and render; masking lives here only.

use tidings_core::feed::FeedQuery;
use tidings_core::feed_filter::Archived;
use tidings_core::feed_sync::Watermark;
use tidings_core::logs::LogQuery;
use tidings_core::privacy;
use tidings_core::profile::ListQuery;
use tidings_core::subscriber::SubscriberId;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{FeedItem, FeedResponse, LogList, SubscriberList};

use crate::error::{ApiError, ApiResult};
use crate::store::Environment;

/// An environment as one member sees it.
pub struct MemberView {
    scope: Environment,
    /// Whether the member may see personal data here.
    personal: bool,
}

impl MemberView {
    /// `scope`, seen by a member who may (`personal`) or may not see its personal data.
    pub fn new(scope: Environment, personal: bool) -> Self {
        Self { scope, personal }
    }

    fn masks_subscribers(&self) -> bool {
        self.scope.privacy().obfuscate_subscriber_data && !self.personal
    }

    fn hides_contents(&self) -> bool {
        self.scope.privacy().hide_message_contents && !self.personal
    }

    /// Subscribers, ordered by id; personal fields masked where the environment says so.
    pub async fn subscribers(&self, pairs: &[(String, String)]) -> ApiResult<SubscriberList> {
        let query = ListQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))?;
        let mut list = self.scope.subscribers(&query).await?;
        if self.masks_subscribers() {
            list.items = list.items.into_iter().map(privacy::redact_subscriber).collect();
        }
        Ok(list)
    }

    /// A subscriber's messages (archived included unless the query says),
    /// newest first; contents hidden or personal payload fields masked
    /// where the environment says so. A filter on payload values is refused
    /// where anything is masked: what it finds would tell what is hidden.
    pub async fn messages(&self, subscriber: &SubscriberId, pairs: &[(String, String)]) -> ApiResult<FeedResponse> {
        let masked = self.masks_subscribers() || self.hides_contents();
        if masked && pairs.iter().any(|(name, _)| name.starts_with("data.")) {
            return Err(ApiError::new(
                403,
                ErrorCode::Forbidden,
                "filtering messages by payload fields needs a personal-data grant in this environment",
            )
            .with_field("data"));
        }
        let mut query = FeedQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))?;
        if !pairs.iter().any(|(name, _)| name == "archived") {
            query.filter.archived = Archived::Include;
        }
        let page = self.scope.feed_page(subscriber, &query).await?;
        let page_info = page.page_info(&query);
        // Masking works on items, so the page the feed route passes through is parsed here.
        let mut items: Vec<FeedItem> =
            serde_json::from_str(&page.text.items_json).map_err(|error| ApiError::internal("decode feed", error))?;
        if self.hides_contents() {
            items = items.into_iter().map(privacy::hide_message).collect();
        } else if self.masks_subscribers() {
            self.mask_personal_payload(&mut items).await?;
        }
        Ok(FeedResponse { items, page_info, counts: page.counts, watermark: Watermark::at(page.clock).to_string() })
    }

    /// Masks the payload fields each message's schema marked `x-personal`
    /// when it was written (stored with the message, so a later edit or
    /// deletion of the workflow changes nothing); a message written before
    /// they were recorded has its whole payload hidden.
    async fn mask_personal_payload(&self, items: &mut [FeedItem]) -> ApiResult<()> {
        let ids: Vec<&str> = items.iter().map(|item| item.id.as_str()).collect();
        let personal_paths = self.scope.personal_paths_of(&ids).await?;
        for item in items {
            match personal_paths.get(&item.id).cloned().flatten() {
                Some(paths) => privacy::redact_paths(&mut item.payload, &paths),
                None => item.payload = serde_json::Value::String(privacy::HIDDEN.to_owned()),
            }
        }
        Ok(())
    }

    /// Execution logs: they hold ids, statuses and errors, never personal data.
    pub async fn logs(&self, pairs: &[(String, String)]) -> ApiResult<LogList> {
        let query = LogQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))
            .map_err(|error| ApiError::validation(error.field, error.to_string()))?;
        self.scope.logs(&query).await
    }
}
