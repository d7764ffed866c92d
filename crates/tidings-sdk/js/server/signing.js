// What a server signs and checks offline: subscriber tokens, subscriber
// hashes and webhook signatures, byte for byte as tidings_core does
// (token.rs, subscriber.rs, webhook.rs; tests/vectors/signing.json).
import { base64url, constantTimeEqual, deriveKey, fromHex, hmacSha256, toHex } from "./crypto.js";
import { TidingsError } from "./error.js";

/** The longest token lifetime: 30 days. */
export const MAX_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
/** How old (or how far ahead) a webhook's timestamp may be by default: 5 minutes. */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;
const TOKEN_LABEL = "tidings/subscriber-token/v2";
const ENVIRONMENT_NAME = /^[a-z0-9](?:[a-z0-9-]{0,30}[a-z0-9])?$/;
const SUBSCRIBER_ID = /^[A-Za-z0-9._\-@:+]{1,128}$/;
const KEY_ID = /^s[1-9][0-9]{0,9}$/;

const invalid = (field, message) => new TidingsError({ code: "invalid_options", message, field });

function checkSubscriberId(subscriberId, field = "subscriberId") {
  if (typeof subscriberId !== "string" || !SUBSCRIBER_ID.test(subscriberId)) {
    throw invalid(field, `${field} must be 1 to 128 characters of A-Z, a-z, 0-9 and . _ - @ : +`);
  }
}

/**
 * Signs a subscriber token (`st2.…`) for a browser: `{ signingSecret,
 * environment, subscriberId, ttlSeconds = 3600, scope = "write", keyId = "s1",
 * now = Date.now() }`. Throws a TidingsError (`invalid_options`).
 */
export function signSubscriberToken(options) {
  const { signingSecret, environment, subscriberId, ttlSeconds = 3600, scope = "write", keyId = "s1", now } = options ?? {};
  const known = new Set(["signingSecret", "environment", "subscriberId", "ttlSeconds", "scope", "keyId", "now"]);
  const unknown = Object.keys(options ?? {}).find((name) => !known.has(name));
  if (unknown) throw invalid(unknown, `unknown option ${unknown}`);
  if (typeof signingSecret !== "string" || signingSecret.length === 0) throw invalid("signingSecret", "signingSecret is required");
  if (typeof environment !== "string" || !ENVIRONMENT_NAME.test(environment)) {
    throw invalid("environment", "environment must be 1 to 32 characters of a-z, 0-9 and -, not starting or ending with -");
  }
  checkSubscriberId(subscriberId);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_TOKEN_TTL_SECONDS) {
    throw invalid("ttlSeconds", `ttlSeconds must be a whole number from 1 to ${MAX_TOKEN_TTL_SECONDS} (30 days)`);
  }
  if (scope !== "read" && scope !== "write") throw invalid("scope", 'scope must be "read" or "write"');
  if (typeof keyId !== "string" || !KEY_ID.test(keyId)) throw invalid("keyId", "keyId must be s1, s2, …");
  if (now !== undefined && (typeof now !== "number" || !Number.isFinite(now) || now < 0 || now >= 1e15)) {
    throw invalid("now", "now must be milliseconds since the epoch");
  }
  const issuedAt = Math.floor((now ?? Date.now()) / 1000);
  // Keys in the order the worker writes them (sorted), so tokens are byte-identical.
  const claims = { env: environment, exp: issuedAt + ttlSeconds, iat: issuedAt, kid: keyId, scope, sub: subscriberId };
  const body = `st2.${base64url(new TextEncoder().encode(JSON.stringify(claims)))}`;
  return `${body}.${base64url(hmacSha256(deriveKey(signingSecret, TOKEN_LABEL), body))}`;
}

/**
 * The subscriber hash (`X-Subscriber-Hash`): hex HMAC-SHA256 of the
 * subscriber id, keyed with the signing secret as written (the ASCII of its
 * hex characters). Prefer tokens: they expire and carry a scope.
 */
export function subscriberHash(signingSecret, subscriberId) {
  if (typeof signingSecret !== "string" || signingSecret.length === 0) throw invalid("signingSecret", "signingSecret is required");
  checkSubscriberId(subscriberId);
  return toHex(hmacSha256(signingSecret, subscriberId));
}

/**
 * Whether a webhook request came from Tidings: `signature` is its
 * `Tidings-Signature` header (`t=<unix seconds>,v1=<hex>`), `body` the raw
 * request body exactly as received (string or bytes, never re-serialized
 * JSON), `secret` the integration's signing secret. The HMAC is compared in
 * constant time, and the timestamp must be within `toleranceSeconds` of
 * `now` (milliseconds) either way. A missing or malformed header is `false`,
 * never an exception.
 */
export function verifyWebhook({ body, signature, secret, toleranceSeconds = DEFAULT_WEBHOOK_TOLERANCE_SECONDS, now } = {}) {
  if (typeof body !== "string" && !(body instanceof Uint8Array)) {
    throw invalid("body", "body must be the raw request body (a string or bytes)");
  }
  if (typeof secret !== "string" || secret.length === 0) throw invalid("secret", "secret is required");
  if (typeof toleranceSeconds !== "number" || !Number.isFinite(toleranceSeconds) || toleranceSeconds < 0) {
    throw invalid("toleranceSeconds", "toleranceSeconds must be a finite number of seconds ≥ 0");
  }
  if (now !== undefined && (typeof now !== "number" || !Number.isFinite(now))) throw invalid("now", "now must be milliseconds since the epoch");
  if (typeof signature !== "string") return false;
  let timestamp = null;
  const candidates = [];
  for (const part of signature.split(",")) {
    const trimmed = part.trim();
    const equals = trimmed.indexOf("=");
    const [name, value] = equals < 0 ? [trimmed, ""] : [trimmed.slice(0, equals), trimmed.slice(equals + 1)];
    if (name === "t" && /^\d{1,12}$/.test(value)) timestamp = value;
    if (name === "v1" && /^[0-9a-f]{64}$/.test(value)) candidates.push(fromHex(value));
  }
  if (timestamp === null || candidates.length === 0) return false;
  const nowSeconds = (now ?? Date.now()) / 1000;
  if (Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const expected = hmacSha256(secret, signedContent(timestamp, body));
  // Every candidate is compared, so the time taken says nothing about which matched.
  return candidates.reduce((matched, candidate) => constantTimeEqual(expected, candidate) || matched, false);
}

/**
 * The signature header Tidings would send for `body` at `timestamp` (Unix
 * seconds): for testing a webhook handler without a running worker.
 */
export function signWebhook({ body, secret, timestamp }) {
  if (typeof secret !== "string" || secret.length === 0) throw invalid("secret", "secret is required");
  if (!Number.isInteger(timestamp) || timestamp < 0 || timestamp >= 1e12) throw invalid("timestamp", "timestamp must be Unix seconds");
  if (typeof body !== "string" && !(body instanceof Uint8Array)) throw invalid("body", "body must be a string or bytes");
  return `t=${timestamp},v1=${toHex(hmacSha256(secret, signedContent(timestamp, body)))}`;
}

/** What a webhook signature covers: `<timestamp>.<body>`. */
function signedContent(timestamp, body) {
  const bodyBytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const prefix = new TextEncoder().encode(`${timestamp}.`);
  const content = new Uint8Array(prefix.length + bodyBytes.length);
  content.set(prefix);
  content.set(bodyBytes, prefix.length);
  return content;
}
