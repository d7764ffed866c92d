// Test mode outside production: with `deliver_only_to` set, webhook
// deliveries reach only the listed subscribers and email domains; the rest
// are logged as `suppressed` (reason `test_mode`) and never sent, or sent to
// a catch-all integration instead. The in-app feed is unaffected. Delivered
// for real to a local receiver, through the worker in workerd.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { after, before, describe, it } from "node:test";
import { admin, api, expectError, freshSubscriber, keys, waitFor } from "./support/context.mjs";

const key = keys.development.secret_key;
const call = (path, options = {}) => api(path, { key, ...options });
const tag = randomBytes(4).toString("hex");
const received = [];
let receiver;
let receiverUrl;
const integration = `tm-main-${tag}`;
const catchAll = `tm-catch-${tag}`;
const workflow = `tm-flow-${tag}`;
const gone = `tm-gone-${tag}`;
const goneFlow = `tm-gone-flow-${tag}`;

before(async () => {
  receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ path: request.url, body: JSON.parse(body) });
      response.writeHead(request.url === "/gone" ? 410 : 200).end("ok");
    });
  });
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${receiver.address().port}`;
  for (const [id, path] of [[integration, "/main"], [catchAll, "/catch"], [gone, "/gone"]]) {
    const created = await call("/v1/integrations", {
      method: "POST",
      body: { id, kind: "webhook", name: id, url: `${receiverUrl}${path}`, signing_secret: `whsec_${randomBytes(16).toString("hex")}` },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  }
  const saved = await call(`/v1/workflows/${workflow}`, {
    method: "PUT",
    body: {
      name: "Test mode",
      steps: [
        { type: "in_app", subject: "Hello {{ subscriber.subscriber_id }}", body: "b" },
        { type: "webhook", integration, body: "{\"to\": \"{{ subscriber.subscriber_id }}\"}" },
      ],
    },
  });
  assert.ok([200, 201].includes(saved.status), JSON.stringify(saved.body));
  const hooked = await call(`/v1/workflows/${goneFlow}`, {
    method: "PUT",
    body: { name: "Gone", steps: [{ type: "webhook", integration: gone, body: "{\"to\": \"{{ subscriber.subscriber_id }}\"}" }] },
  });
  assert.ok([200, 201].includes(hooked.status), JSON.stringify(hooked.body));
});

after(async () => {
  // Test mode off again, whatever happened, so later files deliver as before.
  await admin("/v1/environments/development", { method: "PATCH", body: { deliver_only_to: null, catch_all_integration: null } });
  await new Promise((resolve) => receiver.close(resolve));
});

const settings = (body, environment = "development") => admin(`/v1/environments/${environment}`, { method: "PATCH", body });
const sentTo = (path) => received.filter((request) => request.path === path).map((request) => request.body.to);

async function trigger(to) {
  const response = await call("/v1/events/trigger", { method: "POST", body: { workflow, to } });
  assert.equal(response.status, 202, JSON.stringify(response.body));
  return response.body;
}

describe("test mode", () => {
  const earlier = freshSubscriber(`tm-earlier-${tag}`);
  let deadDelivery;
  const allowed = freshSubscriber(`tm-allowed-${tag}`);
  const byDomain = freshSubscriber(`tm-domain-${tag}`);
  const outsider = freshSubscriber(`tm-outsider-${tag}`);

  it("leaves a delivery made before test mode dead, to replay later", async () => {
    const sent = await call("/v1/events/trigger", { method: "POST", body: { workflow: goneFlow, to: [earlier] } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    deadDelivery = sent.body.deliveries[0].id;
    await waitFor(async () => (await call(`/v1/deliveries/${deadDelivery}`)).body.status === "dead", "the delivery did not die");
    assert.equal(sentTo("/gone").filter((to) => to === earlier).length, 1);
  });

  it("delivers only to listed subscribers and domains, logs the rest as suppressed and never sends it", async () => {
    const on = await settings({ deliver_only_to: [allowed, "@QA.example.com"] });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    assert.deepEqual(on.body.deliver_only_to, [allowed, "@qa.example.com"]);
    const answer = await trigger([allowed, { subscriber_id: byDomain, email: `tester@qa.example.com` }, { subscriber_id: outsider, email: "someone@example.com" }]);
    assert.deepEqual(answer.deliveries.map((delivery) => delivery.subscriber_id).sort(), [allowed, byDomain].sort());
    await waitFor(() => sentTo("/main").length >= 2, "the allowed deliveries");
    // The outsider's delivery was never made: not sent, not stored, logged as suppressed.
    assert.deepEqual(sentTo("/main").sort(), [allowed, byDomain].sort());
    const deliveries = (await call(`/v1/deliveries?integration=${integration}&limit=100`)).body.items;
    assert.deepEqual(deliveries.map((delivery) => delivery.subscriber_id).sort(), [allowed, byDomain].sort());
    const logs = (await call(`/v1/logs?subscriber_id=${outsider}&status=suppressed`)).body.items;
    assert.equal(logs.length, 1, JSON.stringify(logs));
    assert.deepEqual([logs[0].step, logs[0].detail.reason, logs[0].detail.integration, logs[0].detail.redirected_to], ["webhook", "test_mode", integration, null]);
    // The in-app feed is unaffected.
    for (const subscriber of [allowed, byDomain, outsider]) {
      const feed = await call(`/v1/subscribers/${subscriber}/feed`);
      assert.equal(feed.body.counts.total, 1, subscriber);
    }
  });

  it("checks every attempt: a delivery made before test mode, replayed, is suppressed, not sent", async () => {
    const replayed = await call(`/v1/deliveries/${deadDelivery}/replay`, { method: "POST" });
    assert.equal(replayed.status, 200, JSON.stringify(replayed.body));
    await waitFor(async () => {
      const delivery = (await call(`/v1/deliveries/${deadDelivery}`)).body;
      return delivery.status === "dead" && delivery.attempts === 2;
    }, "the replay was not settled");
    const delivery = (await call(`/v1/deliveries/${deadDelivery}`)).body;
    assert.equal(delivery.last_error, "test_mode", JSON.stringify(delivery));
    assert.equal(delivery.history.at(-1).error, "test_mode", JSON.stringify(delivery));
    assert.equal(sentTo("/gone").filter((to) => to === earlier).length, 1, "the replay reached the receiver");
    const logs = (await call(`/v1/logs?subscriber_id=${earlier}&status=suppressed`)).body.items;
    assert.equal(logs.length, 1, JSON.stringify(logs));
    assert.equal(logs[0].detail.reason, "test_mode");
  });

  it("sends the others' deliveries to a catch-all integration when there is one", async () => {
    const missing = await settings({ catch_all_integration: `nope-${tag}` });
    assert.equal(expectError(assert, missing, 400, "validation_failed").field, "catch_all_integration");
    const on = await settings({ catch_all_integration: catchAll });
    assert.equal(on.status, 200, JSON.stringify(on.body));
    assert.equal(on.body.catch_all_integration, catchAll);
    const second = freshSubscriber(`tm-caught-${tag}`);
    const answer = await trigger([{ subscriber_id: second, email: "someone@example.com" }]);
    assert.deepEqual(answer.deliveries.map((delivery) => delivery.integration), [catchAll]);
    await waitFor(() => sentTo("/catch").includes(second), "the catch-all delivery");
    assert.ok(!sentTo("/main").includes(second));
    const logs = (await call(`/v1/logs?subscriber_id=${second}&status=suppressed`)).body.items;
    assert.deepEqual([logs[0].detail.integration, logs[0].detail.redirected_to], [integration, catchAll]);
    // At send time too: the delivery suppressed earlier, replayed now, goes to the catch-all and
    // belongs to it from then on (its breaker and history).
    assert.equal((await call(`/v1/deliveries/${deadDelivery}/replay`, { method: "POST" })).status, 200);
    await waitFor(() => sentTo("/catch").includes(earlier), "the replay did not reach the catch-all");
    await waitFor(async () => (await call(`/v1/deliveries/${deadDelivery}`)).body.status === "delivered", "the replay was not recorded");
    assert.equal((await call(`/v1/deliveries/${deadDelivery}`)).body.integration, catchAll);
    assert.equal(sentTo("/gone").filter((to) => to === earlier).length, 1, "the original receiver was reached again");
  });

  it("refuses production, bad entries and a catch-all without a list, changing nothing", async () => {
    const production = Object.keys(keys).find((name) => keys[name].type === "production");
    expectError(assert, await settings({ deliver_only_to: ["qa-1"] }, production), 400, "validation_failed");
    const bad = await settings({ deliver_only_to: ["qa-1", "@localhost"] });
    assert.equal(expectError(assert, bad, 400, "validation_failed").field, "deliver_only_to");
    assert.match(bad.body.error.message, /@localhost/);
    const staging = await settings({ catch_all_integration: catchAll }, "staging");
    assert.equal(expectError(assert, staging, 400, "validation_failed").field, "catch_all_integration");
    const current = (await admin("/v1/environments/development")).body;
    assert.deepEqual(current.deliver_only_to, [allowed, "@qa.example.com"]);
    assert.equal((await admin(`/v1/environments/${production}`)).body.deliver_only_to, null);
    expectError(assert, await admin("/v1/environments", { method: "POST", body: { name: `tm-${tag}`, type: "production", deliver_only_to: [] } }), 400, "validation_failed");
  });

  it("is audited, and delivers to everyone again once turned off", async () => {
    // Off takes its catch-all with it: turned on again later, nothing old comes back.
    const off = await settings({ deliver_only_to: null });
    assert.deepEqual([off.body.deliver_only_to, off.body.catch_all_integration], [null, null]);
    const entries = (await admin("/v1/environments/development/audit-log")).body.items.filter((entry) => entry.action === "environment.update");
    assert.ok(entries.some((entry) => Array.isArray(entry.summary.before.deliver_only_to) && entry.summary.after.deliver_only_to === null));
    const third = freshSubscriber(`tm-free-${tag}`);
    await trigger([third]);
    await waitFor(() => sentTo("/main").includes(third), "the delivery after test mode");
  });
});
