//! The Tidings browser SDK.
//!
//! Compiled to wasm and published as the `@tidings/sdk` npm package. A
//! [`TidingsClient`] holds an environment's publishable key and one
//! subscriber's identity, and reads that subscriber's feed from the Tidings
//! API. Responses are checked against `tidings_core::wire`, the same types
//! the worker renders, and failures reach JavaScript as `Error` objects with a
//! stable `code` (see [`error`]).

mod client;
pub mod error;
mod options;
#[cfg(feature = "server")]
mod server;

pub use client::TidingsClient;
#[cfg(feature = "server")]
pub use server::sign_subscriber_token;
