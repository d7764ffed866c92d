// `@tidings/sdk/server` against the worker in workerd: every secret-key
// operation named, triggers with idempotency and retries, tokens and
// hashes byte-identical to the worker's (tests/vectors/signing.json),
// webhooks verified as they arrive from a real delivery, and the same entry
// running inside workerd itself (an edge runtime, no `node:` modules).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  TidingsError,
  TidingsServer,
  signSubscriberToken,
  signWebhook,
  subscriberHash,
  verifyWebhook,
} from "@tidings/sdk/server";
import { OPERATIONS } from "../crates/tidings-sdk/js/server/operations.js";
import { expandPath, parseRetryAfter, queryString, retryDelayMs, retryable } from "../crates/tidings-sdk/js/server/client.js";
import { api, apiUrl, freshSubscriber, keys, waitFor } from "./support/context.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const vectors = JSON.parse(readFileSync(join(root, "tests/vectors/signing.json"), "utf8"));
const openapi = JSON.parse(readFileSync(join(root, "openapi.json"), "utf8"));
const development = new TidingsServer({ secretKey: keys.development.secret_key, apiUrl });

/** Every operation openapi.json says a secret key may call: operationId → [method, path]. */
export function secretKeyOperations() {
  const operations = {};
  for (const [path, item] of Object.entries(openapi.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (operation["x-tidings-scope"]) operations[operation.operationId] = [method.toUpperCase(), path];
    }
  }
  return operations;
}

