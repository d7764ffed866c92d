// Hostile and broken request bodies get typed errors, never a 500:
// malformed JSON, invalid UTF-8, wrong types, unknown fields, nesting past
// the parser's depth limit, bodies over the size limit, and oversized
// headers. Nothing of such a request is stored.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { admin, api, expectError, freshSubscriber, keys } from "./support/context.mjs";

const secret = keys.development.secret_key;
const nested = (depth) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

/** Routes taking JSON bodies, with the secret key or the admin token. */
const routes = [
  ["POST", "/v1/events/trigger", secret],
  ["PUT", "/v1/workflows/bad-input", secret],
  ["PUT", `/v1/subscribers/${freshSubscriber("bad")}`, secret],
  ["POST", "/v1/promotions", undefined],
  ["PUT", "/v1/environments/development/workflows/bad-input", undefined],
];
const call = (method, path, key, body, headers = {}) =>
  key ? api(path, { key, method, body, headers }) : admin(path, { method, body, headers });

describe("bad input", () => {
  it("answers broken bodies with typed 400s and oversized ones with 413, on every JSON route", async () => {
    const cases = [
      ["not JSON", "{not json", 400, "malformed_json"],
      ["invalid UTF-8", new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 400, "malformed_json"],
      ["a wrong type", JSON.stringify({ workflow: 42, to: "x", name: 1, steps: "no", from: 1, to_: 2 }), 400, "validation_failed"],
      ["over the size limit", JSON.stringify({ padding: "x".repeat(300 * 1024) }), 413, "payload_too_large"],
    ];
    for (const [method, path, key] of routes) {
      for (const [what, body, status, code] of cases) {
        const response = await call(method, path, key, body, { "Content-Type": "application/json" });
        assert.deepEqual([response.status, response.body?.error?.code], [status, code], `${method} ${path} ${what}: ${JSON.stringify(response.body)}`);
        expectError(assert, response, status, code);
      }
    }
  });

  it("takes no body at all where the body is optional, as {} would be", async () => {
    // Each answers as it would to {}: the request reaches its own checks.
    expectError(assert, await admin("/v1/environments/development/release-requests/rr_none/approve", { method: "POST" }), 404, "release_request_not_found");
    expectError(assert, await admin("/v1/environments/development/release-requests/rr_none/reject", { method: "POST" }), 404, "release_request_not_found");
    expectError(assert, await admin("/v1/environments/development/keys/key_none/regenerate", { method: "POST" }), 404, "key_not_found");
    const token = await api(`/v1/subscribers/${freshSubscriber("optional")}/token`, { key: secret, method: "POST" });
    assert.equal(token.status, 201, JSON.stringify(token.body));
    // A body that is there is still checked.
    expectError(assert, await admin("/v1/environments/development/keys/key_none/regenerate", { method: "POST", body: "{not json" }), 400, "malformed_json");
  });

  it("refuses JSON nested past the parser's depth limit, where any value is allowed", async () => {
    const subscriber = freshSubscriber("deep");
    const trigger = `{"workflow":"welcome","to":["${subscriber}"],"payload":{"deep":${nested(200)}}}`;
    expectError(assert, await api("/v1/events/trigger", { key: secret, method: "POST", body: trigger }), 400, "malformed_json");
    const profile = `{"data":{"deep":${nested(200)}}}`;
    expectError(assert, await api(`/v1/subscribers/${subscriber}`, { key: secret, method: "PUT", body: profile }), 400, "malformed_json");
    // Nesting within the limit is an ordinary payload.
    const shallow = `{"workflow":"welcome","to":["${subscriber}"],"payload":{"name":"Ada","deep":${nested(50)}}}`;
    assert.equal((await api("/v1/events/trigger", { key: secret, method: "POST", body: shallow })).status, 202);
  });

  it("refuses unknown fields, naming them", async () => {
    const unknown = await api("/v1/events/trigger", { key: secret, method: "POST", body: { workflow: "welcome", to: ["a"], surprise: true } });
    const error = expectError(assert, unknown, 400, "validation_failed");
    assert.match(error.message, /surprise/);
  });

  it("names the field at fault in a body of the wrong shape, however deep", async () => {
    const member = { name: "Field", email: `field-${Date.now()}@example.com`, role: "viewer" };
    const cases = [
      [api, "/v1/events/trigger", { workflow: 42, to: ["a"] }, "workflow"],
      [api, "/v1/events/trigger", { workflow: "welcome", to: ["a"], surprise: true }, "surprise"],
      [api, "/v1/events/trigger", { workflow: "welcome", to: ["a"], tenant: 5 }, "tenant"],
      [admin, "/v1/environments/development/reshard", { shards: "8" }, "shards"],
      [admin, "/v1/environments/development/reshard", { shards: -1 }, "shards"],
      [admin, "/v1/members", { ...member, environments: { development: 7 } }, "environments.development"],
      [admin, "/v1/members", { ...member, promote_into: ["development", 3] }, "promote_into.1"],
      [admin, "/v1/members", { email: member.email, role: "viewer" }, "name"],
      // A value a type refused after reading it (here: no variant of `to` matched) is placed no
      // deeper than the object holding it.
      [api, "/v1/events/trigger", { workflow: "welcome", to: [{ topic: 7 }] }, "body"],
    ];
    for (const [send, path, body, field] of cases) {
      const response = await (send === api ? api(path, { key: secret, method: "POST", body }) : admin(path, { method: "POST", body }));
      const error = expectError(assert, response, 400, "validation_failed");
      assert.equal(error.field, field, `${path} ${JSON.stringify(body)}: ${error.message}`);
    }
  });

  it("stores nothing of a refused trigger", async () => {
    const subscriber = freshSubscriber("refused");
    const refused = await api("/v1/events/trigger", { key: secret, method: "POST", body: { workflow: "welcome", to: [subscriber], payload: "x" } });
    expectError(assert, refused, 400, "validation_failed");
    expectError(assert, await api(`/v1/subscribers/${subscriber}`, { key: secret }), 404, "subscriber_not_found");
  });

  it("survives an oversized header without a server error", async () => {
    const response = await api("/v1/environments/current", { key: secret, headers: { "X-Padding": "x".repeat(60 * 1024) } });
    assert.ok(response.status < 500, `status ${response.status}`);
  });
});
