//! Execution logs: what happened to every trigger, per recipient and step.

use crate::subscriber::SubscriberId;
use crate::timestamp;
use crate::workflow;

/// Default retention of log entries, in days.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// The longest retention a setting may ask for.
pub const MAX_RETENTION_DAYS: u32 = 365;

/// What became of one step for one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStatus {
    /// The in-app message was rendered and stored in the feed.
    Stored,
    /// The trigger was refused, or a webhook delivery gave up; the detail says why.
    Failed,
    /// A webhook delivery was accepted by its endpoint.
    Delivered,
    /// The recipient's preferences turned the channel off.
    Skipped,
    /// Test mode kept an external delivery from the recipient (sent to the
    /// catch-all integration instead, if there is one).
    Suppressed,
    /// A trigger to topics was accepted and fans out (step `fanout`).
    Queued,
    /// A fan-out reached every recipient (step `fanout`).
    Completed,
}

impl LogStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Failed => "failed",
            Self::Delivered => "delivered",
            Self::Skipped => "skipped",
            Self::Suppressed => "suppressed",
            Self::Queued => "queued",
            Self::Completed => "completed",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Stored, Self::Failed, Self::Delivered, Self::Skipped, Self::Suppressed, Self::Queued, Self::Completed]
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

/// Why log query parameters are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct LogQueryError {
    /// The parameter at fault.
    pub field: &'static str,
    /// What is wrong.
    pub reason: &'static str,
}

/// A validated `GET /v1/logs` query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogQuery {
    /// Page size, 1–100 (default 50).
    pub limit: u32,
    /// Continue after (older than) this entry id.
    pub after: Option<String>,
    /// Only this workflow.
    pub workflow: Option<String>,
    /// Only this subscriber.
    pub subscriber: Option<SubscriberId>,
    /// Only this trigger.
    pub transaction_id: Option<String>,
    /// Only this status.
    pub status: Option<LogStatus>,
    /// Only entries at or after this Unix millisecond.
    pub since: Option<u64>,
    /// Only entries before this Unix millisecond.
    pub until: Option<u64>,
}

impl LogQuery {
    /// Reads decoded query parameters.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, LogQueryError> {
        let mut query = Self { limit: 50, ..Self::default() };
        let fail = |field, reason| LogQueryError { field, reason };
        for (name, value) in pairs {
            match name {
                "limit" => {
                    query.limit = crate::query::page_limit(value)
                        .ok_or(fail("limit", "must be a whole number from 1 to 100"))?;
                }
                "after" => {
                    if !is_log_id(value) {
                        return Err(fail("after", "must be an id from page_info"));
                    }
                    query.after = Some(value.to_owned());
                }
                "workflow" => {
                    workflow::validate_key(value).map_err(|_| fail("workflow", "must be a workflow key"))?;
                    query.workflow = Some(value.to_owned());
                }
                "subscriber_id" => {
                    query.subscriber =
                        Some(SubscriberId::parse(value).map_err(|_| fail("subscriber_id", "must be a subscriber id"))?);
                }
                "transaction_id" => {
                    if !crate::trigger::is_transaction_id(value) {
                        return Err(fail("transaction_id", "must be a transaction id from a trigger's answer"));
                    }
                    query.transaction_id = Some(value.to_owned());
                }
                "status" => {
                    query.status = Some(
                        LogStatus::parse(value)
                            .ok_or(fail(
                                "status",
                                "must be stored, delivered, skipped, suppressed, failed, queued or completed",
                            ))?,
                    )
                }
                "since" => {
                    query.since = Some(timestamp::parse(value).ok_or(fail("since", "must be an RFC 3339 time"))?)
                }
                "until" => {
                    query.until = Some(timestamp::parse(value).ok_or(fail("until", "must be an RFC 3339 time"))?)
                }
                _ => {
                    return Err(fail(
                        "query",
                        "unknown parameter; use limit, after, workflow, subscriber_id, transaction_id, status, since, until",
                    ))
                }
            }
        }
        Ok(query)
    }
}

