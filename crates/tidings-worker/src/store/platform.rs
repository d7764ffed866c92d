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

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::rc::Rc;

use wasm_bindgen::{JsCast, JsValue};
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
    memo: Rc<Memo>,
}

/// At most this many entries in each of a [`Memo`]'s maps; a full map starts over.
const MEMO_CAPACITY: usize = 256;

/// What an isolate has read from one `Env` object: D1, KV and rate-limit
/// bindings, variables and secrets, and signing secrets opened with the encryption
/// key. The runtime hands every request of an isolate the same `Env`, and
/// its bindings and values do not change while the isolate lives, so each
/// is read across the boundary once instead of on every request (a KV
/// binding is six property reads, a sealed secret a decryption). Another
/// `Env` object (the bench's accounting proxy, a Durable Object's) gets a
/// memo of its own.
struct Memo {
    env: JsValue,
    /// D1 and rate-limit bindings, by binding name.
    bindings: RefCell<HashMap<String, JsValue>>,
    namespaces: RefCell<HashMap<String, KvStore>>,
    values: RefCell<HashMap<String, Option<String>>>,
    opened: RefCell<HashMap<String, String>>,
}

thread_local! {
    /// The memo of the `Env` the latest request brought.
    static LATEST: RefCell<Option<Rc<Memo>>> = const { RefCell::new(None) };
}

/// The memoized value of `key` in `map`, read with `read` the first time
/// it succeeds (a failure is not kept: a missing binding is asked for again).
fn memoized<V: Clone, E>(
    map: &RefCell<HashMap<String, V>>,
    key: &str,
    read: impl FnOnce() -> Result<V, E>,
) -> Result<V, E> {
    if let Some(value) = map.borrow().get(key) {
        return Ok(value.clone());
    }
    let value = read()?;
    let mut map = map.borrow_mut();
    if map.len() >= MEMO_CAPACITY {
        map.clear();
    }
    map.insert(key.to_owned(), value.clone());
    Ok(value)
}

impl Platform {
    /// Wraps the runtime's `Env`: once per request, in the fetch handler.
    pub fn new(env: Env) -> Self {
        let value: &JsValue = env.as_ref();
        let memo = LATEST.with(|latest| {
            let mut latest = latest.borrow_mut();
            match latest.as_ref() {
                Some(memo) if memo.env == *value => memo.clone(),
                _ => {
                    let memo = Rc::new(Memo {
                        env: value.clone(),
                        bindings: RefCell::default(),
                        namespaces: RefCell::default(),
                        values: RefCell::default(),
                        opened: RefCell::default(),
                    });
                    *latest = Some(memo.clone());
                    memo
                }
            }
        });
        Self { env, memo }
    }

    /// A binding that is one JavaScript object (D1, rate limit), read with
    /// `read` once per `Env`.
    fn binding<T: JsCast + Into<JsValue>>(
        &self,
        name: &str,
        read: impl FnOnce() -> Result<T, worker::Error>,
    ) -> Result<T, worker::Error> {
        Ok(memoized(&self.memo.bindings, name, || read().map(Into::into))?.unchecked_into())
    }

    /// A D1 binding, read once per `Env`.
    fn d1(&self, binding: &str) -> Result<D1Database, worker::Error> {
        self.binding(binding, || self.env.d1(binding))
    }

    /// A KV binding, read once per `Env`.
    fn kv(&self, binding: &str) -> Result<KvStore, worker::Error> {
        memoized(&self.memo.namespaces, binding, || self.env.kv(binding))
    }

    /// A signing secret as the registry keeps it (`stored`), opened by
    /// `open` the first time this `Env` meets it. The sealed text is the
    /// memo's key: the same text always opens to the same secret.
    pub(in crate::store) fn opened<E>(
        &self,
        stored: &str,
        open: impl FnOnce() -> Result<String, E>,
    ) -> Result<String, E> {
        memoized(&self.memo.opened, stored, open)
    }

    /// The control-plane database.
    pub(in crate::store) fn control_db(&self) -> Result<D1Database, ApiError> {
        self.d1(CONTROL_DB).map_err(|error| ApiError::internal("control database binding", error))
    }

    /// An environment's database, when this deployment has its binding.
    pub(in crate::store) fn environment_db(&self, bindings: &Bindings) -> Result<D1Database, worker::Error> {
        self.d1(bindings.db())
    }

    /// An environment's feed shard `index` (of [`Bindings::shards`]), when
    /// this deployment has its binding.
    pub(in crate::store) fn shard_db(&self, bindings: &Bindings, index: usize) -> Result<D1Database, worker::Error> {
        match bindings.shards().get(index) {
            Some(binding) => self.d1(binding),
            None => Err(worker::Error::RustError(format!("the environment has no feed shard {index}"))),
        }
    }

    /// An environment's KV namespace, when this deployment has its binding.
    pub(in crate::store) fn environment_kv(&self, bindings: &Bindings) -> Result<KvStore, worker::Error> {
        self.kv(bindings.kv())
    }

    /// An environment's R2 bucket of files, when this deployment has its binding.
    pub(in crate::store) fn environment_files(&self, bindings: &Bindings) -> Result<Bucket, worker::Error> {
        self.env.bucket(bindings.files())
    }

    /// The key-validation cache of `environment`'s KV namespace, when this
    /// deployment has it: read before a key is known to exist, so it
    /// exposes those entries only.
    pub(in crate::store) fn key_cache(&self, environment: &EnvironmentName) -> Option<KeyCache> {
        self.kv(&super::key_cache::namespace_of(environment)).ok().map(KeyCache::new)
    }

    /// A rate limiter binding, read once per `Env`.
    pub(in crate::store) fn rate_limiter(&self, binding: &str) -> Result<RateLimiter, worker::Error> {
        self.binding(binding, || self.env.rate_limiter(binding))
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
        self.value(&format!("secret:{name}"), || self.env.secret(name).ok().map(|secret| secret.to_string()))
    }

    /// A plain variable of the deployment (`[vars]`).
    pub(in crate::store) fn var(&self, name: &str) -> Option<String> {
        self.value(&format!("var:{name}"), || self.env.var(name).ok().map(|value| value.to_string()))
    }

    /// A variable or secret (`key`: `var:<name>` or `secret:<name>`), read once per `Env`.
    fn value(&self, key: &str, read: impl FnOnce() -> Option<String>) -> Option<String> {
        memoized(&self.memo.values, key, || Ok::<_, Infallible>(read())).unwrap_or_else(|never| match never {})
    }
}
