// The feed API over HTTP: filters, cursors both ways, exact counts for
// several filters at once, actions (read implies seen) by ids or filter, and
// pages written by SQLite exactly as the API writes each item elsewhere.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { before, describe, it } from "node:test";
import { api, expectError, freshSubscriber, keys, subscriberHash } from "./support/context.mjs";

const key = keys.development.secret_key;
const call = (path, options = {}) => api(path, { key, ...options });
const suffix = randomBytes(4).toString("hex");
const billing = `billing-${suffix}`;
const social = `social-${suffix}`;
let subscriber;
let ids = [];

before(async () => {
  for (const [workflow, tags] of [[billing, ["billing", "money"]], [social, ["social"]]]) {
    const saved = await call(`/v1/workflows/${workflow}`, {
      method: "PUT",
      body: { name: workflow, tags, steps: [{ type: "in_app", subject: "{{ payload.n }}", body: "b" }] },
    });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
  }
  subscriber = freshSubscriber("feed");
  // Oldest first: 0..5, alternating workflows; payload.vip on even ones.
  for (let n = 0; n < 6; n += 1) {
    const response = await call("/v1/events/trigger", {
      method: "POST",
      body: { workflow: n % 2 ? social : billing, to: subscriber, payload: { n, vip: n % 2 === 0, order: { id: 100 + n } } },
    });
    assert.equal(response.status, 202);
    ids.push(response.body.messages[0].id);
  }
});

