//! What a member reads of an environment's data in the console, with the
//! environment's privacy settings applied: personal fields masked and
//! message contents hidden for members whose role there does not include
//! seeing personal data. Where subscriber data is obfuscated, such a member
//! never sees a subscriber id either: every id they are shown (the list,
//! its cursor, execution logs) is an opaque handle
//! ([`tidings_core::subscriber_handle`]), and every id they send must be
//! one. Routes parse and render; masking lives here only.

use tidings_core::access::Action;
use tidings_core::delivery::DeliveryQuery;
use tidings_core::feed::FeedQuery;
use tidings_core::feed_filter::Archived;
use tidings_core::feed_sync::Watermark;
use tidings_core::logs::LogQuery;
use tidings_core::privacy;
use tidings_core::profile::ListQuery;
use tidings_core::subscriber::SubscriberId;
use tidings_core::subscriber_handle;
use tidings_core::wire::ErrorCode;
use tidings_core::wire::{DeliveryList, FeedItem, FeedResponse, IntegrationList, LogList, SubscriberList};

use crate::auth::Authorized;
use crate::error::{ApiError, ApiResult};
use crate::store::{self, Environment, Platform};

/// An environment as one member sees it.
pub struct MemberView {
    scope: Environment,
    /// Whether the member may see personal data here.
    personal: bool,
    /// Whether the member administers it (sees integration URLs, which can be credentials).
    administers: bool,
    /// The deployment's encryption key, when subscriber ids are shown as handles.
    handles: Option<[u8; 32]>,
}

impl MemberView {
    /// The environment `authorized` names, as its member sees it.
    pub async fn open(env: &Platform, authorized: &Authorized) -> ApiResult<Self> {
        let personal = authorized.permits(Action::ViewPersonalData);
        let scope = Environment::open_authorized(env, authorized).await?;
        let handles = if scope.privacy().obfuscate_subscriber_data && !personal {
            Some(store::encryption_key(env)?)
        } else {
            None
        };
        let administers = authorized.permits(Action::Configure);
        Ok(Self { scope, personal, administers, handles })
    }

    /// What the member is shown for `id`: the id, or its handle.
    fn shown(&self, id: &str) -> String {
        match (&self.handles, SubscriberId::parse(id)) {
            (Some(key), Ok(id)) => subscriber_handle::seal(key, self.scope.name(), &id),
            (Some(_), Err(_)) => privacy::HIDDEN.to_owned(),
            (None, _) => id.to_owned(),
        }
    }

    /// The subscriber a member named in `field`: an id, or where ids are
    /// masked for them, only a handle this environment gave out (an id
    /// would tell them, by the answer, whether that person is a subscriber).
    pub fn subscriber(&self, field: &str, raw: &str) -> ApiResult<SubscriberId> {
        let Some(key) = &self.handles else {
            return Ok(SubscriberId::parse(raw)?);
        };
        subscriber_handle::open(key, self.scope.name(), raw).ok_or_else(|| {
            ApiError::new(
                403,
                ErrorCode::Forbidden,
                "subscriber ids are masked in this environment: use the handle (sh~…) the console lists, or ask for a personal-data grant",
            )
            .with_field(field)
        })
    }

    fn masks_subscribers(&self) -> bool {
        self.scope.privacy().obfuscate_subscriber_data && !self.personal
    }

    fn hides_contents(&self) -> bool {
        self.scope.privacy().hide_message_contents && !self.personal
    }

    /// Subscribers, ordered by id; personal fields masked where the environment says so.
    pub async fn subscribers(&self, pairs: &[(String, String)]) -> ApiResult<SubscriberList> {
        let mut pairs = pairs.to_vec();
        for (name, value) in &mut pairs {
            if name == "after" {
                *value = self.subscriber("after", value)?.to_string();
            }
        }
        let query = ListQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))?;
        let mut list = self.scope.subscribers(&query).await?;
        if self.masks_subscribers() {
            list.items = list.items.into_iter().map(privacy::redact_subscriber).collect();
        }
        for item in &mut list.items {
            item.subscriber_id = self.shown(&item.subscriber_id);
        }
        list.page_info.after = list.page_info.after.as_deref().map(|after| self.shown(after));
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
            self.mask_personal_payload(subscriber, &mut items).await?;
        }
        Ok(FeedResponse { items, page_info, counts: page.counts, watermark: Watermark::at(page.clock).to_string() })
    }

    /// Masks the payload fields each message's schema marked `x-personal`
    /// when it was written (stored with the message, so a later edit or
    /// deletion of the workflow changes nothing); a message written before
    /// they were recorded has its whole payload hidden.
    async fn mask_personal_payload(&self, subscriber: &SubscriberId, items: &mut [FeedItem]) -> ApiResult<()> {
        let ids: Vec<&str> = items.iter().map(|item| item.id.as_str()).collect();
        let personal_paths = self.scope.personal_paths_of(subscriber, &ids).await?;
        for item in items {
            match personal_paths.get(&item.id).cloned().flatten() {
                Some(paths) => privacy::redact_paths(&mut item.payload, &paths),
                None => item.payload = serde_json::Value::String(privacy::HIDDEN.to_owned()),
            }
        }
        Ok(())
    }

    /// Execution logs: ids (subscribers' shown as handles where masked),
    /// statuses and error classes, never personal data; where the
    /// environment masks, error messages are hidden too (codes stay).
    pub async fn logs(&self, pairs: &[(String, String)]) -> ApiResult<LogList> {
        let mut pairs = pairs.to_vec();
        for (name, value) in &mut pairs {
            if name == "subscriber_id" {
                *value = self.subscriber("subscriber_id", value)?.to_string();
            }
        }
        let query = LogQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))
            .map_err(|error| ApiError::validation(error.field, error.to_string()))?;
        let mut list = self.scope.logs(&query).await?;
        let hide_messages = self.masks_subscribers() || self.hides_contents();
        for entry in &mut list.items {
            entry.subscriber_id = entry.subscriber_id.as_deref().map(|id| self.shown(id));
            if hide_messages {
                privacy::hide_log_messages(&mut entry.detail);
            }
        }
        Ok(list)
    }

    /// Webhook deliveries, newest first: ids (subscribers' shown as handles
    /// where masked), statuses, attempts and failure classes; never bodies.
    pub async fn deliveries(&self, pairs: &[(String, String)]) -> ApiResult<DeliveryList> {
        let query = DeliveryQuery::from_pairs(pairs.iter().map(|(name, value)| (name.as_str(), value.as_str())))
            .map_err(|error| ApiError::validation(error.field, error.to_string()))?;
        let mut list = self.scope.deliveries(&query).await?;
        for delivery in &mut list.items {
            delivery.subscriber_id = self.shown(&delivery.subscriber_id);
        }
        Ok(list)
    }

    /// Integrations with their health. Their URLs (which can carry a
    /// credential, as Slack's do) only for members who administer the
    /// environment; others see the scheme and host.
    pub async fn integrations(&self) -> ApiResult<IntegrationList> {
        let mut integrations = self.scope.integrations().await?;
        if !self.administers {
            for integration in &mut integrations {
                integration.url = privacy::url_origin(&integration.url);
            }
        }
        Ok(IntegrationList { items: integrations })
    }
}
