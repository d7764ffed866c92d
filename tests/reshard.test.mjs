// Resharding: `npm run env -- reshard grow --shards N` moves an environment's
// feeds to more shards a bucket of subscribers at a time (copy, verify,
// switch, clean up) while the environment keeps serving. Checked under load
// (keyed triggers, feed reads and actions, delta-sync clients polling), from
// the environment's own database to three shards and then to six: no message
// is lost, doubled or hidden, counts stay exact, every client's replica built
// from changes alone ends equal to the feed, and the databases' own files
// hold each feed in exactly the shard its bucket maps to. Also what a
// careless admin or an outsider may ask: fewer shards, missing bindings,
// keys instead of a member, another move while one is under way.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { admin, api, expectError, reloaded } from "./support/context.mjs";
import { environmentWithWorkflow, envCommand as runEnvCommand } from "./support/env-command.mjs";
import { bucketOf } from "./support/buckets.mjs";
import { queryLocal } from "./support/local-state.mjs";

const scratch = mkdtempSync(join(tmpdir(), "tidings-reshard-"));
const keysFile = join(scratch, "keys.json");
const envCommand = (...args) => runEnvCommand(keysFile, ...args);
const NAME = "grow";
const tag = randomBytes(3).toString("hex");
const workflow = `grow-${tag}`;
const people = Array.from({ length: 40 }, (_, index) => `grow-${tag}-${String(index).padStart(2, "0")}`);
const watched = people.slice(0, 10);
let secret;

/**
 * Calls the API with the environment's secret key, as a well-behaved client
 * does: again after a dropped connection (wrangler reloading its
 * configuration), a 503 or a 429 (after its Retry-After).
 */
