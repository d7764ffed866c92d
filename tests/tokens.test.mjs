// Subscriber tokens over HTTP: minted by the API or offline by the npm
// package's server entry, bound to environment, subscriber, issue time,
// expiry and scope, bounded by the environment, revocable per subscriber,
// and never forgeable from a subscriber hash.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { signSubscriberToken } from "@tidings/sdk/server";
import { admin, api, expectError, freshSubscriber, keys, subscriberHash } from "./support/context.mjs";

const base64url = (bytes) => Buffer.from(bytes).toString("base64url");

const mint = (environment, subscriber, body = {}) =>
  api(`/v1/subscribers/${subscriber}/token`, { key: keys[environment].secret_key, method: "POST", body });
const feedWith = (environment, subscriber, token) =>
  api(`/v1/subscribers/${subscriber}/feed`, { key: keys[environment].publishable_key, headers: { "X-Subscriber-Token": token } });

describe("subscriber tokens", () => {
  it("open exactly their subscriber's feed in their environment", async () => {
    const [ada, bob] = [freshSubscriber("token-ada"), freshSubscriber("token-bob")];
    const minted = await mint("staging", ada);
    assert.equal(minted.status, 201, JSON.stringify(minted.body));
    assert.match(minted.body.token, /^st2\./);
    const claims = JSON.parse(Buffer.from(minted.body.token.split(".")[1], "base64url"));
    assert.ok(Math.abs(claims.iat * 1000 - Date.now()) < 60_000, "iat is the issue time");
    assert.equal(claims.exp - claims.iat, 3600);
    assert.equal(minted.body.scope, "write");
    assert.ok(Math.abs(Date.parse(minted.body.expires_at) - Date.now() - 3_600_000) < 60_000);
    assert.equal((await feedWith("staging", ada, minted.body.token)).status, 200);
    expectError(assert, await feedWith("staging", bob, minted.body.token), 401, "subscriber_credential_wrong_subscriber");
    expectError(assert, await feedWith("production", ada, minted.body.token), 401, "subscriber_credential_wrong_environment");
    expectError(assert, await feedWith("staging", ada, `${minted.body.token.slice(0, -4)}AAAA`), 401, "subscriber_credential_invalid");
    expectError(assert, await feedWith("staging", ada, "not-a-token"), 401, "subscriber_credential_invalid");
  });

  it("expire, and read-only tokens cannot change anything", async () => {
    const ada = freshSubscriber("token-scope");
    const reader = (await mint("staging", ada, { scope: "read", ttl_seconds: 600 })).body.token;
    assert.equal((await feedWith("staging", ada, reader)).status, 200);
    const action = await api(`/v1/subscribers/${ada}/feed/actions`, {
      key: keys.staging.publishable_key,
      method: "POST",
      headers: { "X-Subscriber-Token": reader },
      body: { action: "read", filter: {} },
    });
    expectError(assert, action, 403, "subscriber_token_read_only");

    const short = (await mint("staging", ada, { ttl_seconds: 1 })).body.token;
    await new Promise((resolve) => setTimeout(resolve, 2100));
    expectError(assert, await feedWith("staging", ada, short), 401, "subscriber_credential_expired");

    assert.equal(expectError(assert, await mint("staging", ada, { ttl_seconds: 0 }), 400, "validation_failed").field, "ttl_seconds");
    assert.equal(expectError(assert, await mint("staging", ada, { scope: "admin" }), 400, "validation_failed").field, "scope");
    const withPublishable = await api(`/v1/subscribers/${ada}/token`, { key: keys.staging.publishable_key, method: "POST", body: {} });
    expectError(assert, withPublishable, 403, "secret_key_required");
  });

  it("can be signed offline by the npm package's server entry", async () => {
    const ada = freshSubscriber("token-offline");
    const token = signSubscriberToken({ signingSecret: keys.production.subscriber_signing_secret, environment: "production", subscriberId: ada, ttlSeconds: 120 });
    assert.equal((await feedWith("production", ada, token)).status, 200);
    const elsewhere = signSubscriberToken({ signingSecret: keys.production.subscriber_signing_secret, environment: "staging", subscriberId: ada });
    expectError(assert, await feedWith("production", ada, elsewhere), 401, "subscriber_credential_wrong_environment");
    assert.throws(() => signSubscriberToken({ signingSecret: "s", environment: "production", subscriberId: "not valid!" }), (error) => error.code === "invalid_options");
  });

  it("cannot be forged from a subscriber hash, whatever id the app hashes", async () => {
    // An app hands its user the hash of an id shaped like a token's body, with claims naming
    // another subscriber, write scope and an expiry in 2100; hash and token must never meet.
    // Subscriber ids are at most 128 characters: the claims are kept short to fit.
    const victim = `v${randomBytes(3).toString("hex")}`;
    const now = Math.floor(Date.now() / 1000);
    for (const [prefix, claims] of [
      ["st2", { env: "staging", sub: victim, iat: now, exp: now + 3600, scope: "write" }],
      ["st2", { env: "staging", sub: victim, iat: now - 60, exp: now + 86_400, scope: "write" }],
      ["st1", { env: "staging", sub: victim, exp: 4_102_444_800, scope: "write", kid: "s1" }],
    ]) {
      const body = `${prefix}.${base64url(JSON.stringify(claims))}`;
      assert.ok(body.length <= 128, body);
      const hash = subscriberHash("staging", body);
      // The hash is a valid credential for that odd id, as apps expect...
      const own = await api(`/v1/subscribers/${encodeURIComponent(body)}/feed`, {
        key: keys.staging.publishable_key, headers: { "X-Subscriber-Hash": hash },
      });
      assert.equal(own.status, 200, JSON.stringify(own.body));
      // ...and never a token for anyone.
      for (const signature of [base64url(Buffer.from(hash, "hex")), hash]) {
        expectError(assert, await feedWith("staging", victim, `${body}.${signature}`), 401, "subscriber_credential_invalid");
      }
    }
  });

  it("are bounded by the environment's lifetime limit, and the limit applies to tokens already issued", async () => {
    const ada = freshSubscriber("token-bounds");
    const long = (await mint("development", ada, { ttl_seconds: 7200 })).body.token;
    assert.equal((await feedWith("development", ada, long)).status, 200);
    const limited = await admin("/v1/environments/development", { method: "PATCH", body: { subscriber_token_max_ttl_seconds: 3600 } });
    assert.equal(limited.status, 200, JSON.stringify(limited.body));
    try {
      assert.equal(limited.body.subscriber_token_max_ttl_seconds, 3600);
      expectError(assert, await feedWith("development", ada, long), 401, "subscriber_credential_invalid");
      assert.equal(expectError(assert, await mint("development", ada, { ttl_seconds: 3601 }), 400, "validation_failed").field, "ttl_seconds");
      const offline = signSubscriberToken({ signingSecret: keys.development.subscriber_signing_secret, environment: "development", subscriberId: ada, ttlSeconds: 7200 });
      expectError(assert, await feedWith("development", ada, offline), 401, "subscriber_credential_invalid");
      assert.equal((await feedWith("development", ada, (await mint("development", ada, { ttl_seconds: 3600 })).body.token)).status, 200);
      for (const bad of [59, 2_592_001, -1, "1h"]) {
        const refused = await admin("/v1/environments/development", { method: "PATCH", body: { subscriber_token_max_ttl_seconds: bad } });
        expectError(assert, refused, 400, "validation_failed");
      }
    } finally {
      const restored = await admin("/v1/environments/development", { method: "PATCH", body: { subscriber_token_max_ttl_seconds: 2_592_000 } });
      assert.equal(restored.status, 200);
    }
    assert.equal((await feedWith("development", ada, long)).status, 200);
    expectError(assert, await mint("development", ada, { ttl_seconds: 2_592_001 }), 400, "validation_failed");
  });

  it("are revoked per subscriber without rotating the secret, and stay revoked when the id is used again", async () => {
    const [ada, bob] = [freshSubscriber("revoke-ada"), freshSubscriber("revoke-bob")];
    const adas = (await mint("staging", ada)).body.token;
    const offline = signSubscriberToken({ signingSecret: keys.staging.subscriber_signing_secret, environment: "staging", subscriberId: ada, ttlSeconds: 600 });
    const bobs = (await mint("staging", bob)).body.token;
    const revoked = await api(`/v1/subscribers/${ada}/token`, { key: keys.staging.secret_key, method: "DELETE" });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.equal(revoked.body.subscriber_id, ada);
    assert.ok(Math.abs(Date.parse(revoked.body.tokens_not_before) - Date.now()) < 60_000);
    expectError(assert, await feedWith("staging", ada, adas), 401, "subscriber_credential_revoked");
    expectError(assert, await feedWith("staging", ada, offline), 401, "subscriber_credential_revoked");
    // Other subscribers' tokens and the subscriber's hash are untouched; a token minted now works at once.
    assert.equal((await feedWith("staging", bob, bobs)).status, 200);
    const hashed = await api(`/v1/subscribers/${ada}/feed`, { key: keys.staging.publishable_key, headers: { "X-Subscriber-Hash": subscriberHash("staging", ada) } });
    assert.equal(hashed.status, 200);
    const fresh = (await mint("staging", ada)).body.token;
    assert.equal((await feedWith("staging", ada, fresh)).status, 200);
    // A second revocation, within the same second, ends the token minted after the first.
    assert.equal((await api(`/v1/subscribers/${ada}/token`, { key: keys.staging.secret_key, method: "DELETE" })).status, 200);
    expectError(assert, await feedWith("staging", ada, fresh), 401, "subscriber_credential_revoked");
    assert.equal((await feedWith("staging", ada, (await mint("staging", ada)).body.token)).status, 200);
    // Revocation needs the secret key.
    expectError(assert, await api(`/v1/subscribers/${ada}/token`, { key: keys.staging.publishable_key, method: "DELETE" }), 403, "secret_key_required");

    // Deleting the subscriber revokes their tokens; creating the id again does not bring them back.
    const profile = await api(`/v1/subscribers/${bob}`, { key: keys.staging.secret_key, method: "PUT", body: { first_name: "Bob" } });
    assert.ok([200, 201].includes(profile.status), JSON.stringify(profile.body));
    assert.equal((await api(`/v1/subscribers/${bob}`, { key: keys.staging.secret_key, method: "DELETE" })).status, 200);
    await api(`/v1/subscribers/${bob}`, { key: keys.staging.secret_key, method: "PUT", body: { first_name: "Someone else" } });
    expectError(assert, await feedWith("staging", bob, bobs), 401, "subscriber_credential_revoked");
  });
});
