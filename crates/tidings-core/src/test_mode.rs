//! Test mode: an environment that is not production may send external
//! deliveries (webhooks, and any later external channel) only to listed
//! recipients. The rest are suppressed (logged as `suppressed`, reason
//! `test_mode`) or, with a catch-all integration, sent there instead. The
//! in-app feed is not affected.

use std::collections::BTreeSet;

use crate::subscriber::SubscriberId;
use crate::trigger::WebhookJob;

/// The most entries a `deliver_only_to` list may hold.
pub const MAX_ENTRIES: usize = 100;

/// Who may receive external deliveries: subscriber ids, and email domains
/// written `@example.com` (a subscriber whose profile email is at that
/// domain, compared without case; subdomains are other domains).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliverOnlyTo {
    subscribers: BTreeSet<String>,
    domains: BTreeSet<String>,
}

/// Why a `deliver_only_to` list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TestModeError {
    /// More than [`MAX_ENTRIES`].
    #[error("deliver_only_to holds at most {MAX_ENTRIES} entries")]
    TooMany,
    /// An entry that is neither a subscriber id nor `@domain`.
    #[error("{0:?} is neither a subscriber id nor an email domain written as @example.com")]
    Entry(String),
}

impl DeliverOnlyTo {
    /// Reads a list of entries: `@domain` or a subscriber id. An empty list
    /// is valid: nobody receives external deliveries.
    pub fn parse(entries: &[String]) -> Result<Self, TestModeError> {
        if entries.len() > MAX_ENTRIES {
            return Err(TestModeError::TooMany);
        }
        let mut rule = DeliverOnlyTo::default();
        for entry in entries {
            match entry.strip_prefix('@') {
                Some(domain) if is_domain(domain) => {
                    rule.domains.insert(domain.to_ascii_lowercase());
                }
                Some(_) => return Err(TestModeError::Entry(entry.clone())),
                None => {
                    let id = SubscriberId::parse(entry).map_err(|_| TestModeError::Entry(entry.clone()))?;
                    rule.subscribers.insert(id.as_str().to_owned());
                }
            }
        }
        Ok(rule)
    }

    /// The entries, subscriber ids first, as stored and shown.
    pub fn entries(&self) -> Vec<String> {
        let domains = self.domains.iter().map(|domain| format!("@{domain}"));
        self.subscribers.iter().cloned().chain(domains).collect()
    }

    /// Whether the decision for `subscriber` needs their email: only when
    /// they are not listed by id and there are domain rules.
    pub fn needs_email(&self, subscriber: &SubscriberId) -> bool {
        !self.subscribers.contains(subscriber.as_str()) && !self.domains.is_empty()
    }

    /// Whether `subscriber` (whose profile email is `email`) may receive
    /// external deliveries.
    pub fn allows(&self, subscriber: &SubscriberId, email: Option<&str>) -> bool {
        if self.subscribers.contains(subscriber.as_str()) {
            return true;
        }
        email
            .and_then(|email| email.rsplit_once('@'))
            .is_some_and(|(local, domain)| !local.is_empty() && self.domains.contains(&domain.to_ascii_lowercase()))
    }
}

fn is_domain(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    text.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// An environment's test mode: who may receive external deliveries, and
/// where the others' go instead, if anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestMode {
    /// The recipients allowed.
    pub only_to: DeliverOnlyTo,
    /// The integration that receives every other recipient's deliveries.
    pub catch_all: Option<String>,
}

/// A delivery test mode kept from its recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppressed {
    /// The recipient it was for.
    pub subscriber: SubscriberId,
    /// The integration it was for.
    pub integration: String,
    /// The catch-all it went to instead, if the environment has one.
    pub redirected_to: Option<String>,
}

impl Suppressed {
    /// The log entry's `detail`.
    pub fn detail(&self) -> serde_json::Value {
        serde_json::json!({
            "reason": "test_mode",
            "integration": self.integration,
            "redirected_to": self.redirected_to,
        })
    }
}

/// Where one delivery goes under test mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// To its own integration: the recipient is listed.
    Own,
    /// To the catch-all integration instead.
    CatchAll(String),
    /// Nowhere: logged as suppressed.
    Suppressed,
}

impl TestMode {
    /// Where a delivery to `subscriber` (whose profile email is `email`) goes.
    pub fn destination(&self, subscriber: &SubscriberId, email: Option<&str>) -> Destination {
        if self.only_to.allows(subscriber, email) {
            return Destination::Own;
        }
        match &self.catch_all {
            Some(catch_all) => Destination::CatchAll(catch_all.clone()),
            None => Destination::Suppressed,
        }
    }

