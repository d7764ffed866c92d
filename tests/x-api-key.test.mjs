// `X-API-Key: <key>`, accepted wherever `Authorization: Bearer <key>` is,
// under the same rules (the isolation matrix runs every operation with both
// forms); both headers naming different credentials are refused, never
// guessed between.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { adminToken, api, apiUrl, expectError, keys } from "./support/context.mjs";

const dev = keys.development;

describe("the X-API-Key header", () => {
  it("opens the key's environment as a bearer key does", async () => {
    for (const key of [dev.publishable_key, dev.secret_key]) {
      const response = await api("/v1/environments/current", { headers: { "X-API-Key": key } });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.name, "development");
    }
    const feed = await api("/v1/subscribers/user-1/feed", { headers: { "X-API-Key": ` ${dev.publishable_key} ` } });
    assert.equal(feed.status, 200, "surrounding spaces are trimmed, as in Authorization");
    expectError(assert, await api("/v1/events/trigger", { method: "POST", body: { workflow: "welcome", to: ["x"] }, headers: { "X-API-Key": dev.publishable_key } }), 403, "secret_key_required");
  });

  it("refuses both headers naming different credentials, whichever would have worked", async () => {
    const pairs = [
      [dev.publishable_key, dev.secret_key],
      [dev.secret_key, keys.staging.secret_key],
      [dev.secret_key, "sk_development_forged"],
      [adminToken, dev.secret_key],
    ];
    for (const [bearer, header] of pairs) {
      for (const path of ["/v1/environments/current", "/v1/me"]) {
        const response = await api(path, { key: bearer, headers: { "X-API-Key": header } });
        expectError(assert, response, 400, "conflicting_credentials");
      }
    }
    const same = await api("/v1/environments/current", { key: dev.secret_key, headers: { "X-API-Key": dev.secret_key } });
    assert.equal(same.status, 200, "the same key twice is one credential");
    expectError(assert, await api("/v1/environments/current", { headers: { "X-API-Key": "  " } }), 401, "missing_credentials");
    // An Authorization that carries no bearer credential (a proxy's Basic) does not hide X-API-Key.
    const behindProxy = await api("/v1/environments/current", { headers: { Authorization: "Basic dXNlcjpwYXNz", "X-API-Key": dev.secret_key } });
    assert.equal(behindProxy.status, 200, JSON.stringify(behindProxy.body));
    expectError(assert, await api("/v1/environments/current", { headers: { Authorization: "Basic dXNlcjpwYXNz" } }), 401, "missing_credentials");
  });

  it("keeps the browser rules: a secret key in it is refused from a page, a publishable key is allowed by origin", async () => {
    const secret = await api("/v1/environments/current", { headers: { "X-API-Key": dev.secret_key, Origin: "http://127.0.0.1:5173" } });
    expectError(assert, secret, 403, "secret_key_in_browser");
    const preflight = await fetch(`${apiUrl}/v1/subscribers/user-1/feed`, {
      method: "OPTIONS",
      headers: { Origin: "http://127.0.0.1:5173", "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-api-key" },
    });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get("access-control-allow-headers"), /X-API-Key/);
    const allowed = await api("/v1/subscribers/user-1/feed", { headers: { "X-API-Key": dev.publishable_key, Origin: "http://127.0.0.1:5173" } });
    assert.equal(allowed.status, 200);
    const refused = await api("/v1/subscribers/user-1/feed", { headers: { "X-API-Key": dev.publishable_key, Origin: "https://evil.example" } });
    expectError(assert, refused, 403, "origin_not_allowed");
  });

  it("never opens the control plane with an API key, and carries a member's token like Authorization", async () => {
    for (const key of [dev.publishable_key, dev.secret_key]) {
      expectError(assert, await api("/v1/environments", { headers: { "X-API-Key": key } }), 403, "forbidden");
    }
    const me = await api("/v1/me", { headers: { "X-API-Key": adminToken } });
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.break_glass, true);
  });
});
