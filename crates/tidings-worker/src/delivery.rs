//! Sending webhook deliveries: after a trigger has answered, each pending
//! delivery is POSTed to its integration, signed, retried with backoff, and
//! its outcome recorded and logged.
//!
//! Outside development a target in a private network is refused before any
//! request (an integration promoted or imported with one), redirects are
//! not followed, and what is stored and shown is a failure class
//! (`address_refused`, `connection_failed`, `http_status_503`, …), never
//! the upstream's own words, which go to the worker's log only.

use std::time::Duration;

use tidings_core::link;
use tidings_core::webhook::{self, MAX_ATTEMPTS, SIGNATURE_HEADER};
use wasm_bindgen::JsValue;
use worker::{Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect};

use crate::platform::now_ms;
use crate::store::Platform;
use crate::store::{self, DeliveryOutcome, Environment, PendingDelivery};

/// Sends every pending delivery of a trigger. Runs in `wait_until`, so
/// failures are logged, never raised.
pub async fn send_pending(env: Platform, scope: Environment, transaction_id: String) {
    let pending = match scope.pending_deliveries(&transaction_id).await {
        Ok(pending) => pending,
        Err(error) => {
            worker::console_error!("could not read deliveries of {transaction_id}: {error:?}");
            return;
        }
    };
    for delivery in pending {
        let (delivered, attempts, status, error) = attempt_all(&env, &scope, &delivery).await;
        let outcome = DeliveryOutcome { delivered, attempts, status, error: error.as_deref() };
        if let Err(error) = scope.finish_delivery(&delivery, &outcome, now_ms()).await {
            worker::console_error!("could not record delivery {}: {error:?}", delivery.id);
        }
    }
}

/// Tries a delivery up to [`MAX_ATTEMPTS`] times: (delivered, attempts, last status, error).
async fn attempt_all(
    env: &Platform,
    scope: &Environment,
    delivery: &PendingDelivery,
) -> (bool, u32, Option<u16>, Option<String>) {
    let target = match store::encryption_key(env) {
        Ok(key) => scope.webhook_target(&delivery.integration, &key).await,
        Err(error) => Err(error),
    };
    let target = match target {
        Ok(Some(target)) => target,
        Ok(None) => return (false, 0, None, Some("integration_missing".to_owned())),
        Err(error) => {
            worker::console_error!("integration {} unavailable: {error:?}", delivery.integration);
            return (false, 0, None, Some("integration_unavailable".to_owned()));
        }
    };
    if link::check_webhook_target(&target.url, scope.environment_type()).is_err() {
        return (false, 0, None, Some("address_refused".to_owned()));
    }
    let mut last = (None, None);
    for attempt in 1..=MAX_ATTEMPTS {
        let wait = webhook::backoff_ms(attempt);
        if wait > 0 {
            Delay::from(Duration::from_millis(wait)).await;
        }
        match post(&target.url, target.signing_secret.as_deref(), delivery).await {
            Ok(status) if (200..300).contains(&status) => return (true, attempt, Some(status), None),
            Ok(status) if (300..400).contains(&status) => {
                return (false, attempt, Some(status), Some("redirect_refused".to_owned()));
            }
            Ok(status) => {
                last = (Some(status), Some(format!("http_status_{status}")));
                if !webhook::is_retryable(status) {
                    return (false, attempt, last.0, last.1);
                }
            }
            Err(error) => last = (None, Some(error)),
        }
    }
    (false, MAX_ATTEMPTS, last.0, last.1)
}

/// One signed POST; the HTTP status, or why no response came.
async fn post(url: &str, secret: Option<&str>, delivery: &PendingDelivery) -> Result<u16, String> {
    let headers = Headers::new();
    let set = |name: &str, value: &str| headers.set(name, value).map_err(|error| error.to_string());
    set("Content-Type", "application/json")?;
    set("User-Agent", "Tidings-Webhooks/1")?;
    set("Tidings-Delivery-Id", &delivery.id)?;
    set("Tidings-Transaction-Id", &delivery.transaction_id)?;
    if let Some(secret) = secret {
        set(SIGNATURE_HEADER, &webhook::signature(secret, now_ms() / 1000, &delivery.body))?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(JsValue::from_str(&delivery.body)))
        .with_redirect(RequestRedirect::Manual);
    let request = Request::new_with_init(url, &init).map_err(|error| {
        worker::console_error!("delivery {}: bad request: {error}", delivery.id);
        "request_refused".to_owned()
    })?;
    let response = Fetch::Request(request).send().await.map_err(|error| {
        worker::console_error!("delivery {}: no response: {error}", delivery.id);
        "connection_failed".to_owned()
    })?;
    Ok(response.status_code())
}
