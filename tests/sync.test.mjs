// Delta sync and realtime over the real stack: `…/feed/changes` replays
// every change after a watermark, exactly once and in order; a subscriber's
// WebSocket (served by a Durable Object) hears of each committed change, and
// only the right subscriber, in the right environment, can open it.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, it } from "node:test";
import { api, expectError, freshSubscriber, keys, subscriberHash } from "./support/context.mjs";
import { openSocket, refusedUpgrade } from "./support/realtime.mjs";

const environment = "staging";
const secret = keys[environment].secret_key;
const workflow = `sync-${randomBytes(4).toString("hex")}`;

const trigger = async (to, n) => {
  const response = await api("/v1/events/trigger", { key: secret, method: "POST", body: { workflow, to, payload: { n } } });
  assert.equal(response.status, 202, JSON.stringify(response.body));
  return response.body.messages.map((message) => message.id);
};
const feedCall = (subscriber, path, options = {}) =>
  api(`/v1/subscribers/${subscriber}/feed${path}`, {
    key: keys[environment].publishable_key,
    headers: { "X-Subscriber-Hash": subscriberHash(environment, subscriber) },
    ...options,
  });
const changes = async (subscriber, since, query = "") => {
  const response = await feedCall(subscriber, `/changes?since=${since}${query}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
};
const act = async (subscriber, body) => {
  const response = await feedCall(subscriber, "/actions", { method: "POST", body });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
};

/** Follows changes from `since` to the end, with pages of `limit`; returns the replica and the last watermark. */
async function follow(subscriber, since, limit, replica = new Map()) {
  let watermark = since;
  for (;;) {
    const page = await changes(subscriber, watermark, `&limit=${limit}`);
    assert.ok(page.changes.length <= limit);
    for (const change of page.changes) {
      if (change.kind === "upsert") replica.set(change.item.id, change.item);
      else replica.delete(change.id);
    }
    watermark = page.watermark;
    if (!page.has_more) return { replica, watermark, counts: page.counts };
  }
}

before(async () => {
  const saved = await api(`/v1/workflows/${workflow}`, {
    key: secret,
    method: "PUT",
    body: { name: workflow, steps: [{ type: "in_app", subject: "n={{ payload.n }}", body: "b" }] },
  });
  assert.equal(saved.status, 201, JSON.stringify(saved.body));
});

describe("delta sync", () => {
  it("replays inserts, status changes and deletions after a watermark, in any page size", async () => {
    const ada = freshSubscriber("sync");
    const [first] = await trigger(ada, 0);
    const start = await feedCall(ada, "");
    assert.equal(start.status, 200);
    assert.match(start.body.watermark, /^\d+(~[A-Za-z0-9_:.-]+)?$/, "a version, then the read's bookmark where D1 gives one");
    const replica = new Map(start.body.items.map((item) => [item.id, item]));
    assert.deepEqual([...replica.keys()], [first]);

    const later = [];
    for (let n = 1; n <= 5; n += 1) later.push(...(await trigger(ada, n)));
    await act(ada, { action: "read", ids: [first, later[0]] });
    await act(ada, { action: "archive", ids: [later[1]] });
    await act(ada, { action: "delete", ids: [later[2]] });
    await act(ada, { action: "seen", filter: {} });

    for (const limit of [1, 2, 100]) {
      const { replica: caughtUp, counts } = await follow(ada, start.body.watermark, limit, new Map(replica));
      const truth = await feedCall(ada, "?limit=100");
      assert.deepEqual(
        [...caughtUp.values()].sort((a, b) => a.id.localeCompare(b.id)),
        [...truth.body.items].sort((a, b) => a.id.localeCompare(b.id)),
        `page size ${limit}`,
      );
      assert.deepEqual(counts, truth.body.counts);
    }
    const seenAll = await follow(ada, start.body.watermark, 100);
    assert.ok(!seenAll.replica.has(later[1]), "archived messages leave the default view");
    assert.ok(!seenAll.replica.has(later[2]), "deleted messages leave every view");
    // A view with a filter hears the same changes through it: the archived message is in archived=only.
    const onlyArchived = await changes(ada, start.body.watermark, "&archived=only&limit=100");
    const upserted = onlyArchived.changes.filter((change) => change.kind === "upsert").map((change) => change.item.id);
    assert.deepEqual(upserted, [later[1]]);
    // Once caught up, nothing more, and another subscriber's changes never show.
    await trigger(freshSubscriber("sync-other"), 9);
    const quiet = await changes(ada, seenAll.watermark);
    assert.deepEqual(quiet.changes, []);
  });

  it("keeps counts consistent under concurrent actions: read implies seen, nothing negative", async () => {
    const ada = freshSubscriber("sync-race");
    const ids = [];
    for (let n = 0; n < 8; n += 1) ids.push(...(await trigger(ada, n)));
    const start = (await feedCall(ada, "?limit=100")).body;
    const actions = ["seen", "read", "unread", "archive", "unarchive"];
    const bodies = Array.from({ length: 40 }, (_, index) => {
      const action = actions[index % actions.length];
      return index % 7 === 0 ? { action, filter: {} } : { action, ids: ids.filter((_, position) => (position + index) % 3 === 0) };
    });
    const answers = await Promise.all(bodies.map((body) => act(ada, body)));
    for (const { counts } of answers) {
      assert.ok(counts.unseen >= 0 && counts.unseen <= counts.unread && counts.unread <= counts.total && counts.total <= 8, JSON.stringify(counts));
    }
    const truth = (await feedCall(ada, "?limit=100&archived=include")).body;
    for (const item of truth.items) assert.ok(!item.read_at || item.seen_at, "read implies seen");
    const visible = truth.items.filter((item) => !item.archived_at);
    assert.deepEqual(truth.counts, {
      total: visible.length,
      unread: visible.filter((item) => !item.read_at).length,
      unseen: visible.filter((item) => !item.seen_at).length,
    });
    // A replica that follows the changes agrees with the final state.
    const { replica } = await follow(ada, start.watermark, 7, new Map(start.items.map((item) => [item.id, item])));
    assert.deepEqual([...replica.keys()].sort(), visible.map((item) => item.id).sort());
  });

  it("refuses malformed, future and foreign watermarks with typed errors", async () => {
    const ada = freshSubscriber("sync-errors");
    await trigger(ada, 1);
    expectError(assert, await feedCall(ada, "/changes"), 400, "validation_failed");
    const bad = expectError(assert, await feedCall(ada, "/changes?since=yesterday"), 400, "validation_failed");
    assert.equal(bad.field, "since");
    const ahead = expectError(assert, await feedCall(ada, "/changes?since=999999999999"), 400, "validation_failed");
    assert.equal(ahead.field, "since");
    expectError(assert, await feedCall(ada, "/changes?since=0&limit=0"), 400, "validation_failed");
    const stranger = await api(`/v1/subscribers/${ada}/feed/changes?since=0`, { key: keys[environment].publishable_key });
    expectError(assert, stranger, 401, "subscriber_credential_required");
  });
});

describe("realtime", () => {
  it("a subscriber's socket hears each new message and each change, and then catches up by delta sync", async () => {
    const ada = freshSubscriber("live");
    await trigger(ada, 0);
    const start = (await feedCall(ada, "")).body;
    const live = await openSocket(environment, ada);
    await live.ready;
    const other = await openSocket(environment, freshSubscriber("live-other"));
    await other.ready;

    const [fresh] = await trigger(ada, 1);
    await live.next("changed");
    const afterTrigger = await follow(ada, start.watermark, 100);
    assert.ok(afterTrigger.replica.has(fresh));
    assert.equal(afterTrigger.counts.unread, 2);

    await act(ada, { action: "read", filter: {} });
    await live.next("changed");
    const afterRead = await follow(ada, afterTrigger.watermark, 100);
    assert.equal(afterRead.counts.unread, 0);
    assert.equal(afterRead.replica.size, 2);

    // A no-op action changes nothing and announces nothing; the other subscriber heard nothing.
    await act(ada, { action: "read", filter: {} });
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(live.heard, []);
    assert.deepEqual(other.heard, []);
    live.socket.close();
    other.socket.close();
  });

  it("keeps a hibernating socket alive with ping/pong", async () => {
    const ada = freshSubscriber("live-ping");
    const live = await openSocket(environment, ada);
    await live.ready;
    const pong = new Promise((resolve) => live.socket.addEventListener("message", (event) => event.data === "pong" && resolve()));
    live.socket.send("ping");
    await pong;
    live.socket.close();
  });

  it("opens only with a ticket, never with a credential in the URL", async () => {
    const ada = freshSubscriber("live-guard");
    const streamPath = (query) => `/v1/subscribers/${ada}/feed/stream?${new URLSearchParams(query)}`;
    const publishable = keys[environment].publishable_key;
    expectError(assert, await api(streamPath({ ticket: "stk_staging_x" })), 426, "websocket_required");
    expectError(assert, await refusedUpgrade(streamPath({})), 401, "missing_credentials");
    expectError(assert, await refusedUpgrade(streamPath({ key: secret })), 403, "secret_key_in_url");
    // The old form (key and credential in the URL) opens nothing.
    expectError(assert, await refusedUpgrade(streamPath({ key: publishable, hash: subscriberHash(environment, ada) })), 401, "missing_credentials");
    expectError(assert, await refusedUpgrade(streamPath({ ticket: "stk_staging_forged" })), 401, "stream_ticket_invalid");
    // Another environment's key with its own valid hash opens that environment's hub, never this one's.
    const foreign = await openSocket("production", ada);
    await foreign.ready;
    await trigger(ada, 1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(foreign.heard, [], "a production socket heard of a staging message");
    foreign.socket.close();
  });
});
