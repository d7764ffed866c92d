// Execution logs over HTTP: an entry per recipient and step, refused
// triggers with their reason, filters, cursors, and the retention setting.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { admin, api, expectError, freshSubscriber, keys } from "./support/context.mjs";

const key = keys.development.secret_key;
const call = (path, options = {}) => api(path, { key, ...options });
const logs = async (query) => {
  const response = await call(`/v1/logs?${new URLSearchParams(query)}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
};

describe("execution logs", () => {
  it("records each recipient's stored message and each refused trigger", async () => {
    const workflow = `logged-${randomBytes(4).toString("hex")}`;
    await call(`/v1/workflows/${workflow}`, {
      method: "PUT",
      body: { name: "Logged", payload_schema: { type: "object", required: ["n"] }, steps: [{ type: "in_app", subject: "{{ payload.n }}", body: "b" }] },
    });
    const [ada, bob] = [freshSubscriber("log-ada"), freshSubscriber("log-bob")];
    const before = new Date(Date.now() - 1000).toISOString();
    const sent = await call("/v1/events/trigger", { method: "POST", body: { workflow, to: [ada, bob], payload: { n: 1 } } });
    assert.equal(sent.status, 202);
    const refused = await call("/v1/events/trigger", { method: "POST", body: { workflow, to: [ada], payload: {} } });
    expectError(assert, refused, 422, "payload_invalid");

    const all = await logs({ workflow });
    assert.equal(all.items.length, 3);
    const [failure, ...stored] = all.items;
    assert.deepEqual([failure.status, failure.step, failure.subscriber_id, failure.detail.code], ["failed", "trigger", null, "payload_invalid"]);
    assert.deepEqual(stored.map((entry) => entry.status), ["stored", "stored"]);
    assert.ok(stored.every((entry) => entry.transaction_id === sent.body.transaction_id && entry.step === "in_app"));
    const messageIds = sent.body.messages.map((message) => message.id).sort();
    assert.deepEqual(stored.map((entry) => entry.detail.message_id).sort(), messageIds);

    assert.deepEqual((await logs({ workflow, subscriber_id: bob })).items.map((entry) => entry.subscriber_id), [bob]);
    assert.equal((await logs({ workflow, status: "failed" })).items.length, 1);
    assert.equal((await logs({ workflow, since: before })).items.length, 3);
    assert.equal((await logs({ workflow, until: before })).items.length, 0);

    const first = await logs({ workflow, limit: "2" });
    assert.equal(first.page_info.has_more, true);
    const second = await logs({ workflow, limit: "2", after: first.page_info.after });
    assert.deepEqual([...first.items, ...second.items].map((entry) => entry.id), all.items.map((entry) => entry.id));

    const unknown = await call("/v1/events/trigger", { method: "POST", body: { workflow: "never-defined", to: [ada], payload: {} } });
    expectError(assert, unknown, 404, "workflow_not_found");
    assert.equal((await logs({ workflow: "never-defined", status: "failed" })).items[0].detail.code, "workflow_not_found");
  });

  it("refuses bad filters naming the parameter", async () => {
    for (const [name, value] of [["limit", "0"], ["status", "lost"], ["since", "yesterday"], ["workflow", "Not A Key"], ["colour", "red"]]) {
      const response = await call(`/v1/logs?${name}=${encodeURIComponent(value)}`);
      assert.equal(expectError(assert, response, 400, "validation_failed").field, name === "colour" ? "query" : name);
    }
    expectError(assert, await api("/v1/logs", { key: keys.development.publishable_key }), 403, "secret_key_required");
  });

  it("has a per-environment retention setting", async () => {
    const path = "/v1/environments/staging";
    assert.equal((await admin(path)).body.log_retention_days, 30);
    try {
      assert.equal((await admin(path, { method: "PATCH", body: { log_retention_days: 7 } })).body.log_retention_days, 7);
      const tooLong = await admin(path, { method: "PATCH", body: { log_retention_days: 400 } });
      assert.equal(expectError(assert, tooLong, 400, "validation_failed").field, "log_retention_days");
    } finally {
      await admin(path, { method: "PATCH", body: { log_retention_days: 30 } });
    }
  });
});
