//! Reading audit logs: filters and pages. Entries are written by the
//! control plane (`aud_` and a time-ordered id), so ids order by time across
//! the control database and each environment's database alike.

/// Entries per page when the request names none.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page.
pub const MAX_LIMIT: u32 = 100;

/// A validated audit-log query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// Page size.
    pub limit: u32,
    /// Only entries older than this id (the previous page's `next_before`).
    pub before: Option<String>,
    /// Only this action, or a family of them (`key` matches `key.create`, `key.revoke`, …).
    pub action: Option<String>,
    /// Only this actor (a member id, or `admin`).
    pub actor: Option<String>,
}

/// Why an audit query is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct AuditQueryError {
    /// The parameter at fault.
    pub field: String,
    /// What is wrong.
    pub reason: &'static str,
}

impl AuditQuery {
    /// Reads decoded query parameters.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, AuditQueryError> {
        let fail = |field: &str, reason| AuditQueryError { field: field.to_owned(), reason };
        let mut query = Self { limit: DEFAULT_LIMIT, before: None, action: None, actor: None };
        for (name, value) in pairs {
            let token = || -> Result<String, AuditQueryError> {
                let fine = !value.is_empty()
                    && value.len() <= 64
                    && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
                fine.then(|| value.to_owned()).ok_or_else(|| fail(name, "must be up to 64 letters, digits, _ . or -"))
            };
            match name {
                "limit" => {
                    query.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| fail("limit", "must be a whole number from 1 to 100"))?;
                }
                "before" => query.before = Some(token()?),
                "action" => query.action = Some(token()?),
                "actor" => query.actor = Some(token()?),
                _ => return Err(fail(name, "is not a parameter of this route")),
            }
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_filters_and_refuses_the_rest() {
        let query =
            AuditQuery::from_pairs([("limit", "5"), ("action", "key"), ("actor", "mem_1"), ("before", "aud_x")])
                .unwrap();
        assert_eq!((query.limit, query.action.as_deref(), query.actor.as_deref()), (5, Some("key"), Some("mem_1")));
        assert_eq!(AuditQuery::from_pairs([("limit", "0")]).unwrap_err().field, "limit");
        assert_eq!(AuditQuery::from_pairs([("action", "a b")]).unwrap_err().field, "action");
        assert_eq!(AuditQuery::from_pairs([("since", "x")]).unwrap_err().field, "since");
    }
}
