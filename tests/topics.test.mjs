// Topics and their fan-out through the FANOUTS queue: managing topics and
// members, a trigger to topics mixed with subscriber ids reaching each
// recipient exactly once over several pages, preferences, idempotency,
// progress on the transaction and in the logs, the sweep resuming a fan-out
// whose hand-off was lost (twice at once), and isolation between environments.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, it } from "node:test";
import { admin, api, apiUrl, expectError, freshSubscriber, keys, waitFor } from "./support/context.mjs";
import { queryLocal } from "./support/local-state.mjs";

const key = keys.development.secret_key;
const call = (path, options = {}) => api(path, { key, ...options });
const workflow = `topic-news-${randomBytes(4).toString("hex")}`;
const fresh = (label) => `${label}-${randomBytes(4).toString("hex")}`;
const trigger = (body, headers = {}) => call("/v1/events/trigger", { method: "POST", body, headers });
const putTopic = (topic, body = {}) => call(`/v1/topics/${topic}`, { method: "PUT", body });
const addMembers = (topic, subscribers) => call(`/v1/topics/${topic}/subscribers`, { method: "POST", body: { subscribers } });

/** Waits until the transaction's fan-out has finished; answers its state. */
async function finished(transactionId) {
  return waitFor(async () => {
    const state = await call(`/v1/transactions/${transactionId}`);
    assert.equal(state.status, 200, JSON.stringify(state.body));
    return state.body.status === "running" ? null : state.body;
  }, `fan-out ${transactionId}`);
}

/** The messages titled `headline` in a subscriber's feed (each test's headlines are its own). */
async function received(subscriber, headline) {
  const feed = await call(`/v1/subscribers/${subscriber}/feed?limit=100`);
  assert.equal(feed.status, 200, JSON.stringify(feed.body));
  return feed.body.items.filter((item) => item.subject === headline);
}

before(async () => {
  const saved = await call(`/v1/workflows/${workflow}`, {
    method: "PUT",
    body: {
      name: "News",
      payload_schema: { type: "object", properties: { headline: { type: "string" } }, required: ["headline"] },
      steps: [{ type: "in_app", subject: "{{ payload.headline }}", body: "for {{ subscriber.subscriber_id }}" }],
    },
  });
  assert.equal(saved.status, 201, JSON.stringify(saved.body));
});