describe("@tidings/sdk/server: the surface", () => {
  it("names every secret-key operation of openapi.json, with its method and path", () => {
    const table = Object.fromEntries(Object.entries(OPERATIONS).map(([id, [method, path]]) => [id, [method, path]]));
    assert.deepEqual(table, secretKeyOperations());
    // What may be sent twice: a POST only when marked (a trigger carries an
    // Idempotency-Key); a PUT or DELETE unless marked (a workflow save makes a version).
    const marked = Object.entries(OPERATIONS).filter(([, [, , flag]]) => flag !== undefined).map(([id, [, , flag]]) => `${id}:${flag}`).sort();
    assert.deepEqual(marked, [
      "addTopicMembers:true", "bulkUpsertSubscribers:true", "createIntegration:false", "createWorkflow:false", "feedActions:true", "feedStreamTicket:true",
      "mintSubscriberToken:true", "replayDeliveries:false", "replayDelivery:false", "saveWorkflow:false", "signFileUrls:true",
      "trigger:true", "triggerBulk:true",
    ]);
    const unmarkedPosts = Object.entries(OPERATIONS).filter(([, [method, , flag]]) => method === "POST" && flag === undefined);
    assert.deepEqual(unmarkedPosts, [], "every POST says whether it may be repeated");
  });

  it("keeps every parameter inside its own path segments and encodes queries as the API reads them", () => {
    assert.equal(expandPath("/v1/files/{path}", { path: "a b/c?d#e.txt" }), "/v1/files/a%20b/c%3Fd%23e.txt");
    assert.equal(expandPath("/v1/subscribers/{subscriber_id}", { subscriber_id: "a/b" }), "/v1/subscribers/a%2Fb");
    for (const [template, params] of [
      ["/v1/files/{path}", { path: "../subscribers/user-1" }], ["/v1/files/{path}", { path: "a/./b" }], ["/v1/files/{path}", { path: "a//b" }],
      ["/v1/subscribers/{subscriber_id}", { subscriber_id: ".." }], ["/v1/subscribers/{subscriber_id}", { subscriber_id: "." }],
      ["/v1/subscribers/{subscriber_id}", { subscriber_id: "" }], ["/v1/subscribers/{subscriber_id}", {}],
    ]) {
      assert.throws(() => expandPath(template, params), (error) => error.code === "invalid_options", JSON.stringify(params));
    }
    assert.equal(queryString({ tags: ["a", "b"], read: false, limit: 5, skip: undefined }), "?tags=a%2Cb&read=false&limit=5");
    assert.equal(queryString({ filters: [{ read: false }, { tags: ["x"] }] }), `?filters=${encodeURIComponent('[{"read":false},{"tags":["x"]}]')}`);
  });

  it("imports no node: module and loads no WebAssembly, so edge runtimes can run it", () => {
    const dir = join(root, "crates/tidings-sdk/js/server");
    for (const file of ["../server.js", ...readdirSync(dir)]) {
      const text = readFileSync(join(dir, file), "utf8");
      assert.ok(!/["']node:|require\(|\.wasm|process\.|\bBuffer\b/.test(text), `${file} uses a runtime-specific API`);
    }
  });

  it("reproduces the shared signing vectors byte for byte", () => {
    for (const v of vectors.subscriber_tokens) {
      const token = signSubscriberToken({
        signingSecret: v.signing_secret, environment: v.environment, subscriberId: v.subscriber_id,
        scope: v.scope, keyId: v.key_id, now: v.now_ms, ttlSeconds: v.ttl_seconds,
      });
      assert.equal(token, v.token);
    }
    for (const v of vectors.subscriber_hashes) assert.equal(subscriberHash(v.signing_secret, v.subscriber_id), v.hash);
    for (const v of vectors.webhook_signatures) {
      assert.equal(signWebhook(v), v.signature);
      assert.ok(verifyWebhook({ body: v.body, signature: v.signature, secret: v.secret, now: v.timestamp * 1000 }));
    }
  });

  it("refuses bad options with a typed error", () => {
    const base = { signingSecret: "s".repeat(64), environment: "development", subscriberId: "user-1" };
    for (const [change, field] of [
      [{ environment: "Prod" }, "environment"], [{ subscriberId: "a b" }, "subscriberId"], [{ ttlSeconds: 0 }, "ttlSeconds"],
      [{ ttlSeconds: 2592001 }, "ttlSeconds"], [{ scope: "admin" }, "scope"], [{ keyId: "k1" }, "keyId"],
      [{ signingSecret: "" }, "signingSecret"], [{ ttl: 60 }, "ttl"],
    ]) {
      assert.throws(() => signSubscriberToken({ ...base, ...change }), (error) => error instanceof TidingsError && error.code === "invalid_options" && error.field === field);
    }
    assert.throws(() => new TidingsServer({ secretKey: keys.development.publishable_key, apiUrl }), (error) => error.field === "secretKey");
    for (const bad of ["/relative", "ftp://host", "https://host/?tenant=1", "https://host/#x", "https://user:pw@host"]) {
      assert.throws(() => new TidingsServer({ secretKey: keys.development.secret_key, apiUrl: bad }), (error) => error.field === "apiUrl", bad);
    }
    for (const [name, value] of [["maxRetries", 1.5], ["maxRetries", -1], ["maxRetryDelaySeconds", NaN], ["maxRetryDelaySeconds", Infinity], ["baseRetryDelayMs", "1"], ["retries", 2]]) {
      assert.throws(() => new TidingsServer({ secretKey: keys.development.secret_key, apiUrl, [name]: value }), (error) => error.field === name, `${name}=${value}`);
    }
    assert.doesNotThrow(() => new TidingsServer({ secretKey: keys.development.secret_key, apiUrl, maxRetryDelaySeconds: undefined }));
    for (const now of [NaN, Infinity, -1, 1e25]) {
      assert.throws(() => signSubscriberToken({ ...base, now }), (error) => error.field === "now", String(now));
    }
    assert.throws(() => signWebhook({ body: "{}", secret: "whsec_0123456789abcdef", timestamp: 1e12 }), (error) => error.field === "timestamp");
  });

  it("verifies webhook signatures in a time window and never throws on a bad header", () => {
    const secret = "whsec_0123456789abcdef";
    const body = '{"order":42}';
    const now = 1_767_225_600_000;
    const signature = signWebhook({ body, secret, timestamp: now / 1000 });
    assert.equal(verifyWebhook({ body, signature, secret, now }), true);
    assert.equal(verifyWebhook({ body: new TextEncoder().encode(body), signature, secret, now }), true);
    assert.equal(verifyWebhook({ body: '{"order":43}', signature, secret, now }), false, "another body");
    assert.equal(verifyWebhook({ body, signature, secret: "whsec_other_secret_0", now }), false, "another secret");
    assert.equal(verifyWebhook({ body, signature, secret, now: now + 301_000 }), false, "too old");
    assert.equal(verifyWebhook({ body, signature, secret, now: now - 301_000 }), false, "from the future");
    assert.equal(verifyWebhook({ body, signature, secret, now: now + 3_600_000, toleranceSeconds: 7200 }), true);
    for (const header of [undefined, null, "", "garbage", "t=abc,v1=00", `v1=${signature.split("v1=")[1]}`, signature.replace(/v1=../, "v1=zz")]) {
      assert.equal(verifyWebhook({ body, signature: header, secret, now }), false, String(header));
    }
    // A tolerance or clock that is not a number fails closed, never open.
    for (const toleranceSeconds of [NaN, -1, Infinity, "300"]) {
      assert.throws(() => verifyWebhook({ body, signature, secret, now, toleranceSeconds }), (error) => error.field === "toleranceSeconds");
    }
    assert.throws(() => verifyWebhook({ body, signature, secret, now: NaN }), (error) => error.field === "now");
    assert.equal(verifyWebhook({ body, signature: `${signature}=junk`, secret, now }), false, "trailing junk after v1");
    // A second v1 (a rotation on the sender's side) may match.
    assert.equal(verifyWebhook({ body, signature: `${signature.replace(/v1=.*/, `v1=${"0".repeat(64)}`)},${signature.split(",")[1]}`, secret, now }), true);
  });

  it("retries only what is safe, waiting what Retry-After says", () => {
    assert.equal(retryable({ status: 429, repeatable: false }), true);
    assert.equal(retryable({ status: 409, code: "request_in_progress", repeatable: true }), true);
    assert.equal(retryable({ status: 409, code: "workflow_exists", repeatable: true }), false);
    assert.equal(retryable({ status: 503, repeatable: true }), true);
    assert.equal(retryable({ status: 503, repeatable: false }), false);
    assert.equal(retryable({ status: undefined, repeatable: false }), false, "a lost answer to a create");
    assert.equal(retryable({ status: 422, code: "idempotency_key_reused", repeatable: true }), false);
    assert.equal(retryable({ status: 500, repeatable: true }), false);
    assert.equal(retryDelayMs({ attempt: 5, retryAfterSeconds: 2 }), 2000);
    assert.equal(retryDelayMs({ attempt: 2, random: () => 1 }), 1000);
    assert.equal(retryDelayMs({ attempt: 2, random: () => 0 }), 500);
    assert.equal(parseRetryAfter("7"), 7);
    assert.equal(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2030, 0, 1)), 10);
    assert.equal(parseRetryAfter("soon"), undefined);
  });
});

