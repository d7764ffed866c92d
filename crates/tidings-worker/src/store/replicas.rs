//! Read replicas: an environment's feed is read, and acted on, through a
//! D1 session (the Sessions API), so reads may be served by a replica near
//! the caller while the client never reads a state older than one it has
//! already seen. A session starts at the bookmark the client brings (its
//! last answer's, sent back in the `Tidings-Bookmark` header or inside a
//! watermark), or, without one, anywhere ("first-unconstrained"); writes
//! start at the primary. The session's bookmark after the request is what
//! the answer carries on.
//!
//! Only the feed's statements go through the session (`prepare`,
//! `batch`), on the database holding the subscriber's feed (a shard's, when
//! the environment has feed shards: `shards.rs`); everything else the
//! handle does uses its own database as before. A session serves one
//! subscriber's shard; statements for a feed on another shard run without it.
//! Locally there is one database and no replica: the API, the bookmark's
//! round trip and the refusal of malformed bookmarks are what tests can
//! check here (`tests/replicas.test.mjs`).

use tidings_core::subscriber::SubscriberId;
use wasm_bindgen::JsValue;
use worker::{D1PreparedStatement, D1Result};

use super::{statement, storage_error, Environment};
use crate::error::ApiError;

/// Where a session without a client's bookmark starts its reads.
const ANYWHERE: &str = "first-unconstrained";
/// Where a session for writes starts.
const PRIMARY: &str = "first-primary";

impl Environment {
    /// Reads this handle's feed statements through a session that starts
    /// at `bookmark` (checked by the caller with
    /// [`tidings_core::feed_sync::is_bookmark`]), or anywhere without one.
    /// Once per handle: a later call keeps the first session.
    pub fn read_from(&self, subscriber: &SubscriberId, bookmark: Option<&str>) -> Result<(), ApiError> {
        self.start_session(subscriber, bookmark.unwrap_or(ANYWHERE))
    }

    /// Writes this handle's feed statements through a session that starts
    /// at the primary, so its bookmark afterwards covers the write.
    pub fn write_through_session(&self, subscriber: &SubscriberId) -> Result<(), ApiError> {
        self.start_session(subscriber, PRIMARY)
    }

    fn start_session(&self, subscriber: &SubscriberId, constraint: &str) -> Result<(), ApiError> {
        if self.session.get().is_some() {
            return Ok(());
        }
        let session = self
            .feed_db(subscriber)
            .with_session(Some(constraint))
            .map_err(|error| storage_error("open session", error))?;
        let _ = self.session.set((self.shard_index(subscriber), session));
        Ok(())
    }

    /// The session, if one was started on `subscriber`'s shard.
    fn session_of(&self, subscriber: &SubscriberId) -> Option<&worker::D1DatabaseSession> {
        self.session.get().filter(|(shard, _)| *shard == self.shard_index(subscriber)).map(|(_, session)| session)
    }

    /// The bookmark of the latest query of this handle's session, if it has
    /// one and ran a query.
    pub fn bookmark(&self) -> Option<String> {
        self.session.get().and_then(|(_, session)| session.get_bookmark().ok().flatten())
    }

    /// Prepares a statement on `subscriber`'s feed: through the session
    /// when there is one on its shard.
    pub(super) fn prepare(
        &self,
        subscriber: &SubscriberId,
        sql: &str,
        arguments: &[JsValue],
    ) -> Result<D1PreparedStatement, ApiError> {
        match self.session_of(subscriber) {
            Some(session) => session.prepare(sql).bind(arguments).map_err(|error| storage_error("bind", error)),
            None => statement(self.feed_db(subscriber), sql, arguments),
        }
    }

    /// Runs statements from [`Self::prepare`] for `subscriber` as one
    /// batch: through the session when there is one on its shard.
    pub(super) async fn batch(
        &self,
        subscriber: &SubscriberId,
        statements: Vec<D1PreparedStatement>,
    ) -> Result<Vec<D1Result>, worker::Error> {
        match self.session_of(subscriber) {
            Some(session) => session.batch(statements).await,
            None => self.feed_db(subscriber).batch(statements).await,
        }
    }

    /// Runs statements from [`Self::prepare`] for `subscriber` as one D1
    /// transaction, retrying transient failures; only for writes that are
    /// safe to apply twice.
    pub(super) async fn write_feed_batch(
        &self,
        subscriber: &SubscriberId,
        operation: &'static str,
        statements: Vec<D1PreparedStatement>,
    ) -> Result<Vec<D1Result>, ApiError> {
        super::retry::write(&self.faults, operation, || self.batch(subscriber, statements.clone())).await
    }
}
