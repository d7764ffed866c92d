// Read replicas through D1's Sessions API: every feed answer carries the
// session's bookmark (`Tidings-Bookmark`, and inside the watermark), a
// client sends it back and reads from there, a malformed one is refused
// before it reaches D1 (and an action carrying one changes nothing), browsers
// may send and read the header, and the SDK carries it from answer to
// request. Locally D1 has no replica: what holds only on Cloudflare (a read
// served by a replica at least as fresh as the bookmark) is documented, not
// tested, here. The tests' stack reads as a deployment whose databases
// replicate does (TIDINGS_D1_READ_REPLICATION=auto); the last test switches
// that off, as deployments are by default, and back.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { createTidings } from "@tidings/sdk";
import { api, apiUrl, expectError, freshSubscriber, keys, reloaded, welcome } from "./support/context.mjs";

const key = keys.development.secret_key;
const BOOKMARK = /^[A-Za-z0-9_:.-]{1,256}$/;
const feedOf = (subscriber, rest = "", options = {}) => api(`/v1/subscribers/${subscriber}/feed${rest}`, { key, ...options });

describe("read replicas", () => {
  it("answer every feed read and action with a bookmark, also inside the watermark, and read from the one sent back", async () => {
    const subscriber = freshSubscriber("replica");
    await welcome(subscriber, "Ada");
    const page = await feedOf(subscriber);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    const first = page.headers.get("tidings-bookmark");
    assert.match(first ?? "", BOOKMARK);
    assert.equal(page.body.watermark, `${page.body.watermark.split("~")[0]}~${first}`, "the watermark carries the read's bookmark");

    const acted = await feedOf(subscriber, "/actions", { method: "POST", body: { action: "read", ids: [page.body.items[0].id] }, headers: { "Tidings-Bookmark": first } });
    assert.equal(acted.status, 200, JSON.stringify(acted.body));
    const written = acted.headers.get("tidings-bookmark");
    assert.match(written ?? "", BOOKMARK, "a write answers the bookmark that covers it");

    // Reading from the write's bookmark sees the write.
    const after = await feedOf(subscriber, "", { headers: { "Tidings-Bookmark": written } });
    assert.equal(after.status, 200);
    assert.ok(after.body.items[0].read_at, "read your own write");
    const counts = await feedOf(subscriber, "/counts", { headers: { "Tidings-Bookmark": written } });
    assert.deepEqual([counts.status, counts.body.unread], [200, 0]);
    assert.match(counts.headers.get("tidings-bookmark") ?? "", BOOKMARK);

    // Changes follow the watermark's bookmark, or the header's when both are given.
    for (const headers of [{}, { "Tidings-Bookmark": written }]) {
      const changes = await feedOf(subscriber, `/changes?since=${encodeURIComponent(page.body.watermark)}`, { headers });
      assert.equal(changes.status, 200, JSON.stringify(changes.body));
      assert.equal(changes.body.changes.length, 1, "the read since the first page");
      assert.match(changes.body.watermark, /^\d+(\.[0-9a-z]+)?~[A-Za-z0-9_:.-]+$/);
    }
    // A watermark from before bookmarks still works.
    const plain = await feedOf(subscriber, `/changes?since=${page.body.watermark.split("~")[0]}`);
    assert.equal(plain.status, 200);
  });

  it("refuse a malformed bookmark in the header or the watermark, and apply no action that carries one", async () => {
    const subscriber = freshSubscriber("replica-bad");
    await welcome(subscriber, "Bob");
    const page = await feedOf(subscriber);
    const bad = { "Tidings-Bookmark": "not a bookmark; DROP TABLE" };
    for (const rest of ["", "/counts", `/changes?since=${page.body.watermark.split("~")[0]}`]) {
      assert.equal(expectError(assert, await feedOf(subscriber, rest, { headers: bad }), 400, "validation_failed").field, "Tidings-Bookmark", rest);
    }
    const tooLong = { "Tidings-Bookmark": "a".repeat(257) };
    expectError(assert, await feedOf(subscriber, "", { headers: tooLong }), 400, "validation_failed");
    const refused = await feedOf(subscriber, "/actions", { method: "POST", body: { action: "read", ids: [page.body.items[0].id] }, headers: bad });
    assert.equal(expectError(assert, refused, 400, "validation_failed").field, "Tidings-Bookmark");
    assert.equal((await feedOf(subscriber)).body.counts.unread, 1, "the refused action changed nothing");
    for (const since of ["5~", "5~a b", "5~a~b", `5~${"a".repeat(257)}`]) {
      assert.equal(expectError(assert, await feedOf(subscriber, `/changes?since=${encodeURIComponent(since)}`), 400, "validation_failed").field, "since", since);
    }
  });

  it("let browsers send the header and read it", async () => {
    const preflight = await fetch(`${apiUrl}/v1/subscribers/x/feed`, {
      method: "OPTIONS",
      headers: { Origin: "http://localhost:5173", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "tidings-bookmark" },
    });
    assert.match(preflight.headers.get("access-control-allow-headers") ?? "", /Tidings-Bookmark/);
    const subscriber = freshSubscriber("replica-cors");
    const answer = await feedOf(subscriber, "", { headers: { Origin: "http://localhost:5173" } });
    assert.match(answer.headers.get("access-control-expose-headers") ?? "", /Tidings-Bookmark/);
  });

  it("are followed by the SDK: a read after an action sends the action's bookmark (or a later one)", async () => {
    const subscriberId = freshSubscriber("replica-sdk");
    await welcome(subscriberId, "Cy");
    const calls = [];
    const original = globalThis.fetch;
    globalThis.fetch = async (url, init) => {
      const call = { url: String(url), method: init?.method ?? "GET", sent: init?.headers?.["Tidings-Bookmark"] ?? null, answered: null, at: null };
      calls.push(call);
      const response = await original(url, init);
      call.answered = response.headers.get("tidings-bookmark");
      call.at = calls.filter((other) => other.at !== null).length;
      return response;
    };
    let tidings;
    try {
      tidings = await createTidings({ apiUrl, publishableKey: keys.development.publishable_key, subscriberId });
      const page = await tidings.feed.list({ limit: 5 });
      await tidings.feed.markRead(page.items[0].id);
      await tidings.feed.list({ limit: 5 });
    } finally {
      tidings?.close();
      globalThis.fetch = original;
    }
    const action = calls.find((call) => call.method === "POST" && call.url.endsWith("/feed/actions"));
    assert.match(action?.answered ?? "", BOOKMARK, JSON.stringify(calls));
    assert.ok(action.sent, "the action carried the first read's bookmark");
    const read = calls.filter((call) => call.method === "GET" && /\/feed\?/.test(call.url)).at(-1);
    const since = calls.filter((call) => call.at !== null && call.at >= action.at && call.answered).map((call) => call.answered);
    assert.ok(since.includes(read.sent), `the read after the action sent ${read.sent}; answered since: ${since}`);
  });

  it("are not used where the databases do not replicate (the default): no bookmark answered, a client's still checked, its writes read from the primary", async () => {
    const vars = join(dirname(process.env.TIDINGS_TEST_CONFIG), ".dev.vars");
    const replicated = readFileSync(vars, "utf8");
    assert.match(replicated, /^TIDINGS_D1_READ_REPLICATION=auto$/m);
    // wrangler dev reads .dev.vars again when its configuration changes.
    const config = readFileSync(process.env.TIDINGS_TEST_CONFIG, "utf8");
    const settle = async (text) => {
      writeFileSync(vars, text);
      writeFileSync(process.env.TIDINGS_TEST_CONFIG, config);
      await reloaded();
    };
    await settle(replicated.replace(/^TIDINGS_D1_READ_REPLICATION=auto$/m, "TIDINGS_D1_READ_REPLICATION=disabled"));
    try {
      const subscriber = freshSubscriber("primary-only");
      await welcome(subscriber, "Dee");
      const page = await feedOf(subscriber);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.equal(page.headers.get("tidings-bookmark"), null, "no session, so no bookmark");
      assert.doesNotMatch(page.body.watermark, /~/, "the watermark carries no bookmark");
      // A bookmark a replicating deployment answered earlier is still well-formed input: checked, then not needed.
      const earlier = { "Tidings-Bookmark": "00000001-00000002-00004f6e-0123456789abcdef" };
      const acted = await feedOf(subscriber, "/actions", { method: "POST", body: { action: "read", ids: [page.body.items[0].id] }, headers: earlier });
      assert.equal(acted.status, 200, JSON.stringify(acted.body));
      assert.equal(acted.headers.get("tidings-bookmark"), null);
      const after = await feedOf(subscriber, "", { headers: earlier });
      assert.equal(after.status, 200, JSON.stringify(after.body));
      assert.ok(after.body.items[0].read_at, "read your own write, from the primary");
      const changes = await feedOf(subscriber, `/changes?since=${encodeURIComponent(`${page.body.watermark}~${earlier["Tidings-Bookmark"]}`)}`);
      assert.equal(changes.status, 200, JSON.stringify(changes.body));
      assert.equal(changes.body.changes.length, 1, "the read since the first page");
      assert.doesNotMatch(changes.body.watermark, /~/);
      const bad = { "Tidings-Bookmark": "not a bookmark; DROP TABLE" };
      assert.equal(expectError(assert, await feedOf(subscriber, "/counts", { headers: bad }), 400, "validation_failed").field, "Tidings-Bookmark");
      const badSince = `/changes?since=${encodeURIComponent(`${page.body.watermark}~not a bookmark`)}`;
      assert.equal(expectError(assert, await feedOf(subscriber, badSince), 400, "validation_failed").field, "since");
    } finally {
      await settle(replicated);
    }
    const again = await feedOf(freshSubscriber("replicated-again"));
    assert.match(again.headers.get("tidings-bookmark") ?? "", BOOKMARK, "sessions again once the databases replicate");
  });
});
