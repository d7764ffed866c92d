// Storage faults: D1 writes that fail the way D1 documents transient
// failures, injected by the test stack (crates/tidings-worker/src/store/faults.rs).
// Writes retry with backoff; a write that still fails answers 503 with
// Retry-After, never 2xx; retried requests with idempotency keys produce each
// acknowledged trigger's messages exactly once. Run against development (its
// feed in its own database) and staging (four feed shards in the test stack).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { api, expectError, freshSubscriber, keys } from "./support/context.mjs";
import { openSocket } from "./support/realtime.mjs";

const FAULTS = "Tidings-Inject-Faults";

/**
 * The suite against one environment: development keeps its feed in its own
 * database, the test stack's staging has four feed shards (the trigger's
 * messages go to the shards first, then its records to the primary, where
 * these faults strike).
 */
function faults(name, once) {
  const key = keys[name].secret_key;
  // With shards a trigger's messages commit on them before its records in the primary, where these
  // faults strike: a failed attempt's message can be in the feed already, and its retry completes
  // that same message (docs/shards.md).
  const sharded = name !== "development";
  const call = (path, options = {}) => api(path, { key, ...options });
  const workflow = `faults-${randomBytes(4).toString("hex")}`;

  function trigger(body, { faults, idempotencyKey } = {}) {
    const headers = {};
    if (faults) headers[FAULTS] = faults;
    if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
    return call("/v1/events/trigger", { method: "POST", body, headers });
  }

  async function feed(subscriber) {
    const response = await call(`/v1/subscribers/${subscriber}/feed?limit=100`);
    assert.equal(response.status, 200, JSON.stringify(response.body));
    return response.body.items;
  }

  describe(`storage faults (${name})`, () => {
    before(async () => {
      const saved = await call(`/v1/workflows/${workflow}`, {
        method: "PUT",
        body: { name: "Faults", steps: [{ type: "in_app", subject: "Order {{ payload.order }}", body: "shipped" }] },
      });
      assert.equal(saved.status, 201, JSON.stringify(saved.body));
    });

    it("retries a write that failed before committing, and answers 202 once it is stored", async () => {
      const subscriber = freshSubscriber("retry");
      const response = await trigger({ workflow, to: [subscriber], payload: { order: 1 } }, { faults: "deliver=fail,fail" });
      assert.equal(response.status, 202, JSON.stringify(response.body));
      const items = await feed(subscriber);
      assert.deepEqual(items.map((item) => item.id), [response.body.messages[0].id]);
    });

    it("retries a write whose answer was lost after it committed, without storing it twice", async () => {
      const subscribers = [freshSubscriber("lost-a"), freshSubscriber("lost-b")];
      const response = await trigger({ workflow, to: subscribers, payload: { order: 2 } }, { faults: "deliver=lost,fail" });
      assert.equal(response.status, 202, JSON.stringify(response.body));
      for (const subscriber of subscribers) assert.equal((await feed(subscriber)).length, 1);
      const logs = await call(`/v1/logs?workflow=${workflow}&status=stored&limit=100`);
      assert.equal(logs.status, 200, JSON.stringify(logs.body));
      const stored = logs.body.items.filter((entry) => entry.transaction_id === response.body.transaction_id);
      assert.equal(stored.length, 2, "one log entry per message");
    });

    it("answers 503 with Retry-After when every attempt fails, stores nothing, and lets the retry run", async () => {
      const subscriber = freshSubscriber("exhausted");
      const idempotencyKey = `exhausted-${randomBytes(6).toString("hex")}`;
      const body = { workflow, to: [subscriber], payload: { order: 3 } };
      const failed = await trigger(body, { faults: "deliver=fail,fail,fail,fail", idempotencyKey });
      expectError(assert, failed, 503, "unavailable");
      assert.ok(Number(failed.headers.get("retry-after")) >= 1);
      assert.ok((await feed(subscriber)).length <= (sharded ? 1 : 0), "nothing stored but, with shards, the message the retry completes");
      const retried = await trigger(body, { idempotencyKey });
      assert.equal(retried.status, 202, JSON.stringify(retried.body));
      assert.equal(retried.headers.get("idempotency-replay"), null, "the failed attempt released its key");
      assert.equal((await feed(subscriber)).length, 1);
    });

    it("replays the stored answer when the last attempt committed but its answer was lost", async () => {
      const subscriber = freshSubscriber("committed");
      const idempotencyKey = `committed-${randomBytes(6).toString("hex")}`;
      const body = { workflow, to: [subscriber], payload: { order: 4 } };
      const failed = await trigger(body, { faults: "deliver=fail,fail,fail,lost", idempotencyKey });
      expectError(assert, failed, 503, "unavailable");
      const retried = await trigger(body, { idempotencyKey });
      assert.equal(retried.status, 202, JSON.stringify(retried.body));
      assert.equal(retried.headers.get("idempotency-replay"), "true");
      const items = await feed(subscriber);
      assert.deepEqual(items.map((item) => item.id), [retried.body.messages[0].id], "exactly the committed message");
    });

    it("keeps a claim on an idempotency key whose answer was lost", async () => {
      const subscriber = freshSubscriber("claim");
      const idempotencyKey = `claim-${randomBytes(6).toString("hex")}`;
      const response = await trigger(
        { workflow, to: [subscriber], payload: { order: 5 } },
        { faults: "claim=lost,fail", idempotencyKey },
      );
      assert.equal(response.status, 202, JSON.stringify(response.body));
      assert.equal((await feed(subscriber)).length, 1);
    });

    it("retries feed actions, and answers 503 without changing anything when they keep failing", async () => {
      const subscriber = freshSubscriber("action");
      await trigger({ workflow, to: [subscriber], payload: { order: 6 } });
      await trigger({ workflow, to: [subscriber], payload: { order: 7 } });
      const [newest, older] = await feed(subscriber);
      const act = (ids, faults) =>
        call(`/v1/subscribers/${subscriber}/feed/actions`, {
          method: "POST",
          body: { action: "read", ids },
          headers: { [FAULTS]: faults },
        });
      const failed = await act([older.id], "feed-action=fail,fail,fail,fail");
      expectError(assert, failed, 503, "unavailable");
      assert.equal((await call(`/v1/subscribers/${subscriber}/feed/counts`)).body.unread, 2);
      const done = await act([newest.id], "feed-action=lost");
      assert.equal(done.status, 200, JSON.stringify(done.body));
      const counts = (await call(`/v1/subscribers/${subscriber}/feed/counts`)).body;
      assert.equal(counts.unread, 1);
    });

    it("after a storm of faults and client retries, every acknowledged trigger produced exactly its messages", { timeout: 120_000 }, async () => {
      const recipients = Array.from({ length: 12 }, (_, index) => freshSubscriber(`storm-${index}`));
      const plans = ["", "deliver=fail", "deliver=lost", "deliver=fail,fail,fail,fail", "deliver=fail,fail,fail,lost", "claim=lost", "claim=fail,fail,fail,fail"];
      const triggers = Array.from({ length: 120 }, (_, index) => ({
        idempotencyKey: `storm-${index}-${randomBytes(6).toString("hex")}`,
        body: { workflow, to: [recipients[index % 12], recipients[(index * 5 + 1) % 12]], payload: { order: index } },
      }));
      const acknowledged = new Map();
      let serverErrors = 0;
      let unavailable = 0;
      let next = 0;
      async function client() {
        while (next < triggers.length) {
          const { idempotencyKey, body } = triggers[next];
          next += 1;
          for (let attempt = 0; attempt < 10; attempt += 1) {
            // Faults on the first two attempts; the client retries with the same key.
            const faults = attempt < 2 ? plans[Math.floor(Math.random() * plans.length)] : "";
            const response = await trigger(body, { faults, idempotencyKey });
            if (response.status === 202) {
              acknowledged.set(idempotencyKey, response.body);
              break;
            }
            if (response.status === 503) unavailable += 1;
            else if (response.status === 409) await new Promise((resolve) => setTimeout(resolve, 50));
            else serverErrors += 1;
          }
        }
      }
      await Promise.all(Array.from({ length: 8 }, client));
      assert.equal(serverErrors, 0, "no answer other than 202, 409 (in progress) or 503");
      assert.equal(acknowledged.size, triggers.length, "every trigger was acknowledged in the end");
      assert.ok(unavailable > 0, "the storm did make requests fail");

      const expected = new Map(recipients.map((recipient) => [recipient, new Set()]));
      for (const answer of acknowledged.values()) {
        for (const message of answer.messages) expected.get(message.subscriber_id).add(message.id);
      }
      for (const recipient of recipients) {
        const items = [];
        let after = "";
        do {
          const page = await call(`/v1/subscribers/${recipient}/feed?limit=100${after ? `&after=${after}` : ""}`);
          items.push(...page.body.items);
          after = page.body.page_info.has_more ? page.body.page_info.after : "";
        } while (after);
        const ids = items.map((item) => item.id);
        assert.equal(new Set(ids).size, ids.length, `no duplicate in ${recipient}'s feed`);
        assert.deepEqual(new Set(ids), expected.get(recipient), `${recipient}'s feed holds exactly its acknowledged messages`);
        const counts = (await call(`/v1/subscribers/${recipient}/feed/counts`)).body;
        assert.equal(counts.unread, ids.length, "counts match the items");
      }
    });

    it("never commits a keyed request whose key another request took over meanwhile", async () => {
      const subscriber = freshSubscriber("taken-over");
      // Right after this request claims its key, another takes it over (as a retry does when the
      // first seems abandoned): this one must commit nothing.
      const takenOver = (idempotencyKey) => ({ [FAULTS]: "idempotency=taken-over", "Idempotency-Key": idempotencyKey });
      const refused = await call("/v1/events/trigger", {
        method: "POST", body: { workflow, to: [subscriber], payload: { order: 1 } }, headers: takenOver(`taken-${randomBytes(4).toString("hex")}`),
      });
      expectError(assert, refused, 409, "request_in_progress");
      // With shards, the message of the transaction the other request runs may be there already.
      assert.ok((await feed(subscriber)).length <= (sharded ? 1 : 0), "the trigger stored nothing in the primary's transaction");

      assert.equal((await trigger({ workflow, to: [subscriber], payload: { order: 2 } })).status, 202);
      const [message] = await feed(subscriber);
      const action = await call(`/v1/subscribers/${subscriber}/feed/actions`, {
        method: "POST", body: { action: "read", ids: [message.id] }, headers: takenOver(`read-${randomBytes(4).toString("hex")}`),
      });
      expectError(assert, action, 409, "request_in_progress");
      assert.ok((await feed(subscriber)).every((item) => item.read_at === null), "the action changed nothing");
    });

    if (once) it("starts a fresh Wasm instance after a trap: the next requests, triggers, feeds and realtime sockets work", async () => {
      // A socket the feed's hub registered before the trap, and one opened after it.
      const earlier = { subscriber: freshSubscriber("before-trap") };
      earlier.live = await openSocket("development", earlier.subscriber);
      await earlier.live.ready;
      const trapped = await call("/v1/environments/current", { headers: { [FAULTS]: "worker=trap" } });
      assert.ok(trapped.status >= 500, `a request whose worker trapped answered ${trapped.status}`);
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const next = await call("/v1/environments/current");
        assert.equal(next.status, 200, JSON.stringify(next.body));
      }
      const subscriber = freshSubscriber("after-trap");
      const live = await openSocket("development", subscriber);
      await live.ready;
      const sent = await trigger({ workflow, to: [subscriber, earlier.subscriber], payload: { order: 9 } });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      await live.next("changed");
      await earlier.live.next("changed");
      assert.deepEqual((await feed(subscriber)).map((item) => item.subject), ["Order 9"]);
      live.socket.close();
      earlier.live.socket.close();
    });

    if (once) it("is switched on only by the test stack, never by the deployment's configuration", () => {
      const config = readFileSync(new URL("../wrangler.toml", import.meta.url), "utf8");
      assert.ok(!config.includes("TIDINGS_FAULT_INJECTION"));
    });
  });
}

faults("development", true);
faults("staging", false);
