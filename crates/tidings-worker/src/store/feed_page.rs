//! A subscriber's feed page as the API answers it, written by SQLite.
//!
//! SQLite writes each item in its wire form ([`tidings_core::wire::FeedItem`]:
//! the same fields in the same order, times as `rfc3339` writes them), so the
//! page's JSON crosses from D1 to the response without being parsed into
//! messages and written again. Beside the items it writes their ids, which
//! give the page's cursors and show the items' order
//! ([`tidings_core::wire::assemble_page`]).

use std::collections::BTreeMap;

use serde::Deserialize;
use tidings_core::feed::{self, FeedQuery};
use tidings_core::subscriber::SubscriberId;
use tidings_core::wire::{assemble_page, FeedCounts, PageInfo, PageText};

use super::messages::{counts_of, CountsRow, COUNTS_AND_CLOCK};
use super::shards::{bucket_value, fence_column, Access, Buckets};
use super::{feed_sql, number, storage_error, text, Environment};
use crate::error::ApiError;

/// A stored time in Unix milliseconds as `tidings_core::timestamp::rfc3339`
/// writes it (`2026-09-21T14:13:31.000Z`); null stays null (`NULL || …`).
macro_rules! wire_time {
    ($column:literal) => {
        concat!(
            "strftime('%Y-%m-%dT%H:%M:%S', ",
            $column,
            " / 1000, 'unixepoch') || printf('.%03dZ', ",
            $column,
            " % 1000)"
        )
    };
}

/// One stored message as a [`tidings_core::wire::FeedItem`], field for field.
const WIRE_ITEM: &str = concat!(
    "json_object('id', id, 'workflow', workflow, 'subject', subject, 'body', body, 'avatar', avatar, ",
    "'actions', json(actions), 'tags', json(tags), 'payload', json(payload), 'created_at', ",
    wire_time!("created_at"),
    ", 'seen_at', ",
    wire_time!("seen_at"),
    ", 'read_at', ",
    wire_time!("read_at"),
    ", 'archived_at', ",
    wire_time!("archived_at"),
    ", 'attachments', json(COALESCE(attachments, '[]'))",
    ")"
);

/// The columns [`WIRE_ITEM`] reads.
const PAGE_COLUMNS: &str =
    "id, workflow, subject, body, avatar, actions, tags, payload, created_at, seen_at, read_at, archived_at, attachments";

/// The statement's one row.
#[derive(Deserialize)]
struct PageRow {
    /// The items (and one past the page, if any) as [`assemble_page`] reads them.
    page: String,
    #[serde(flatten)]
    counts: CountsRow,
    version: Option<f64>,
}

/// A feed page: its items as JSON text, newest first, and what the response
/// says around them.
pub struct FeedPage {
    /// The items, their ids and whether the feed goes on past them.
    pub text: PageText,
    /// The feed's counts.
    pub counts: FeedCounts,
    /// The feed clock, read in the same statement.
    pub clock: u64,
}

impl FeedPage {
    /// The cursors of this page, read for `query`.
    pub fn page_info(&self, query: &FeedQuery) -> PageInfo {
        feed::page_info(query, self.text.beyond, self.text.newest.as_deref(), self.text.oldest.as_deref())
    }
}

impl Environment {
    /// Up to `query.limit` items of a feed, whether more follow, the feed's
    /// counts and the feed clock, in one statement (one snapshot). D1 reads
    /// the page's rows, one more if there is one, and the counters' row.
    pub async fn feed_page(&self, subscriber: &SubscriberId, query: &FeedQuery) -> Result<FeedPage, ApiError> {
        self.on_current_map(|| self.read_feed_page(subscriber, query)).await
    }

    async fn read_feed_page(&self, subscriber: &SubscriberId, query: &FeedQuery) -> Result<FeedPage, ApiError> {
        let mut params = vec![text(subscriber.as_str())];
        let conditions = feed_sql::conditions(&query.filter, &mut params);
        // Paging back with `before` reads oldest first from the cursor.
        let (cursor, order) = match (&query.after, &query.before) {
            (Some(after), _) => {
                params.push(text(after.as_str()));
                (" AND id < ?", "DESC")
            }
            (None, Some(before)) => {
                params.push(text(before.as_str()));
                (" AND id > ?", "ASC")
            }
            (None, None) => ("", "DESC"),
        };
        params.push(number(u64::from(query.limit) + 1));
        params.push(bucket_value(subscriber));
        params.push(text(subscriber.as_str()));
        // The fence column fails the statement where the subscriber's bucket has moved away.
        let fence = fence_column(Buckets::One(params.len() - 1), Access::Read);
        let sql = format!(
            "SELECT (SELECT COALESCE(group_concat({WIRE_ITEM}, char(30)), '') || char(10) || \
             COALESCE(group_concat(id, ','), '') FROM (SELECT {PAGE_COLUMNS} FROM messages \
             WHERE subscriber_id = ? AND {conditions}{cursor} ORDER BY id {order} LIMIT ?)) AS page, \
             {fence} AS fenced, {COUNTS_AND_CLOCK} FROM feed_counts WHERE subscriber_id = ?"
        );
        let found: Option<PageRow> = self
            .prepare(subscriber, &sql, &params)?
            .first(None)
            .await
            .map_err(|error| storage_error("read feed", error))?;
        let row = found.ok_or_else(|| ApiError::internal("read feed", "the feed row is missing"))?;
        let text = assemble_page(&row.page, query.limit, query.before.is_some())
            .map_err(|error| ApiError::internal("decode feed", error))?;
        let version =
            row.version.ok_or_else(|| ApiError::internal("read feed clock", "the feed clock row is missing"))?;
        Ok(FeedPage { text, counts: counts_of(&row.counts), clock: version as u64 })
    }
}

impl Environment {
    /// The personal payload paths each message of `ids` (in `subscriber`'s
    /// feed) was written with:
    /// `None` for one written before they were recorded (or not found).
    pub async fn personal_paths_of(
        &self,
        subscriber: &SubscriberId,
        ids: &[&str],
    ) -> Result<BTreeMap<String, Option<Vec<Vec<String>>>>, ApiError> {
        self.on_current_map(|| self.read_personal_paths(subscriber, ids)).await
    }

    async fn read_personal_paths(
        &self,
        subscriber: &SubscriberId,
        ids: &[&str],
    ) -> Result<BTreeMap<String, Option<Vec<Vec<String>>>>, ApiError> {
        #[derive(Deserialize)]
        struct Row {
            id: String,
            personal_paths: Option<String>,
        }
        let read = self.prepare(
            subscriber,
            "SELECT id, personal_paths FROM messages WHERE id IN (SELECT value FROM json_each(?1))",
            &[text(&serde_json::Value::from(ids.to_vec()).to_string())],
        )?;
        let rows: Vec<Row> = self
            .batch(subscriber, Access::Read, vec![read])
            .await
            .and_then(|results| results.into_iter().next().map_or(Ok(Vec::new()), |result| result.results()))
            .map_err(|error| storage_error("read personal paths", error))?;
        Ok(rows
            .into_iter()
            .map(|row| (row.id, row.personal_paths.and_then(|paths| serde_json::from_str(&paths).ok())))
            .collect())
    }
}
