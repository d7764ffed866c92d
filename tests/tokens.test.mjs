// Subscriber tokens over HTTP: minted by the API or offline by the npm
// package's server entry, bound to environment, subscriber, expiry and scope.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { signSubscriberToken } from "@tidings/sdk/server";
import { api, expectError, freshSubscriber, keys } from "./support/context.mjs";

const mint = (environment, subscriber, body = {}) =>
  api(`/v1/subscribers/${subscriber}/token`, { key: keys[environment].secret_key, method: "POST", body });
const feedWith = (environment, subscriber, token) =>
  api(`/v1/subscribers/${subscriber}/feed`, { key: keys[environment].publishable_key, headers: { "X-Subscriber-Token": token } });

describe("subscriber tokens", () => {
  it("open exactly their subscriber's feed in their environment", async () => {
    const [ada, bob] = [freshSubscriber("token-ada"), freshSubscriber("token-bob")];
    const minted = await mint("staging", ada);
    assert.equal(minted.status, 201, JSON.stringify(minted.body));
    assert.match(minted.body.token, /^st1\./);
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
});
