// The worker over HTTP, in workerd with real local D1: triggers, feeds,
// credentials and typed errors.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { api, apiUrl, expectError, freshSubscriber, keys } from "./support/context.mjs";

const dev = keys.development;

async function trigger(environment, to, payload = { name: "Ada" }) {
  const response = await api("/v1/events/trigger", {
    key: keys[environment].secret_key,
    method: "POST",
    body: { workflow: "welcome", to, payload },
  });
  assert.equal(response.status, 202, JSON.stringify(response.body));
  return response.body;
}

describe("health and description", () => {
  it("answers /health", async () => {
    const response = await api("/health");
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { status: "ok" });
  });

  it("serves an OpenAPI 3.1 description naming every route", async () => {
    const response = await api("/openapi.json");
    assert.equal(response.status, 200);
    assert.equal(response.body.openapi, "3.1.0");
    for (const path of ["/v1/events/trigger", "/v1/subscribers/{subscriber_id}/feed", "/v1/environments/current", "/v1/bootstrap"]) {
      assert.ok(response.body.paths[path], `missing ${path}`);
    }
  });

  it("describes exactly the routes the worker serves", async () => {
    // The route table's entries, e.g. `(Get, ["v1", "environments", name, "keys"])`.
    const router = readFileSync(new URL("../crates/tidings-worker/src/routes/mod.rs", import.meta.url), "utf8");
    const served = [...router.matchAll(/\((\w+), \[([^\]]*)\]\)/g)]
      .map(([, method, segments]) => {
        const path = segments.split(",").map((segment) => segment.trim()).filter(Boolean)
          .map((segment) => (segment.startsWith('"') ? JSON.parse(segment) : "{}")).join("/");
        return `${method.toUpperCase()} /${path}`;
      })
      .sort();
    const spec = (await api("/openapi.json")).body;
    const described = Object.entries(spec.paths)
      .flatMap(([path, item]) => ["get", "post", "put", "patch", "delete"].filter((method) => item[method])
        .map((method) => `${method.toUpperCase()} ${path.replace(/\{[^}]+\}/g, "{}")}`))
      .sort();
    assert.ok(served.length > 30, `only ${served.length} routes found in the router`);
    assert.deepEqual(described, served);
  });

  it("answers unknown routes and methods with typed errors", async () => {
    expectError(assert, await api("/v1/nope"), 404, "not_found");
    expectError(assert, await api("/v1/events/trigger", { key: dev.secret_key }), 405, "method_not_allowed");
    // 405 comes from the same table that routes: every routed path knows its methods.
    expectError(assert, await api("/v1/environments/development/export", { method: "DELETE" }), 405, "method_not_allowed");
    expectError(assert, await api("/v1/environments/development/import", { method: "GET" }), 405, "method_not_allowed");
  });
});

describe("trigger to feed", () => {
  it("stores a message that the subscriber's feed returns", async () => {
    const subscriber = freshSubscriber("feed");
    const triggered = await trigger("development", [subscriber]);
    assert.equal(triggered.status, "processed");
    assert.equal(triggered.messages.length, 1);
    assert.match(triggered.transaction_id, /^tx_/);

    const feed = await api(`/v1/subscribers/${subscriber}/feed`, { key: dev.publishable_key });
    assert.equal(feed.status, 200, JSON.stringify(feed.body));
    assert.equal(feed.body.items.length, 1);
    const [item] = feed.body.items;
    assert.equal(item.id, triggered.messages[0].id);
    assert.equal(item.subject, "Welcome, Ada!");
    assert.match(item.body, /Thanks for joining, Ada/);
    assert.deepEqual(item.payload, { name: "Ada" });
    assert.equal(item.read_at, null);
    assert.ok(Math.abs(Date.parse(item.created_at) - Date.now()) < 60_000);
    assert.deepEqual(feed.body.counts, { total: 1, unread: 1, unseen: 1 });
    assert.deepEqual(feed.body.page_info, { after: null, before: null, has_more: false });
  });

  it("accepts a single recipient string and de-duplicates recipients", async () => {
    const subscriber = freshSubscriber("single");
    assert.equal((await trigger("development", subscriber)).messages.length, 1);
    assert.equal((await trigger("development", [subscriber, subscriber])).messages.length, 1);
    const feed = await api(`/v1/subscribers/${subscriber}/feed`, { key: dev.secret_key });
    assert.equal(feed.body.counts.total, 2);
  });

  it("pages newest first with cursors and exact counts", async () => {
    const subscriber = freshSubscriber("pages");
    const ids = [];
    for (const name of ["one", "two", "three", "four", "five"]) {
      ids.push((await trigger("development", [subscriber], { name })).messages[0].id);
    }
    const seen = [];
    let after;
    for (let page = 0; page < 3; page += 1) {
      const query = `limit=2${after ? `&after=${after}` : ""}`;
      const response = await api(`/v1/subscribers/${subscriber}/feed?${query}`, { key: dev.publishable_key });
      assert.equal(response.status, 200);
      assert.equal(response.body.counts.total, 5);
      seen.push(...response.body.items.map((item) => item.id));
      after = response.body.page_info.after;
      assert.equal(response.body.page_info.has_more, page < 2);
    }
    assert.deepEqual(seen, [...ids].reverse());
    assert.equal(after, null);
  });

  it("refuses bad feed parameters with the field named", async () => {
    const path = `/v1/subscribers/user-1/feed`;
    const key = dev.publishable_key;
    assert.equal(expectError(assert, await api(`${path}?limit=0`, { key }), 400, "validation_failed").field, "limit");
    assert.equal(expectError(assert, await api(`${path}?limit=abc`, { key }), 400, "validation_failed").field, "limit");
    assert.equal(expectError(assert, await api(`${path}?after=zzz`, { key }), 400, "validation_failed").field, "after");
    assert.equal(expectError(assert, await api(`${path}?sort=asc`, { key }), 400, "validation_failed").field, "sort");
    const badId = expectError(assert, await api(`/v1/subscribers/a%20b/feed`, { key }), 400, "validation_failed");
    assert.equal(badId.field, "subscriber_id");
  });
});

