//! The Tidings worker.
//!
//! Runs on Cloudflare Workers (and locally in workerd through `wrangler
//! dev`). Every request is authenticated by an API key; the key names exactly
//! one environment, and [`store`] hands the route only that environment's
//! bindings. Routes translate HTTP to calls into `tidings_core` and back.

mod auth;
mod cors;
mod delivery;
mod error;
mod http;
mod hub;
mod platform;
mod request;
mod routes;
mod runtime;
mod services;
mod store;
