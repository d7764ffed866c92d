//! Read replicas: where the deployment's databases replicate
//! (`TIDINGS_D1_READ_REPLICATION=auto`,
//! [`tidings_core::deployment::ReadReplication`]), an environment's feed is
//! read, and acted on, through a D1 session (the Sessions API), so reads
//! may be served by a replica near the caller while the client never reads
//! a state older than one it has already seen. Otherwise (the default)
//! no session starts: every feed statement runs on the primary and answers
//! carry no bookmark, since a session would only add a bookmark's work to
//! each query (locally a quarter of a feed page's throughput,
//! docs/performance.md). A session starts at the bookmark the client brings (its
//! last answer's, sent back in the `Tidings-Bookmark` header or inside a
//! watermark). Without one it starts anywhere ("first-unconstrained"), except
//! for delta sync from a watermark, which starts at the primary. Writes
//! start at the primary. The session's bookmark after the request is what
//! the answer carries on.
//!
//! Only the feed's statements go through the session (`prepare`,
//! `batch`), on the database holding the subscriber's feed (a shard's, when
//! the environment has feed shards: `shards.rs`); everything else the
//! handle does uses its own database as before. A session serves one
//! subscriber's shard; statements for a feed on another shard run without it.
//! A bookmark is a position in one database, so the answers tag it with the
//! count that placed the feed there
//! ([`tidings_core::shard::placed_bookmark`]); one a client brings back from
//! before the feed moved (resharding) starts the session at the primary.
//! Locally there is one database and no replica: the API, the bookmark's
//! round trip and the refusal of malformed bookmarks are what tests can
//! check here (`tests/replicas.test.mjs`).

use tidings_core::shard::{bucket_of, placed_bookmark, session_start, SessionStart, ShardCount};
use tidings_core::subscriber::SubscriberId;
use wasm_bindgen::JsValue;
use worker::{D1PreparedStatement, D1Result};

use super::shards::{bucket_value, fence_column, Access, Buckets};
use super::{statement, storage_error, Environment};
use crate::error::ApiError;

/// Where a session without a client's bookmark starts its reads.
const ANYWHERE: &str = "first-unconstrained";
/// Where a session for writes starts.
const PRIMARY: &str = "first-primary";

impl Environment {
    /// Reads this handle's feed statements through a session that starts
    /// at `bookmark` (checked by the caller with
    /// [`tidings_core::feed_sync::is_bookmark`]), or anywhere without one;
    /// at the primary when it is a position in a database the feed has left
    /// since (or one it was not yet in). Once per handle: a later call
    /// keeps the first session.
    pub fn read_from(&self, subscriber: &SubscriberId, bookmark: Option<&str>) -> Result<(), ApiError> {
        self.start_session(subscriber, |placed| match session_start(bookmark, placed) {
            SessionStart::Anywhere => ANYWHERE,
            SessionStart::Primary => PRIMARY,
            SessionStart::At(bookmark) => bookmark,
        })
    }

    /// Reads this handle's feed statements through a session that starts
    /// at the primary: for a client whose position came without a bookmark.
    pub fn read_from_primary(&self, subscriber: &SubscriberId) -> Result<(), ApiError> {
        self.start_session(subscriber, |_| PRIMARY)
    }

    /// Writes this handle's feed statements through a session that starts
    /// at the primary, so its bookmark afterwards covers the write.
    pub fn write_through_session(&self, subscriber: &SubscriberId) -> Result<(), ApiError> {
        self.start_session(subscriber, |_| PRIMARY)
    }

    /// Opens the session on the database holding `subscriber`'s feed,
    /// starting where `constraint` says given the count that placed the feed
    /// there; nothing where the databases do not replicate (the feed's hot
    /// path then computes nothing for it).
    fn start_session<'b>(
        &self,
        subscriber: &SubscriberId,
        constraint: impl FnOnce(ShardCount) -> &'b str,
    ) -> Result<(), ApiError> {
        if self.session.get().is_some() || !super::deployment::read_replication(&self.platform)?.uses_sessions() {
            return Ok(());
        }
        let bucket = bucket_of(subscriber);
        let (placed, home) = (self.bucket_map().placed_by(bucket), self.bucket_map().home_of(bucket));
        let session = self
            .db_of(home)?
            .with_session(Some(constraint(placed)))
            .map_err(|error| storage_error("open session", error))?;
        let _ = self.session.set((home, placed, session));
        Ok(())
    }

    /// The session, if one was started on the database holding
    /// `subscriber`'s feed (not on one it has moved away from since).
    fn session_of(&self, subscriber: &SubscriberId) -> Option<&worker::D1DatabaseSession> {
        self.session.get().filter(|(home, ..)| *home == self.feed_home(subscriber)).map(|(.., session)| session)
    }

    /// The bookmark of the latest query of this handle's session, tagged
    /// with the count that placed the feed in its database, if it has one
    /// and ran a query; none once the bucket map changed under the session
    /// (its bookmark would be a position in a database the feed left).
    pub fn bookmark(&self) -> Option<String> {
        if self.session_moved.get() {
            return None;
        }
        let (_, placed, session) = self.session.get()?;
        session.get_bookmark().ok().flatten().map(|bookmark| placed_bookmark(*placed, &bookmark))
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
            None => statement(&*self.feed_db(subscriber)?, sql, arguments),
        }
    }

    /// Runs statements from [`Self::prepare`] for `subscriber` as one
    /// batch, led by a fence guard for `access` (whose result is left out):
    /// through the session when there is one on its shard. A database that
    /// no longer serves the subscriber's bucket fails it with
    /// [`super::shards::FEED_MOVED`].
    pub(super) async fn batch(
        &self,
        subscriber: &SubscriberId,
        access: Access,
        statements: Vec<D1PreparedStatement>,
    ) -> Result<Vec<D1Result>, worker::Error> {
        let guard = self
            .prepare_fence(subscriber, access)
            .map_err(|error| worker::Error::RustError(error.message().to_owned()))?;
        let mut guarded = Vec::with_capacity(statements.len() + 1);
        guarded.push(guard);
        guarded.extend(statements);
        let mut results = match self.session_of(subscriber) {
            Some(session) => session.batch(guarded).await?,
            None => {
                let db =
                    self.feed_db(subscriber).map_err(|error| worker::Error::RustError(error.message().to_owned()))?;
                db.batch(guarded).await?
            }
        };
        if !results.is_empty() {
            results.remove(0);
        }
        Ok(results)
    }

    /// The fence guard of `subscriber`'s bucket, through the session when there is one.
    fn prepare_fence(&self, subscriber: &SubscriberId, access: Access) -> Result<D1PreparedStatement, ApiError> {
        let sql = format!("SELECT {} AS fenced", fence_column(Buckets::One(1), access));
        self.prepare(subscriber, &sql, &[bucket_value(subscriber)])
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
        super::retry::write(&self.faults, operation, || self.batch(subscriber, Access::Write, statements.clone())).await
    }
}
