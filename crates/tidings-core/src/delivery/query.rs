//! What the deliveries routes accept: the list's filters and a bulk
//! replay's, checked before anything is read.

use crate::timestamp;
use crate::wire::ReplayFilter;
use crate::{webhook, workflow};

/// A delivery's state, as stored and filtered on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for an attempt.
    Pending,
    /// Accepted by the receiver.
    Delivered,
    /// Out of attempts, or refused for good.
    Dead,
    /// Dead, recorded before retries were scheduled.
    Failed,
}

impl DeliveryStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Dead, Self::Failed].into_iter().find(|status| status.as_str() == text)
    }

    /// Whether a replay may send it again: only when no attempt is pending
    /// and it never reached the receiver.
    pub fn replayable(self) -> bool {
        matches!(self, Self::Dead | Self::Failed)
    }
}

/// Why a query or filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct DeliveryQueryError {
    /// The parameter at fault.
    pub field: &'static str,
    /// What is wrong.
    pub reason: &'static str,
}

/// `GET /v1/deliveries`'s parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryQuery {
    /// Page size, 1–100 (50).
    pub limit: u32,
    /// The cursor: deliveries older than this id.
    pub after: Option<String>,
    /// Only in this state.
    pub status: Option<DeliveryStatus>,
    /// Only to this integration.
    pub integration: Option<String>,
    /// Only of this workflow.
    pub workflow: Option<String>,
    /// Only created at or after this time (ms).
    pub since: Option<u64>,
}

impl DeliveryQuery {
    /// Parses query-string pairs; unknown parameters are refused.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, DeliveryQueryError> {
        let mut query = Self { limit: 50, ..Self::default() };
        let fail = |field, reason| DeliveryQueryError { field, reason };
        for (name, value) in pairs {
            match name {
                "limit" => {
                    query.limit =
                        crate::query::page_limit(value).ok_or(fail("limit", "must be a whole number from 1 to 100"))?;
                }
                "after" => {
                    crate::message::MessageId::parse(value)
                        .map_err(|_| fail("after", "must be an id from page_info"))?;
                    query.after = Some(value.to_owned());
                }
                "status" => {
                    query.status = Some(
                        DeliveryStatus::parse(value)
                            .ok_or(fail("status", "must be pending, delivered, dead or failed"))?,
                    );
                }
                "integration" => query.integration = Some(integration(value)?),
                "workflow" => query.workflow = Some(workflow_key(value)?),
                "since" => query.since = Some(since(value)?),
                _ => {
                    return Err(fail(
                        "query",
                        "unknown parameter; use limit, after, status, integration, workflow, since",
                    ))
                }
            }
        }
        Ok(query)
    }
}

/// A bulk replay's filter, checked: (integration, workflow, since ms, limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedReplayFilter {
    /// Only this integration's.
    pub integration: Option<String>,
    /// Only this workflow's.
    pub workflow: Option<String>,
    /// Only created at or after (ms).
    pub since: Option<u64>,
    /// At most this many, 1–500.
    pub limit: u32,
}

impl CheckedReplayFilter {
    /// Checks a bulk replay's body.
    pub fn check(filter: &ReplayFilter) -> Result<Self, DeliveryQueryError> {
        let limit = filter.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err(DeliveryQueryError { field: "limit", reason: "must be a whole number from 1 to 500" });
        }
        Ok(Self {
            integration: filter.integration.as_deref().map(integration).transpose()?,
            workflow: filter.workflow.as_deref().map(workflow_key).transpose()?,
            since: filter.since.as_deref().map(since).transpose()?,
            limit,
        })
    }
}

fn integration(value: &str) -> Result<String, DeliveryQueryError> {
    webhook::validate_id(value)
        .map_err(|_| DeliveryQueryError { field: "integration", reason: "must be an integration id" })?;
    Ok(value.to_owned())
}

fn workflow_key(value: &str) -> Result<String, DeliveryQueryError> {
    workflow::validate_key(value)
        .map_err(|_| DeliveryQueryError { field: "workflow", reason: "must be a workflow key" })?;
    Ok(value.to_owned())
}

fn since(value: &str) -> Result<u64, DeliveryQueryError> {
    timestamp::parse(value).ok_or(DeliveryQueryError { field: "since", reason: "must be an RFC 3339 time" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        let query = DeliveryQuery::from_pairs([("status", "dead"), ("integration", "crm"), ("limit", "10")]).unwrap();
        assert_eq!(
            (query.status, query.integration.as_deref(), query.limit),
            (Some(DeliveryStatus::Dead), Some("crm"), 10)
        );
        for (name, value, field) in [
            ("status", "gone", "status"),
            ("limit", "0", "limit"),
            ("integration", "Bad Id", "integration"),
            ("since", "yesterday", "since"),
            ("after", "x", "after"),
            ("color", "red", "query"),
        ] {
            assert_eq!(DeliveryQuery::from_pairs([(name, value)]).unwrap_err().field, field, "{name}={value}");
        }
    }

    #[test]
    fn replay_filters() {
        let all = ReplayFilter { integration: None, workflow: None, since: None, limit: None };
        assert_eq!(CheckedReplayFilter::check(&all).unwrap().limit, 100);
        assert_eq!(
            CheckedReplayFilter::check(&ReplayFilter { limit: Some(501), ..all.clone() }).unwrap_err().field,
            "limit"
        );
        let bad = ReplayFilter { since: Some("soon".into()), ..all };
        assert_eq!(CheckedReplayFilter::check(&bad).unwrap_err().field, "since");
    }

    #[test]
    fn only_dead_deliveries_replay() {
        assert!(DeliveryStatus::Dead.replayable() && DeliveryStatus::Failed.replayable());
        assert!(!DeliveryStatus::Pending.replayable() && !DeliveryStatus::Delivered.replayable());
    }
}