describe("@tidings/sdk/server against the worker", () => {
  it("triggers once per idempotency key and reads back what it wrote", async () => {
    const subscriber = freshSubscriber("server-client");
    await development.subscribers.upsert(subscriber, { first_name: "Ada", email: "ada@example.com" });
    assert.equal((await development.subscribers.get(subscriber)).first_name, "Ada");
    const idempotencyKey = `order-${randomBytes(4).toString("hex")}`;
    const event = { workflow: "welcome", to: [subscriber], payload: { name: "Ada" } };
    const first = await development.trigger(event, { idempotencyKey });
    const again = await development.trigger(event, { idempotencyKey });
    assert.equal(again.transaction_id, first.transaction_id, "the retry replays the first answer");
    await development.trigger(event);
    await development.trigger(event);
    const page = await development.feed.list(subscriber, { limit: 10 });
    assert.equal(page.items.length, 3, "one message per distinct call, none per replay");
    assert.equal((await development.feed.counts(subscriber)).unread, 3);
    const several = await development.feed.counts(subscriber, { filters: [{ read: false }, { read: true }] });
    assert.deepEqual(several.results.map((counts) => counts.total), [3, 0]);
    // Feed actions are keyed too: the same key applies once, even after an undo in between.
    const read = { action: "read", ids: [page.items[0].id] };
    const actionKey = `read-${randomBytes(4).toString("hex")}`;
    assert.equal((await development.feed.act(subscriber, read, { idempotencyKey: actionKey })).updated, 1);
    assert.equal((await development.feed.act(subscriber, { action: "unread", ids: read.ids })).updated, 1);
    const replayed = await development.feed.act(subscriber, read, { idempotencyKey: actionKey });
    assert.deepEqual([replayed.updated, replayed.counts.unread], [1, 3], "the first answer, not applied again");
    const logs = await development.logs.list({ subscriber_id: subscriber });
    assert.equal(logs.items.filter((entry) => entry.workflow === "welcome").length, 3, JSON.stringify(logs.items));
    const bulk = await development.triggerBulk([event, { ...event, workflow: "no-such-workflow" }]);
    assert.deepEqual(bulk.results.map((result) => result.status), [202, 404]);
    assert.equal((await development.environment()).name, "development");
  });

  it("answers failures as TidingsErrors with the API's code, status and details", async () => {
    await assert.rejects(development.subscribers.get(freshSubscriber("missing")), (error) =>
      error instanceof TidingsError && error.code === "subscriber_not_found" && error.status === 404);
    const forged = new TidingsServer({ secretKey: `${keys.development.secret_key.slice(0, -4)}zzzz`, apiUrl });
    await assert.rejects(forged.environment(), (error) => error.status === 401 && typeof error.code === "string");
    const down = new TidingsServer({ secretKey: keys.development.secret_key, apiUrl: "http://127.0.0.1:9", maxRetries: 0 });
    await assert.rejects(down.environment(), (error) => error.code === "network_error" && error.status === undefined);
    await assert.rejects(development.workflows.save("bad", { name: "x", steps: [{ type: "in_app", subject: "{{", body: "b" }] }), (error) =>
      error.code === "validation_failed" && error.status === 400 && error.field === "steps.0.subject");
  });

  it("mints tokens the feed accepts, through the API and offline, and hashes too", async () => {
    const subscriber = freshSubscriber("server-token");
    const staging = new TidingsServer({ secretKey: keys.staging.secret_key, apiUrl });
    await staging.subscribers.upsert(subscriber);
    const feedWith = (headers) => api(`/v1/subscribers/${subscriber}/feed`, { key: keys.staging.publishable_key, headers });
    const minted = await staging.subscribers.mintToken(subscriber, { ttlSeconds: 600, scope: "read" });
    assert.equal(minted.scope, "read");
    assert.equal((await feedWith({ "X-Subscriber-Token": minted.token })).status, 200);
    // Issued a little in the past, so the revocation below is certainly later.
    const offline = signSubscriberToken({ signingSecret: keys.staging.subscriber_signing_secret, environment: "staging", subscriberId: subscriber, now: Date.now() - 5000 });
    assert.equal((await feedWith({ "X-Subscriber-Token": offline })).status, 200);
    const hash = subscriberHash(keys.staging.subscriber_signing_secret, subscriber);
    assert.equal((await feedWith({ "X-Subscriber-Hash": hash })).status, 200);
    const wrongEnvironment = signSubscriberToken({ signingSecret: keys.staging.subscriber_signing_secret, environment: "production", subscriberId: subscriber });
    assert.equal((await feedWith({ "X-Subscriber-Token": wrongEnvironment })).status, 401);
    await staging.subscribers.revokeTokens(subscriber);
    assert.equal((await feedWith({ "X-Subscriber-Token": offline })).status, 401, "revoked");
  });

  it("manages content, variables, integrations and files", async () => {
    const key = `server-client-${randomBytes(3).toString("hex")}`;
    await development.workflows.save(key, { name: "From the client", steps: [{ type: "in_app", subject: "Hi {{ payload.name }}", body: "b" }] });
    assert.ok((await development.workflows.list()).items.some((workflow) => workflow.key === key));
    assert.equal((await development.workflows.versions(key)).items.length, 1);
    const variable = `SERVER_CLIENT_${randomBytes(3).toString("hex").toUpperCase()}`;
    await development.variables.put(variable, { value: "on" });
    assert.equal((await development.variables.get(variable)).value, "on");
    await development.variables.delete(variable);
    const path = `server-client/${randomBytes(3).toString("hex")}.txt`;
    await development.files.put(path, new TextEncoder().encode("hello"), "text/plain");
    const file = await development.files.get(path);
    assert.equal(new TextDecoder().decode(file.body), "hello");
    assert.match(file.contentType, /^text\/plain/);
    assert.ok((await development.files.list({ prefix: "server-client/" })).items.some((item) => item.path === path));
    assert.deepEqual(await development.files.delete(path), { path, deleted: true });
    assert.deepEqual(await development.workflows.delete(key), { key, deleted: true });
  });

  it("manages topics and follows a trigger to one until it completes", async () => {
    const topic = `server-client-${randomBytes(3).toString("hex")}`;
    const members = [`${topic}-a`, `${topic}-b`, `${topic}-c`];
    assert.equal((await development.topics.put(topic, { name: "Client" })).name, "Client");
    assert.deepEqual(await development.topics.addMembers(topic, members), { topic, changed: 3, subscribers: 3 });
    assert.deepEqual((await development.topics.members(topic, { limit: 2 })).items, members.slice(0, 2));
    assert.equal((await development.topics.removeMembers(topic, [members[2]])).subscribers, 2);
    assert.equal((await development.topics.get(topic)).subscribers, 2);
    assert.ok(Array.isArray((await development.topics.list({ limit: 5 })).items));
    const accepted = await development.trigger({ workflow: "welcome", to: [{ topic }], payload: { name: "Topic" } });
    assert.equal(accepted.status, "queued");
    let state;
    for (let tries = 0; tries < 100; tries += 1) {
      state = await development.transactions.get(accepted.transaction_id);
      if (state.status !== "running") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual([state.status, state.recipients], ["completed", { done: 2, total: 2 }]);
    assert.equal((await development.feed.list(members[0])).items[0].subject, "Welcome, Topic!");
    assert.deepEqual(await development.topics.delete(topic), { key: topic, deleted: true });
  });

  it("retries a 503 and a 429 through a flaky proxy, honouring Retry-After, and never a create", async () => {
    const seen = [];
    let failuresLeft = 0;
    let failWith = 503;
    const proxy = createServer(async (request, response) => {
      const chunks = [];
      for await (const chunk of request) chunks.push(chunk);
      seen.push({ method: request.method, url: request.url, idempotencyKey: request.headers["idempotency-key"] });
      if (failuresLeft > 0) {
        failuresLeft--;
        const code = failWith === 503 ? "unavailable" : "rate_limited";
        response.writeHead(failWith, { "Content-Type": "application/json", "Retry-After": "1" });
        response.end(JSON.stringify({ error: { code, message: "try again" } }));
        return;
      }
      const upstream = await fetch(`${apiUrl}${request.url}`, {
        method: request.method,
        headers: Object.fromEntries(["authorization", "content-type", "idempotency-key"].filter((name) => request.headers[name]).map((name) => [name, request.headers[name]])),
        body: chunks.length ? Buffer.concat(chunks) : undefined,
      });
      response.writeHead(upstream.status, { "Content-Type": upstream.headers.get("content-type") ?? "application/json" });
      response.end(Buffer.from(await upstream.arrayBuffer()));
    });
    await new Promise((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const flaky = new TidingsServer({ secretKey: keys.development.secret_key, apiUrl: `http://127.0.0.1:${proxy.address().port}` });
      const subscriber = freshSubscriber("server-retry");
      failuresLeft = 2;
      const answer = await flaky.trigger({ workflow: "welcome", to: [subscriber], payload: { name: "R" } });
      assert.equal(seen.length, 3, "two refusals, then the real worker");
      assert.equal(new Set(seen.map((request) => request.idempotencyKey)).size, 1, "every attempt carries the same Idempotency-Key");
      assert.ok(answer.transaction_id);
      assert.equal((await development.feed.list(subscriber)).items.length, 1, "notified once");

      // The generic request() keys a trigger too, so its retry cannot notify twice.
      seen.length = 0;
      failuresLeft = 1;
      await flaky.request("trigger", { body: { workflow: "welcome", to: [subscriber], payload: { name: "R" } } });
      assert.equal(seen.length, 2);
      assert.ok(seen[0].idempotencyKey && seen[0].idempotencyKey === seen[1].idempotencyKey, JSON.stringify(seen));
      assert.equal((await development.feed.list(subscriber)).items.length, 2, "one more notification, not two");

      seen.length = 0;
      failWith = 429;
      failuresLeft = 1;
      const once = `rate-limited-${randomBytes(3).toString("hex")}`;
      await flaky.workflows.create({ key: once, name: "Rate limited once", steps: [{ type: "in_app", subject: "s", body: "b" }] });
      await development.workflows.delete(once);
      assert.equal(seen.length, 2, "a 429 means nothing was done, so even a create is retried");

      seen.length = 0;
      failWith = 503;
      failuresLeft = 1;
      await assert.rejects(flaky.workflows.create({ key: `maybe-${randomBytes(3).toString("hex")}`, name: "Maybe written", steps: [{ type: "in_app", subject: "s", body: "b" }] }), (error) =>
        error.code === "unavailable" && error.retryAfter === 1);
      assert.equal(seen.length, 1, "a create that may have been written is not sent twice");

      seen.length = 0;
      failuresLeft = 1;
      const impatient = new TidingsServer({ secretKey: keys.development.secret_key, apiUrl: `http://127.0.0.1:${proxy.address().port}`, maxRetryDelaySeconds: 0 });
      await assert.rejects(impatient.environment(), (error) => error.code === "unavailable");
      assert.equal(seen.length, 1, "a Retry-After past the limit is not waited out");
    } finally {
      proxy.close();
    }
  });

  it("verifies a real delivery's signature on the raw body", async () => {
    const secret = `whsec_${randomBytes(16).toString("hex")}`;
    const received = [];
    const receiver = createServer(async (request, response) => {
      const chunks = [];
      for await (const chunk of request) chunks.push(chunk);
      received.push({ body: Buffer.concat(chunks).toString("utf8"), signature: request.headers["tidings-signature"] });
      response.writeHead(200).end("ok");
    });
    await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const integration = `server-hook-${randomBytes(3).toString("hex")}`;
    const workflow = `server-hooked-${randomBytes(3).toString("hex")}`;
    try {
      await development.integrations.create({ id: integration, kind: "webhook", name: "Hook", url: `http://127.0.0.1:${receiver.address().port}/`, signing_secret: secret });
      await development.workflows.save(workflow, {
        name: "Hooked",
        steps: [{ type: "webhook", integration, body: '{"user": {{ subscriber.id | tojson }}, "note": "Zoë ✓"}' }],
      });
      const subscriber = freshSubscriber("server-hook");
      await development.trigger({ workflow, to: [subscriber] });
      await waitFor(() => received.length > 0, "the delivery");
      const [{ body, signature }] = received;
      assert.ok(verifyWebhook({ body, signature, secret }), `${signature} over ${body}`);
      assert.equal(verifyWebhook({ body: body.replace("Zoë", "Zoe"), signature, secret }), false);
      assert.equal(JSON.parse(body).user, subscriber);
    } finally {
      receiver.close();
      await development.workflows.delete(workflow).catch(() => {});
      await development.integrations.delete(integration).catch(() => {});
    }
  });
});

describe("@tidings/sdk/server inside workerd (an edge runtime)", () => {
  const dir = join(root, ".tidings/edge-client-check");
  let worker;

  before(async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "index.js"), `
import { TidingsServer, signSubscriberToken, verifyWebhook, signWebhook } from "@tidings/sdk/server";
export default {
  async fetch(request) {
    const { apiUrl, secretKey, signingSecret, subscriberId } = await request.json();
    const client = new TidingsServer({ apiUrl, secretKey });
    const triggered = await client.trigger({ workflow: "welcome", to: [subscriberId], payload: { name: "Edge" } });
    const token = signSubscriberToken({ signingSecret, environment: "development", subscriberId });
    const signature = signWebhook({ body: "{}", secret: "whsec_edge_check_000", timestamp: Math.floor(Date.now() / 1000) });
    const verified = verifyWebhook({ body: "{}", signature, secret: "whsec_edge_check_000" });
    return Response.json({ transaction_id: triggered.transaction_id, token, verified });
  },
};`);
    process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
    process.env.WRANGLER_SEND_METRICS = "false";
    const { unstable_dev } = await import("wrangler");
    worker = await unstable_dev(join(dir, "index.js"), {
      config: "/dev/null",
      compatibilityDate: "2025-01-01",
      logLevel: "warn",
      experimental: { disableExperimentalWarning: true },
    });
  });
  after(async () => {
    await worker?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("triggers, signs and verifies from a Worker", async () => {
    const subscriberId = freshSubscriber("edge-client");
    const response = await worker.fetch("/", {
      method: "POST",
      body: JSON.stringify({ apiUrl, secretKey: keys.development.secret_key, signingSecret: keys.development.subscriber_signing_secret, subscriberId }),
    });
    const answer = await response.json();
    assert.equal(response.status, 200, JSON.stringify(answer));
    assert.ok(answer.transaction_id);
    assert.equal(answer.verified, true);
    const feed = await api(`/v1/subscribers/${subscriberId}/feed`, { key: keys.development.publishable_key, headers: { "X-Subscriber-Token": answer.token } });
    assert.equal(feed.status, 200);
    assert.equal(feed.body.items.length, 1);
  });
});
