// Subscriber preferences over HTTP: global and per-workflow channel
// switches, honoured by triggers and logged as skipped.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { api, expectError, freshSubscriber, keys } from "./support/context.mjs";

const path = (subscriber) => `/v1/subscribers/${subscriber}/preferences`;
const asSubscriber = (subscriber, options = {}) => api(path(subscriber), { key: keys.development.publishable_key, ...options });
const trigger = (subscriber) =>
  api("/v1/events/trigger", { key: keys.development.secret_key, method: "POST", body: { workflow: "welcome", to: subscriber, payload: { name: "P" } } });
const feedTotal = async (subscriber) =>
  (await api(`/v1/subscribers/${subscriber}/feed`, { key: keys.development.secret_key })).body.counts.total;

describe("preferences", () => {
  it("turn channels off globally or per workflow, and triggers honour them", async () => {
    const subscriber = freshSubscriber("prefs");
    assert.deepEqual((await asSubscriber(subscriber)).body, { global: { in_app: true, webhook: true }, workflows: {} });

    const off = await asSubscriber(subscriber, { method: "PATCH", body: { global: { in_app: false } } });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.deepEqual(off.body.global, { in_app: false, webhook: true });
    const skipped = await trigger(subscriber);
    assert.equal(skipped.status, 202);
    assert.deepEqual(skipped.body.messages, []);
    assert.equal(await feedTotal(subscriber), 0);
    const logs = (await api(`/v1/logs?subscriber_id=${subscriber}&status=skipped`, { key: keys.development.secret_key })).body.items;
    assert.equal(logs.length, 1);
    assert.deepEqual([logs[0].step, logs[0].detail.reason, logs[0].transaction_id], ["in_app", "preference", skipped.body.transaction_id]);

    const override = await asSubscriber(subscriber, { method: "PATCH", body: { workflows: { welcome: { in_app: true } } } });
    assert.deepEqual(override.body.workflows, { welcome: { in_app: true } });
    assert.equal((await trigger(subscriber)).body.messages.length, 1);
    assert.equal(await feedTotal(subscriber), 1);

    const removed = await asSubscriber(subscriber, { method: "PATCH", body: { workflows: { welcome: { in_app: null } } } });
    assert.deepEqual(removed.body.workflows, {});
    assert.equal((await trigger(subscriber)).body.messages.length, 0);
  });

  it("keep at most 200 workflow overrides per subscriber, and a change past them writes nothing", async () => {
    const subscriber = freshSubscriber("prefs-many");
    const overrides = (from, count) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`wf-${from + index}`, { in_app: false }]));
    for (const from of [0, 100]) {
      const filled = await asSubscriber(subscriber, { method: "PATCH", body: { workflows: overrides(from, 100) } });
      assert.equal(filled.status, 200, JSON.stringify(filled.body));
    }
    const past = await asSubscriber(subscriber, { method: "PATCH", body: { global: { in_app: false }, workflows: overrides(200, 1) } });
    assert.equal(expectError(assert, past, 400, "validation_failed").field, "workflows");
    const kept = (await asSubscriber(subscriber)).body;
    assert.equal(Object.keys(kept.workflows).length, 200);
    assert.equal(kept.workflows["wf-200"], undefined);
    assert.equal(kept.global.in_app, true, "the refused change wrote nothing, its global part included");
    // Changing one already set, or swapping one out, stays within the limit.
    const swapped = await asSubscriber(subscriber, { method: "PATCH", body: { workflows: { "wf-0": { in_app: null }, "wf-200": { in_app: true }, "wf-1": { in_app: true } } } });
    assert.equal(swapped.status, 200, JSON.stringify(swapped.body));
    assert.equal(swapped.body.workflows["wf-200"].in_app, true);
    // A trigger still honours what applies to its workflow.
    const welcome = await asSubscriber(subscriber, { method: "PATCH", body: { workflows: { "wf-199": { in_app: null }, welcome: { in_app: false } } } });
    assert.equal(welcome.status, 200, JSON.stringify(welcome.body));
    assert.deepEqual((await trigger(subscriber)).body.messages, []);
  });

  it("refuse bad changes and read-only tokens", async () => {
    const subscriber = freshSubscriber("prefs-bad");
    const badKey = await asSubscriber(subscriber, { method: "PATCH", body: { workflows: { "Not A Key": { in_app: false } } } });
    assert.equal(expectError(assert, badKey, 400, "validation_failed").field, "workflows.Not A Key");
    expectError(assert, await asSubscriber(subscriber, { method: "PATCH", body: { global: { email: false } } }), 400, "validation_failed");
    const reader = (await api(`/v1/subscribers/${subscriber}/token`, { key: keys.staging.secret_key, method: "POST", body: { scope: "read" } })).body.token;
    const readOnly = await api(path(subscriber), {
      key: keys.staging.publishable_key,
      method: "PATCH",
      headers: { "X-Subscriber-Token": reader },
      body: { global: { in_app: false } },
    });
    expectError(assert, readOnly, 403, "subscriber_token_read_only");
    assert.equal((await api(path(subscriber), { key: keys.staging.publishable_key, headers: { "X-Subscriber-Token": reader } })).status, 200);
  });
});