describe("topics", () => {
  it("are created, renamed, listed in key order with a cursor, and deleted", async () => {
    const prefix = fresh("crud");
    const created = await putTopic(`${prefix}-b`, { name: "Team B" });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual([created.body.key, created.body.name, created.body.subscribers], [`${prefix}-b`, "Team B", 0]);
    assert.equal((await putTopic(`${prefix}-b`, { name: "Renamed" })).status, 200);
    assert.equal((await call(`/v1/topics/${prefix}-b`)).body.name, "Renamed");
    for (const suffix of ["a", "c"]) assert.equal((await putTopic(`${prefix}-${suffix}`)).status, 201);

    const seen = [];
    let after = null;
    do {
      const page = await call(`/v1/topics?limit=2${after ? `&after=${after}` : ""}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.ok(page.body.items.length <= 2);
      seen.push(...page.body.items.map((topic) => topic.key));
      after = page.body.page_info.has_more ? page.body.page_info.after : null;
    } while (after);
    assert.deepEqual(seen.filter((topic) => topic.startsWith(prefix)), [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
    assert.deepEqual(seen, [...seen].sort(), "key order");

    assert.equal((await call(`/v1/topics/${prefix}-a`, { method: "DELETE" })).status, 200);
    expectError(assert, await call(`/v1/topics/${prefix}-a`), 404, "topic_not_found");
    expectError(assert, await call(`/v1/topics/${prefix}-a`, { method: "DELETE" }), 404, "topic_not_found");
  });

  it("refuse bad keys, names, bodies and queries with typed errors", async () => {
    assert.equal(expectError(assert, await putTopic("has%20space"), 400, "validation_failed").field, "key");
    assert.equal(expectError(assert, await putTopic(fresh("long"), { name: "x".repeat(201) }), 400, "validation_failed").field, "name");
    expectError(assert, await putTopic(fresh("extra"), { name: "a", colour: "red" }), 400, "validation_failed");
    assert.equal(expectError(assert, await call("/v1/topics?limit=0"), 400, "validation_failed").field, "limit");
    assert.equal(expectError(assert, await call("/v1/topics?page=2"), 400, "validation_failed").field, "query");
    const topic = fresh("members-bad");
    await putTopic(topic);
    assert.equal(expectError(assert, await addMembers(topic, []), 400, "validation_failed").field, "subscribers");
    const tooMany = Array.from({ length: 1001 }, (_, index) => `s-${index}`);
    assert.equal(expectError(assert, await addMembers(topic, tooMany), 400, "validation_failed").field, "subscribers");
    assert.equal(expectError(assert, await addMembers(topic, ["ok", "bad id!"]), 400, "validation_failed").field, "subscribers.1");
    expectError(assert, await addMembers(fresh("missing"), ["ok"]), 404, "topic_not_found");
    assert.equal((await call(`/v1/topics/${topic}`)).body.subscribers, 0, "nothing was added by a refused request");
  });

  it("add and remove members in bulk, create unknown subscribers, and forget deleted ones", async () => {
    const topic = fresh("members");
    await putTopic(topic);
    const [known, newcomer, other] = [freshSubscriber("known"), freshSubscriber("new"), freshSubscriber("other")];
    await call(`/v1/subscribers/${known}`, { method: "PUT", body: { first_name: "Known" } });
    const added = await addMembers(topic, [known, newcomer, other, newcomer]);
    assert.equal(added.status, 200, JSON.stringify(added.body));
    assert.deepEqual(added.body, { topic, changed: 3, subscribers: 3 });
    assert.equal((await addMembers(topic, [known])).body.changed, 0, "adding twice changes nothing");
    assert.equal((await call(`/v1/subscribers/${newcomer}`)).status, 200, "an unknown id is created");
    assert.equal((await call(`/v1/subscribers/${known}`)).body.first_name, "Known", "a known profile is untouched");

    const first = await call(`/v1/topics/${topic}/subscribers?limit=2`);
    assert.equal(first.body.items.length, 2);
    assert.equal(first.body.page_info.has_more, true);
    const rest = await call(`/v1/topics/${topic}/subscribers?limit=2&after=${first.body.page_info.after}`);
    assert.deepEqual([...first.body.items, ...rest.body.items], [known, newcomer, other].sort());

    const removed = await call(`/v1/topics/${topic}/subscribers`, { method: "DELETE", body: { subscribers: [other, "never-a-member"] } });
    assert.deepEqual(removed.body, { topic, changed: 1, subscribers: 2 });
    assert.equal((await call(`/v1/subscribers/${newcomer}`, { method: "DELETE" })).status, 200);
    assert.deepEqual((await call(`/v1/topics/${topic}/subscribers`)).body.items, [known], "a deleted subscriber leaves its topics");
  });
});

describe("triggers to topics", () => {
  it("reach each recipient of overlapping topics and direct ids exactly once, and report progress", async () => {
    const [a, b] = [fresh("fan-a"), fresh("fan-b")];
    const people = Array.from({ length: 5 }, (_, index) => freshSubscriber(`fan${index}`));
    await putTopic(a);
    await putTopic(b);
    await addMembers(a, people.slice(0, 3));
    await addMembers(b, people.slice(2, 4));
    const direct = freshSubscriber("direct");
    const launch = fresh("Launch");
    const accepted = await trigger({ workflow, to: [{ topic: a }, people[0], { topic: b }, { subscriber_id: direct, first_name: "D" }], payload: { headline: launch } });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    assert.equal(accepted.body.status, "queued");
    assert.deepEqual(accepted.body.messages, []);
    assert.deepEqual(accepted.body.created_subscribers, [], "the direct recipient was given as a profile");
    const id = accepted.body.transaction_id;

    const state = await finished(id);
    assert.equal(state.status, "completed", JSON.stringify(state));
    assert.deepEqual(state.recipients, { done: 5, total: 5 });
    assert.deepEqual(state.topics, [a, b]);
    assert.equal(state.workflow, workflow);
    assert.ok(state.completed_at);
    for (const person of [...people.slice(0, 4), direct]) {
      assert.equal((await received(person, launch)).length, 1, `${person} has exactly one message`);
    }
    assert.equal((await received(people[4], launch)).length, 0, "not a member of either topic");
    assert.equal((await call(`/v1/subscribers/${direct}`)).body.first_name, "D");

    const logs = await call(`/v1/logs?transaction_id=${id}&limit=100`);
    assert.equal(logs.status, 200, JSON.stringify(logs.body));
    const fanout = logs.body.items.filter((entry) => entry.step === "fanout").map((entry) => [entry.status, entry.detail.total]);
    // Accepted: 3 + 2 members and 2 direct ids, each counted where named; completed: 5 distinct.
    assert.deepEqual(fanout.sort(), [["completed", 5], ["queued", 7]]);
    assert.equal(logs.body.items.filter((entry) => entry.status === "stored").length, 5);
    assert.ok(logs.body.items.every((entry) => entry.transaction_id === id));

    // One entry a page: every page ends on an entry whose id is the next page's cursor, the
    // fan-out's own entries (`…_queued`, `…_completed`) as much as the messages'.
    const paged = [];
    let after = null;
    do {
      const page = await call(`/v1/logs?transaction_id=${id}&limit=1${after ? `&after=${after}` : ""}`);
      assert.equal(page.status, 200, `after ${after}: ${JSON.stringify(page.body)}`);
      paged.push(...page.body.items.map((entry) => entry.id));
      after = page.body.page_info.has_more ? page.body.page_info.after : null;
    } while (after && paged.length <= logs.body.items.length);
    assert.deepEqual(paged, logs.body.items.map((entry) => entry.id));
    assert.ok(paged.some((entryId) => entryId.endsWith("_queued")) && paged.some((entryId) => entryId.endsWith("_completed")));
  });

  it("write a topic of 1,201 members in pages, each member once", { timeout: 120_000 }, async () => {
    const topic = fresh("big");
    await putTopic(topic);
    const prefix = freshSubscriber("big");
    const members = Array.from({ length: 1201 }, (_, index) => `${prefix}-${String(index).padStart(4, "0")}`);
    assert.equal((await addMembers(topic, members.slice(0, 1000))).body.changed, 1000);
    assert.equal((await addMembers(topic, members.slice(1000))).body.subscribers, 1201);
    const everyone = fresh("Everyone");
    const accepted = await trigger({ workflow, to: [{ topic }], payload: { headline: everyone } });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    const state = await waitFor(async () => {
      const body = (await call(`/v1/transactions/${accepted.body.transaction_id}`)).body;
      return body.status === "running" ? null : body;
    }, "a 1,201-member fan-out");
    assert.deepEqual([state.status, state.recipients], ["completed", { done: 1201, total: 1201 }]);
    for (const member of [members[0], members[499], members[500], members[1000], members[1200]]) {
      assert.equal((await received(member, everyone)).length, 1, member);
    }
  });

  it("respect preferences, and refuse unknown topics and bad payloads before recording anything", async () => {
    const topic = fresh("prefs");
    await putTopic(topic);
    const [muted, listening] = [freshSubscriber("muted"), freshSubscriber("listening")];
    await addMembers(topic, [muted, listening]);
    const off = await call(`/v1/subscribers/${muted}/preferences`, { method: "PATCH", body: { global: { in_app: false } } });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    const quiet = fresh("Quiet");
    const accepted = await trigger({ workflow, to: [{ topic }], payload: { headline: quiet } });
    const state = await finished(accepted.body.transaction_id);
    assert.deepEqual(state.recipients, { done: 2, total: 2 });
    assert.equal((await received(muted, quiet)).length, 0);
    assert.equal((await received(listening, quiet)).length, 1);
    const skipped = await call(`/v1/logs?transaction_id=${accepted.body.transaction_id}&status=skipped`);
    assert.deepEqual(skipped.body.items.map((entry) => entry.subscriber_id), [muted]);

    const unknown = await trigger({ workflow, to: ["someone", { topic: fresh("nope") }], payload: { headline: "x" } });
    const refusal = expectError(assert, unknown, 404, "topic_not_found");
    assert.equal(refusal.field, "to");
    assert.match(refusal.message, /nope-/);
    expectError(assert, await trigger({ workflow, to: [{ topic }], payload: {} }), 422, "payload_invalid");
    expectError(assert, await trigger({ workflow: "no-such-workflow", to: [{ topic }] }), 404, "workflow_not_found");
    // What every member would get alike (templates that read nothing of the recipient) is checked
    // at once, as for a trigger to subscribers: an unsafe link from the payload, a value it lacks.
    const linked = fresh("linked-wf");
    const saved = await call(`/v1/workflows/${linked}`, {
      method: "PUT",
      body: {
        name: "Linked",
        steps: [{ type: "in_app", subject: "Hi {{ subscriber.first_name }}", body: "{{ payload.headline }}", actions: [{ label: "Open", url: "{{ payload.url }}" }] }],
      },
    });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    const unsafe = await trigger({ workflow: linked, to: [{ topic }], payload: { headline: "h", url: "javascript:alert(1)" } });
    assert.equal(expectError(assert, unsafe, 422, "unsafe_link").field, "payload");
    const direct = await trigger({ workflow: linked, to: [listening], payload: { headline: "h", url: "javascript:alert(1)" } });
    expectError(assert, direct, 422, "unsafe_link");
    expectError(assert, await trigger({ workflow: linked, to: [{ topic }], payload: { url: "/x" } }), 422, "template_render_failed");
    const refusals = await call(`/v1/logs?workflow=${linked}`);
    assert.deepEqual(refusals.body.items.map((entry) => [entry.status, entry.detail.code]), [
      ["failed", "template_render_failed"], ["failed", "unsafe_link"], ["failed", "unsafe_link"],
    ], "refused, and no fan-out queued");
    // The subject reads the member, so it is rendered per member: an empty profile is no refusal here.
    const fine = await trigger({ workflow: linked, to: [{ topic }], payload: { headline: "h", url: "/orders/1" } });
    assert.equal(fine.status, 202, JSON.stringify(fine.body));
    await finished(fine.body.transaction_id);
    const twentyOne = Array.from({ length: 21 }, (_, index) => ({ topic: `t${index}` }));
    assert.equal(expectError(assert, await trigger({ workflow, to: twentyOne, payload: { headline: "x" } }), 400, "validation_failed").field, "to");
  });

  it("replay with the same Idempotency-Key: one fan-out, one message each", async () => {
    const topic = fresh("idem");
    await putTopic(topic);
    const member = freshSubscriber("idem-member");
    await addMembers(topic, [member]);
    const once = fresh("Once");
    const body = { workflow, to: [{ topic }], payload: { headline: once } };
    const headers = { "Idempotency-Key": fresh("fanout-key") };
    const first = await trigger(body, headers);
    const again = await trigger(body, headers);
    assert.equal(again.headers.get("idempotency-replay"), "true");
    assert.deepEqual(again.body, first.body);
    await finished(first.body.transaction_id);
    assert.equal((await received(member, once)).length, 1);
  });

  it("resume through the sweep when the hand-off was lost, exactly once even when handed off twice at once", { timeout: 60_000 }, async () => {
    const topic = fresh("lost");
    await putTopic(topic);
    const prefix = freshSubscriber("lost");
    const members = Array.from({ length: 700 }, (_, index) => `${prefix}-${index}`);
    await addMembers(topic, members);
    const late = fresh("Late");
    const accepted = await trigger({ workflow, to: [{ topic }], payload: { headline: late } }, { "Tidings-Inject-Faults": "handoff=drop" });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    const id = accepted.body.transaction_id;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const waiting = (await call(`/v1/transactions/${id}`)).body;
    assert.deepEqual([waiting.status, waiting.recipients], ["running", { done: 0, total: 700 }], "nothing runs without a hand-off");
    // Two sweeps at once, each a minute later than now: two messages for one fan-out.
    const sweep = () => fetch(`${apiUrl}/__scheduled?cron=clock+${Date.now() + 120_000}`);
    const answers = await Promise.all([sweep(), sweep()]);
    assert.ok(answers.every((answer) => answer.ok));
    const state = await finished(id);
    assert.deepEqual([state.status, state.recipients], ["completed", { done: 700, total: 700 }]);
    for (const member of [members[0], members[350], members[699]]) {
      assert.equal((await received(member, late)).length, 1, member);
    }
    const stored = async (after) => call(`/v1/logs?transaction_id=${id}&status=stored&limit=100${after ? `&after=${after}` : ""}`);
    let count = 0;
    let page = await stored();
    for (;;) {
      count += page.body.items.length;
      if (!page.body.page_info.has_more) break;
      page = await stored(page.body.page_info.after);
    }
    assert.equal(count, 700, "one stored entry per member");
  });

  it("render the workflow version they were accepted with, skip a subscriber deleted meanwhile, and refuse only whom a page cannot render for", { timeout: 60_000 }, async () => {
    const pinned = fresh("pinned-wf");
    const save = (subject) => call(`/v1/workflows/${pinned}`, {
      method: "PUT",
      body: { name: "Pinned", steps: [{ type: "in_app", subject, body: "b", avatar: "{{ subscriber.data.pic | default('https://example.com/a.png', true) }}" }] },
    });
    assert.ok([200, 201].includes((await save("First version")).status));
    const topic = fresh("pinned");
    await putTopic(topic);
    const [kept, broken, gone] = [freshSubscriber("kept"), freshSubscriber("broken"), freshSubscriber("gone")];
    await call(`/v1/subscribers/${broken}`, { method: "PUT", body: { data: { pic: "javascript:alert(1)" } } });
    await addMembers(topic, [kept, broken]);
    const accepted = await trigger({ workflow: pinned, to: [{ topic }, gone] }, { "Tidings-Inject-Faults": "handoff=drop" });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    const id = accepted.body.transaction_id;
    // Before any page is written: the workflow changes, and a direct recipient is deleted.
    assert.equal((await save("Second version")).status, 200);
    assert.equal((await call(`/v1/subscribers/${gone}`, { method: "DELETE" })).status, 200);
    await fetch(`${apiUrl}/__scheduled?cron=clock+${Date.now() + 120_000}`);
    const state = await finished(id);
    assert.equal(state.status, "completed", JSON.stringify(state));
    assert.deepEqual(state.recipients, { done: 2, total: 2 }, "the deleted subscriber is passed over");
    assert.equal((await received(kept, "First version")).length, 1, "the version the trigger was accepted with");
    assert.equal((await received(kept, "Second version")).length, 0);
    assert.equal((await received(broken, "First version")).length, 0);
    expectError(assert, await call(`/v1/subscribers/${gone}`), 404, "subscriber_not_found");
    const failed = await call(`/v1/logs?transaction_id=${id}&status=failed`);
    assert.deepEqual(failed.body.items.map((entry) => [entry.subscriber_id, entry.detail.code]), [[broken, "unsafe_link"]]);
  });

  it("reach no topic or workflow deleted and made again under the same key after they were accepted", { timeout: 60_000 }, async () => {
    const [kept, dropped] = [fresh("kept-topic"), fresh("remade-topic")];
    const [original, removed, newcomer] = [freshSubscriber("original"), freshSubscriber("removed"), freshSubscriber("newcomer")];
    await putTopic(kept);
    await putTopic(dropped);
    await addMembers(kept, [original]);
    await addMembers(dropped, [removed]);
    const headline = fresh("Before");
    const accepted = await trigger({ workflow, to: [{ topic: kept }, { topic: dropped }], payload: { headline } }, { "Tidings-Inject-Faults": "handoff=drop" });
    assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
    // One recorded as before migration 0028, without the creation times: it reads its topics by key.
    const legacyHeadline = fresh("Legacy");
    const legacy = await trigger({ workflow, to: [{ topic: dropped }], payload: { headline: legacyHeadline } }, { "Tidings-Inject-Faults": "handoff=drop" });
    assert.equal(legacy.status, 202, JSON.stringify(legacy.body));
    queryLocal("DB_DEVELOPMENT", `UPDATE fanouts SET workflow_created_at = NULL, topic_stamps = NULL WHERE transaction_id = '${legacy.body.transaction_id}'`);
    // Before any page: one topic is deleted and made again under its key, with another member.
    assert.equal((await call(`/v1/topics/${dropped}`, { method: "DELETE" })).status, 200);
    assert.equal((await putTopic(dropped)).status, 201);
    assert.equal((await addMembers(dropped, [newcomer])).status, 200);

    const remade = fresh("remade-wf");
    const save = (subject) => call(`/v1/workflows/${remade}`, { method: "PUT", body: { name: "Remade", steps: [{ type: "in_app", subject, body: "b" }] } });
    assert.equal((await save("Accepted")).status, 201);
    const pinned = await trigger({ workflow: remade, to: [{ topic: kept }] }, { "Tidings-Inject-Faults": "handoff=drop" });
    assert.equal(pinned.status, 202, JSON.stringify(pinned.body));
    // Before any page: the workflow is deleted and made again under its key (version 1 again).
    assert.ok([200, 204].includes((await call(`/v1/workflows/${remade}`, { method: "DELETE" })).status));
    assert.equal((await save("Impostor")).status, 201);

    await fetch(`${apiUrl}/__scheduled?cron=clock+${Date.now() + 120_000}`);
    const topics = await finished(accepted.body.transaction_id);
    assert.deepEqual([topics.status, topics.recipients], ["completed", { done: 1, total: 1 }], JSON.stringify(topics));
    assert.equal((await received(original, headline)).length, 1);
    assert.equal((await received(removed, headline)).length, 0, "a deleted topic's members are not read");
    assert.equal((await received(newcomer, headline)).length, 0, "the topic made again is another topic");
    assert.equal((await finished(legacy.body.transaction_id)).status, "completed");
    assert.deepEqual([(await received(newcomer, legacyHeadline)).length, (await received(removed, legacyHeadline)).length], [1, 0], "read by key, as before");
    const workflowState = await finished(pinned.body.transaction_id);
    assert.equal(workflowState.status, "failed", JSON.stringify(workflowState));
    assert.equal(workflowState.error?.code, "workflow_not_found", JSON.stringify(workflowState));
    assert.equal((await received(original, "Impostor")).length, 0, "the workflow made again is another workflow");
    assert.equal((await received(original, "Accepted")).length, 0);
  });

  it("are refused in a console test send, which reaches people one by one", async () => {
    const topic = fresh("console");
    await putTopic(topic);
    const sent = await admin(`/v1/environments/development/workflows/${workflow}/test`, { method: "POST", body: { to: [{ topic }], payload: { headline: "x" } } });
    assert.equal(expectError(assert, sent, 400, "validation_failed").field, "to");
  });

  it("report a trigger to subscribers as completed, and know no other environment's transactions", async () => {
    const person = freshSubscriber("plain");
    const plain = await trigger({ workflow, to: [person, freshSubscriber("plain2")], payload: { headline: "Direct" } });
    assert.equal(plain.status, 202);
    const state = await call(`/v1/transactions/${plain.body.transaction_id}`);
    assert.equal(state.status, 200, JSON.stringify(state.body));
    assert.deepEqual([state.body.status, state.body.recipients, state.body.topics], ["completed", { done: 2, total: 2 }, []]);
    const staging = await api(`/v1/transactions/${plain.body.transaction_id}`, { key: keys.staging.secret_key });
    expectError(assert, staging, 404, "transaction_not_found");
    expectError(assert, await call("/v1/transactions/tx_nope"), 404, "transaction_not_found");
    assert.equal(expectError(assert, await call("/v1/logs?transaction_id=nope"), 400, "validation_failed").field, "transaction_id");
  });

  it("keep topics to their environment", async () => {
    const topic = fresh("own");
    await putTopic(topic);
    const staging = (path, options = {}) => api(path, { key: keys.staging.secret_key, ...options });
    expectError(assert, await staging(`/v1/topics/${topic}`), 404, "topic_not_found");
    expectError(assert, await staging(`/v1/topics/${topic}/subscribers`, { method: "POST", body: { subscribers: ["x"] } }), 404, "topic_not_found");
    const listed = await staging("/v1/topics?limit=100");
    assert.ok(!listed.body.items.some((item) => item.key === topic));
    const publishable = await api(`/v1/topics/${topic}`, { key: keys.development.publishable_key });
    assert.equal(publishable.body.error.code, "secret_key_required", JSON.stringify(publishable.body));
  });
});
