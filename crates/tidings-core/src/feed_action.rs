//! Changing a subscriber's messages: seen, read, unread, archive,
//! unarchive, delete — by ids or by filter. Reading implies seeing.

use crate::feed_filter::{FeedFilter, FilterError};
use crate::message::MessageId;
use crate::wire::FeedActionRequest;

/// The most ids one action may name.
pub const MAX_IDS: usize = 100;

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// Mark seen.
    Seen,
    /// Mark read (and seen).
    Read,
    /// Mark unread (stays seen).
    Unread,
    /// Archive.
    Archive,
    /// Unarchive.
    Unarchive,
    /// Delete for good.
    Delete,
}

impl ActionKind {
    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "seen" => Some(Self::Seen),
            "read" => Some(Self::Read),
            "unread" => Some(Self::Unread),
            "archive" => Some(Self::Archive),
            "unarchive" => Some(Self::Unarchive),
            "delete" => Some(Self::Delete),
            _ => None,
        }
    }
}

/// Which messages an action touches.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionTarget {
    /// These ids (of the subscriber's own messages).
    Ids(Vec<MessageId>),
    /// Every message matching the filter.
    Filter(FeedFilter),
}

/// A validated action.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedAction {
    /// What to do.
    pub kind: ActionKind,
    /// To which messages.
    pub target: ActionTarget,
}

/// Why an action is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ActionError {
    /// The field at fault.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl From<FilterError> for ActionError {
    fn from(error: FilterError) -> Self {
        Self { field: format!("filter.{}", error.field), reason: error.reason.to_owned() }
    }
}

/// Checks an action request: an action and exactly one of `ids` or `filter`.
pub fn validate(request: FeedActionRequest) -> Result<FeedAction, ActionError> {
    let fail = |field: &str, reason: &str| ActionError { field: field.to_owned(), reason: reason.to_owned() };
    let kind = ActionKind::parse(&request.action)
        .ok_or_else(|| fail("action", "must be seen, read, unread, archive, unarchive or delete"))?;
    let target = match (request.ids, request.filter) {
        (Some(ids), None) => {
            if ids.is_empty() || ids.len() > MAX_IDS {
                return Err(fail("ids", "name 1 to 100 message ids"));
            }
            let ids = ids
                .iter()
                .enumerate()
                .map(|(index, id)| {
                    MessageId::parse(id).map_err(|_| fail(&format!("ids.{index}"), "is not a message id"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            ActionTarget::Ids(ids)
        }
        (None, Some(filter)) => ActionTarget::Filter(FeedFilter::from_input(filter)?),
        _ => return Err(fail("ids", "send either ids or filter (use \"filter\": {} for every message)")),
    };
    Ok(FeedAction { kind, target })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(value: serde_json::Value) -> FeedActionRequest {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn actions() {
        let id = MessageId::generate(1, [0; 10]).to_string();
        let action = validate(request(json!({"action": "read", "ids": [id]}))).unwrap();
        assert_eq!(action.kind, ActionKind::Read);
        let all = validate(request(json!({"action": "archive", "filter": {"read": true}}))).unwrap();
        assert!(matches!(all.target, ActionTarget::Filter(FeedFilter { read: Some(true), .. })));
        let cases = [
            (json!({"action": "explode", "ids": [id]}), "action"),
            (json!({"action": "read"}), "ids"),
            (json!({"action": "read", "ids": [], }), "ids"),
            (json!({"action": "read", "ids": ["nope"]}), "ids.0"),
            (json!({"action": "read", "ids": [id], "filter": {}}), "ids"),
            (json!({"action": "read", "filter": {"archived": "all"}}), "filter.archived"),
        ];
        for (body, field) in cases {
            assert_eq!(validate(request(body.clone())).unwrap_err().field, field, "{body}");
        }
    }
}
