// The control plane over HTTP: environments and their settings, keys with
// rotation and revocation. Everything is put back as it was, since other
// suites share the deployment.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { admin, api, expectError, freshSubscriber, keys, subscriberHash } from "./support/context.mjs";

const works = async (key) => (await api("/v1/environments/current", { key })).status;

describe("control-plane credentials", () => {
  it("needs the admin token; API keys do not open it", async () => {
    expectError(assert, await api("/v1/environments"), 401, "missing_credentials");
    expectError(assert, await api("/v1/environments", { key: keys.production.secret_key }), 403, "forbidden");
    expectError(assert, await api("/v1/environments", { key: "wrong" }), 403, "forbidden");
  });
});

describe("environments", () => {
  it("lists every environment in promotion order with its settings", async () => {
    const response = await admin("/v1/environments");
    assert.equal(response.status, 200);
    const names = response.body.environments.map((environment) => environment.name);
    assert.deepEqual(names, ["development", "staging", "production"]);
    for (const [position, environment] of response.body.environments.entries()) {
      assert.equal(environment.position, position);
      assert.equal(environment.status, "active");
      assert.deepEqual(environment.allowed_origins, []);
      assert.ok(Date.parse(environment.created_at) > 0);
    }
    expectError(assert, await admin("/v1/environments/qa"), 404, "environment_not_found");
    expectError(assert, await admin("/v1/environments/Not_Valid"), 400, "validation_failed");
  });

  it("changes label, colour, origins and the credential requirement, with typed refusals", async () => {
    const patch = (body) => admin("/v1/environments/production", { method: "PATCH", body });
    try {
      const changed = await patch({ label: "Live", colour: "#9b1c1c", allowed_origins: ["https://app.example.com"] });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.equal(changed.body.label, "Live");
      assert.equal(changed.body.colour, "#9b1c1c");
      assert.deepEqual(changed.body.allowed_origins, ["https://app.example.com"]);
      const fromApp = await api("/v1/environments/current", {
        key: keys.production.publishable_key,
        headers: { Origin: "https://app.example.com" },
      });
      assert.equal(fromApp.status, 200);
      assert.equal(fromApp.headers.get("access-control-allow-origin"), "https://app.example.com");

      const subscriber = freshSubscriber("optional-credential");
      const path = `/v1/subscribers/${subscriber}/feed`;
      expectError(assert, await api(path, { key: keys.production.publishable_key }), 401, "subscriber_credential_required");
      assert.equal((await patch({ requires_subscriber_credential: false })).body.requires_subscriber_credential, false);
      assert.equal((await api(path, { key: keys.production.publishable_key })).status, 200);

      assert.equal(expectError(assert, await patch({ allowed_origins: ["https://a.com/path"] }), 400, "validation_failed").field, "allowed_origins.0");
      assert.equal(expectError(assert, await patch({ colour: "red" }), 400, "validation_failed").field, "colour");
      assert.equal(expectError(assert, await patch({ label: "" }), 400, "validation_failed").field, "label");
      expectError(assert, await patch({ name: "renamed" }), 400, "validation_failed");
    } finally {
      await patch({ allowed_origins: [], requires_subscriber_credential: true });
    }
    const restored = await api(`/v1/subscribers/x/feed`, { key: keys.production.publishable_key });
    expectError(assert, restored, 401, "subscriber_credential_required");
  });
});