const feed = async (query = "") => {
  const response = await call(`/v1/subscribers/${subscriber}/feed${query ? `?${query}` : ""}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
};
const subjects = (page) => page.items.map((item) => Number(item.subject));
const act = (body, options = {}) => call(`/v1/subscribers/${subscriber}/feed/actions`, { method: "POST", body, ...options });

describe("feed", () => {
  it("filters by workflow, tags (all and any) and payload fields", async () => {
    assert.deepEqual(subjects(await feed(`workflow=${billing}`)), [4, 2, 0]);
    assert.deepEqual(subjects(await feed("tags=billing,money")), [4, 2, 0]);
    assert.deepEqual(subjects(await feed("tags=billing,social")), []);
    assert.deepEqual(subjects(await feed("tags_any=social,nothing")), [5, 3, 1]);
    assert.deepEqual(subjects(await feed("data.vip=true")), [4, 2, 0]);
    assert.deepEqual(subjects(await feed("data.order.id=103")), [3]);
    assert.deepEqual((await feed()).items[0].tags, ["social"]);
  });

  it("pages back and forth with cursors", async () => {
    const first = await feed("limit=2");
    assert.deepEqual(subjects(first), [5, 4]);
    const second = await feed(`limit=2&after=${first.page_info.after}`);
    assert.deepEqual(subjects(second), [3, 2]);
    const back = await feed(`limit=2&before=${second.page_info.before}`);
    assert.deepEqual(subjects(back), [5, 4]);
    assert.equal(back.page_info.before, null);
    assert.equal(back.page_info.after, first.page_info.after);
    expectError(assert, await call(`/v1/subscribers/${subscriber}/feed?after=${ids[0]}&before=${ids[1]}`), 400, "validation_failed");
  });

  it("marks read (and so seen), unread, archived and back, with exact counts", async () => {
    const read = await act({ action: "read", ids: [ids[5], ids[4]] });
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.deepEqual(read.body, { updated: 2, counts: { total: 6, unread: 4, unseen: 4 } });
    const item = (await feed()).items[0];
    assert.ok(item.read_at && item.seen_at, "read implies seen");
    assert.deepEqual(subjects(await feed("read=false")), [3, 2, 1, 0]);
    assert.deepEqual(subjects(await feed("seen=true")), [5, 4]);

    const unread = await act({ action: "unread", ids: [ids[5]] });
    assert.deepEqual(unread.body.counts, { total: 6, unread: 5, unseen: 4 });
    const archived = await act({ action: "archive", filter: { workflow: social } });
    // Left: billing 4 (read), 2 and 0.
    assert.deepEqual(archived.body, { updated: 3, counts: { total: 3, unread: 2, unseen: 2 } });
    assert.deepEqual(subjects(await feed()), [4, 2, 0]);
    assert.deepEqual(subjects(await feed("archived=only")), [5, 3, 1]);
    assert.deepEqual(subjects(await feed("archived=include")), [5, 4, 3, 2, 1, 0]);
    await act({ action: "unarchive", filter: { archived: "only" } });

    const all = await act({ action: "read", filter: {} });
    assert.deepEqual(all.body.counts, { total: 6, unread: 0, unseen: 0 });
    // Idempotent: nothing left to change, counts never go negative.
    assert.deepEqual((await act({ action: "read", filter: {} })).body, { updated: 0, counts: { total: 6, unread: 0, unseen: 0 } });
  });

  it("counts several filters at once", async () => {
    await act({ action: "unread", filter: { workflow: billing } });
    const filters = encodeURIComponent(JSON.stringify([{}, { read: false }, { tags: ["social"] }, { archived: "only" }]));
    const response = await call(`/v1/subscribers/${subscriber}/feed/counts?filters=${filters}`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.deepEqual(response.body.results.map((counts) => counts.total), [6, 3, 3, 0]);
    assert.deepEqual((await call(`/v1/subscribers/${subscriber}/feed/counts?read=false`)).body, { total: 3, unread: 3, unseen: 0 });
    const bad = await call(`/v1/subscribers/${subscriber}/feed/counts?filters=${encodeURIComponent('[{"archived":"all"}]')}`);
    assert.equal(expectError(assert, bad, 400, "validation_failed").field, "filters.0.archived");
  });

  it("writes each item of a page as delta sync does, whatever the message holds", async () => {
    // A feed page's items are written by SQLite (crates/tidings-worker/src/store/feed_page.rs);
    // delta sync writes the same items from parsed messages. Both must agree, field for field.
    const workflow = `awkward-${suffix}`;
    const saved = await call(`/v1/workflows/${workflow}`, {
      method: "PUT",
      body: {
        name: workflow,
        tags: ["ünïcode", "quote\"d"],
        steps: [{
          type: "in_app",
          subject: "{{ payload.text }}",
          body: "Line one\nline two\t«{{ payload.n }}» \\ end",
          avatar: "https://example.com/{{ payload.n }}.png",
          actions: [{ label: "Open {{ payload.n }}", url: "https://example.com/o/{{ payload.n }}" }],
        }],
      },
    });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    const awkward = freshSubscriber("awkward");
    const texts = ["plain", "quotes \" and \\ backslash", "control \u0001\u001e\u001f chars", "emoji 📬 and 中文", "</script><b>&amp;"];
    const sent = [];
    for (const [n, text] of texts.entries()) {
      const payload = { n, text, nested: { list: [1, 2.5, -0, 1e21, null, true, { deep: "ü" }], "key with spaces": "v" }, big: 9007199254740991 };
      const response = await call("/v1/events/trigger", { method: "POST", body: { workflow, to: awkward, payload } });
      assert.equal(response.status, 202, JSON.stringify(response.body));
      sent.push(response.body.messages[0].id);
    }
    const acted = (body) => call(`/v1/subscribers/${awkward}/feed/actions`, { method: "POST", body });
    assert.equal((await acted({ action: "read", ids: [sent[1]] })).status, 200);
    assert.equal((await acted({ action: "seen", ids: [sent[2]] })).status, 200);
    assert.equal((await acted({ action: "archive", ids: [sent[3]] })).status, 200);

    const changes = await call(`/v1/subscribers/${awkward}/feed/changes?since=0&archived=include&limit=100`);
    assert.equal(changes.status, 200, JSON.stringify(changes.body));
    const synced = new Map(changes.body.changes.filter((change) => change.kind === "upsert").map(({ item }) => [item.id, item]));
    assert.equal(synced.size, texts.length);
    const read = async (query) => {
      const response = await call(`/v1/subscribers/${awkward}/feed?archived=include&${query}`);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      return response.body;
    };
    const whole = await read("limit=100");
    assert.deepEqual(whole.items.map((item) => item.id), [...sent].reverse());
    for (const item of whole.items) assert.deepEqual(item, synced.get(item.id));
    assert.ok(whole.items.find((item) => item.id === sent[1]).read_at.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/));
    // Cursors both ways over the same items.
    const first = await read("limit=2");
    assert.deepEqual(first.items, whole.items.slice(0, 2));
    assert.deepEqual(first.page_info, { after: sent[3], before: null, has_more: true });
    const next = await read(`limit=2&after=${first.page_info.after}`);
    assert.deepEqual(next.items, whole.items.slice(2, 4));
    const last = await read(`limit=2&after=${next.page_info.after}`);
    assert.deepEqual(last.items, whole.items.slice(4));
    assert.deepEqual(last.page_info, { after: null, before: sent[0], has_more: false });
    const back = await read(`limit=2&before=${last.page_info.before}`);
    assert.deepEqual(back.items, whole.items.slice(2, 4));
    assert.deepEqual(back.page_info, { after: sent[1], before: sent[2], has_more: true });
    const empty = await read(`limit=2&before=${sent[4]}`);
    assert.deepEqual(empty, { ...empty, items: [], page_info: { after: null, before: null, has_more: false } });
  });

  it("applies an action sent with an Idempotency-Key once, in the subscriber's own key space", async () => {
    const owner = freshSubscriber("keyed-actions");
    for (const n of [1, 2]) {
      const sent = await call("/v1/events/trigger", { method: "POST", body: { workflow: billing, to: owner, payload: { n } } });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
    }
    const [first] = (await call(`/v1/subscribers/${owner}/feed`)).body.items.map((item) => item.id);
    const browser = (subscriberId, body, headers = {}) => api(`/v1/subscribers/${subscriberId}/feed/actions`, {
      key: keys.development.publishable_key, method: "POST", body,
      headers: { "X-Subscriber-Hash": subscriberHash("development", subscriberId), ...headers },
    });
    const key = `action-${suffix}`;
    const read = { action: "read", ids: [first] };

    const applied = await browser(owner, read, { "Idempotency-Key": key });
    assert.equal(applied.status, 200, JSON.stringify(applied.body));
    assert.deepEqual(applied.body, { updated: 1, counts: { total: 2, unread: 1, unseen: 1 } });
    assert.equal(applied.headers.get("idempotency-replay"), null);
    assert.equal((await browser(owner, { action: "unread", ids: [first] })).body.updated, 1, "undone without a key");

    // The retry of the first request: its first answer, today's counts, nothing applied again.
    const retried = await browser(owner, read, { "Idempotency-Key": key });
    assert.equal(retried.status, 200);
    assert.equal(retried.headers.get("idempotency-replay"), "true");
    assert.deepEqual(retried.body, { updated: 1, counts: { total: 2, unread: 2, unseen: 1 } });
    const bySecretKey = await call(`/v1/subscribers/${owner}/feed/actions`, { method: "POST", body: read, headers: { "Idempotency-Key": key } });
    assert.equal(bySecretKey.headers.get("idempotency-replay"), "true", "the subscriber's key, whoever sends it");
    assert.equal((await call(`/v1/subscribers/${owner}/feed/counts`)).body.unread, 2, "still unread");

    expectError(assert, await browser(owner, { action: "archive", ids: [first] }, { "Idempotency-Key": key }), 422, "idempotency_key_reused");
    assert.equal(expectError(assert, await browser(owner, read, { "Idempotency-Key": "has space" }), 400, "validation_failed").field, "Idempotency-Key");
    assert.equal((await call(`/v1/subscribers/${owner}/feed?archived=only`)).body.items.length, 0, "refusals changed nothing");

    // Another subscriber's key space: the same key is theirs to use, and replays nothing of the owner's.
    const other = freshSubscriber("keyed-other");
    const theirs = await browser(other, read, { "Idempotency-Key": key });
    assert.equal(theirs.status, 200);
    assert.equal(theirs.headers.get("idempotency-replay"), null);
    assert.deepEqual(theirs.body, { updated: 0, counts: { total: 0, unread: 0, unseen: 0 } });
    // Nor is a trigger's key an action's.
    const triggered = await call("/v1/events/trigger", { method: "POST", body: { workflow: billing, to: owner, payload: { n: 3 } }, headers: { "Idempotency-Key": key } });
    assert.equal(triggered.status, 202);
    assert.equal(triggered.headers.get("idempotency-replay"), null);
  });

  it("acts only on the subscriber's own messages, with a publishable key and credential", async () => {
    const other = freshSubscriber("other");
    const hash = subscriberHash("development", other);
    const stranger = await api(`/v1/subscribers/${other}/feed/actions`, {
      key: keys.development.publishable_key,
      method: "POST",
      headers: { "X-Subscriber-Hash": hash },
      body: { action: "delete", ids },
    });
    assert.deepEqual(stranger.body, { updated: 0, counts: { total: 0, unread: 0, unseen: 0 } });
    assert.equal((await feed("archived=include")).items.length, 6);

    const deleted = await act({ action: "delete", ids: [ids[0]] });
    assert.equal(deleted.body.updated, 1);
    assert.equal((await feed("archived=include")).items.length, 5);
    for (const [body, field] of [[{ action: "explode", ids }, "action"], [{ action: "read" }, "ids"], [{ action: "read", ids: ["x"] }, "ids.0"]]) {
      assert.equal(expectError(assert, await act(body), 400, "validation_failed").field, field);
    }
  });
});
