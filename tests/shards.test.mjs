// Feed shards: an environment created with `npm run env -- create … --shards 4`
// keeps its subscribers' feeds in four D1 databases (FEED0_… to FEED3_…),
// each subscriber's whole feed in one. Checked through the real stack and
// the databases' own files: the feeds spread over every shard and none
// stays in the environment's own database; the same workload gives the same
// feeds, counts, changes, transactions and logs with one shard (development)
// and with four (triggers, feed actions, preferences, a bulk trigger, a topic); a keyed
// trigger that failed after some shards committed is completed by its retry
// without a duplicate; a subscriber's deletion and a topic's fan-out reach
// the right shard; another environment's key reaches none of it; deleting
// the environment empties every shard, and the control plane keeps working
// when it is created again with another count.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { admin, api, expectError, keys, reloaded, waitFor } from "./support/context.mjs";
import { envCommand as runEnvCommand } from "./support/env-command.mjs";
import { queryLocal } from "./support/local-state.mjs";

const scratch = mkdtempSync(join(tmpdir(), "tidings-shards-"));
const envCommand = (...args) => runEnvCommand(join(scratch, "keys.json"), ...args);
const SHARDED = "sharded";
const SINGLE = "development"; // one shard: its feed in DB_DEVELOPMENT
const SHARD_BINDINGS = [0, 1, 2, 3].map((index) => `FEED${index}_SHARDED`);
const tag = randomBytes(3).toString("hex");
const workflow = `shards-${tag}`;
const FAULTS = "Tidings-Inject-Faults";
const secrets = { [SINGLE]: keys[SINGLE].secret_key };

const call = (name, path, options = {}) => api(path, { key: secrets[name], ...options });
const trigger = (name, body, headers = {}) => call(name, "/v1/events/trigger", { method: "POST", body: { workflow, ...body }, headers });

/** Messages per subscriber in one database, read from its file (not through the worker). */
function storedMessages(binding, prefix) {
  const rows = queryLocal(binding,
    `SELECT subscriber_id, COUNT(*) AS count FROM messages WHERE subscriber_id LIKE '${prefix}%' GROUP BY subscriber_id`);
  return Object.fromEntries(rows.map((row) => [row.subscriber_id, row.count]));
}