describe("trigger validation", () => {
  const post = (body, extra = {}) =>
    api("/v1/events/trigger", { key: dev.secret_key, method: "POST", body, ...extra });

  it("names the field at fault", async () => {
    const cases = [
      [{ workflow: "Not A Key", to: "a" }, "workflow"],
      [{ workflow: "welcome", to: [] }, "to"],
      [{ workflow: "welcome", to: Array.from({ length: 1001 }, (_, index) => `s${index}`) }, "to"],
      [{ workflow: "welcome", to: ["ok", "not ok"] }, "to.1"],
      [{ workflow: "welcome", to: "a", payload: [1, 2] }, "payload"],
    ];
    for (const [body, field] of cases) {
      assert.equal(expectError(assert, await post(body), 400, "validation_failed").field, field, JSON.stringify(body));
    }
  });

  it("refuses malformed JSON, unknown fields, wrong types and huge bodies", async () => {
    expectError(assert, await post('{"workflow": "welcome",'), 400, "malformed_json");
    expectError(assert, await post(Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 400, "malformed_json");
    expectError(assert, await post({ workflow: "welcome", to: "a", paylod: {} }), 400, "validation_failed");
    expectError(assert, await post({ workflow: 42, to: "a" }), 400, "validation_failed");
    const huge = { workflow: "welcome", to: "a", payload: { blob: "x".repeat(300 * 1024) } };
    expectError(assert, await post(huge), 413, "payload_too_large");
  });

  it("reports unknown workflows and templates that cannot render, storing nothing", async () => {
    const subscriber = freshSubscriber("render");
    const missing = expectError(assert, await post({ workflow: "no-such-flow", to: subscriber }), 404, "workflow_not_found");
    assert.equal(missing.field, "workflow");
    const render = expectError(assert, await post({ workflow: "welcome", to: subscriber, payload: {} }), 422, "template_render_failed");
    assert.match(render.message, /payload\.name/);
    const feed = await api(`/v1/subscribers/${subscriber}/feed`, { key: dev.secret_key });
    assert.equal(feed.body.counts.total, 0);
  });
});

describe("credentials", () => {
  it("refuses missing, malformed, forged-looking and wrong-kind keys with typed errors", async () => {
    expectError(assert, await api("/v1/environments/current"), 401, "missing_credentials");
    expectError(assert, await api("/v1/environments/current", { headers: { Authorization: "Basic abc" } }), 401, "missing_credentials");
    expectError(assert, await api("/v1/environments/current", { key: "not-a-key" }), 401, "malformed_key");
    const typo = dev.publishable_key.slice(0, -1) + (dev.publishable_key.endsWith("0") ? "1" : "0");
    expectError(assert, await api("/v1/environments/current", { key: typo }), 401, "malformed_key");
    const moved = dev.secret_key.replace("_development_", "_production_");
    expectError(assert, await api("/v1/environments/current", { key: moved }), 401, "malformed_key");
    const pkTrigger = await api("/v1/events/trigger", {
      key: dev.publishable_key,
      method: "POST",
      body: { workflow: "welcome", to: "a", payload: { name: "x" } },
    });
    expectError(assert, pkTrigger, 403, "secret_key_required");
  });

  it("refuses secret keys sent from a browser origin", async () => {
    const response = await api("/v1/environments/current", {
      key: dev.secret_key,
      headers: { Origin: "http://localhost:3000" },
    });
    expectError(assert, response, 403, "secret_key_in_browser");
  });

  it("lets development pages on this machine call it cross-origin, and no one else", async () => {
    const preflight = await fetch(`${apiUrl}/v1/subscribers/user-1/feed`, {
      method: "OPTIONS",
      headers: { Origin: "http://127.0.0.1:5173", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization" },
    });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get("access-control-allow-headers"), /Authorization/);
    const allowed = await api("/v1/subscribers/user-1/feed", { key: dev.publishable_key, headers: { Origin: "http://127.0.0.1:5173" } });
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers.get("access-control-allow-origin"), "http://127.0.0.1:5173");
    const refused = await api("/v1/subscribers/user-1/feed", { key: dev.publishable_key, headers: { Origin: "https://evil.example" } });
    expectError(assert, refused, 403, "origin_not_allowed");
    const production = await api("/v1/subscribers/user-1/feed", {
      key: keys.production.publishable_key,
      headers: { Origin: "http://127.0.0.1:5173" },
    });
    expectError(assert, production, 403, "origin_not_allowed");
  });

  it("bootstrap runs only once and only with its token", async () => {
    expectError(assert, await api("/v1/bootstrap", { method: "POST" }), 401, "missing_credentials");
    expectError(assert, await api("/v1/bootstrap", { method: "POST", key: "wrong" }), 403, "forbidden");
  });
});
