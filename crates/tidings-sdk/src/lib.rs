//! The Tidings browser SDK.
//!
//! Compiled to wasm and published as the `@tidings/sdk` npm package. A
//! [`TidingsClient`] holds an environment's publishable key and one
//! subscriber's identity, checked with the core's parsers, and calls that
//! subscriber's feed routes. Responses reach JavaScript as the API sent them
//! (their shapes are `tidings_core::wire`), and failures as `Error` objects
//! with a stable `code` (see [`error`]). `js/` adds the session, the local
//! feed store with optimistic updates, and the realtime connection shared by
//! the tabs of an origin.

mod client;
pub mod error;
mod js;
mod options;

pub use client::TidingsClient;

#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
