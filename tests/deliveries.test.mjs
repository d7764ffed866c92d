// Webhook deliveries that survive, driven through workerd's real Queue and
// Cron Trigger: the trigger hands each delivery to the queue after its
// commit, the consumer sends it; a lost hand-off is found by the sweep
// (`/__scheduled`, fired with a chosen time: the injectable clock); failed
// attempts retry on the schedule until `dead`; replays are idempotent; a
// queue message naming another environment or not sealed by the deployment
// is refused. A receiver on 127.0.0.1 counts what arrives, by delivery id.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { after, before, describe, it } from "node:test";
import { api, apiUrl, expectError, freshSubscriber, keys, waitFor } from "./support/context.mjs";

const key = keys.development.secret_key;
const call = (path, options = {}) => api(path, { key, ...options });
const HOUR = 3_600_000;
const suffix = randomBytes(4).toString("hex");

/** What arrived, per delivery id, and how each path answers. */
const arrivals = new Map();
const answers = new Map();
let receiverUrl;
let receiver;

/** Answers for `path`: a list of statuses taken in turn, then `then` forever. */
function answer(path, statuses, then = 200, headers = {}) {
  answers.set(path, { statuses: [...statuses], then, headers });
}

before(async () => {
  receiver = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const id = request.headers["tidings-delivery-id"];
      arrivals.set(id, [...(arrivals.get(id) ?? []), { attempt: request.headers["tidings-delivery-attempt"], body }]);
      const plan = answers.get(request.url) ?? { statuses: [], then: 200, headers: {} };
      const status = plan.statuses.length ? plan.statuses.shift() : plan.then;
      response.writeHead(status, status === 200 ? {} : plan.headers).end(String(status));
    });
  });
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${receiver.address().port}`;
});
after(() => new Promise((resolve) => receiver.close(resolve)));

/** An integration posting to `path` of the receiver, and a workflow with one webhook step to it. */
async function webhookWorkflow(label) {
  const integration = `${label}-${suffix}`;
  const created = await call("/v1/integrations", {
    method: "POST",
    body: { id: integration, kind: "webhook", name: label, url: `${receiverUrl}/${label}`, signing_secret: `whsec_${randomBytes(16).toString("hex")}` },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const workflow = `hook-${label}-${suffix}`;
  const saved = await call(`/v1/workflows/${workflow}`, {
    method: "PUT",
    body: { name: label, steps: [{ type: "webhook", integration, body: "{\"n\": {{ payload.n }}}" }] },
  });
  assert.equal(saved.status, 201, JSON.stringify(saved.body));
  return { integration, workflow, path: `/${label}` };
}

async function trigger(workflow, { faults, n = 1, to = [freshSubscriber("hook")] } = {}) {
  const headers = faults ? { "Tidings-Inject-Faults": faults } : {};
  const sent = await call("/v1/events/trigger", { method: "POST", body: { workflow, to, payload: { n } }, headers });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  return sent.body.deliveries.map((delivery) => delivery.id);
}

const delivery = async (id) => {
  const response = await call(`/v1/deliveries/${id}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
};

/** Polls a delivery until `check` holds (up to 20 s), and answers it. */
const until = (id, check, what) => waitFor(async () => {
  const state = await delivery(id);
  return check(state) ? state : null;
}, what);

