// Triggers over HTTP: 1,000 recipients given as ids or subscriber objects,
// 202 only once stored, and idempotency keys, also under concurrency.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, it } from "node:test";
import { api, expectError, freshSubscriber, keys } from "./support/context.mjs";

const key = keys.development.secret_key;
const call = (path, options = {}) => api(path, { key, ...options });
const workflow = `greeting-${randomBytes(4).toString("hex")}`;
const trigger = (body, headers = {}) => call("/v1/events/trigger", { method: "POST", body, headers });

before(async () => {
  const saved = await call(`/v1/workflows/${workflow}`, {
    method: "PUT",
    body: { name: "Greeting", steps: [{ type: "in_app", subject: "Hello {{ subscriber.first_name | default('you', true) }}", body: "{{ payload.text }}" }] },
  });
  assert.equal(saved.status, 201, JSON.stringify(saved.body));
});

describe("triggers", () => {
  it("delivers to 1,000 recipients given as ids and objects, creating the unknown ones", { timeout: 60_000 }, async () => {
    const prefix = freshSubscriber("fanout");
    const known = `${prefix}-known`;
    await call(`/v1/subscribers/${known}`, { method: "PUT", body: { first_name: "Known" } });
    const to = [known];
    for (let index = 0; index < 999; index += 1) {
      to.push(index % 2 ? `${prefix}-${index}` : { subscriber_id: `${prefix}-${index}`, first_name: `Obj${index}` });
    }
    const response = await trigger({ workflow, to, payload: { text: "Hi all" } });
    assert.equal(response.status, 202, JSON.stringify(response.body).slice(0, 300));
    assert.equal(response.body.status, "processed");
    assert.equal(response.body.messages.length, 1000);
    // Bare ids that did not exist: the 499 odd indexes (objects are upserted, "known" existed).
    assert.equal(response.body.created_subscribers.length, 499);
    assert.ok(!response.body.created_subscribers.includes(known));

    const subject = async (id) => (await call(`/v1/subscribers/${id}/feed`)).body.items[0].subject;
    assert.equal(await subject(known), "Hello Known");
    assert.equal(await subject(`${prefix}-0`), "Hello Obj0");
    assert.equal(await subject(`${prefix}-1`), "Hello you");
    assert.equal((await call(`/v1/subscribers/${prefix}-998`)).body.first_name, "Obj998");
    assert.equal((await call(`/v1/subscribers/${prefix}-997`)).status, 200);
  });

  it("bounds what one trigger renders: the payload alone, times its recipients, and each rendered field", async () => {
    const [ada, bob] = [freshSubscriber("big-ada"), freshSubscriber("big-bob")];
    const tooLarge = await trigger({ workflow, to: [ada], payload: { text: "x".repeat(70_000) } });
    assert.equal(expectError(assert, tooLarge, 413, "payload_too_large").field, "payload");
    const many = Array.from({ length: 1000 }, (_, index) => `${bob}-${index}`);
    const tooMuch = await trigger({ workflow, to: many, payload: { text: "y".repeat(30_000) } });
    expectError(assert, tooMuch, 413, "payload_too_large");
    assert.match(tooMuch.body.error.message, /at most \d+ recipients/);
    // A body rendered past 64 KiB from a small payload.
    const rendered = await trigger({ workflow, to: [ada], payload: { text: "z".repeat(60_000) } });
    assert.equal(rendered.status, 202, JSON.stringify(rendered.body));
    const doubled = `doubled-${workflow}`;
    const saved = await call(`/v1/workflows/${doubled}`, { method: "PUT", body: { name: "Doubled", steps: [{ type: "in_app", subject: "s", body: "{{ payload.text }}{{ payload.text }}" }] } });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    expectError(assert, await trigger({ workflow: doubled, to: [bob], payload: { text: "w".repeat(40_000) } }), 422, "template_render_failed");
    // To a topic, what every member would get alike is checked before it is queued.
    const topic = `big-${workflow}`;
    assert.ok([200, 201].includes((await call(`/v1/topics/${topic}`, { method: "PUT", body: { name: "Big" } })).status));
    expectError(assert, await trigger({ workflow: doubled, to: [{ topic }], payload: { text: "w".repeat(40_000) } }), 422, "template_render_failed");
    // Nothing of the refused ones was stored.
    for (const who of [bob, `${bob}-0`]) expectError(assert, await call(`/v1/subscribers/${who}`), 404, "subscriber_not_found");
  });

  it("names the failing recipient field", async () => {
    const bad = await trigger({ workflow, to: ["ok", { subscriber_id: "x", phone: "123" }], payload: { text: "t" } });
    assert.equal(expectError(assert, bad, 400, "validation_failed").field, "to.1.phone");
  });

  it("replays a retried request with the same Idempotency-Key, and refuses the key for another body", async () => {
    const subscriber = freshSubscriber("idem");
    const idempotencyKey = `order-${randomBytes(6).toString("hex")}`;
    const body = { workflow, to: [subscriber], payload: { text: "once" } };
    const first = await trigger(body, { "Idempotency-Key": idempotencyKey });
    assert.equal(first.status, 202);
    assert.equal(first.headers.get("idempotency-replay"), null);
    const again = await trigger(body, { "Idempotency-Key": idempotencyKey });
    assert.equal(again.status, 202);
    assert.equal(again.headers.get("idempotency-replay"), "true");
    assert.deepEqual(again.body, first.body);
    assert.equal((await call(`/v1/subscribers/${subscriber}/feed`)).body.counts.total, 1);

    const other = await trigger({ ...body, payload: { text: "twice" } }, { "Idempotency-Key": idempotencyKey });
    expectError(assert, other, 422, "idempotency_key_reused");
    const malformed = await trigger(body, { "Idempotency-Key": "has spaces in it" });
    assert.equal(expectError(assert, malformed, 400, "validation_failed").field, "Idempotency-Key");
    assert.equal((await call(`/v1/subscribers/${subscriber}/feed`)).body.counts.total, 1);
  });

  it("runs up to 100 events in one bulk call, each with its own result", async () => {
    const subscriber = freshSubscriber("bulk-trigger");
    const events = [
      { workflow, to: [subscriber], payload: { text: "one" } },
      { workflow: "no-such-workflow", to: [subscriber], payload: {} },
      { workflow, to: [subscriber], payload: { text: "three" } },
    ];
    const idempotencyKey = `bulk-${randomBytes(6).toString("hex")}`;
    const bulk = (body) => call("/v1/events/trigger/bulk", { method: "POST", body, headers: { "Idempotency-Key": idempotencyKey } });
    const first = await bulk({ events });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    assert.deepEqual(first.body.results.map((result) => [result.status, result.replay]), [[202, false], [404, false], [202, false]]);
    assert.equal(first.body.results[1].body.error.code, "workflow_not_found");
    const subjects = async () => (await call(`/v1/subscribers/${subscriber}/feed`)).body.items.map((item) => item.body).sort();
    assert.deepEqual(await subjects(), ["one", "three"]);

    // A retry replays the finished events and sends nothing twice.
    const retry = await bulk({ events });
    assert.deepEqual(retry.body.results.map((result) => [result.status, result.replay]), [[202, true], [404, false], [202, true]]);
    assert.equal(retry.body.results[0].body.transaction_id, first.body.results[0].body.transaction_id);
    assert.deepEqual(await subjects(), ["one", "three"]);

    const invalid = await call("/v1/events/trigger/bulk", { method: "POST", body: { events: [events[0], { workflow, to: [] }] } });
    assert.equal(expectError(assert, invalid, 400, "validation_failed").field, "events.1.to");
    const tooMany = await call("/v1/events/trigger/bulk", { method: "POST", body: { events: Array(101).fill(events[0]) } });
    assert.equal(expectError(assert, tooMany, 400, "validation_failed").field, "events");
    const everyone = Array.from({ length: 600 }, (_, index) => `${subscriber}-${index}`);
    const tooWide = await call("/v1/events/trigger/bulk", { method: "POST", body: { events: [{ workflow, to: everyone }, { workflow, to: everyone }] } });
    assert.equal(expectError(assert, tooWide, 400, "validation_failed").field, "events");
    assert.deepEqual(await subjects(), ["one", "three"]);
  });

  it("creates exactly one set of messages for concurrent identical triggers", async () => {
    const subscribers = [freshSubscriber("race-a"), freshSubscriber("race-b")];
    const idempotencyKey = `race-${randomBytes(6).toString("hex")}`;
    const body = { workflow, to: subscribers, payload: { text: "race" } };
    const responses = await Promise.all(Array.from({ length: 12 }, () => trigger(body, { "Idempotency-Key": idempotencyKey })));
    const statuses = responses.map((response) => response.status);
    assert.ok(statuses.every((status) => status === 202 || status === 409), statuses.join(","));
    assert.ok(statuses.includes(202));
    for (const response of responses.filter((response) => response.status === 409)) {
      assert.equal(response.body.error.code, "request_in_progress");
      assert.equal(response.headers.get("retry-after"), "1");
    }
    const transactions = new Set(responses.filter((response) => response.status === 202).map((response) => response.body.transaction_id));
    assert.equal(transactions.size, 1);
    for (const subscriber of subscribers) {
      assert.equal((await call(`/v1/subscribers/${subscriber}/feed`)).body.counts.total, 1, subscriber);
    }
    // Once finished, every retry is a replay.
    const late = await trigger(body, { "Idempotency-Key": idempotencyKey });
    assert.deepEqual([late.status, late.headers.get("idempotency-replay")], [202, "true"]);
  });
});
