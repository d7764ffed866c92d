// Integrations and webhook steps over HTTP, delivered for real to a local
// HTTP receiver on 127.0.0.1: rendered body, HMAC signature, outcomes in
// the logs, and secrets that never come back out (retries, the sweep and
// replays: deliveries.test.mjs).
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { after, before, describe, it } from "node:test";
import { api, expectError, freshSubscriber, keys, waitFor } from "./support/context.mjs";

const key = keys.development.secret_key;
const call = (path, options = {}) => api(path, { key, ...options });
const secret = `whsec_${randomBytes(16).toString("hex")}`;
const received = [];
let receiver;
let receiverUrl;

before(async () => {
  receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ headers: request.headers, body, path: request.url });
      response.writeHead(200).end("ok");
    });
  });
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${receiver.address().port}`;
});
after(() => new Promise((resolve) => receiver.close(resolve)));

describe("integrations and webhooks", () => {
  const integration = `crm-${randomBytes(4).toString("hex")}`;
  const workflow = `hooked-${randomBytes(4).toString("hex")}`;

  it("stores an integration without ever returning its secret", async () => {
    const created = await call("/v1/integrations", {
      method: "POST",
      body: { id: integration, kind: "webhook", name: "CRM", url: `${receiverUrl}/hook`, signing_secret: secret },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.has_signing_secret, true);
    for (const response of [created, await call(`/v1/integrations/${integration}`), await call("/v1/integrations")]) {
      assert.ok(!JSON.stringify(response.body).includes(secret), "the secret leaked");
      assert.ok(!JSON.stringify(response.body).includes("signing_secret\":\""), "a secret field leaked");
    }
    // Renaming keeps the secret.
    const renamed = await call(`/v1/integrations/${integration}`, { method: "PUT", body: { kind: "webhook", name: "CRM 2", url: `${receiverUrl}/hook` } });
    assert.deepEqual([renamed.status, renamed.body.name, renamed.body.has_signing_secret], [200, "CRM 2", true]);
    expectError(assert, await call("/v1/integrations", { method: "POST", body: { id: integration, kind: "webhook", name: "x", url: receiverUrl, signing_secret: secret } }), 409, "integration_exists");
    const bad = [
      [{ id: "x1", kind: "email", name: "x", url: receiverUrl, signing_secret: secret }, "kind"],
      [{ id: "x1", kind: "webhook", name: "x", url: "ftp://x", signing_secret: secret }, "url"],
      [{ id: "x1", kind: "webhook", name: "x", url: receiverUrl, signing_secret: "short" }, "signing_secret"],
      [{ id: "x1", kind: "webhook", name: "x", url: receiverUrl }, "signing_secret"],
      [{ id: "Bad Id", kind: "webhook", name: "x", url: receiverUrl, signing_secret: secret }, "id"],
    ];
    for (const [body, field] of bad) {
      assert.equal(expectError(assert, await call("/v1/integrations", { method: "POST", body }), 400, "validation_failed").field, field);
    }
    // Secrets never cross environments: staging has no such integration.
    expectError(assert, await api(`/v1/integrations/${integration}`, { key: keys.staging.secret_key }), 404, "integration_not_found");
  });

  it("POSTs the rendered body, signed, and logs the delivery", async () => {
    const saved = await call(`/v1/workflows/${workflow}`, {
      method: "PUT",
      body: {
        name: "Hooked",
        steps: [
          { type: "in_app", subject: "Order {{ payload.order }}", body: "b" },
          { type: "webhook", integration, body: "{\"order\": {{ payload.order }}, \"user\": {{ subscriber.id | tojson }}}" },
        ],
      },
    });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    const subscriber = freshSubscriber("hooked");
    const before = received.length;
    const sent = await call("/v1/events/trigger", { method: "POST", body: { workflow, to: subscriber, payload: { order: 42 } } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(sent.body.deliveries.length, 1);
    const delivery = await waitFor(() => received.slice(before).find((entry) => entry.headers["tidings-delivery-id"] === sent.body.deliveries[0].id), "the webhook");
    assert.equal(delivery.path, "/hook");
    assert.deepEqual(JSON.parse(delivery.body), { order: 42, user: subscriber });
    assert.equal(delivery.headers["tidings-transaction-id"], sent.body.transaction_id);
    const [, timestamp, signature] = delivery.headers["tidings-signature"].match(/^t=(\d+),v1=([0-9a-f]{64})$/);
    assert.equal(signature, createHmac("sha256", secret).update(`${timestamp}.${delivery.body}`).digest("hex"));
    assert.ok(Math.abs(Number(timestamp) - Date.now() / 1000) < 60);

    const logged = await waitFor(async () => {
      const entries = (await call(`/v1/logs?workflow=${workflow}&status=delivered`)).body.items;
      return entries.length ? entries : null;
    }, "the delivery log");
    assert.deepEqual([logged[0].step, logged[0].detail.attempts, logged[0].detail.status_code], ["webhook", 1, 200]);
    assert.equal((await call(`/v1/subscribers/${subscriber}/feed`)).body.items[0].subject, "Order 42");
  });

  it("lets no payload value add a field to the signed body", async () => {
    const quoted = `${workflow}-quoted`;
    const saved = await call(`/v1/workflows/${quoted}`, {
      method: "PUT",
      body: { name: "Quoted", steps: [{ type: "in_app", subject: "s", body: "b" }, { type: "webhook", integration, body: "{\"note\": \"{{ payload.note }}\", \"order\": {{ payload.order }}}" }] },
    });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    const note = 'thanks", "refund": true, "amount": "9999';
    const before = received.length;
    const sent = await call("/v1/events/trigger", { method: "POST", body: { workflow: quoted, to: freshSubscriber("quoted"), payload: { note, order: 7 } } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const delivery = await waitFor(() => received.slice(before).find((entry) => entry.headers["tidings-delivery-id"] === sent.body.deliveries[0].id), "the webhook");
    assert.deepEqual(JSON.parse(delivery.body), { note, order: 7 }, "the value stays one string");
    // Where a string stands bare it cannot make fields either: the body is not JSON, and the trigger is refused.
    const bare = await call("/v1/events/trigger", { method: "POST", body: { workflow: quoted, to: freshSubscriber("bare"), payload: { note: "n", order: '1, "refund": true' } } });
    expectError(assert, bare, 422, "template_render_failed");
    await call(`/v1/workflows/${quoted}`, { method: "DELETE" });
  });

  it("delivers to many recipients, each with its own delivery", async () => {
    const recipients = [freshSubscriber("many-a"), freshSubscriber("many-b"), freshSubscriber("many-c")];
    const sent = await call("/v1/events/trigger", { method: "POST", body: { workflow, to: recipients, payload: { order: 9 } } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const ids = sent.body.deliveries.map((delivery) => delivery.id);
    assert.equal(new Set(ids).size, 3);
    for (const id of ids) {
      const entry = await waitFor(async () => (await call(`/v1/logs?workflow=${workflow}&status=delivered`)).body.items.find((item) => item.id === id), "each delivery");
      assert.equal(entry.detail.status_code, 200);
    }
  });

  it("refuses a trigger whose workflow needs an integration the environment lacks", async () => {
    const lonely = `lonely-${randomBytes(4).toString("hex")}`;
    await call(`/v1/workflows/${lonely}`, { method: "PUT", body: { name: "L", steps: [{ type: "webhook", integration: "nowhere", body: "{}" }] } });
    const subscriber = freshSubscriber("lonely");
    const refused = await call("/v1/events/trigger", { method: "POST", body: { workflow: lonely, to: subscriber } });
    assert.equal(expectError(assert, refused, 422, "integration_not_found").field, "workflow");
    assert.match(refused.body.error.message, /nowhere/);
    const notJson = await call(`/v1/workflows/${lonely}`, { method: "PUT", body: { name: "L", steps: [{ type: "webhook", integration, body: "{{ payload.text }}" }] } });
    assert.equal(notJson.status, 200);
    const broken = await call("/v1/events/trigger", { method: "POST", body: { workflow: lonely, to: subscriber, payload: { text: "plain words" } } });
    assert.match(expectError(assert, broken, 422, "template_render_failed").message, /not JSON/);
  });
});
