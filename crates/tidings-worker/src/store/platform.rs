//! The one holder of the platform's `Env`.
//!
//! Every binding (D1 databases, KV namespaces, Durable Objects, rate
//! limiters, secrets) is reached through the `Env` the runtime hands the
//! fetch handler. [`Platform`] wraps it and does not hand it out: the store
//! asks for the control database by its method, and for an environment's
//! database or KV namespace only with [`Bindings`], which the store's
//! [`super::Environment`] handle (from a validated key or an `Authorized`
//! proof), a deletion proof or a provisioning registry row give. So no code
//! can open an environment's storage by naming a binding. `worker::Env` is a
//! disallowed type (`clippy.toml`) everywhere but here and the runtime's
//! entry points.

#![allow(clippy::disallowed_types)]

use worker::{Bucket, D1Database, Env, KvStore, ObjectNamespace, Queue, RateLimiter};

use tidings_core::environment::EnvironmentName;

use super::key_cache::KeyCache;
pub use super::scope::Bindings;
use crate::error::ApiError;

/// The binding of the control-plane database: the registry of environments
/// and the hashes of their keys.
const CONTROL_DB: &str = "DB_CONTROL";

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

    /// The control-plane database.
    pub(in crate::store) fn control_db(&self) -> Result<D1Database, ApiError> {
        self.env.d1(CONTROL_DB).map_err(|error| ApiError::internal("control database binding", error))
    }

    /// An environment's database, when this deployment has its binding.
    pub(in crate::store) fn environment_db(&self, bindings: &Bindings) -> Result<D1Database, worker::Error> {
        self.env.d1(bindings.db())
    }

    /// An environment's feed shard `index` (of [`Bindings::shards`]), when
    /// this deployment has its binding.
    pub(in crate::store) fn shard_db(&self, bindings: &Bindings, index: usize) -> Result<D1Database, worker::Error> {
        match bindings.shards().get(index) {
            Some(binding) => self.env.d1(binding),
            None => Err(worker::Error::RustError(format!("the environment has no feed shard {index}"))),
        }
    }

    /// An environment's KV namespace, when this deployment has its binding.
    pub(in crate::store) fn environment_kv(&self, bindings: &Bindings) -> Result<KvStore, worker::Error> {
        self.env.kv(bindings.kv())
    }

    /// An environment's R2 bucket of files, when this deployment has its binding.
    pub(in crate::store) fn environment_files(&self, bindings: &Bindings) -> Result<Bucket, worker::Error> {
        self.env.bucket(bindings.files())
    }

    /// The key-validation cache of `environment`'s KV namespace, when this
    /// deployment has it: read before a key is known to exist, so it
    /// exposes those entries only.
    pub(in crate::store) fn key_cache(&self, environment: &EnvironmentName) -> Option<KeyCache> {
        self.env.kv(&super::key_cache::namespace_of(environment)).ok().map(KeyCache::new)
    }

    /// A rate limiter binding.
    pub(in crate::store) fn rate_limiter(&self, binding: &str) -> Result<RateLimiter, worker::Error> {
        self.env.rate_limiter(binding)
    }

    /// A Durable Object namespace.
    pub(in crate::store) fn durable_object(&self, binding: &str) -> Result<ObjectNamespace, worker::Error> {
        self.env.durable_object(binding)
    }

    /// A queue producer binding.
    pub(in crate::store) fn queue(&self, binding: &str) -> Result<Queue, worker::Error> {
        self.env.queue(binding)
    }

    /// A secret of the deployment (`wrangler secret put`, `.dev.vars`).
    pub(in crate::store) fn secret(&self, name: &str) -> Option<String> {
        self.env.secret(name).ok().map(|secret| secret.to_string())
    }

    /// A plain variable of the deployment (`[vars]`).
    pub(in crate::store) fn var(&self, name: &str) -> Option<String> {
        self.env.var(name).ok().map(|value| value.to_string())
    }
}
