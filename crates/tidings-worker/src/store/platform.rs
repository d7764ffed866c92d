//! The one holder of the platform's `Env`.
//!
//! Every binding (D1 databases, KV namespaces, Durable Objects, rate
//! limiters, secrets) is reached through the `Env` the runtime hands the
//! fetch handler. [`Platform`] wraps it; routes and services receive a
//! `&Platform`, and only the store can reach the bindings inside, so no
//! route can open an environment's storage except through the store's
//! [`super::Environment`] handle. `worker::Env` is a disallowed type
//! (`clippy.toml`) everywhere but here and the runtime's entry points.

#![allow(clippy::disallowed_types)]

use worker::Env;

/// The platform's bindings, reachable only from the store.
#[derive(Clone)]
pub struct Platform {
    env: Env,
}

impl Platform {
    /// Wraps the runtime's `Env`: once per request, in the fetch handler.
    pub fn new(env: Env) -> Self {
        Self { env }
    }

    /// The runtime's bindings, for the store's own modules.
    pub(in crate::store) fn env(&self) -> &Env {
        &self.env
    }
}