async function call(path, options = {}) {
  for (let attempt = 1; ; attempt += 1) {
    let wait = 200;
    try {
      const response = await api(path, { key: secret, ...options });
      if (![429, 503].includes(response.status) || attempt === 30) return response;
      stats[`retried${response.status}`] += 1;
      if (response.status === 503) stats.codes503.add(response.body?.error?.code);
      wait = Number(response.headers.get("retry-after") ?? 1) * 1000;
    } catch (error) {
      if (attempt === 30) throw error;
      stats.dropped += 1;
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
const stats = { retried503: 0, codes503: new Set(), retried429: 0, dropped: 0, triggers: 0, reads: 0, actions: 0, polls: 0 };

/** Every payload number each subscriber should see once, from every accepted trigger. */
const expected = new Map(people.map((person) => [person, []]));
let serial = 0;
async function trigger(to) {
  const n = (serial += 1);
  const sent = await call("/v1/events/trigger", {
    method: "POST", body: { workflow, to, payload: { n } }, headers: { "Idempotency-Key": `grow-${tag}-${n}` },
  });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  for (const person of to) expected.get(person).push(n);
  stats.triggers += 1;
}

/** A delta-sync client: its replica of one feed, built from changes alone. */
function client(subscriber) {
  const replica = new Map();
  let since = "0";
  return {
    subscriber,
    replica,
    async poll() {
      for (;;) {
        const changes = await call(`/v1/subscribers/${subscriber}/feed/changes?since=${encodeURIComponent(since)}&archived=include&limit=50`);
        assert.equal(changes.status, 200, JSON.stringify(changes.body));
        for (const change of changes.body.changes) {
          if (change.kind === "upsert") replica.set(change.item.id, change.item);
          else replica.delete(change.id);
        }
        since = changes.body.watermark;
        stats.polls += 1;
        if (!changes.body.has_more) return changes.body.counts;
      }
    },
  };
}
const clients = watched.map(client);

/** A whole feed, archived messages included, page after page; the counts of its first page. */
async function feedOf(subscriber) {
  const items = [];
  let counts;
  for (let after = ""; ;) {
    const page = await call(`/v1/subscribers/${subscriber}/feed?limit=100&archived=include${after}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    items.push(...page.body.items);
    counts ??= page.body.counts;
    if (!page.body.page_info.has_more) return { items, counts };
    after = `&after=${encodeURIComponent(page.body.page_info.after)}`;
  }
}

/** Triggers, reads, actions and polls, all at once, until `stop()`. */
function load() {
  let running = true;
  const pick = () => people[Math.floor(Math.random() * people.length)];
  const loop = async (step) => {
    while (running) {
      await step();
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
  };
  const done = Promise.all([
    loop(() => trigger([pick(), pick(), pick()].filter((person, index, all) => all.indexOf(person) === index))),
    loop(async () => {
      assert.equal((await call(`/v1/subscribers/${pick()}/feed?limit=20`)).status, 200);
      stats.reads += 1;
    }),
    loop(async () => {
      const acted = await call(`/v1/subscribers/${pick()}/feed/actions`, {
        method: "POST", body: { action: "seen", filter: {} }, headers: { "Idempotency-Key": `seen-${tag}-${randomBytes(4).toString("hex")}` },
      });
      assert.equal(acted.status, 200, JSON.stringify(acted.body));
      stats.actions += 1;
    }),
    loop(async () => {
      await clients[Math.floor(Math.random() * clients.length)].poll();
    }),
  ]);
  return async () => {
    running = false;
    await done;
  };
}

/** Messages per subscriber of this test in one database's file. */
function stored(binding) {
  const rows = queryLocal(binding, `SELECT subscriber_id, COUNT(*) AS count FROM messages WHERE subscriber_id LIKE 'grow-${tag}-%' GROUP BY subscriber_id`);
  return Object.fromEntries(rows.map((row) => [row.subscriber_id, row.count]));
}

/** Everything a client, the API and the databases say agrees with what was sent, at `shards` shards. */
async function checkEverything(shards) {
  const shown = await admin(`/v1/environments/${NAME}`);
  assert.equal(shown.body.shards, shards);
  assert.equal(shown.body.shards_from, null, "the move is done");
  const totals = {};
  for (const person of people) {
    const page = await feedOf(person);
    const numbers = page.items.map((item) => item.payload.n).sort((a, b) => a - b);
    assert.deepEqual(numbers, [...expected.get(person)].sort((a, b) => a - b), `${person}: every message once`);
    const unread = page.items.filter((item) => !item.read_at && !item.archived_at).length;
    assert.deepEqual(
      [page.counts.total, page.counts.unread],
      [page.items.filter((item) => !item.archived_at).length, unread],
      `${person}: exact counts`,
    );
    totals[person] = page.items.length;
  }
  for (const watcher of clients) {
    const counts = await watcher.poll();
    const page = await feedOf(watcher.subscriber);
    const view = (item) => [item.id, item.read_at, item.seen_at, item.archived_at];
    assert.deepEqual([...watcher.replica.values()].map(view).sort(), page.items.map(view).sort(), `${watcher.subscriber}: the replica built from changes is the feed`);
    assert.deepEqual(counts, page.counts);
  }
  // The databases' own files: each feed whole in the shard its bucket maps to, none in the primary.
  assert.deepEqual(stored(`DB_${NAME.toUpperCase()}`), {}, "nothing left in the environment's own database");
  const seen = {};
  for (let index = 0; index < shards; index += 1) {
    for (const [person, count] of Object.entries(stored(`FEED${index}_${NAME.toUpperCase()}`))) {
      assert.equal(bucketOf(person) % shards, index, `${person} is on shard ${index}`);
      assert.equal(seen[person], undefined, `${person} is on one shard only`);
      seen[person] = count;
    }
  }
  assert.deepEqual(seen, totals);
}

before(async () => {
  secret = await environmentWithWorkflow(keysFile, NAME, workflow, "n{{ payload.n }}");
  // Feeds with history: read, archived and deleted messages (tombstones) before any move.
  await trigger(people);
  await trigger(people.slice(0, 20));
  for (const [index, person] of people.slice(0, 12).entries()) {
    const page = await feedOf(person);
    const first = page.items[0];
    const action = ["read", "archive", "delete"][index % 3];
    const acted = await call(`/v1/subscribers/${person}/feed/actions`, { method: "POST", body: { action, ids: [first.id] } });
    assert.equal(acted.status, 200, JSON.stringify(acted.body));
    if (action === "delete") expected.set(person, expected.get(person).filter((n) => n !== first.payload.n));
  }
  for (const watcher of clients) await watcher.poll();
}, { timeout: 240_000 });

after(async () => {
  await envCommand("delete", NAME);
  rmSync(scratch, { recursive: true, force: true });
  await reloaded();
}, { timeout: 120_000 });

describe("resharding", () => {
  it("refuses fewer shards, shards that are not bound, keys, and strangers' environments", async () => {
    const reshard = (body, name = NAME, options = {}) =>
      admin(`/v1/environments/${name}/reshard`, { method: "POST", body, ...options });
    const same = await reshard({ shards: 1 });
    assert.equal(same.status, 200, JSON.stringify(same.body));
    assert.equal(same.body.done, true);
    assert.equal(expectError(assert, await reshard({ shards: 0 }), 400, "validation_failed").field, "shards");
    assert.equal(expectError(assert, await reshard({ shards: 65 }), 400, "validation_failed").field, "shards");
    expectError(assert, await reshard({ shards: 2, more: true }), 400, "validation_failed");
    // Not bound yet: nothing moves, and the environment is as it was.
    const unbound = expectError(assert, await reshard({ shards: 2 }), 409, "environment_not_ready");
    assert.match(unbound.message, /FEED0_GROW/);
    assert.equal((await admin(`/v1/environments/${NAME}`)).body.shards_from, null);
    expectError(assert, await reshard({ shards: 2 }, "nowhere"), 404, "environment_not_found");
    // An API key of the environment is no member: the control plane refuses it.
    const withKey = await api(`/v1/environments/${NAME}/reshard`, { method: "POST", body: { shards: 2 }, key: secret });
    assert.ok([401, 403].includes(withKey.status), JSON.stringify(withKey.body));
  });

  it("moves every feed out of the environment's own database to three shards under load", async () => {
    const stop = load();
    const moved = await envCommand("reshard", NAME, "--shards", "3");
    await stop();
    assert.equal(moved.code, 0, moved.stderr + moved.stdout);
    const progress = moved.json();
    assert.equal(progress.done, true);
    assert.equal(progress.buckets_to_move, 256);
    assert.equal(progress.buckets_moved, 256);
    assert.ok(stats.triggers > 0 && stats.reads > 0 && stats.actions > 0 && stats.polls > 0, JSON.stringify(stats));
    await checkEverything(3);
  });

  it("moves the buckets whose shard changes from three shards to six under load, through a failed switch and two commands at once, and refuses fewer after", async () => {
    const prepared = await envCommand("reshard", NAME, "--shards", "6", "--prepare");
    assert.equal(prepared.code, 0, prepared.stderr + prepared.stdout);
    const stop = load();
    // A call whose first switch fails (the test stack's fault injection) leaves every feed where it
    // was and serving (the load's reads and writes go on), with no fence left behind.
    let failed;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      failed = await admin(`/v1/environments/${NAME}/reshard`, {
        method: "POST", body: { shards: 6 }, headers: { "Tidings-Inject-Faults": "reshard-switch=fail" },
      });
      // Until the worker has reloaded with the new bindings (meanwhile: not ready, or restarted mid-request).
      if (typeof failed.body === "object" && failed.body.error?.code !== "environment_not_ready") break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expectError(assert, failed, 503, "unavailable");
    const moving = (await admin(`/v1/environments/${NAME}`)).body;
    assert.deepEqual([moving.shards_from, moving.shards], [3, 6], "the move is under way");
    for (let index = 0; index < 3; index += 1) {
      assert.deepEqual(queryLocal(`FEED${index}_GROW`, "SELECT bucket, state FROM feed_fences"), [], `no fence left on shard ${index}`);
    }
    for (const person of people) await feedOf(person);
    // Two admins run the same move at once: one call moves buckets at a time, the other waits its turn.
    const [moved, twin] = await Promise.all([envCommand("reshard", NAME, "--shards", "6"), envCommand("reshard", NAME, "--shards", "6")]);
    await stop();
    assert.equal(moved.code, 0, moved.stderr + moved.stdout);
    assert.equal(twin.code, 0, twin.stderr + twin.stdout);
    assert.equal(twin.json().done, true);
    assert.equal(moved.json().done, true);
    // The call that switched the last bucket reports the whole move; the other's last call found it done.
    const changing = Array.from({ length: 256 }, (_, bucket) => bucket).filter((bucket) => bucket % 3 !== bucket % 6).length;
    const reports = [moved, twin].map((command) => command.json());
    assert.ok(reports.some((report) => report.buckets_to_move === changing && report.buckets_moved === changing), moved.stdout + twin.stdout);
    await checkEverything(6);
    const fewer = await admin(`/v1/environments/${NAME}/reshard`, { method: "POST", body: { shards: 4 } });
    assert.equal(expectError(assert, fewer, 400, "validation_failed").field, "shards");
    console.log(`# under load: ${JSON.stringify({ ...stats, codes503: [...stats.codes503] })}`);
  });
});
