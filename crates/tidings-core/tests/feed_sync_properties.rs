//! Property: a client that follows a feed through `changes_page`, with any
//! page sizes and any interleaving of writes, ends with exactly the
//! server's view of the feed.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::json;
use tidings_core::feed::feed_item;
use tidings_core::feed_sync::{changes_page, ChangesQuery, StoredChange, Watermark};
use tidings_core::message::{Message, MessageId};
use tidings_core::subscriber::SubscriberId;
use tidings_core::wire::{FeedChange, FeedItem};

/// What happens next.
#[derive(Debug, Clone)]
enum Step {
    /// A trigger adds this many messages (one version).
    Insert(u8),
    /// Marks read (and seen) the messages whose index is a multiple of `n`.
    Read(u8),
    /// Archives them.
    Archive(u8),
    /// Unarchives them.
    Unarchive(u8),
    /// Deletes them.
    Delete(u8),
    /// The client catches up with pages of this size.
    Sync(u32),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1u8..6).prop_map(Step::Insert),
        (1u8..4).prop_map(Step::Read),
        (1u8..4).prop_map(Step::Archive),
        (1u8..4).prop_map(Step::Unarchive),
        (2u8..5).prop_map(Step::Delete),
        (1u32..5).prop_map(Step::Sync),
    ]
}

/// The storage side, as D1 keeps it: rows stamped with the version of their last change.
#[derive(Default)]
struct Server {
    clock: u64,
    created: u64,
    messages: BTreeMap<MessageId, (Message, u64)>,
    tombstones: BTreeMap<MessageId, u64>,
}

impl Server {
    fn write(&mut self, every: u8, change: impl Fn(&mut Message) -> bool) {
        self.clock += 1;
        let clock = self.clock;
        for (index, (message, version)) in self.messages.values_mut().enumerate() {
            if index % usize::from(every) == 0 && change(message) {
                *version = clock;
            }
        }
    }

    fn apply(&mut self, step: &Step) {
        match *step {
            Step::Insert(count) => {
                self.clock += 1;
                for _ in 0..count {
                    self.created += 1;
                    let id = MessageId::generate(1_700_000_000_000 + self.created, [self.created as u8; 10]);
                    let message = Message {
                        id: id.clone(),
                        subscriber: SubscriberId::parse("ada").unwrap(),
                        workflow: "w".to_owned(),
                        transaction_id: "t".to_owned(),
                        subject: "s".to_owned(),
                        body: "b".to_owned(),
                        avatar: None,
                        actions: vec![],
                        tags: vec![],
                        payload: json!({}),
                        created_at: 1_700_000_000_000 + self.created,
                        seen_at: None,
                        read_at: None,
                        archived_at: None,
                        attachments: vec![],
                    };
                    self.messages.insert(id, (message, self.clock));
                }
            }
            Step::Read(every) => self.write(every, |message| {
                let changed = message.read_at.is_none() || message.seen_at.is_none();
                message.read_at = message.read_at.or(Some(1));
                message.seen_at = message.seen_at.or(Some(1));
                changed
            }),
            Step::Archive(every) => self.write(every, |message| message.archived_at.replace(1).is_none()),
            Step::Unarchive(every) => self.write(every, |message| message.archived_at.take().is_some()),
            Step::Delete(every) => {
                self.clock += 1;
                let doomed: Vec<MessageId> = self
                    .messages
                    .keys()
                    .enumerate()
                    .filter(|(i, _)| i % usize::from(every) == 0)
                    .map(|(_, id)| id.clone())
                    .collect();
                for id in doomed {
                    self.messages.remove(&id);
                    self.tombstones.insert(id, self.clock);
                }
            }
            Step::Sync(_) => {}
        }
    }

    /// What the two SQL queries return: up to `limit + 1` of each, in version order.
    fn stored_changes(&self, query: &ChangesQuery) -> Vec<StoredChange> {
        let mut upserts: Vec<StoredChange> = self
            .messages
            .values()
            .filter(|(message, version)| query.since.precedes(*version, &message.id))
            .map(|(message, version)| StoredChange::Upserted {
                message: Box::new(message.clone()),
                version: *version,
                matches: message.archived_at.is_none(),
            })
            .collect();
        let mut deleted: Vec<StoredChange> = self
            .tombstones
            .iter()
            .filter(|(id, version)| query.since.precedes(**version, id))
            .map(|(id, version)| StoredChange::Deleted { id: id.clone(), version: *version })
            .collect();
        for list in [&mut upserts, &mut deleted] {
            list.sort_by_key(|change| match change {
                StoredChange::Upserted { message, version, .. } => (*version, message.id.clone()),
                StoredChange::Deleted { id, version } => (*version, id.clone()),
            });
            list.truncate(query.limit as usize + 1);
        }
        upserts.extend(deleted);
        upserts
    }

    fn view(&self) -> BTreeMap<String, FeedItem> {
        self.messages
            .values()
            .filter(|(message, _)| message.archived_at.is_none())
            .map(|(message, _)| (message.id.to_string(), feed_item(message)))
            .collect()
    }
}

/// The browser side: a map of the items in view and a watermark.
struct Client {
    items: BTreeMap<String, FeedItem>,
    watermark: Watermark,
}

impl Client {
    fn sync(&mut self, server: &Server, limit: u32) {
        loop {
            let query = ChangesQuery::from_pairs([
                ("since", self.watermark.to_string().as_str()),
                ("limit", &limit.to_string()),
            ])
            .unwrap();
            let page = changes_page(&query, server.stored_changes(&query), server.clock);
            assert!(page.changes.len() <= limit as usize);
            for change in page.changes {
                match change {
                    FeedChange::Upsert { item } => {
                        self.items.insert(item.id.clone(), *item);
                    }
                    FeedChange::Remove { id, .. } => {
                        self.items.remove(&id);
                    }
                }
            }
            self.watermark = page.watermark;
            if !page.has_more {
                return;
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn a_client_following_changes_converges(steps in prop::collection::vec(step(), 1..40), start in 0usize..10) {
        let mut server = Server::default();
        // The client starts from a full read taken after `start` steps.
        let (before, after) = steps.split_at(start.min(steps.len()));
        for step in before {
            server.apply(step);
        }
        let mut client = Client { items: server.view(), watermark: Watermark::at(server.clock) };
        for step in after {
            server.apply(step);
            if let Step::Sync(limit) = step {
                client.sync(&server, *limit);
                prop_assert_eq!(&client.items, &server.view());
            }
        }
        client.sync(&server, 3);
        prop_assert_eq!(&client.items, &server.view());
        // Nothing more to hear once caught up.
        let query = ChangesQuery::from_pairs([("since", client.watermark.to_string().as_str())]).unwrap();
        prop_assert!(changes_page(&query, server.stored_changes(&query), server.clock).changes.is_empty());
    }
}
