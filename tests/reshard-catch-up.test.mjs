// A bucket's move copies its feeds while they still take writes, then fences
// the writes and copies only what changed since: so a large bucket is fenced
// for the time its changes take, not for its whole copy. Checked through the
// real stack and the databases' own files, with the move's first call held
// (the test stack's `reshard-fence=stall`) after its pre-copy of bucket 0 and
// before the fence, while the test changes that bucket's feeds every way a
// feed changes: a read, an archive, a deletion, a new message, a deleted
// subscriber and one deleted and made again. After the move every feed is
// exactly the one served before it, its counts exact, a delta-sync client's
// replica equals it, the move's record shows that only the changed rows were
// copied under the fence, and a read's bookmark names the new database. The
// next bucket's catch-up is taken as not verified (`reshard-verify=fail`):
// it is copied whole under its fence, and its feeds are exact too. Then a
// call that ends with a bucket fenced (`reshard-fence=lost`, as when its
// isolate ends) leaves the bucket's writes refused until the sweep takes the
// move up and lifts the dead call's fence.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { admin, api, apiUrl, expectError } from "./support/context.mjs";
import { idsInBucket } from "./support/buckets.mjs";
import { environmentWithWorkflow, envCommand as runEnvCommand } from "./support/env-command.mjs";
import { messagesStored, queryLocal } from "./support/local-state.mjs";

const scratch = mkdtempSync(join(tmpdir(), "tidings-catch-up-"));
const keysFile = join(scratch, "keys.json");
const envCommand = (...args) => runEnvCommand(keysFile, ...args);
const NAME = "late";
const tag = randomBytes(3).toString("hex");
const workflow = `late-${tag}`;
const prefix = `late-${tag}-`;
let secret;

// Bucket 0 is the first a move to two shards takes (to FEED0_LATE), bucket 1 the second (to FEED1_LATE).
const people = idsInBucket(prefix, 0, 6);
const others = idsInBucket(prefix, 1, 4);

const call = (path, options = {}) => api(path, { key: secret, ...options });

async function trigger(to, title) {
  const sent = await call("/v1/events/trigger", { method: "POST", body: { workflow, to, payload: { title } } });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
}

/** A feed as a client sees it (archived messages included): subjects and states, and its counts. */
async function feedOf(subscriber) {
  const page = await call(`/v1/subscribers/${subscriber}/feed?limit=100&archived=include`);
  assert.equal(page.status, 200, JSON.stringify(page.body));
  const items = page.body.items.map((item) => ({ id: item.id, subject: item.subject, read: Boolean(item.read_at), archived: Boolean(item.archived_at) }));
  return { items, counts: page.body.counts };
}

/** Messages of this test's subscribers in one database's file. */
const storedIn = (binding) => messagesStored(binding, prefix);

before(async () => {
  secret = await environmentWithWorkflow(keysFile, NAME, workflow, "{{ payload.title }}");
}, { timeout: 120_000 });

after(async () => {
  await envCommand("delete", NAME);
  rmSync(scratch, { recursive: true, force: true });
}, { timeout: 120_000 });

