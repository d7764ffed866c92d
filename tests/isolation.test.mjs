// Environments are isolated: data written with one environment's key is
// invisible to every other environment's keys, and keys never issued are
// refused before any data is read.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { api, environmentNames, expectError, forgeKey, freshSubscriber, keys, subscriberHash } from "./support/context.mjs";

/** Reads a feed with `environment`'s publishable key and a valid subscriber hash. */
function readFeed(environment, subscriber) {
  return api(`/v1/subscribers/${subscriber}/feed`, {
    key: keys[environment].publishable_key,
    headers: { "X-Subscriber-Hash": subscriberHash(environment, subscriber) },
  });
}

describe("environment isolation", () => {
  it("each key reports its own environment", async () => {
    for (const [position, name] of environmentNames.entries()) {
      for (const kind of ["publishable_key", "secret_key"]) {
        const response = await api("/v1/environments/current", { key: keys[name][kind] });
        assert.equal(response.status, 200);
        assert.equal(response.body.name, name);
        assert.equal(response.body.type, name);
        assert.equal(response.body.position, position);
        assert.equal(response.body.status, "active");
        assert.equal(response.body.requires_subscriber_credential, name !== "development");
      }
    }
  });

  it("data written in one environment is invisible to every other environment's keys", async () => {
    const subscriber = freshSubscriber("isolated");
    for (const writer of environmentNames) {
      const response = await api("/v1/events/trigger", {
        key: keys[writer].secret_key,
        method: "POST",
        body: { workflow: "welcome", to: [subscriber], payload: { name: writer } },
      });
      assert.equal(response.status, 202);
      for (const reader of environmentNames) {
        for (const read of [() => readFeed(reader, subscriber), () => api(`/v1/subscribers/${subscriber}/feed`, { key: keys[reader].secret_key })]) {
          const feed = await read();
          assert.equal(feed.status, 200, JSON.stringify(feed.body));
          const names = feed.body.items.map((item) => item.payload.name);
          const written = environmentNames.slice(0, environmentNames.indexOf(writer) + 1);
          // A reader sees exactly the one message written in its own environment, once it was written.
          assert.deepEqual(names, written.includes(reader) ? [reader] : [], `${reader} reading after ${writer} wrote`);
        }
      }
    }
  });

  it("staging and production feeds require a valid subscriber credential for that subscriber and environment", async () => {
    const subscriber = freshSubscriber("credential");
    for (const environment of ["staging", "production"]) {
      const path = `/v1/subscribers/${subscriber}/feed`;
      const key = keys[environment].publishable_key;
      expectError(assert, await api(path, { key }), 401, "subscriber_credential_required");
      const otherSubscriber = subscriberHash(environment, `${subscriber}-other`);
      expectError(assert, await api(path, { key, headers: { "X-Subscriber-Hash": otherSubscriber } }), 401, "subscriber_credential_invalid");
      const otherEnvironment = subscriberHash("development", subscriber);
      expectError(assert, await api(path, { key, headers: { "X-Subscriber-Hash": otherEnvironment } }), 401, "subscriber_credential_invalid");
      expectError(assert, await api(path, { key, headers: { "X-Subscriber-Hash": "zz" } }), 401, "subscriber_credential_invalid");
      assert.equal((await readFeed(environment, subscriber)).status, 200);
    }
    const development = await api(`/v1/subscribers/${subscriber}/feed`, { key: keys.development.publishable_key });
    assert.equal(development.status, 200);
  });

  it("refuses keys that were never issued, in every environment, with a typed 401", async () => {
    for (const environment of [...environmentNames, "qa"]) {
      for (const prefix of ["pk", "sk"]) {
        const forged = forgeKey(prefix, environment);
        expectError(assert, await api("/v1/environments/current", { key: forged }), 401, "unknown_key");
        expectError(assert, await api("/v1/subscribers/user-1/feed", { key: forged }), 401, "unknown_key");
      }
    }
  });
});
