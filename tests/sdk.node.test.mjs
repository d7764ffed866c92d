// @tidings/sdk outside the browser (Node.js: tests, server-side data
// loading): the wasm loads from the package's file, failures carry a code,
// and a session renews its subscriber token through getSubscriberToken,
// before expiry and when the API says it has expired, without an error.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Tidings, createTidings } from "@tidings/sdk";
import { signSubscriberToken } from "@tidings/sdk/server";
import { apiUrl, freshSubscriber, keys, waitFor, welcome } from "./support/context.mjs";
import { MIN_RENEWAL_MS, renewalDelay, tokenLifetime } from "../crates/tidings-sdk/js/credentials.js";

const base = { apiUrl, publishableKey: keys.development.publishable_key };
const mint = (subscriberId, { ttlSeconds = 3600, ageSeconds = 0 } = {}) =>
  signSubscriberToken({ signingSecret: keys.development.subscriber_signing_secret, environment: "development", subscriberId, ttlSeconds, now: Date.now() - ageSeconds * 1000 });

describe("@tidings/sdk in Node.js", () => {
  it("imports every entry where there is no window (server-side rendering), defining no element", async () => {
    assert.equal(typeof globalThis.window, "undefined");
    assert.equal(typeof globalThis.customElements, "undefined");
    for (const entry of ["@tidings/sdk", "@tidings/sdk/react", "@tidings/sdk/elements", "@tidings/sdk/server"]) {
      await assert.doesNotReject(import(entry), entry);
    }
    const { TidingsInbox, TidingsBell, messages } = await import("@tidings/sdk/elements");
    assert.equal(typeof TidingsInbox, "function");
    assert.equal(typeof TidingsBell, "function");
    assert.ok(messages.en && messages.fr, "the shipped locales");
  });

  it("loads its WebAssembly from the package's file and reads a feed", async () => {
    const subscriberId = freshSubscriber("node-sdk");
    await welcome(subscriberId, "Ada");
    const tidings = await Tidings.connect({ ...base, subscriberId });
    const page = await tidings.feed.list({ limit: 5 });
    assert.equal(page.items.length, 1);
    assert.equal(page.items[0].subject, "Welcome, Ada!");
    assert.equal((await tidings.environment()).name, "development");
    tidings.close();
  });

  it("rejects every failure with a code", async () => {
    await assert.rejects(createTidings({ ...base, subscriberId: "a b" }), (error) => error.code === "invalid_options" && error.field === "subscriberId");
    await assert.rejects(createTidings({ ...base, subscriberId: "x", getSubscriberToken: "token" }), (error) => error.code === "invalid_options");
    const offline = await createTidings({ apiUrl: "http://127.0.0.1:9", publishableKey: keys.development.publishable_key, subscriberId: "x" });
    await assert.rejects(offline.feed.list(), (error) => error.code === "network_error");
    offline.close();
    const broken = await createTidings({ ...base, subscriberId: "x", getSubscriberToken: async () => { throw new Error("signed out"); } }).catch((error) => error);
    assert.equal(broken.code, "subscriber_credential_expired");
    assert.match(broken.message, /signed out/);
  });

  it("renews an expired token when the API refuses it, and sends the request again once", async () => {
    const subscriberId = freshSubscriber("node-renew");
    await welcome(subscriberId, "Grace");
    // The first token is already expired: the API must refuse it, then the session renews.
    const expired = mint(subscriberId, { ttlSeconds: 60, ageSeconds: 120 });
    const refused = await fetch(`${apiUrl}/v1/subscribers/${subscriberId}/feed`, {
      headers: { Authorization: `Bearer ${keys.development.publishable_key}`, "X-Subscriber-Token": expired },
    });
    assert.equal((await refused.json()).error.code, "subscriber_credential_expired");
    let asked = 0;
    const tidings = await Tidings.connect({ ...base, subscriberId, subscriberToken: expired, getSubscriberToken: async () => (asked++, mint(subscriberId)) });
    const [first, second] = await Promise.all([tidings.feed.list(), tidings.feed.counts()]);
    assert.equal(first.items.length, 1);
    assert.equal(second.total, 1);
    assert.equal(asked, 1, "two refused requests wait on one renewal");
    tidings.close();
  });

  it("asks for the next token before the current one expires", async () => {
    const subscriberId = freshSubscriber("node-early");
    const issued = [];
    const tidings = await Tidings.connect({ ...base, subscriberId, getSubscriberToken: async () => {
      const token = mint(subscriberId, { ttlSeconds: 2 });
      issued.push(token);
      return token;
    } });
    assert.equal(issued.length, 1, "connecting without a token asks for one");
    await waitFor(() => issued.length >= 2, "an early renewal");
    assert.equal((await tidings.feed.counts()).total, 0);
    assert.ok(issued.length <= 4, `renewals are paced, not back to back (${issued.length})`);
    tidings.close();
    const settled = issued.length;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.equal(issued.length, settled, "a closed session stops renewing");
  });

  it("plans renewals a minute ahead, or at 80 % of a short lifetime, from arrival, never back to back", () => {
    assert.equal(renewalDelay(3_600_000), 3_540_000);
    assert.equal(renewalDelay(10_000), 8_000);
    assert.equal(renewalDelay(500), MIN_RENEWAL_MS);
    // The server's lifetime, whatever this device's clock says: a token issued two minutes "ago".
    assert.equal(tokenLifetime(mint("x", { ttlSeconds: 100, ageSeconds: 120 })), 100_000);
    assert.equal(tokenLifetime("not a token"), null);
  });

  it("does not ask again and again when the app hands out stale tokens", async () => {
    const subscriberId = freshSubscriber("node-stale");
    let asked = 0;
    const tidings = await Tidings.connect({ ...base, subscriberId, getSubscriberToken: async () => (asked++, mint(subscriberId, { ttlSeconds: 60, ageSeconds: 120 })) });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.ok(asked <= 2, `asked ${asked} times in 1.5 s`);
    await assert.rejects(tidings.feed.list(), (error) => error.code === "subscriber_credential_expired");
    tidings.close();
  });
});
