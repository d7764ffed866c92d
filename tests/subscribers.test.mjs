// Subscribers over HTTP: upsert, get, list with cursors, delete, bulk upsert
// of 500 in one call, typed refusals.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { api, expectError, freshSubscriber, keys } from "./support/context.mjs";

const key = keys.development.secret_key;
const call = (path, options = {}) => api(path, { key, ...options });

describe("subscribers", () => {
  it("creates, replaces, reads and deletes a profile", async () => {
    const id = freshSubscriber("profile");
    const profile = {
      first_name: "Ada", last_name: "Lovelace", email: "ada@example.com", phone: "+447700900123",
      avatar: "https://example.com/ada.png", locale: "en-GB", timezone: "Europe/London", data: { plan: "pro", seats: 3 },
    };
    const created = await call(`/v1/subscribers/${id}`, { method: "PUT", body: profile });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.subscriber_id, id);
    assert.deepEqual(created.body.data, { plan: "pro", seats: 3 });
    assert.equal(created.body.created_at, created.body.updated_at);

    const replaced = await call(`/v1/subscribers/${id}`, { method: "PUT", body: { first_name: "Augusta", subscriber_id: id } });
    assert.equal(replaced.status, 200);
    assert.equal(replaced.body.first_name, "Augusta");
    assert.equal(replaced.body.email, null, "PUT replaces the whole profile");
    assert.equal((await call(`/v1/subscribers/${id}`)).body.first_name, "Augusta");

    // Messages go with the subscriber.
    await call("/v1/events/trigger", { method: "POST", body: { workflow: "welcome", to: id, payload: { name: "x" } } });
    const deleted = await call(`/v1/subscribers/${id}`, { method: "DELETE" });
    assert.deepEqual(deleted.body, { subscriber_id: id, deleted: true });
    expectError(assert, await call(`/v1/subscribers/${id}`), 404, "subscriber_not_found");
    expectError(assert, await call(`/v1/subscribers/${id}`, { method: "DELETE" }), 404, "subscriber_not_found");
    assert.equal((await call(`/v1/subscribers/${id}/feed`)).body.counts.total, 0);
  });

  for (const environment of ["development", "staging"]) {
    it(`leaves nothing of a deleted subscriber to one made again under the id (${environment})`, async () => {
      const send = (path, options = {}) => api(path, { key: keys[environment].secret_key, ...options });
      const [id, control] = [freshSubscriber("again"), freshSubscriber("again-control")];
      for (const who of [id, control]) assert.equal((await send(`/v1/subscribers/${who}`, { method: "PUT", body: { first_name: "Ada" } })).status, 201);
      const sent = await send("/v1/events/trigger", { method: "POST", body: { workflow: "welcome", to: [id], payload: { name: "Ada" } } });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      const removal = { action: "delete", ids: [sent.body.messages[0].id] };
      const actionKey = { "Idempotency-Key": `again-${id}` };
      assert.equal((await send(`/v1/subscribers/${id}/feed/actions`, { method: "POST", body: removal, headers: actionKey })).status, 200);
      const muted = await send(`/v1/subscribers/${id}/preferences`, { method: "PATCH", body: { global: { webhook: false } } });
      assert.equal(muted.status, 200, JSON.stringify(muted.body));
      const tombstones = await send(`/v1/subscribers/${id}/feed/changes?since=0`);
      assert.ok(tombstones.body.changes.some((change) => change.kind === "remove"), JSON.stringify(tombstones.body));

      assert.equal((await send(`/v1/subscribers/${id}`, { method: "DELETE" })).status, 200);
      assert.equal((await send(`/v1/subscribers/${id}`, { method: "PUT", body: { first_name: "Someone else" } })).status, 201);
      // Preferences as a new subscriber's, no change to sync, and the action key is free again.
      const fresh = (await send(`/v1/subscribers/${control}/preferences`)).body;
      assert.deepEqual((await send(`/v1/subscribers/${id}/preferences`)).body, fresh);
      const changes = await send(`/v1/subscribers/${id}/feed/changes?since=0`);
      assert.deepEqual(changes.body.changes, [], JSON.stringify(changes.body));
      const again = await send(`/v1/subscribers/${id}/feed/actions`, { method: "POST", body: removal, headers: actionKey });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.headers.get("idempotency-replay"), null, "the deleted subscriber's answer was replayed");
    });
  }

  for (const environment of ["development", "staging"]) {
    it(`writes nothing for a subscriber deleted while a trigger that read them was under way (${environment})`, async () => {
      const send = (path, options = {}) => api(path, { key: keys[environment].secret_key, ...options });
      const [id, control] = [freshSubscriber("erased"), freshSubscriber("erased-control")];
      for (const who of [id, control]) assert.equal((await send(`/v1/subscribers/${who}`, { method: "PUT", body: { email: "ada@example.com" } })).status, 201);
      // The trigger reads both profiles, then waits before it writes; the erasure commits meanwhile.
      const trigger = send("/v1/events/trigger", {
        method: "POST",
        body: { workflow: "welcome", to: [{ subscriber_id: id, first_name: "Ada", email: "ada@example.com" }, control], payload: { name: "Ada" } },
        headers: { "Tidings-Inject-Faults": "deliver=pause" },
      });
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal((await send(`/v1/subscribers/${id}`, { method: "DELETE" })).status, 200);
      const sent = await trigger;
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      // As if the trigger ran first and the erasure after it: nothing of the erased subscriber stays.
      expectError(assert, await send(`/v1/subscribers/${id}`), 404, "subscriber_not_found");
      assert.deepEqual((await send(`/v1/subscribers/${id}/feed`)).body.items, []);
      assert.equal((await send(`/v1/subscribers/${control}/feed`)).body.items.length, 1, "the other recipient has the message");
    });
  }

  it("creates bare subscribers on trigger", async () => {
    const id = freshSubscriber("bare");
    await call("/v1/events/trigger", { method: "POST", body: { workflow: "welcome", to: id, payload: { name: "x" } } });
    const bare = await call(`/v1/subscribers/${id}`);
    assert.equal(bare.status, 200);
    assert.deepEqual([bare.body.first_name, bare.body.data], [null, {}]);
  });

  it("upserts 500 subscribers in one call and pages through them", async () => {
    const prefix = freshSubscriber("bulk");
    const subscribers = Array.from({ length: 500 }, (_, index) => ({
      subscriber_id: `${prefix}-${String(index).padStart(3, "0")}`,
      first_name: `Person ${index}`,
      data: { index },
    }));
    await call(`/v1/subscribers/${subscribers[0].subscriber_id}`, { method: "PUT", body: {} });
    const bulk = await call("/v1/subscribers/bulk", { method: "POST", body: { subscribers } });
    assert.equal(bulk.status, 200, JSON.stringify(bulk.body).slice(0, 300));
    assert.equal(bulk.body.created.length, 499);
    assert.deepEqual(bulk.body.updated, [subscribers[0].subscriber_id]);
    assert.equal((await call(`/v1/subscribers/${subscribers[499].subscriber_id}`)).body.data.index, 499);

    const seen = [];
    let after = `${prefix}-`;
    // Start just before the batch (ids sort as text) and read it in pages of 100.
    for (let page = 0; page < 5; page += 1) {
      const response = await call(`/v1/subscribers?limit=100&after=${encodeURIComponent(after)}`);
      assert.equal(response.status, 200);
      seen.push(...response.body.items.map((item) => item.subscriber_id).filter((id) => id.startsWith(prefix)));
      after = response.body.page_info.after;
    }
    assert.deepEqual(seen, subscribers.map((subscriber) => subscriber.subscriber_id));
  });

  it("refuses bad profiles with the field named, storing nothing", async () => {
    const id = freshSubscriber("bad");
    const cases = [
      [{ email: "nope" }, "email"],
      [{ phone: "12345" }, "phone"],
      [{ data: "text" }, "data"],
      [{ subscriber_id: "someone-else" }, "subscriber_id"],
    ];
    for (const [body, field] of cases) {
      assert.equal(expectError(assert, await call(`/v1/subscribers/${id}`, { method: "PUT", body }), 400, "validation_failed").field, field);
    }
    expectError(assert, await call(`/v1/subscribers/${id}`, { method: "PUT", body: { nickname: "x" } }), 400, "validation_failed");
    expectError(assert, await call(`/v1/subscribers/${id}`), 404, "subscriber_not_found");
    const bulk = (subscribers) => call("/v1/subscribers/bulk", { method: "POST", body: { subscribers } });
    assert.equal(expectError(assert, await bulk([]), 400, "validation_failed").field, "subscribers");
    const tooMany = Array.from({ length: 501 }, (_, index) => ({ subscriber_id: `${id}-${index}` }));
    assert.equal(expectError(assert, await bulk(tooMany), 400, "validation_failed").field, "subscribers");
    const oneBad = [{ subscriber_id: `${id}-a` }, { subscriber_id: `${id}-b`, email: "x" }];
    assert.equal(expectError(assert, await bulk(oneBad), 400, "validation_failed").field, "subscribers.1.email");
    expectError(assert, await call(`/v1/subscribers/${id}-a`), 404, "subscriber_not_found");
    assert.equal(expectError(assert, await call("/v1/subscribers?limit=500"), 400, "validation_failed").field, "limit");
    expectError(assert, await api("/v1/subscribers", { key: keys.development.publishable_key }), 403, "secret_key_required");
  });
});