    /// Routes a trigger's webhook jobs: those for allowed recipients as they
    /// are; the others to the catch-all (same id and body) or dropped. Every
    /// job not sent as it was is reported.
    pub fn route(
        &self,
        jobs: Vec<WebhookJob>,
        email_of: impl Fn(&SubscriberId) -> Option<String>,
    ) -> (Vec<WebhookJob>, Vec<Suppressed>) {
        let mut kept = Vec::with_capacity(jobs.len());
        let mut suppressed = Vec::new();
        for mut job in jobs {
            let destination = self.destination(&job.subscriber, email_of(&job.subscriber).as_deref());
            if destination == Destination::Own {
                kept.push(job);
                continue;
            }
            suppressed.push(Suppressed {
                subscriber: job.subscriber.clone(),
                integration: job.integration.clone(),
                redirected_to: self.catch_all.clone(),
            });
            if let Destination::CatchAll(catch_all) = destination {
                job.integration = catch_all;
                kept.push(job);
            }
        }
        (kept, suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageId;
    use proptest::prelude::*;

    fn entries(list: &[&str]) -> Vec<String> {
        list.iter().map(|entry| (*entry).to_owned()).collect()
    }

    fn id(text: &str) -> SubscriberId {
        SubscriberId::parse(text).unwrap()
    }

    fn job(subscriber: &str) -> WebhookJob {
        WebhookJob {
            id: MessageId::generate(1, [7; crate::message::ID_RANDOM_BYTES]),
            subscriber: id(subscriber),
            integration: "hooks".into(),
            body: "{}".into(),
        }
    }

    #[test]
    fn allows_listed_subscribers_and_email_domains_only() {
        let rule = DeliverOnlyTo::parse(&entries(&["qa-1", "@Example.com"])).unwrap();
        assert!(rule.allows(&id("qa-1"), None));
        assert!(rule.allows(&id("ada"), Some("ada@EXAMPLE.com")));
        assert!(!rule.allows(&id("ada"), Some("ada@mail.example.com")));
        assert!(!rule.allows(&id("ada"), Some("ada@example.com.evil.io")));
        assert!(!rule.allows(&id("ada"), Some("@example.com")));
        assert!(!rule.allows(&id("ada"), None));
        assert_eq!(rule.entries(), entries(&["qa-1", "@example.com"]));
        assert!(!DeliverOnlyTo::parse(&[]).unwrap().allows(&id("qa-1"), Some("qa@example.com")));
        assert!(!rule.needs_email(&id("qa-1")));
        assert!(rule.needs_email(&id("ada")));
        assert!(!DeliverOnlyTo::parse(&entries(&["qa-1"])).unwrap().needs_email(&id("ada")));
    }

    #[test]
    fn refuses_entries_that_are_neither() {
        for bad in ["@", "@localhost", "@-a.com", "@a..com", "has space", ""] {
            assert_eq!(DeliverOnlyTo::parse(&entries(&[bad])), Err(TestModeError::Entry(bad.into())), "{bad}");
        }
        let many: Vec<String> = (0..=MAX_ENTRIES).map(|index| format!("user-{index}")).collect();
        assert_eq!(DeliverOnlyTo::parse(&many), Err(TestModeError::TooMany));
    }

    #[test]
    fn redirects_to_the_catch_all_or_drops() {
        let only_to = DeliverOnlyTo::parse(&entries(&["qa-1"])).unwrap();
        let drop = TestMode { only_to: only_to.clone(), catch_all: None };
        let (kept, suppressed) = drop.route(vec![job("qa-1"), job("ada")], |_| None);
        assert_eq!(kept, vec![job("qa-1")]);
        assert_eq!(suppressed[0].subscriber, id("ada"));
        assert_eq!(suppressed[0].detail()["reason"], "test_mode");
        let redirect = TestMode { only_to, catch_all: Some("qa-inbox".into()) };
        let (kept, suppressed) = redirect.route(vec![job("ada")], |_| None);
        assert_eq!(kept[0].integration, "qa-inbox");
        assert_eq!(suppressed[0].redirected_to.as_deref(), Some("qa-inbox"));
    }

    proptest! {
        /// No job leaves for its own integration unless its recipient is
        /// allowed, and every job is either sent as it was or reported.
        #[test]
        fn nothing_reaches_a_recipient_outside_the_list(
            recipients in prop::collection::vec("[a-d]", 0..12),
            allowed in prop::collection::vec("[a-d]", 0..3),
            catch_all in prop::option::of(Just("qa-inbox".to_owned())),
        ) {
            let mode = TestMode { only_to: DeliverOnlyTo::parse(&allowed).unwrap(), catch_all: catch_all.clone() };
            let jobs: Vec<WebhookJob> = recipients.iter().map(|name| job(name)).collect();
            let (kept, suppressed) = mode.route(jobs.clone(), |_| None);
            for sent in &kept {
                let own = sent.integration == "hooks";
                prop_assert!(!own || allowed.contains(&sent.subscriber.as_str().to_owned()));
                prop_assert!(own || Some(&sent.integration) == catch_all.as_ref());
            }
            let as_was = kept.iter().filter(|sent| sent.integration == "hooks").count();
            prop_assert_eq!(as_was + suppressed.len(), jobs.len());
        }
    }
}
