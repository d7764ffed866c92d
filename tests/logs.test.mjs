// Execution logs over HTTP: an entry per recipient and step, refused
// triggers with their reason, filters, cursors, and the retention setting.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { admin, api, apiUrl, expectError, freshSubscriber, keys, waitFor } from "./support/context.mjs";

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

  it("keeps nothing past the retention in an environment nobody writes to, once the Cron Trigger has run", async () => {
    // Production: few of the suite's triggers reach it, so one sweep's bounded prune covers it.
    const production = (path, options = {}) => api(path, { key: keys.production.secret_key, ...options });
    const tag = randomBytes(4).toString("hex");
    const [ada, topic] = [freshSubscriber("kept-ada"), `kept-${tag}`];
    assert.equal((await production(`/v1/subscribers/${ada}`, { method: "PUT", body: { first_name: "Ada" } })).status, 201);
    assert.equal((await production(`/v1/topics/${topic}`, { method: "PUT", body: { name: "Kept" } })).status, 201);
    assert.equal((await production(`/v1/topics/${topic}/subscribers`, { method: "POST", body: { subscribers: [ada] } })).status, 200);
    const fanout = await production("/v1/events/trigger", { method: "POST", body: { workflow: "welcome", to: [{ topic }], payload: { name: "Ada" } } });
    assert.equal(fanout.status, 202, JSON.stringify(fanout.body));
    const direct = await production("/v1/events/trigger", { method: "POST", body: { workflow: "welcome", to: [ada], payload: { name: "Ada" } } });
    assert.equal(direct.status, 202, JSON.stringify(direct.body));
    const transactions = [fanout.body.transaction_id, direct.body.transaction_id];
    await waitFor(async () => {
      const state = await production(`/v1/transactions/${fanout.body.transaction_id}`);
      return state.body?.status === "completed";
    }, "the fan-out to finish");
    const kept = async (environment, transaction) =>
      (await api(`/v1/logs?${new URLSearchParams({ transaction_id: transaction })}`, { key: keys[environment].secret_key })).body.items.length;
    for (const transaction of transactions) assert.ok((await kept("production", transaction)) > 0, "the trigger was logged");
    // Another environment, with the default retention, keeps its entries.
    const other = await api("/v1/events/trigger", { key: keys.staging.secret_key, method: "POST", body: { workflow: `never-${tag}`, to: [ada] } });
    expectError(assert, other, 404, "workflow_not_found");
    const otherLogs = await api(`/v1/logs?workflow=never-${tag}`, { key: keys.staging.secret_key });
    assert.equal(otherLogs.body.items.length, 1);

    const path = "/v1/environments/production";
    try {
      assert.equal((await admin(path, { method: "PATCH", body: { log_retention_days: 1 } })).status, 200);
      // Nothing is written to production from here on: only the Cron Trigger, two days later, prunes,
      // a bounded number of the oldest entries each time (other suites may have left some before ours).
      const remaining = async () => (await Promise.all(transactions.map((transaction) => kept("production", transaction)))).reduce((a, b) => a + b, 0);
      for (let sweeps = 0; sweeps < 30 && (await remaining()) > 0; sweeps += 1) {
        const sweep = await fetch(`${apiUrl}/__scheduled?cron=clock+${Date.now() + 2 * 86_400_000}`);
        assert.equal(sweep.status, 200, await sweep.text());
      }
      assert.equal(await remaining(), 0, "still logged after 30 sweeps");
      expectError(assert, await production(`/v1/transactions/${fanout.body.transaction_id}`), 404, "transaction_not_found");
      assert.equal((await api(`/v1/logs?workflow=never-${tag}`, { key: keys.staging.secret_key })).body.items.length, 1);
      // The feed is not the log: the messages stay.
      const feed = await production(`/v1/subscribers/${ada}/feed`);
      assert.equal(feed.body.items.length, 2, JSON.stringify(feed.body));
    } finally {
      await admin(path, { method: "PATCH", body: { log_retention_days: 30 } });
    }
  });
});