/// The statuses a topic fan-out's own log entries have (step `fanout`).
pub const FANOUT_STATUSES: [LogStatus; 3] = [LogStatus::Queued, LogStatus::Completed, LogStatus::Failed];

/// The id of a topic fan-out's log entry in `status`: its transaction's
/// message id and the status, so a fan-out has at most one entry of each.
pub fn fanout_log_id(transaction_id: &str, status: LogStatus) -> String {
    format!("{}_{}", transaction_id.strip_prefix("tx_").unwrap_or(transaction_id), status.as_str())
}

/// Whether `text` is the id of a log entry, as `page_info.after` hands it
/// out: a message's or a delivery's id (one entry per recipient and step,
/// or per refused trigger), or a fan-out's ([`fanout_log_id`]). Every id a
/// page ends on must be accepted back as its cursor.
pub fn is_log_id(text: &str) -> bool {
    let valid_id = |id: &str| crate::message::MessageId::parse(id).is_ok();
    valid_id(text)
        || text
            .split_once('_')
            .is_some_and(|(id, status)| valid_id(id) && FANOUT_STATUSES.iter().any(|fanout| fanout.as_str() == status))
}

/// Checks a retention setting.
pub fn validate_retention(days: u32) -> Result<(), LogQueryError> {
    if (1..=MAX_RETENTION_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(LogQueryError { field: "log_retention_days", reason: "must be from 1 to 365" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        let query = LogQuery::from_pairs([
            ("workflow", "welcome"),
            ("status", "failed"),
            ("since", "2026-01-01T00:00:00Z"),
            ("subscriber_id", "ada"),
        ])
        .unwrap();
        assert_eq!(query.limit, 50);
        assert_eq!(query.status, Some(LogStatus::Failed));
        assert_eq!(query.since, Some(1_767_225_600_000));
        for (name, value, field) in
            [("limit", "0", "limit"), ("status", "lost", "status"), ("since", "soon", "since"), ("x", "1", "query")]
        {
            assert_eq!(LogQuery::from_pairs([(name, value)]).unwrap_err().field, field);
        }
        assert!(validate_retention(30).is_ok() && validate_retention(0).is_err() && validate_retention(366).is_err());
    }

    fn message_id(seed: u8) -> crate::message::MessageId {
        crate::message::MessageId::generate(
            1_790_000_000_000 + u64::from(seed),
            [seed; crate::message::ID_RANDOM_BYTES],
        )
    }

    #[test]
    fn every_kind_of_entry_id_is_a_cursor() {
        let id = message_id(7);
        let transaction = format!("tx_{id}");
        let mut ids = vec![id.to_string()];
        ids.extend(FANOUT_STATUSES.iter().map(|status| fanout_log_id(&transaction, *status)));
        for after in &ids {
            let query = LogQuery::from_pairs([("after", after.as_str())]).unwrap();
            assert_eq!(query.after.as_deref(), Some(after.as_str()), "{after}");
        }
        assert_eq!(fanout_log_id(&transaction, LogStatus::Queued), format!("{id}_queued"));
    }

    #[test]
    fn a_cursor_is_only_an_entry_id() {
        let id = message_id(9);
        for after in [
            "x".to_owned(),
            format!("{id}_"),
            format!("{id}_stored"),
            format!("_{id}"),
            format!("{id}_queued_queued"),
            format!("tx_{id}"),
            format!("{id}x_completed"),
        ] {
            assert_eq!(LogQuery::from_pairs([("after", after.as_str())]).unwrap_err().field, "after", "{after}");
        }
    }

    proptest::proptest! {
        /// Whatever the transaction, its fan-out entries' ids page on.
        #[test]
        fn fanout_entry_ids_are_cursors(millis in 0u64..4_000_000_000_000, random in proptest::array::uniform10(0u8..)) {
            let transaction = format!("tx_{}", crate::message::MessageId::generate(millis, random));
            for status in FANOUT_STATUSES {
                proptest::prop_assert!(is_log_id(&fanout_log_id(&transaction, status)));
            }
        }
    }
}