describe("a bucket's move", () => {
  it("copies the bucket before its fence and, under it, only what changed since, losing no change", { timeout: 180_000 }, async () => {
    await trigger([...people, ...others], "one");
    await trigger([...people, ...others], "two");
    const [reader, deleter, archiver, receiver, leaver, returner] = people;
    // A tombstone before the move, of one who will be deleted and sent to again during it: the copy
    // keeps it, as the old home does.
    const returnerFirst = (await call(`/v1/subscribers/${returner}/feed?limit=100`)).body.items.find((item) => item.subject === "one");
    const removed = await call(`/v1/subscribers/${returner}/feed/actions`, { method: "POST", body: { action: "delete", ids: [returnerFirst.id] } });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    const othersFirst = (await call(`/v1/subscribers/${others[0]}/feed?limit=100`)).body.items.find((item) => item.subject === "one");
    assert.equal((await call(`/v1/subscribers/${others[0]}/feed/actions`, { method: "POST", body: { action: "delete", ids: [othersFirst.id] } })).status, 200);
    // A delta-sync client of the reader, caught up before the move.
    const replica = new Map();
    let since = "0";
    const poll = async () => {
      for (;;) {
        const changes = await call(`/v1/subscribers/${reader}/feed/changes?since=${encodeURIComponent(since)}&archived=include&limit=50`);
        assert.equal(changes.status, 200, JSON.stringify(changes.body));
        for (const change of changes.body.changes) {
          if (change.kind === "upsert") replica.set(change.item.id, Boolean(change.item.read_at));
          else replica.delete(change.id);
        }
        since = changes.body.watermark;
        if (!changes.body.has_more) return;
      }
    };
    await poll();
    // A read's bookmark names the count that placed the feed in its database (one: the environment's own).
    const placedBefore = (await call(`/v1/subscribers/${reader}/feed`)).headers.get("tidings-bookmark");
    assert.match(placedBefore ?? "", /^n1:/);

    const prepared = await envCommand("reshard", NAME, "--shards", "2", "--prepare");
    assert.equal(prepared.code, 0, prepared.stderr + prepared.stdout);
    // The move's first call, held after its pre-copy of bucket 0 (until the worker has reloaded with
    // the new bindings, it answers not ready or is dropped mid-request: then it is called again).
    const moving = (async () => {
      for (const deadline = Date.now() + 60_000; ;) {
        const answer = await admin(`/v1/environments/${NAME}/reshard`, {
          method: "POST", body: { shards: 2 }, headers: { "Tidings-Inject-Faults": "reshard-fence=stall" },
        }).catch((error) => ({ status: 0, body: String(error) }));
        // Not ready until reloaded; a call that died in a restart holds the lease for 20 s.
        const retry = answer.status === 0 || ["environment_not_ready", "reshard_in_progress"].includes(answer.body?.error?.code);
        if (!retry || Date.now() > deadline) return answer;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    // The pre-copy is done once the new shard holds the bucket's eleven messages.
    for (const deadline = Date.now() + 60_000; storedIn("FEED0_LATE") < 11;) {
      assert.ok(Date.now() < deadline, "the pre-copy of bucket 0 reached the new shard");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }

    // While the call is held, the bucket still takes writes at its old home.
    const idOf = async (subscriber, subject) => (await feedOf(subscriber)).items.find((item) => item.subject === subject).id;
    const act = async (subscriber, body) => {
      const acted = await call(`/v1/subscribers/${subscriber}/feed/actions`, { method: "POST", body });
      assert.equal(acted.status, 200, JSON.stringify(acted.body));
    };
    await act(reader, { action: "read", ids: [await idOf(reader, "one")] });
    await act(deleter, { action: "delete", ids: [await idOf(deleter, "one")] });
    await act(archiver, { action: "archive", filter: {} });
    await trigger([receiver], "three");
    assert.equal((await call(`/v1/subscribers/${leaver}`, { method: "DELETE" })).status, 200);
    assert.equal((await call(`/v1/subscribers/${returner}`, { method: "DELETE" })).status, 200);
    await trigger([returner], "again");
    const served = Object.fromEntries(await Promise.all(people.map(async (person) => [person, await feedOf(person)])));

    const first = await moving;
    assert.ok([200, 202].includes(first.status), JSON.stringify(first.body));
    // The next call's first bucket (1): its catch-up taken as not verified (`reshard-verify=fail`),
    // it is copied whole under its fence, and verified again.
    const servedOthers = Object.fromEntries(await Promise.all(others.map(async (person) => [person, await feedOf(person)])));
    const second = await admin(`/v1/environments/${NAME}/reshard`, {
      method: "POST", body: { shards: 2 }, headers: { "Tidings-Inject-Faults": "reshard-verify=fail" },
    });
    assert.ok([200, 202].includes(second.status), JSON.stringify(second.body));
    const finished = await envCommand("reshard", NAME, "--shards", "2");
    assert.equal(finished.code, 0, finished.stderr + finished.stdout);
    assert.equal(finished.json().done, true);

    // Every feed is the one served before the move, on the new shard only.
    for (const person of people) assert.deepEqual(await feedOf(person), served[person], person);
    for (const person of others) assert.deepEqual(await feedOf(person), servedOthers[person], person);
    assert.deepEqual(served[reader].items.map((item) => item.read).sort(), [false, true]);
    assert.deepEqual(served[deleter].items.map((item) => item.subject), ["two"]);
    assert.deepEqual([served[archiver].items.every((item) => item.archived), served[archiver].counts.total], [true, 0]);
    assert.equal(served[receiver].items.length, 3);
    assert.deepEqual(served[leaver].items, []);
    assert.deepEqual(served[returner].items.map((item) => item.subject), ["again"]);
    assert.deepEqual(["DB_LATE", "FEED0_LATE", "FEED1_LATE"].map(storedIn), [0, 9, 7]);
    // The client's next changes bring its replica to the feed.
    await poll();
    assert.deepEqual([...replica.entries()].sort(), served[reader].items.map((item) => [item.id, item.read]).sort());

    // A bookmark from before the move is a position in the database the feed left: the new shard's
    // session starts at its primary instead, and the answer's bookmark is the new database's. (A key
    // validated before the move routes with the old map until its cached validation lapses: the
    // first database refuses, the map is read again, and that answer carries no bookmark. A key
    // issued now reads the new map at once.)
    const issued = await admin(`/v1/environments/${NAME}/keys`, { method: "POST", body: { kind: "secret" } });
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    // (Local D1 takes any bookmark, so which start the session got is checked in the core:
    // tidings_core::shard::session_start.)
    for (const bookmark of [placedBefore, undefined]) {
      const headers = bookmark ? { "Tidings-Bookmark": bookmark } : {};
      const read = await api(`/v1/subscribers/${reader}/feed`, { key: issued.body.key, headers });
      assert.equal(read.status, 200, `${bookmark}: ${JSON.stringify(read.body)}`);
      assert.match(read.headers.get("tidings-bookmark") ?? "", /^n2:/);
      assert.match(read.body.watermark, /~n2:/);
    }

    // Under the fence only the changed rows were copied: one read, two archived and two new
    // messages, one tombstone (the deleted subscribers' feeds went with no row to copy). A whole
    // copy (a catch-up that did not verify) would have copied all eleven.
    const [move] = queryLocal("DB_LATE", "SELECT messages, fenced_rows, fenced_at, switched_at FROM feed_moves WHERE bucket = 0");
    assert.deepEqual([move.messages, move.fenced_rows], [9, 6], JSON.stringify(move));
    assert.ok(move.fenced_at <= move.switched_at, JSON.stringify(move));
    // Every fence at the old home carries the epoch of the call that set it; each call raised it.
    const [{ unmarked }] = queryLocal("DB_LATE", "SELECT COUNT(*) AS unmarked FROM feed_fences WHERE epoch IS NULL");
    assert.equal(unmarked, 0);
    const [{ epoch, fenced }] = queryLocal("DB_LATE", "SELECT (SELECT lease_epoch FROM feed_map) AS epoch, MAX(epoch) AS fenced FROM feed_fences");
    assert.ok(epoch >= 3 && fenced >= 1 && fenced <= epoch, `map epoch ${epoch}, fences up to ${fenced}`);
    // Bucket 1, copied whole under its fence: its seven messages and one tombstone.
    const [whole] = queryLocal("DB_LATE", "SELECT messages, fenced_rows FROM feed_moves WHERE bucket = 1");
    assert.deepEqual([whole.messages, whole.fenced_rows], [7, 8], JSON.stringify(whole));
    expectError(assert, await admin(`/v1/environments/${NAME}/reshard`, { method: "POST", body: { shards: 1 } }), 400, "validation_failed");
  });
  it("is taken up by the sweep when its call ends with a bucket fenced", { timeout: 180_000 }, async () => {
    const prepared = await envCommand("reshard", NAME, "--shards", "3", "--prepare");
    assert.equal(prepared.code, 0, prepared.stderr + prepared.stdout);
    // The move's first call ends once its first bucket is fenced, leaving the fence up.
    for (const deadline = Date.now() + 60_000; ;) {
      const answer = await admin(`/v1/environments/${NAME}/reshard`, {
        method: "POST", body: { shards: 3 }, headers: { "Tidings-Inject-Faults": "reshard-fence=lost" },
      }).catch((error) => ({ status: 0, body: String(error) }));
      if (answer.status === 503 && answer.body?.error?.code === "unavailable") break;
      // Not ready until reloaded with the new binding, as above.
      const retry = answer.status === 0 || ["environment_not_ready", "reshard_in_progress"].includes(answer.body?.error?.code);
      assert.ok(retry && Date.now() < deadline, JSON.stringify(answer.body));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const fences = ["FEED0_LATE", "FEED1_LATE"].flatMap((binding) => queryLocal(binding, "SELECT bucket, state FROM feed_fences"));
    assert.equal(fences.length, 1, JSON.stringify(fences));
    const [stranded] = fences;
    assert.equal(stranded.state, "writes");
    const fencedPeople = idsInBucket(`${prefix}s-`, stranded.bucket, 2);
    // Nobody calls again: the bucket's writes are refused while the dead call's fence stands.
    const refused = await call("/v1/events/trigger", { method: "POST", body: { workflow, to: fencedPeople, payload: { title: "fenced" } } });
    expectError(assert, refused, 503, "feed_moving");
    // The sweep takes the move up, and moves that bucket first: its writes go through again.
    const swept = await fetch(`${apiUrl}/__scheduled?cron=clock+${Date.now()}`);
    assert.ok(swept.ok, `the sweep answered ${swept.status}`);
    await trigger(fencedPeople, "after");
    const [move] = queryLocal("DB_LATE", `SELECT switched_at FROM feed_moves WHERE bucket = ${stranded.bucket}`);
    assert.ok(move?.switched_at, `the sweep moved bucket ${stranded.bucket}: ${JSON.stringify(move)}`);
    const finished = await envCommand("reshard", NAME, "--shards", "3");
    assert.equal(finished.code, 0, finished.stderr + finished.stdout);
    assert.equal(finished.json().done, true);
    for (const person of fencedPeople) assert.deepEqual((await feedOf(person)).items.map((item) => item.subject), ["after"], person);
    for (const binding of ["DB_LATE", "FEED0_LATE", "FEED1_LATE", "FEED2_LATE"]) {
      assert.deepEqual(queryLocal(binding, "SELECT bucket FROM feed_fences WHERE state = 'writes'"), [], binding);
    }
  });
});
