//! The Tidings domain, free of I/O.
//!
//! Tidings is a notification platform whose unit of isolation is the
//! *environment* (`development`, `staging`, `production`, …). This crate holds
//! everything that can be decided without touching a network, a clock or a
//! random number generator:
//!
//! - [`access`]: members' roles, per-environment grants, what each action needs;
//! - [`audit`]: audit-log filters and pages;
//! - [`brand`]: an environment's brand settings and logo;
//! - [`environment`]: environment names and types;
//! - [`environment_file`]: environments as code: export files and what applying one changes;
//! - [`key`]: self-describing API keys (`pk_…`/`sk_…`) with a checksum, and
//!   their storage hashes;
//! - [`key_lifecycle`]: active, expiring and revoked keys; rotation rules;
//! - [`lifecycle`]: environment statuses, reserved and protected names, the promotion chain;
//! - [`link`]: which URLs may reach a feed (links) or a webhook sender (targets);
//! - [`logs`]: execution log statuses, queries and retention;
//! - [`member`]: members' names, emails and the grants a request asks for;
//! - [`settings`]: per-environment labels, colours and origin allow-lists;
//! - [`shard`]: feed shards: which database holds a subscriber's feed;
//! - [`subscriber`]: subscriber identifiers and the subscriber hash credential;
//! - [`subscriber_handle`]: opaque, environment-bound handles standing for subscriber ids where they are masked;
//! - [`preferences`]: which channels a subscriber receives;
//! - [`privacy`]: masking personal data and hiding message contents;
//! - [`profile`]: subscriber profiles and bulk upserts;
//! - [`policy`]: the one authorization policy of the control plane;
//! - [`promotion`]: typed field-level diffs between environments, and applying them;
//! - [`message`]: message identifiers that sort by creation time;
//! - [`workflow`]: workflows and the starter set;
//! - [`origin`]: which browser origins may use a publishable key;
//! - [`schema`]: the JSON Schema subset of workflow payloads;
//! - [`query`]: URL query and path decoding;
//! - [`rate_limit`]: rate-limit tiers and their counters;
//! - [`realtime`]: which hub holds a subscriber's sockets, and what they hear;
//! - [`stream_ticket`]: one-time tickets that open realtime sockets, so no credential goes in a URL;
//! - [`timestamp`]: RFC 3339 rendering;
//! - [`token`]: subscriber tokens (signed with a derived key, bounded, revocable, scoped);
//! - [`derive`]: one key per purpose from an environment's signing secret (HKDF);
//! - [`signing`]: the two slots of an environment's signing secrets, and their rotation;
//! - [`template`]: rendering of workflow text against a trigger's context;
//! - [`trigger`]: validation of trigger requests;
//! - [`topic`]: topics (groups of subscribers a trigger can address) and their fan-out;
//! - [`variables`]: environment variables (names promoted, values per environment);
//! - [`idempotency`]: idempotency keys and replay decisions;
//! - [`json_path`]: which field of a request body a JSON error is about;
//! - [`feed`]: feed queries and pagination;
//! - [`feed_filter`], [`feed_action`]: which messages a request is about, and marking them;
//! - [`feed_sync`]: delta sync: watermarks and pages of changes;
//! - [`sealed`]: integration secrets sealed at rest;
//! - [`webhook`]: webhook signatures, integration checks, retry schedule;
//! - [`wire`]: the versioned request and response types of the HTTP API,
//!   shared by the worker and the browser SDK.
//!
//! Time and randomness are always arguments, so every function here is
//! deterministic and every test reproducible. The crate builds for the host
//! and for `wasm32-unknown-unknown`.

#![forbid(unsafe_code)]

pub mod access;
pub mod audit;
mod base32;
pub mod base64;
pub mod brand;
pub mod delivery;
pub mod deployment;
pub mod derive;
pub mod environment;
pub mod environment_file;
pub mod feed;
pub mod feed_action;
pub mod feed_filter;
pub mod feed_sync;
pub mod files;
mod hex;
pub mod idempotency;
pub mod json_path;
pub mod key;
pub mod key_lifecycle;
pub mod key_scope;
pub mod lifecycle;
pub mod link;
pub mod logs;
pub mod member;
pub mod message;
pub mod origin;
pub mod policy;
pub mod preferences;
pub mod privacy;
pub mod profile;
pub mod promotion;
pub mod query;
pub mod rate_limit;
pub mod realtime;
pub mod release_request;
pub mod schema;
pub mod sealed;
pub mod settings;
pub mod shard;
pub mod signing;
pub mod stream_ticket;
pub mod subscriber;
pub mod subscriber_handle;
pub mod template;
pub mod test_mode;
pub mod timestamp;
pub mod token;
pub mod topic;
pub mod trigger;
pub mod variables;
pub mod webhook;
pub mod wire;
pub mod workflow;