describe("keys", () => {
  const base = "/v1/environments/development/keys";

  it("lists keys masked, never in full", async () => {
    const response = await admin(base);
    assert.equal(response.status, 200);
    const listed = JSON.stringify(response.body);
    for (const kind of ["publishable_key", "secret_key"]) {
      assert.ok(!listed.includes(keys.development[kind]), `${kind} leaked`);
      assert.ok(listed.includes(`${keys.development[kind].slice(0, kind === "secret_key" ? 15 : 15)}…${keys.development[kind].slice(-6)}`));
    }
    for (const key of response.body.keys) {
      assert.match(key.id, /^key_[0-9a-f]{16}$/);
      assert.ok(["publishable", "secret"].includes(key.kind));
      // Other suites (the console's) may have issued and revoked keys of their own.
      assert.ok(["active", "expiring", "revoked"].includes(key.status), key.status);
    }
    const seeded = response.body.keys.filter((key) =>
      [keys.development.publishable_key, keys.development.secret_key].some((full) => full.endsWith(key.masked.split("…")[1])));
    assert.deepEqual(seeded.map((key) => key.status), ["active", "active"]);
  });

  it("issues keys shown once, caps active secret keys at two, and revokes at once", async () => {
    const created = await admin(base, { method: "POST", body: { kind: "secret" } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(created.body.key, /^sk_development_/);
    assert.equal(created.body.status, "active");
    assert.equal(await works(created.body.key), 200);
    expectError(assert, await admin(base, { method: "POST", body: { kind: "secret" } }), 409, "too_many_secret_keys");

    const revoked = await admin(`${base}/${created.body.id}`, { method: "DELETE" });
    assert.equal(revoked.status, 200);
    assert.equal(revoked.body.status, "revoked");
    // It was used (and cached) above; revocation still takes effect at once here.
    expectError(assert, await api("/v1/environments/current", { key: created.body.key }), 401, "key_revoked");
    expectError(assert, await admin(`${base}/${created.body.id}`, { method: "DELETE" }), 409, "key_already_revoked");
    expectError(assert, await admin(`${base}/key_0000000000000000`, { method: "DELETE" }), 404, "key_not_found");
    expectError(assert, await admin(base, { method: "POST", body: { kind: "root" } }), 400, "validation_failed");
    expectError(assert, await admin("/v1/environments/qa/keys", { method: "POST", body: { kind: "secret" } }), 404, "environment_not_found");
  });

  it("regenerates with a grace period during which both keys work", async () => {
    const first = (await admin(base, { method: "POST", body: { kind: "publishable" } })).body;
    const rotated = await admin(`${base}/${first.id}/regenerate`, { method: "POST", body: { grace_period_seconds: 3600 } });
    assert.equal(rotated.status, 201, JSON.stringify(rotated.body));
    assert.equal(rotated.body.old_key.status, "expiring");
    const left = Date.parse(rotated.body.old_key.expires_at) - Date.now();
    assert.ok(left > 3_500_000 && left <= 3_600_000, `${left}`);
    assert.equal(await works(first.key), 200);
    assert.equal(await works(rotated.body.new_key.key), 200);

    const now = await admin(`${base}/${rotated.body.new_key.id}/regenerate`, { method: "POST", body: {} });
    assert.equal(now.status, 201);
    assert.equal(now.body.old_key.status, "revoked");
    expectError(assert, await api("/v1/environments/current", { key: rotated.body.new_key.key }), 401, "key_revoked");
    assert.equal(await works(now.body.new_key.key), 200);

    const tooLong = await admin(`${base}/${now.body.new_key.id}/regenerate`, { method: "POST", body: { grace_period_seconds: 31 * 24 * 3600 } });
    assert.equal(expectError(assert, tooLong, 400, "validation_failed").field, "grace_period_seconds");
    for (const id of [first.id, now.body.new_key.id]) await admin(`${base}/${id}`, { method: "DELETE" });
    expectError(assert, await api("/v1/environments/current", { key: first.key }), 401, "key_revoked");
  });

  it("keeps secret keys within two during a rotation", async () => {
    const extra = (await admin(base, { method: "POST", body: { kind: "secret" } })).body;
    const withGrace = await admin(`${base}/${extra.id}/regenerate`, { method: "POST", body: { grace_period_seconds: 60 } });
    expectError(assert, withGrace, 409, "too_many_secret_keys");
    const immediate = await admin(`${base}/${extra.id}/regenerate`, { method: "POST", body: { grace_period_seconds: 0 } });
    assert.equal(immediate.status, 201);
    await admin(`${base}/${immediate.body.new_key.id}`, { method: "DELETE" });
    assert.equal(await works(keys.development.secret_key), 200);
  });

  it("refuses a secret key from a browser even without an Origin header", async () => {
    const browser = await api("/v1/environments/current", {
      key: keys.staging.secret_key,
      headers: { "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/156.0 Safari/537.36" },
    });
    expectError(assert, browser, 403, "secret_key_in_browser");
    const hash = subscriberHash("staging", "someone");
    assert.equal(hash.length, 64);
  });
});