async function feed(name, subscriber, query = "") {
  const response = await call(name, `/v1/subscribers/${subscriber}/feed?limit=100${query}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
}

const subscribers = (prefix, count) => Array.from({ length: count }, (_, index) => `${prefix}-${String(index).padStart(2, "0")}`);

before(async () => {
  const created = await envCommand("create", SHARDED, "--type", "development", "--shards", "4");
  assert.equal(created.code, 0, created.stderr + created.stdout);
  secrets[SHARDED] = created.json().secret_key;
  for (const name of [SHARDED, SINGLE]) {
    const saved = await call(name, `/v1/workflows/${workflow}`, {
      method: "PUT",
      body: { name: "Shards", steps: [{ type: "in_app", subject: "{{ payload.title }}", body: "for {{ subscriber.subscriber_id }}" }] },
    });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
  }
}, { timeout: 240_000 });

after(async () => {
  await envCommand("delete", SHARDED);
  rmSync(scratch, { recursive: true, force: true });
}, { timeout: 120_000 });

describe("feed shards", () => {
  it("are registered, and spread feeds over every shard and none in the environment's own database", async () => {
    const shown = await admin(`/v1/environments/${SHARDED}`);
    assert.equal(shown.status, 200, JSON.stringify(shown.body));
    assert.equal(shown.body.shards, 4);
    assert.equal((await admin(`/v1/environments/${SINGLE}`)).body.shards, 1);
    const prefix = `spread-${tag}`;
    const recipients = subscribers(prefix, 40);
    const sent = await trigger(SHARDED, { to: recipients, payload: { title: "spread" } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const perShard = SHARD_BINDINGS.map((binding) => storedMessages(binding, prefix));
    for (const [index, held] of perShard.entries()) {
      assert.ok(Object.keys(held).length > 0, `shard ${index} holds some feeds: ${JSON.stringify(perShard)}`);
    }
    const everywhere = perShard.flatMap((held) => Object.entries(held));
    assert.deepEqual(everywhere.map(([subscriber]) => subscriber).sort(), recipients, "each feed is in exactly one shard");
    assert.ok(everywhere.every(([, count]) => count === 1));
    assert.deepEqual(storedMessages("DB_SHARDED", prefix), {}, "no message stays in the environment's own database");
    // A one-shard environment keeps its feed where it always was.
    assert.equal((await trigger(SINGLE, { to: recipients.slice(0, 3), payload: { title: "here" } })).status, 202);
    assert.equal(Object.keys(storedMessages("DB_DEVELOPMENT", prefix)).length, 3);
  });

  it("give the same feeds, counts, changes, transactions and logs as one shard for the same workload", { timeout: 120_000 }, async () => {
    const prefix = `same-${tag}`;
    const people = subscribers(prefix, 12);
    const topic = `same-${tag}`;
    /** Runs the workload in one environment and answers what a client and the logs see, ids replaced by names. */
    async function workload(name) {
      const names = new Map();
      const sent = async (label, response) => {
        assert.equal(response.status, 202, JSON.stringify(response.body));
        names.set(response.body.transaction_id, label);
        return response.body;
      };
      await sent("first", await trigger(name, { to: people, payload: { title: "first" } }));
      await sent("second", await trigger(name, { to: people.slice(0, 6), payload: { title: "second" } }));
      const act = async (subscriber, body) => {
        const acted = await call(name, `/v1/subscribers/${subscriber}/feed/actions`, { method: "POST", body });
        assert.equal(acted.status, 200, JSON.stringify(acted.body));
        return acted.body;
      };
      const idOf = async (subscriber, title) => (await feed(name, subscriber)).items.find((item) => item.subject === title).id;
      const answers = [
        await act(people[0], { action: "read", ids: [await idOf(people[0], "first")] }),
        await act(people[1], { action: "archive", filter: {} }),
        await act(people[2], { action: "delete", ids: [await idOf(people[2], "second")] }),
        await act(people[3], { action: "seen", filter: {} }),
        await act(people[3], { action: "unread", filter: {} }),
        await act(people[4], { action: "read", filter: {} }),
        await act(people[4], { action: "unarchive", filter: {} }),
      ];
      // One recipient turns the workflow's feed off: what follows skips them.
      const off = await call(name, `/v1/subscribers/${people[6]}/preferences`, { method: "PATCH", body: { workflows: { [workflow]: { in_app: false } } } });
      assert.equal(off.status, 200, JSON.stringify(off.body));
      // A bulk trigger whose events land on several shards.
      const bulk = await call(name, "/v1/events/trigger/bulk", {
        method: "POST",
        body: { events: [{ workflow, to: people.slice(6), payload: { title: "bulk one" } }, { workflow, to: people.slice(0, 3), payload: { title: "bulk two" } }] },
      });
      assert.equal(bulk.status, 202, JSON.stringify(bulk.body));
      for (const [index, result] of bulk.body.results.entries()) {
        assert.equal(result.status, 202, JSON.stringify(result));
        names.set(result.body.transaction_id, `bulk ${index}`);
      }
      // A topic fanned out through the queue, mixed with a recipient named directly.
      assert.equal((await call(name, `/v1/topics/${topic}`, { method: "PUT", body: {} })).status, 201);
      assert.equal((await call(name, `/v1/topics/${topic}/subscribers`, { method: "POST", body: { subscribers: people.slice(3) } })).status, 200);
      const broadcast = await sent("topic", await trigger(name, { to: [{ topic }, people[0]], payload: { title: "topic" } }));
      const transaction = await waitFor(async () => {
        const state = await call(name, `/v1/transactions/${broadcast.transaction_id}`);
        return state.body.status === "running" ? null : state.body;
      }, "the fan-out");
      const seen = [];
      for (const subscriber of people) {
        const page = await feed(name, subscriber, "&archived=include");
        const changes = await call(name, `/v1/subscribers/${subscriber}/feed/changes?since=0`);
        assert.equal(changes.status, 200, JSON.stringify(changes.body));
        const counts = await call(name, `/v1/subscribers/${subscriber}/feed/counts`);
        seen.push({
          subscriber,
          items: page.items.map((item) => ({
            subject: item.subject, body: item.body, transaction: names.get(item.transaction_id),
            read: Boolean(item.read_at), seen: Boolean(item.seen_at), archived: Boolean(item.archived_at),
          })),
          counts: [page.counts, counts.body],
          changes: changes.body.changes.map((change) =>
            change.kind === "remove" ? `remove:${change.reason}` : `upsert:${change.item.subject}:${Boolean(change.item.read_at)}`),
        });
      }
      const logs = [];
      for (const [id, label] of names) {
        const listed = await call(name, `/v1/logs?transaction_id=${id}&limit=100`);
        assert.equal(listed.status, 200, JSON.stringify(listed.body));
        logs.push(...listed.body.items.map((entry) => `${label}:${entry.subscriber_id}:${entry.step}:${entry.status}`).sort());
      }
      const { status, recipients } = transaction;
      return { answers, seen, logs, topic: { status, recipients } };
    }
    const single = await workload(SINGLE);
    const sharded = await workload(SHARDED);
    assert.deepEqual(sharded, single);
    const stored = (label) => single.logs.filter((entry) => entry.startsWith(`${label}:`) && entry.endsWith(":stored")).length;
    assert.deepEqual(["first", "second", "bulk 0", "bulk 1", "topic"].map(stored), [12, 6, 5, 3, 9], "a stored entry per message");
    assert.equal(single.logs.filter((entry) => entry.endsWith(":skipped")).length, 2, "the recipient who turned the feed off, twice");
    assert.deepEqual(single.topic, { status: "completed", recipients: { done: 10, total: 10 } });
  });

  it("complete a keyed trigger that failed after some shards committed, without a duplicate", async () => {
    for (const [label, faults] of [["primary", "deliver=fail,fail,fail,fail"], ["shard", `shard-write=ok,${Array(12).fill("fail").join(",")}`]]) {
      const prefix = `retry-${label}-${tag}`;
      const recipients = subscribers(prefix, 16);
      const body = { to: recipients, payload: { title: `retry ${label}` } };
      const key = `retry-${label}-${tag}`;
      const failed = await trigger(SHARDED, body, { [FAULTS]: faults, "Idempotency-Key": key });
      expectError(assert, failed, 503, "unavailable");
      const stored = SHARD_BINDINGS.map((binding) => Object.keys(storedMessages(binding, prefix)).length);
      assert.ok(stored.some((count) => count > 0), `some shard committed before the failure (${label}): ${stored}`);
      const retried = await trigger(SHARDED, body, { "Idempotency-Key": key });
      assert.equal(retried.status, 202, JSON.stringify(retried.body));
      const answered = new Map(retried.body.messages.map((message) => [message.subscriber_id, message.id]));
      for (const subscriber of recipients) {
        const items = (await feed(SHARDED, subscriber)).items;
        assert.deepEqual(items.map((item) => item.id), [answered.get(subscriber)], `${subscriber} has the answered message once`);
      }
      const logs = await call(SHARDED, `/v1/logs?transaction_id=${retried.body.transaction_id}&limit=100`);
      assert.equal(logs.body.items.filter((entry) => entry.status === "stored").length, recipients.length);
      const replayed = await trigger(SHARDED, body, { "Idempotency-Key": key });
      assert.deepEqual(replayed.body, retried.body, "the answer replays");
    }
  });

  it("keep a feed action's idempotency key beside the feed it changes", async () => {
    const [subscriber] = subscribers(`keyed-${tag}`, 1);
    assert.equal((await trigger(SHARDED, { to: [subscriber], payload: { title: "keyed" } })).status, 202);
    const act = () => call(SHARDED, `/v1/subscribers/${subscriber}/feed/actions`, {
      method: "POST", body: { action: "read", filter: {} }, headers: { "Idempotency-Key": `act-${tag}` },
    });
    const first = await act();
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.updated, 1);
    assert.equal((await call(SHARDED, `/v1/subscribers/${subscriber}/feed/actions`, { method: "POST", body: { action: "unread", filter: {} } })).status, 200);
    const again = await act();
    assert.equal(again.headers.get("idempotency-replay"), "true");
    assert.equal(again.body.updated, 1);
    assert.equal(again.body.counts.unread, 1, "the replay changed nothing");
  });

  it("remove a deleted subscriber's messages from their shard", async () => {
    const [subscriber] = subscribers(`gone-${tag}`, 1);
    assert.equal((await trigger(SHARDED, { to: [subscriber], payload: { title: "before" } })).status, 202);
    assert.equal((await call(SHARDED, `/v1/subscribers/${subscriber}`, { method: "DELETE" })).status, 200);
    const held = SHARD_BINDINGS.map((binding) => storedMessages(binding, subscriber));
    assert.ok(held.every((found) => Object.keys(found).length === 0), JSON.stringify(held));
    assert.equal((await trigger(SHARDED, { to: [subscriber], payload: { title: "after" } })).status, 202);
    assert.deepEqual((await feed(SHARDED, subscriber)).items.map((item) => item.subject), ["after"]);
  });

  it("fan a topic out to members on every shard, each once", async () => {
    const topic = `topic-${tag}`;
    const members = subscribers(`member-${tag}`, 30);
    assert.equal((await call(SHARDED, `/v1/topics/${topic}`, { method: "PUT", body: {} })).status, 201);
    assert.equal((await call(SHARDED, `/v1/topics/${topic}/subscribers`, { method: "POST", body: { subscribers: members } })).status, 200);
    const sent = await trigger(SHARDED, { to: [{ topic }, members[0]], payload: { title: "broadcast" } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const done = await waitFor(async () => {
      const state = await call(SHARDED, `/v1/transactions/${sent.body.transaction_id}`);
      return state.body.status === "running" ? null : state.body;
    }, "the fan-out");
    assert.equal(done.status, "completed", JSON.stringify(done));
    assert.deepEqual(done.recipients, { done: 30, total: 30 });
    for (const member of members) {
      assert.deepEqual((await feed(SHARDED, member)).items.map((item) => item.subject), ["broadcast"], member);
    }
    const perShard = SHARD_BINDINGS.map((binding) => Object.keys(storedMessages(binding, `member-${tag}`)).length);
    assert.ok(perShard.every((count) => count > 0), `members on every shard: ${perShard}`);
  });

  it("are out of reach of another environment's keys", async () => {
    const [subscriber] = subscribers(`apart-${tag}`, 1);
    assert.equal((await trigger(SHARDED, { to: [subscriber], payload: { title: "sharded only" } })).status, 202);
    assert.equal((await trigger(SINGLE, { to: [subscriber], payload: { title: "single only" } })).status, 202);
    assert.deepEqual((await feed(SINGLE, subscriber)).items.map((item) => item.subject), ["single only"]);
    assert.deepEqual((await feed(SHARDED, subscriber)).items.map((item) => item.subject), ["sharded only"]);
    const id = (await feed(SHARDED, subscriber)).items[0].id;
    const acted = await call(SINGLE, `/v1/subscribers/${subscriber}/feed/actions`, { method: "POST", body: { action: "delete", ids: [id] } });
    assert.equal(acted.body.updated, 0, "another environment's action finds nothing");
    assert.equal((await feed(SHARDED, subscriber)).items.length, 1);
  });

  it("are never another environment's: names cannot collide, and a database stamped as one environment's shard is refused to another", async () => {
    // `db-sharded`'s shards are named after it, never after `sharded`'s (FEED<i>_SHARDED).
    const lookalike = await admin("/v1/environments", { method: "POST", body: { name: "db-sharded", type: "development", shards: 2 } });
    assert.equal(lookalike.status, 202, JSON.stringify(lookalike.body));
    assert.match(lookalike.body.status_reason, /FEED0_DB_SHARDED, FEED1_DB_SHARDED/);
    assert.equal((await admin("/v1/environments/db-sharded", { method: "DELETE" })).status, 200);
    // A careless configuration binds `thief`'s shards to the sharded environment's databases.
    const config = readFileSync(process.env.TIDINGS_TEST_CONFIG, "utf8");
    const idOf = (binding) => config.match(new RegExp(`binding = "${binding}"\\ndatabase_name = "[^"]+"\\ndatabase_id = "([^"]+)"`))[1];
    // And `thief-2`'s first shard to development's own database.
    const borrowed = [["FEED0_THIEF", "FEED1_SHARDED"], ["FEED1_THIEF", "FEED0_SHARDED"], ["FEED0_THIEF_2", "DB_DEVELOPMENT"], ["FEED1_THIEF_2", "FEED2_SHARDED"]]
      .map(([binding, target]) => `
[[d1_databases]]
binding = "${binding}"
database_name = "borrowed-${binding.toLowerCase()}"
database_id = "${idOf(target)}"
migrations_dir = "${config.match(/^migrations_dir = "(.*environment)"$/m)[1]}"
`).join("");
    writeFileSync(process.env.TIDINGS_TEST_CONFIG, config.replace("\n[[kv_namespaces]]", `${borrowed}\n[[kv_namespaces]]`));
    try {
      /** Registers `name` with two shards and waits until its provisioning fails; answers the reason. */
      const refusedReason = async (name) => {
        const registered = await admin("/v1/environments", { method: "POST", body: { name, type: "development", shards: 2 } });
        assert.ok([201, 202].includes(registered.status), JSON.stringify(registered.body));
        return waitFor(async () => {
          const shown = (await admin(`/v1/environments/${name}`)).body;
          return shown.status === "failed" ? shown.status_reason : null;
        }, `${name}'s borrowed databases to be refused`);
      };
      assert.match(await refusedReason("thief"), /FEED0_THIEF is shard 1 of the sharded environment/);
      assert.equal((await admin("/v1/environments/thief", { method: "DELETE" })).status, 200);
      assert.match(await refusedReason("thief-2"), /FEED0_THIEF_2 is (the own database of the development environment|an environment's own database)/);
      assert.equal((await admin("/v1/environments/thief-2", { method: "DELETE" })).status, 200);
      assert.equal((await call(SINGLE, "/v1/environments/current")).status, 200, "development keeps working");
      assert.ok((await feed(SINGLE, `spread-${tag}-00`)).items.length > 0, "development's feeds are untouched");
      assert.ok((await feed(SHARDED, `spread-${tag}-00`)).items.length > 0, "the sharded environment's feeds are untouched");
    } finally {
      writeFileSync(process.env.TIDINGS_TEST_CONFIG, config);
      await reloaded();
    }
  });

  it("are all emptied when the environment is deleted, and it can be created again with another count", async () => {
    const deleted = await admin(`/v1/environments/${SHARDED}`, { method: "DELETE" });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    for (const binding of ["DB_SHARDED", ...SHARD_BINDINGS]) {
      const [{ count }] = queryLocal(binding, "SELECT COUNT(*) AS count FROM messages");
      assert.equal(count, 0, `${binding} is empty`);
    }
    const refused = await admin("/v1/environments", { method: "POST", body: { name: SHARDED, type: "development", shards: 65 } });
    assert.equal(expectError(assert, refused, 400, "validation_failed").field, "shards");
    const again = await admin("/v1/environments", { method: "POST", body: { name: SHARDED, type: "development", shards: 2 } });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.body.status, "ready", "its first two shards are bound already");
    assert.equal(again.body.shards, 2);
    for (const path of ["/v1/environments", "/v1/me"]) assert.equal((await admin(path)).status, 200, path);
    // More shards than the deployment binds: it waits for them, and breaks nothing else.
    assert.equal((await admin(`/v1/environments/${SHARDED}`, { method: "DELETE" })).status, 200);
    const wider = await admin("/v1/environments", { method: "POST", body: { name: SHARDED, type: "development", shards: 8 } });
    assert.equal(wider.status, 202, JSON.stringify(wider.body));
    assert.equal(wider.body.status, "creating");
    assert.match(wider.body.status_reason, /FEED7_SHARDED/);
    for (const path of ["/v1/environments", "/v1/me"]) assert.equal((await admin(path)).status, 200, path);
    assert.equal((await call(SINGLE, "/v1/environments/current")).status, 200, "another environment keeps working");
  });
});
