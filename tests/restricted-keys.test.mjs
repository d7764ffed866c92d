// Restricted secret keys: issued with scopes, shown in the key list, fixed
// once issued (regenerating is how they change), refused on every route
// outside their scopes with 403 `key_scope_insufficient` naming the scope.
// The isolation matrix checks every route against its declared scope; this
// file checks the keys' own life.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { admin, api, expectError, freshSubscriber, keys } from "./support/context.mjs";

const tag = randomBytes(3).toString("hex");
const issuedIds = [];

async function issue(body, environment = "development") {
  const response = await admin(`/v1/environments/${environment}/keys`, { method: "POST", body });
  if (response.status === 201) issuedIds.push([environment, response.body.id]);
  return response;
}

after(async () => {
  for (const [environment, id] of issuedIds) {
    await admin(`/v1/environments/${environment}/keys/${id}`, { method: "DELETE" });
  }
});

describe("restricted secret keys", () => {
  it("opens only the routes of its scopes, naming the scope it lacks", async () => {
    const issued = await issue({ kind: "secret", scopes: ["trigger", "feed:read"] });
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    assert.deepEqual(issued.body.scopes, ["trigger", "feed:read"]);
    const key = issued.body.key;
    const subscriber = freshSubscriber(`scoped-${tag}`);
    const sent = await api("/v1/events/trigger", { key, method: "POST", body: { workflow: "welcome", to: [subscriber], payload: { name: "Scoped" } } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const feed = await api(`/v1/subscribers/${subscriber}/feed`, { key });
    assert.equal(feed.status, 200);
    assert.equal(feed.body.counts.total, 1);
    const refusals = [
      [`/v1/subscribers/${subscriber}`, {}, "subscribers:read"],
      [`/v1/subscribers/${subscriber}`, { method: "DELETE" }, "subscribers:write"],
      [`/v1/subscribers/${subscriber}/feed/actions`, { method: "POST", body: { action: "mark_all_read" } }, "feed:write"],
      [`/v1/subscribers/${subscriber}/token`, { method: "POST", body: {} }, "tokens:mint"],
      ["/v1/workflows", {}, "content:read"],
      ["/v1/logs", {}, "logs:read"],
      ["/v1/files", {}, "files:read"],
      // A recipient with a profile creates or replaces it: that is writing subscribers.
      ["/v1/events/trigger", { method: "POST", body: { workflow: "welcome", to: [{ subscriber_id: subscriber, email: "x@attacker.example" }], payload: { name: "S" } } }, "subscribers:write"],
      ["/v1/events/trigger/bulk", { method: "POST", body: { events: [{ workflow: "welcome", to: [subscriber] }, { workflow: "welcome", to: [{ subscriber_id: subscriber, first_name: "X" }] }] } }, "subscribers:write"],
    ];
    for (const [path, options, scope] of refusals) {
      const response = await api(path, { key, ...options });
      expectError(assert, response, 403, "key_scope_insufficient");
      assert.equal(response.body.error.details.missing_scope, scope, path);
      assert.match(response.body.error.message, new RegExp(scope));
    }
    // Refused before anything was done: the subscriber is still there for a full-access key.
    const still = await api(`/v1/subscribers/${subscriber}/feed`, { key });
    assert.equal(still.body.counts.total, 1);
    const profile = await api(`/v1/subscribers/${subscriber}`, { key: keys.development.secret_key });
    assert.equal(profile.body.email, null, "a trigger-only key replaced the profile");
    // Whose key it is needs no scope.
    const current = await api("/v1/environments/current", { key });
    assert.equal(current.body.name, "development");
  });

  it("lists its scopes, and a full-access key lists none", async () => {
    const issued = await issue({ kind: "secret", scopes: ["logs:read"] });
    const listed = (await admin("/v1/environments/development/keys")).body.keys;
    assert.deepEqual(listed.find((key) => key.id === issued.body.id).scopes, ["logs:read"]);
    assert.ok(listed.some((key) => key.kind === "secret" && key.status === "active" && key.scopes === null));
    assert.ok(listed.filter((key) => key.kind === "publishable").every((key) => key.scopes === null));
    // The audit log says which scopes a key was issued with.
    const audit = (await admin("/v1/environments/development/audit-log")).body;
    const entry = audit.items.find((item) => item.resource === `key:${issued.body.id}`);
    assert.deepEqual(entry.summary.after.scopes, ["logs:read"]);
  });

  it("refuses an empty list, unknown scopes and scopes on a publishable key, issuing nothing", async () => {
    const before = (await admin("/v1/environments/development/keys")).body.keys.length;
    for (const body of [
      { kind: "secret", scopes: [] },
      { kind: "secret", scopes: ["trigger", "admin"] },
      { kind: "secret", scopes: "trigger" },
      { kind: "publishable", scopes: ["feed:read"] },
    ]) {
      const response = await issue(body);
      expectError(assert, response, 400, "validation_failed");
    }
    const unknown = await issue({ kind: "secret", scopes: ["everything"] });
    assert.equal(unknown.body.error.field, "scopes");
    assert.match(unknown.body.error.message, /"everything"/);
    assert.equal((await admin("/v1/environments/development/keys")).body.keys.length, before);
  });

  it("keeps its scopes through a regeneration unless the request names others", async () => {
    const issued = await issue({ kind: "secret", scopes: ["subscribers:read"] });
    const kept = await admin(`/v1/environments/development/keys/${issued.body.id}/regenerate`, { method: "POST", body: {} });
    assert.equal(kept.status, 201, JSON.stringify(kept.body));
    issuedIds.push(["development", kept.body.new_key.id]);
    assert.deepEqual(kept.body.new_key.scopes, ["subscribers:read"]);
    expectError(assert, await api("/v1/events/trigger", { key: kept.body.new_key.key, method: "POST", body: { workflow: "welcome", to: ["x"] } }), 403, "key_scope_insufficient");
    const widened = await admin(`/v1/environments/development/keys/${kept.body.new_key.id}/regenerate`, { method: "POST", body: { scopes: ["subscribers:read", "trigger"] } });
    assert.equal(widened.status, 201, JSON.stringify(widened.body));
    issuedIds.push(["development", widened.body.new_key.id]);
    assert.deepEqual(widened.body.new_key.scopes, ["trigger", "subscribers:read"]);
    const sent = await api("/v1/events/trigger", { key: widened.body.new_key.key, method: "POST", body: { workflow: "welcome", to: [freshSubscriber(`regen-${tag}`)], payload: { name: "Regen" } } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    // The old keys were revoked at once (no grace period): their scopes went with them.
    expectError(assert, await api("/v1/subscribers", { key: kept.body.new_key.key }), 401, "key_revoked");
  });

  it("is counted apart from the two full-access secret keys", async () => {
    const listed = (await admin("/v1/environments/staging/keys")).body.keys;
    const full = listed.filter((key) => key.kind === "secret" && key.status !== "revoked" && key.scopes === null).length;
    // Fill the full-access slots, then a restricted key is still issued.
    for (let index = full; index < 2; index += 1) {
      const extra = await issue({ kind: "secret" }, "staging");
      assert.equal(extra.status, 201, JSON.stringify(extra.body));
    }
    expectError(assert, await issue({ kind: "secret" }, "staging"), 409, "too_many_secret_keys");
    const restricted = await issue({ kind: "secret", scopes: ["trigger"] }, "staging");
    assert.equal(restricted.status, 201, JSON.stringify(restricted.body));
    // Regenerating it into a full-access key that does not fit is refused before anything is
    // revoked: the restricted key keeps working.
    const widened = await admin(`/v1/environments/staging/keys/${restricted.body.id}/regenerate`, { method: "POST", body: { scopes: null } });
    expectError(assert, widened, 409, "too_many_secret_keys");
    const still = await api("/v1/events/trigger", { key: restricted.body.key, method: "POST", body: { workflow: "welcome", to: [freshSubscriber(`kept-${tag}`)], payload: { name: "Kept" } } });
    assert.equal(still.status, 202, JSON.stringify(still.body));
  });

  it("needs content:write besides files:write for brand assets, which are content", async () => {
    const issued = await issue({ kind: "secret", scopes: ["files:write", "files:read"] });
    const brand = `brand/${"a".repeat(64)}`;
    const response = await api(`/v1/files/${brand}`, { key: issued.body.key, method: "PUT", body: "x", headers: { "Content-Type": "image/png" } });
    expectError(assert, response, 403, "key_scope_insufficient");
    assert.equal(response.body.error.details.missing_scope, "content:write");
    const plain = await api(`/v1/files/scoped-${tag}.txt`, { key: issued.body.key, method: "PUT", body: "plain", headers: { "Content-Type": "text/plain" } });
    assert.equal(plain.status, 201, JSON.stringify(plain.body));
  });

  it("reads an integration's URL, which can be a credential, whole only with integrations:write", async () => {
    const hook = `scoped-hook-${tag}`;
    const url = `https://hooks.example.com/services/${tag}/secret-path?token=abc`;
    const body = { kind: "webhook", name: "Scoped", url, signing_secret: `whsec_${tag}_0123456789abcdef` };
    assert.equal((await api(`/v1/integrations/${hook}`, { key: keys.development.secret_key, method: "PUT", body })).status, 201);
    try {
      const reader = (await issue({ kind: "secret", scopes: ["integrations:read"] })).body.key;
      const one = await api(`/v1/integrations/${hook}`, { key: reader });
      assert.equal(one.status, 200, JSON.stringify(one.body));
      assert.equal(one.body.url, "https://hooks.example.com/…");
      const listed = await api("/v1/integrations", { key: reader });
      assert.equal(listed.body.items.find((item) => item.id === hook).url, "https://hooks.example.com/…");
      assert.doesNotMatch(JSON.stringify(listed.body), /secret-path/);
      const writer = (await issue({ kind: "secret", scopes: ["integrations:read", "integrations:write"] })).body.key;
      assert.equal((await api(`/v1/integrations/${hook}`, { key: writer })).body.url, url);
      assert.equal((await api(`/v1/integrations/${hook}`, { key: keys.development.secret_key })).body.url, url);
    } finally {
      await api(`/v1/integrations/${hook}`, { key: keys.development.secret_key, method: "DELETE" });
    }
  });
});