/** Fires the Cron Trigger as if it ran at `time` (ms): the test stack's clock, `clock <ms>` as the cron text. */
async function sweep(time) {
  const response = await fetch(`${apiUrl}/__scheduled?cron=clock+${time}`);
  assert.equal(response.status, 200, await response.text());
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** The flaky delivery, whose delayed retry arrives after the sweep made that attempt. */
const flakyRun = {};
const received = (id) => arrivals.get(id)?.length ?? 0;

describe("deliveries", () => {
  let quick;
  before(async () => {
    quick = await webhookWorkflow("quick");
  });

  it("hands a delivery to the queue and sends it once, with its id and attempt", async () => {
    const [id] = await trigger(quick.workflow, { n: 1 });
    const done = await until(id, (state) => state.status === "delivered", "the delivery");
    assert.deepEqual([done.attempts, done.last_status, done.next_attempt_at], [1, 200, null]);
    assert.deepEqual(done.history.map((attempt) => [attempt.attempt, attempt.outcome, attempt.status_code]), [[1, "delivered", 200]]);
    assert.equal(received(id), 1);
    assert.deepEqual(arrivals.get(id)[0], { attempt: "1", body: "{\"n\": 1}" });
  });

  it("finds a delivery whose hand-off was lost (the isolate ended after the commit) and sends it exactly once", async () => {
    const [id] = await trigger(quick.workflow, { faults: "handoff=drop", n: 2 });
    await sleep(1500);
    const waiting = await delivery(id);
    assert.deepEqual([waiting.status, waiting.attempts, received(id)], ["pending", 0, 0]);
    // A sweep within the grace period leaves it alone; one after it hands it off.
    await sweep(Date.now());
    await sleep(1000);
    assert.equal(received(id), 0, "swept before its grace period ended");
    await sweep(Date.now() + 2 * 60_000);
    await until(id, (state) => state.status === "delivered", "the swept delivery");
    await sweep(Date.now() + 5 * 60_000);
    await sleep(1000);
    assert.equal(received(id), 1);
  });

  it("refuses queue messages that name another environment or are not sealed by the deployment", async () => {
    const ids = [
      ...(await trigger(quick.workflow, { faults: "handoff=misroute", n: 3 })),
      ...(await trigger(quick.workflow, { faults: "handoff=forge", n: 4 })),
    ];
    await sleep(2000);
    for (const id of ids) {
      const state = await delivery(id);
      assert.deepEqual([state.status, state.attempts, received(id)], ["pending", 0, 0], id);
    }
    // The environment named in the misrouted message never learns of it.
    for (const id of ids) expectError(assert, await api(`/v1/deliveries/${id}`, { key: keys.staging.secret_key }), 404, "delivery_not_found");
    await sweep(Date.now() + 2 * 60_000);
    for (const id of ids) await until(id, (state) => state.status === "delivered", "the refused hand-offs, swept");
    assert.deepEqual(ids.map(received), [1, 1]);
  });

  it("retries a receiver that answers 503 on the schedule, and delivers once it recovers", async () => {
    const flaky = await webhookWorkflow("flaky");
    answer(flaky.path, [503, 503], 200, { "Retry-After": "30" });
    const [id] = await trigger(flaky.workflow, { n: 5 });
    const first = await until(id, (state) => state.attempts === 1 && state.last_status === 503, "the first attempt");
    Object.assign(flakyRun, { id, retryDue: Date.parse(first.next_attempt_at) });
    assert.equal(first.status, "pending");
    assert.equal(first.last_error, "http_status_503");
    // Retry-After: 30 outweighs the schedule's first wait (10 s ± 10 %).
    const wait = Date.parse(first.next_attempt_at) - Date.parse(first.history[0].at);
    assert.ok(wait >= 30_000 && wait < 40_000, `next attempt after ${wait} ms`);
    let clock = Date.now();
    for (const attempts of [2, 3]) {
      clock += 2 * HOUR;
      await sweep(clock);
      await until(id, (state) => state.attempts === attempts && state.history.length === attempts, `attempt ${attempts}`);
    }
    const done = await delivery(id);
    assert.equal(done.status, "delivered");
    assert.deepEqual(done.history.map((attempt) => attempt.outcome), ["retryable", "retryable", "delivered"]);
    assert.deepEqual(arrivals.get(id).map((arrival) => arrival.attempt), ["1", "2", "3"]);
  });

  it("runs the whole schedule to dead, keeps every attempt, holds the integration's next deliveries, and a replay then delivers it", async () => {
    const down = await webhookWorkflow("down");
    answer(down.path, [], 500);
    const [id] = await trigger(down.workflow, { n: 6 });
    await until(id, (state) => state.attempts === 1, "the first attempt");
    let clock = Date.now();
    for (let attempts = 2; attempts <= 9; attempts += 1) {
      clock += 2 * 24 * HOUR;
      await sweep(clock);
      await until(id, (state) => state.history.length === attempts, `attempt ${attempts}`);
    }
    const dead = await until(id, (state) => state.status === "dead", "the dead delivery");
    assert.deepEqual([dead.attempts, dead.last_status, dead.last_error, dead.next_attempt_at], [9, 500, "http_status_500", null]);
    assert.equal(received(id), 9);
    const logs = (await call(`/v1/logs?workflow=${down.workflow}&status=failed`)).body.items;
    assert.equal(logs.find((entry) => entry.id === id)?.detail.delivery_status, "dead");
    const listed = await call(`/v1/deliveries?status=dead&integration=${down.integration}`);
    assert.deepEqual(listed.body.items.map((item) => item.id), [id]);

    // Nine failures in a row opened the integration's breaker: a new delivery waits, unsent.
    const health = (await call(`/v1/integrations/${down.integration}`)).body.health;
    assert.deepEqual([health.consecutive_failures, health.failing], [9, true]);
    const [held] = await trigger(down.workflow, { n: 60 });
    await sleep(1500);
    const waiting = await delivery(held);
    assert.deepEqual([waiting.status, waiting.attempts, received(held)], ["pending", 0, 0]);
    assert.equal(waiting.next_attempt_at, health.held_until, "held until the breaker lets it through");

    answer(down.path, [], 200);
    const replayed = await call(`/v1/deliveries/${id}/replay`, { method: "POST" });
    assert.deepEqual([replayed.status, replayed.body.replayed], [200, [id]]);
    // The integration's breaker opened during the schedule; it has cooled down by a later sweep.
    await sweep(clock + 2 * 24 * HOUR);
    const back = await until(id, (state) => state.status === "delivered", "the replayed delivery");
    assert.deepEqual([back.attempts, back.replays], [10, 1]);
    assert.equal(received(id), 10);
    await until(held, (state) => state.status === "delivered", "the held delivery, once the breaker let it through");
    assert.equal(received(held), 1);
    const healed = (await call(`/v1/integrations/${down.integration}`)).body.health;
    assert.deepEqual([healed.consecutive_failures, healed.failing, healed.held_until], [0, false, null]);
    // The same replay again changes nothing.
    const again = await call(`/v1/deliveries/${id}/replay`, { method: "POST" });
    assert.deepEqual([again.status, again.body.replayed], [200, []]);
  });

  it("replays dead deliveries in bulk by filter, once however often the request is repeated", async () => {
    const gone = await webhookWorkflow("gone");
    answer(gone.path, [410, 410], 200);
    const ids = await trigger(gone.workflow, { to: [freshSubscriber("gone-a"), freshSubscriber("gone-b")], n: 7 });
    for (const id of ids) {
      const dead = await until(id, (state) => state.status === "dead", "a delivery refused for good");
      assert.deepEqual([dead.attempts, dead.last_error, dead.history[0].outcome], [1, "http_status_410", "final"]);
    }
    // A refusal about one payload (410) says nothing of the receiver's health.
    assert.equal((await call(`/v1/integrations/${gone.integration}`)).body.health.consecutive_failures, 0);
    const filter = { integration: gone.integration, since: new Date(Date.now() - HOUR).toISOString() };
    const [first, second] = [
      await call("/v1/deliveries/replay", { method: "POST", body: filter }),
      await call("/v1/deliveries/replay", { method: "POST", body: filter }),
    ];
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual([...first.body.replayed].sort(), [...ids].sort());
    assert.deepEqual(second.body.replayed, []);
    for (const id of ids) await until(id, (state) => state.status === "delivered", "the replayed deliveries");
    assert.deepEqual(ids.map(received), [2, 2]);
  });

  it("forgets a deleted subscriber's deliveries: nothing is sent, listed or replayed for them afterwards", async () => {
    const subscriber = freshSubscriber("forgotten");
    const [delivered] = await trigger(quick.workflow, { to: [subscriber], n: 9 });
    await until(delivered, (state) => state.status === "delivered", "the delivery");
    // A second one waits for the sweep (its hand-off dropped) when the subscriber is deleted.
    const [waiting] = await trigger(quick.workflow, { to: [subscriber], faults: "handoff=drop", n: 10 });
    assert.equal((await call(`/v1/subscribers/${subscriber}`, { method: "DELETE" })).status, 200);
    await sweep(Date.now() + 2 * 60_000);
    await sleep(1500);
    assert.equal(received(waiting), 0, "a deleted subscriber's delivery was sent");
    for (const id of [delivered, waiting]) {
      expectError(assert, await call(`/v1/deliveries/${id}`), 404, "delivery_not_found");
      expectError(assert, await call(`/v1/deliveries/${id}/replay`, { method: "POST" }), 404, "delivery_not_found");
    }
    const listed = await call(`/v1/deliveries?integration=${quick.integration}&limit=100`);
    assert.ok(!listed.body.items.some((item) => [delivered, waiting].includes(item.id)));
  });

  it("refuses bad filters, unknown deliveries and other environments' deliveries with typed errors", async () => {
    for (const [query, field] of [["status=lost", "status"], ["limit=0", "limit"], ["integration=Bad%20Id", "integration"], ["color=red", "query"]]) {
      assert.equal(expectError(assert, await call(`/v1/deliveries?${query}`), 400, "validation_failed").field, field, query);
    }
    assert.equal(expectError(assert, await call("/v1/deliveries/replay", { method: "POST", body: { limit: 501 } }), 400, "validation_failed").field, "limit");
    expectError(assert, await call("/v1/deliveries/replay", { method: "POST", body: { status: "delivered" } }), 400, "validation_failed");
    expectError(assert, await call("/v1/deliveries/nope"), 404, "delivery_not_found");
    expectError(assert, await call("/v1/deliveries/nope/replay", { method: "POST" }), 404, "delivery_not_found");
    const [id] = await trigger(quick.workflow, { n: 8 });
    expectError(assert, await api(`/v1/deliveries/${id}`, { key: keys.staging.secret_key }), 404, "delivery_not_found");
    expectError(assert, await api(`/v1/deliveries/${id}/replay`, { key: keys.staging.secret_key, method: "POST" }), 404, "delivery_not_found");
    expectError(assert, await api("/v1/deliveries", { key: keys.development.publishable_key }), 403, "secret_key_required");
  });

  it("sends nothing again when a delayed retry arrives after the sweep already made its attempt", async () => {
    // The flaky delivery's first retry went on the queue with a 30 s delay;
    // the sweep made that attempt (and the next) long before. Once the
    // delayed message has come, the receiver still has three attempts.
    await sleep(Math.max(0, flakyRun.retryDue + 3000 - Date.now()));
    const state = await delivery(flakyRun.id);
    assert.deepEqual([state.status, state.attempts, received(flakyRun.id)], ["delivered", 3, 3]);
  });
});
