// The deployment's admin token is break-glass: every use is in the audit
// log, `/v1/me` says it is the admin token, and an owner can turn it off
// once an owner can sign in without it (and on again).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { admin, api, expectError } from "./support/context.mjs";

const tag = randomBytes(4).toString("hex");
const saved = JSON.parse(readFileSync(process.env.TIDINGS_TEST_KEYS, "utf8"));
const owner = saved.owner.token;
const as = (token, path, options = {}) => api(path, { key: token, ...options });

describe("the admin token", () => {
  it("says what it is, and each use is audited before it acts", async () => {
    const me = await admin("/v1/me");
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.equal(me.body.break_glass, true);
    assert.equal((await as(owner, "/v1/me")).body.break_glass, false);
    const marker = `/v1/environments/no-such-${tag}`;
    expectError(assert, await admin(marker), 404, "environment_not_found");
    const log = await as(owner, "/v1/audit-log?action=admin_token.use&limit=100");
    assert.equal(log.status, 200, JSON.stringify(log.body));
    assert.ok(log.body.items.some((entry) => entry.actor === "admin" && entry.resource.endsWith(marker)), "the use was not audited");
  });

  it("is turned off only by an owner, and only while an owner can sign in; then refused until turned on", async () => {
    const developer = await admin("/v1/members", { method: "POST", body: { name: "Dev", email: `dev-${tag}@example.com`, role: "developer" } });
    const devToken = (await admin(`/v1/members/${developer.body.id}/tokens`, { method: "POST", body: { name: "t" } })).body.token;
    expectError(assert, await as(devToken, "/v1/deployment", { method: "PATCH", body: { admin_token_enabled: false } }), 403, "forbidden");
    expectError(assert, await as(owner, "/v1/deployment", { method: "PATCH", body: { admin_token_enabled: "no" } }), 400, "validation_failed");
    expectError(assert, await as(owner, "/v1/deployment", { method: "PATCH", body: { other: 1 } }), 400, "validation_failed");
    const off = await as(owner, "/v1/deployment", { method: "PATCH", body: { admin_token_enabled: false } });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    try {
      assert.equal(off.body.admin_token_enabled, false);
      expectError(assert, await admin("/v1/me"), 403, "admin_token_disabled");
      expectError(assert, await admin("/v1/deployment", { method: "PATCH", body: { admin_token_enabled: true } }), 403, "admin_token_disabled");
      assert.equal((await as(owner, "/v1/deployment")).body.admin_token_enabled, false);
    } finally {
      const on = await as(owner, "/v1/deployment", { method: "PATCH", body: { admin_token_enabled: true } });
      assert.equal(on.status, 200, JSON.stringify(on.body));
    }
    assert.equal((await admin("/v1/me")).status, 200);
    const changes = (await as(owner, "/v1/audit-log?action=deployment.update&limit=10")).body.items;
    assert.deepEqual(changes.slice(0, 2).map((entry) => entry.summary.after.admin_token_enabled), [true, false]);
  });
});
