// Workflows over HTTP: create, versions, read-only production, template
// checks at save time, and triggers rendering the subscriber's profile into
// the feed (subject, body, avatar, buttons).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { admin, api, expectError, freshSubscriber, keys } from "./support/context.mjs";

const key = keys.development.secret_key;
const call = (path, options = {}) => api(path, { key, ...options });
const freshKey = (label) => `${label}-${randomBytes(4).toString("hex")}`;
const inApp = (subject, body = "Body", extra = {}) => ({ type: "in_app", subject, body, ...extra });

describe("workflows", () => {
  it("creates a workflow, keeps every version, and deletes it", async () => {
    const workflowKey = freshKey("order");
    const created = await call("/v1/workflows", {
      method: "POST",
      body: { key: workflowKey, name: "Order", tags: ["orders"], category: "billing", steps: [inApp("v1 {{ payload.id }}")] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual([created.body.key, created.body.version, created.body.tags, created.body.category], [workflowKey, 1, ["orders"], "billing"]);
    expectError(assert, await call("/v1/workflows", { method: "POST", body: { key: workflowKey, name: "x", steps: [inApp("s")] } }), 409, "workflow_exists");

    const saved = await call(`/v1/workflows/${workflowKey}`, { method: "PUT", body: { name: "Order v2", steps: [inApp("v2 {{ payload.id }}")] } });
    assert.equal(saved.status, 200);
    assert.equal(saved.body.version, 2);
    assert.equal(saved.body.created_at, created.body.created_at);
    assert.equal((await call(`/v1/workflows/${workflowKey}`)).body.steps[0].subject, "v2 {{ payload.id }}");
    const versions = await call(`/v1/workflows/${workflowKey}/versions`);
    assert.deepEqual(versions.body.items.map((item) => [item.version, item.name]), [[2, "Order v2"], [1, "Order"]]);
    assert.ok((await call("/v1/workflows")).body.items.some((item) => item.key === workflowKey && item.version === 2));

    const deleted = await call(`/v1/workflows/${workflowKey}`, { method: "DELETE" });
    assert.deepEqual(deleted.body, { key: workflowKey, deleted: true });
    expectError(assert, await call(`/v1/workflows/${workflowKey}`), 404, "workflow_not_found");
    expectError(assert, await call(`/v1/workflows/${workflowKey}/versions`), 404, "workflow_not_found");
  });

  it("renders the subscriber's profile, avatar and buttons into the feed", async () => {
    const workflowKey = freshKey("shipped");
    const put = await call(`/v1/workflows/${workflowKey}`, {
      method: "PUT",
      body: {
        name: "Shipped",
        steps: [inApp("Hi {{ subscriber.first_name }}, order {{ payload.order.id }} shipped", "{% if payload.express %}Express{% else %}Standard{% endif %} delivery to {{ subscriber.data.city | upper }}", {
          avatar: "https://example.com/{{ actor.name | lower }}.png",
          actions: [{ label: "Track {{ payload.order.id }}", url: "https://example.com/t/{{ payload.order.id }}" }],
        })],
      },
    });
    assert.equal(put.status, 201, JSON.stringify(put.body));
    const subscriber = freshSubscriber("profile-render");
    await call(`/v1/subscribers/${subscriber}`, { method: "PUT", body: { first_name: "Grace", data: { city: "Arlington" } } });
    const triggered = await call("/v1/events/trigger", {
      method: "POST",
      body: { workflow: workflowKey, to: subscriber, payload: { order: { id: 77 }, express: true }, actor: { name: "Shop" } },
    });
    assert.equal(triggered.status, 202, JSON.stringify(triggered.body));
    const [item] = (await call(`/v1/subscribers/${subscriber}/feed`)).body.items;
    assert.equal(item.subject, "Hi Grace, order 77 shipped");
    assert.equal(item.body, "Express delivery to ARLINGTON");
    assert.equal(item.avatar, "https://example.com/shop.png");
    assert.deepEqual(item.actions, [{ label: "Track 77", url: "https://example.com/t/77" }]);

    const missing = await call("/v1/events/trigger", { method: "POST", body: { workflow: workflowKey, to: subscriber, payload: {} } });
    const error = expectError(assert, missing, 422, "template_render_failed");
    assert.match(error.message, /payload\.order\.id/);
  });

  it("checks templates and fields when saving, naming the field", async () => {
    const workflowKey = freshKey("bad");
    const put = (body) => call(`/v1/workflows/${workflowKey}`, { method: "PUT", body });
    const cases = [
      [{ name: "x", steps: [inApp("{% if %}")] }, "steps.0.subject"],
      [{ name: "x", steps: [inApp("ok", "{{ unclosed")] }, "steps.0.body"],
      [{ name: "x", steps: [] }, "steps"],
      [{ name: "", steps: [inApp("s")] }, "name"],
      [{ name: "x", steps: [inApp("s", "b", { actions: [1, 2, 3, 4].map((n) => ({ label: `${n}`, url: "u" })) })] }, "steps.0.actions"],
      [{ key: "other", name: "x", steps: [inApp("s")] }, "key"],
    ];
    for (const [body, field] of cases) {
      assert.equal(expectError(assert, await put(body), 400, "validation_failed").field, field, JSON.stringify(body));
    }
    expectError(assert, await put({ name: "x", steps: [{ type: "sms", body: "b" }] }), 400, "validation_failed");
    const webhook = await put({ name: "x", steps: [{ type: "webhook", integration: "Not An Id", body: "{}" }] });
    assert.equal(expectError(assert, webhook, 400, "validation_failed").field, "steps.0.integration");
    const notTemplate = await put({ name: "x", steps: [{ type: "webhook", integration: "hook", body: "{{ open" }] });
    assert.equal(expectError(assert, notTemplate, 400, "validation_failed").field, "steps.0.body");
    expectError(assert, await call(`/v1/workflows/${workflowKey}`), 404, "workflow_not_found");
    expectError(assert, await call("/v1/workflows/Not%20A%20Key"), 400, "validation_failed");
  });

  it("validates trigger payloads against the workflow's schema, naming the failing path", async () => {
    const workflowKey = freshKey("schema");
    const payload_schema = {
      type: "object",
      required: ["order"],
      properties: { order: { type: "object", required: ["id"], properties: { id: { type: "integer", minimum: 1 } } } },
    };
    const saved = await call(`/v1/workflows/${workflowKey}`, {
      method: "PUT",
      body: { name: "Schema", payload_schema, steps: [inApp("Order {{ payload.order.id }}")] },
    });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    const subscriber = freshSubscriber("schema");
    const send = (payload) => call("/v1/events/trigger", { method: "POST", body: { workflow: workflowKey, to: subscriber, payload } });
    const cases = [
      [{}, "payload.order"],
      [{ order: { id: "7" } }, "payload.order.id"],
      [{ order: { id: 0 } }, "payload.order.id"],
    ];
    for (const [payload, field] of cases) {
      assert.equal(expectError(assert, await send(payload), 422, "payload_invalid").field, field, JSON.stringify(payload));
    }
    assert.equal((await call(`/v1/subscribers/${subscriber}/feed`)).status, 200);
    assert.equal((await call(`/v1/subscribers/${subscriber}/feed`)).body.counts.total, 0);
    assert.equal((await send({ order: { id: 7 } })).status, 202);
    assert.equal((await call(`/v1/subscribers/${subscriber}/feed`)).body.items[0].subject, "Order 7");

    const unsupported = await call(`/v1/workflows/${workflowKey}`, {
      method: "PUT",
      body: { name: "Schema", payload_schema: { type: "object", properties: { id: { pattern: "^a" } } }, steps: [inApp("s")] },
    });
    const error = expectError(assert, unsupported, 400, "validation_failed");
    assert.equal(error.field, "payload_schema");
    assert.match(error.message, /pattern/);
  });

  it("keeps production read-only", async () => {
    const production = (path, options = {}) => api(path, { key: keys.production.secret_key, ...options });
    const body = { name: "Sneaky", steps: [inApp("s")] };
    expectError(assert, await production("/v1/workflows/welcome", { method: "PUT", body }), 403, "environment_read_only");
    expectError(assert, await production("/v1/workflows", { method: "POST", body: { key: "sneaky", ...body } }), 403, "environment_read_only");
    expectError(assert, await production("/v1/workflows/welcome", { method: "DELETE" }), 403, "environment_read_only");
    const welcome = await production("/v1/workflows/welcome");
    assert.equal(welcome.status, 200);
    assert.equal(welcome.body.name, "Welcome");
    assert.equal(welcome.body.version, 1);
  });

  it("lets members edit and test-send workflows from the console, never in production", async () => {
    const workflowKey = freshKey("console");
    const body = { name: "From the console", steps: [inApp("Hello {{ payload.name }}")] };
    const saved = await admin(`/v1/environments/development/workflows/${workflowKey}`, { method: "PUT", body });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    const listed = await admin("/v1/environments/development/workflows");
    assert.ok(listed.body.items.some((workflow) => workflow.key === workflowKey));
    // The same workflow, seen with the environment's secret key.
    assert.equal((await call(`/v1/workflows/${workflowKey}`)).body.name, "From the console");

    const subscriber = freshSubscriber("console");
    const sent = await admin(`/v1/environments/development/workflows/${workflowKey}/test`, {
      method: "POST",
      body: { to: [subscriber], payload: { name: "Ada" } },
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const feed = await call(`/v1/subscribers/${subscriber}/feed`);
    assert.deepEqual(feed.body.items.map((item) => item.subject), ["Hello Ada"]);
    expectError(assert, await admin(`/v1/environments/development/workflows/${workflowKey}/test`, {
      method: "POST",
      body: { to: [subscriber], payload: {} },
    }), 422, "template_render_failed");
    expectError(assert, await admin(`/v1/environments/development/workflows/${workflowKey}/test`, {
      method: "POST",
      body: { workflow: "other", to: [subscriber] },
    }), 400, "validation_failed");

    expectError(assert, await admin(`/v1/environments/production/workflows/${workflowKey}`, { method: "PUT", body }), 403, "environment_read_only");
    expectError(assert, await admin(`/v1/environments/production/workflows/welcome/test`, {
      method: "POST",
      body: { to: [subscriber] },
    }), 403, "environment_read_only");
    const deleted = await admin(`/v1/environments/development/workflows/${workflowKey}`, { method: "DELETE" });
    assert.equal(deleted.status, 200);
    // Each member write and test send is in the audit log, with who did it; recipients only counted.
    const audit = await admin("/v1/environments/development/audit-log?limit=100");
    const ours = audit.body.items.filter((entry) => entry.resource === `workflow:${workflowKey}`);
    assert.deepEqual(ours.map((entry) => [entry.action, entry.actor]).reverse(), [
      ["workflow.save", "admin"], ["workflow.test", "admin"], ["workflow.delete", "admin"],
    ]);
    assert.ok(!JSON.stringify(ours).includes(subscriber), "a subscriber id reached the audit log");
    // Each entry is written in the transaction of its change: the save's names the version it stored.
    assert.deepEqual(ours.map((entry) => entry.summary).reverse(), [{ after: { version: 1 } }, { recipients: 1 }, {}]);
    expectError(assert, await admin(`/v1/environments/development/workflows/${workflowKey}`, { method: "DELETE" }), 404, "workflow_not_found");
    // Refused writes and test sends leave no entry.
    const after = await admin("/v1/environments/development/audit-log?limit=100");
    assert.equal(after.body.items.filter((entry) => entry.resource === `workflow:${workflowKey}`).length, 3);
  });
});
