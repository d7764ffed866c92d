//! Realtime fan-out: which hub holds a subscriber's sockets, and what the
//! sockets hear.
//!
//! Sockets are held by hubs (Durable Objects on Cloudflare). Each
//! environment has [`HUB_SHARDS`] hubs and a subscriber's sockets always live
//! in the same one, so a trigger to many recipients wakes at most
//! [`HUB_SHARDS`] hubs, and one busy feed never holds up the rest of the
//! environment. Sockets only hear that something changed ([`CHANGED`]);
//! clients then read the changes through delta sync, with their own
//! credentials, so a socket never carries data the feed API would not give.

use std::collections::BTreeMap;

use crate::subscriber::SubscriberId;

/// Hubs per environment.
pub const HUB_SHARDS: u32 = 16;

/// What a socket receives when its subscriber's feed changed.
pub const CHANGED: &str = r#"{"type":"changed"}"#;

/// What a socket receives once it is registered: changes from here on will be announced.
pub const READY: &str = r#"{"type":"ready"}"#;

/// What a socket receives just before the hub closes it because the token
/// or key behind it expired (close code 4001).
pub const CREDENTIAL_EXPIRED: &str = r#"{"type":"closed","reason":"credential_expired"}"#;

/// What a socket receives just before the hub closes it because its key,
/// or its subscriber's tokens, were revoked (close code 4003).
pub const REVOKED: &str = r#"{"type":"closed","reason":"revoked"}"#;

/// What a socket receives just before the hub closes it because its
/// subscriber opened more than [`MAX_SOCKETS_PER_SUBSCRIBER`] (close code
/// 4008): the oldest goes.
pub const REPLACED: &str = r#"{"type":"closed","reason":"replaced"}"#;

/// How many sockets one subscriber keeps open in a hub (tabs, devices): a
/// new one past it closes their oldest, so no subscriber fills a hub that
/// others share.
pub const MAX_SOCKETS_PER_SUBSCRIBER: usize = 10;

/// The hub of `subscriber` in the environment whose storage is `environment_binding`.
pub fn hub_name(environment_binding: &str, subscriber: &SubscriberId) -> String {
    format!("{environment_binding}/{}", shard(subscriber))
}

/// Every hub of the environment whose storage is `environment_binding`.
pub fn all_hubs(environment_binding: &str) -> Vec<String> {
    (0..HUB_SHARDS).map(|shard| format!("{environment_binding}/{shard}")).collect()
}

/// Groups subscribers by hub, each subscriber once.
pub fn group_by_hub<'a>(
    environment_binding: &str,
    subscribers: impl IntoIterator<Item = &'a SubscriberId>,
) -> BTreeMap<String, Vec<&'a str>> {
    let mut hubs: BTreeMap<String, Vec<&'a str>> = BTreeMap::new();
    for subscriber in subscribers {
        let members = hubs.entry(hub_name(environment_binding, subscriber)).or_default();
        if !members.contains(&subscriber.as_str()) {
            members.push(subscriber.as_str());
        }
    }
    hubs
}

/// FNV-1a of the id: stable across builds and platforms.
fn shard(subscriber: &SubscriberId) -> u32 {
    let hash = subscriber
        .as_str()
        .bytes()
        .fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193));
    hash % HUB_SHARDS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> SubscriberId {
        SubscriberId::parse(text).unwrap()
    }

    #[test]
    fn a_subscriber_always_has_the_same_hub() {
        assert_eq!(hub_name("DB_STAGING", &id("ada")), hub_name("DB_STAGING", &id("ada")));
        assert_ne!(hub_name("DB_STAGING", &id("ada")), hub_name("DB_PRODUCTION", &id("ada")));
    }

    #[test]
    fn many_recipients_wake_few_hubs() {
        let ids: Vec<SubscriberId> = (0..1000).map(|n| id(&format!("user-{n}"))).collect();
        let hubs = group_by_hub("DB_X", ids.iter().chain(ids.iter()));
        assert_eq!(hubs.len(), HUB_SHARDS as usize);
        assert_eq!(hubs.values().map(Vec::len).sum::<usize>(), 1000);
    }

    #[test]
    fn every_hub_of_an_environment_is_listed() {
        let ids: Vec<SubscriberId> = (0..1000).map(|n| id(&format!("user-{n}"))).collect();
        let all = all_hubs("DB_X");
        assert_eq!(all.len(), HUB_SHARDS as usize);
        assert!(ids.iter().all(|subscriber| all.contains(&hub_name("DB_X", subscriber))));
    }
}
