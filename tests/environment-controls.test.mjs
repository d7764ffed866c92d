// An environment's life after creation, over HTTP in workerd: a lock (change
// freeze) refuses every content write, promotion, import and rollback while
// triggers and feeds keep working; archive refuses the keys and keeps the
// data, restore brings it back as it was, purge removes it; a preview starts
// with its source's content (never its subscribers or secrets), sits off the
// promotion chain, and the Cron Trigger archives it when its lifetime ends
// and purges it after the retention period (an injected clock). Both keep
// their feeds on two shards, which each step must take along.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { admin, api, apiUrl, expectError, freshSubscriber, reloaded } from "./support/context.mjs";
import { envCommand as runEnvCommand } from "./support/env-command.mjs";
import { recipientsOnEveryShard } from "./support/buckets.mjs";
import { messagesStored } from "./support/local-state.mjs";

const scratch = mkdtempSync(join(tmpdir(), "tidings-controls-"));
const keysFile = join(scratch, "keys.json");
const envCommand = (...args) => runEnvCommand(keysFile, ...args);
const tag = randomBytes(3).toString("hex");
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

// `freeze` (development type, right after staging) and its preview `pr-<tag>`, each with two feed shards.
const name = "freeze";
const preview = `pr-${tag}`;
const shardBindings = (environment) => [0, 1].map((index) => `FEED${index}_${environment.toUpperCase().replaceAll("-", "_")}`);

/** Messages each of `environment`'s shards holds for subscribers whose ids start with `prefix`, read from their files. */
const storedOnShards = (environment, prefix) => shardBindings(environment).map((binding) => messagesStored(binding, prefix));

/** Four recipients under one prefix, two on each shard. */
const recipientsOf = (prefix) => recipientsOnEveryShard(prefix, 2);
let freeze;
let member;
let outsider;
/** Tokens of members holding a row under the preview's name before it is made. */
const granted = {};
const grantedIds = {};

async function sweep(time) {
  const response = await fetch(`${apiUrl}/__scheduled?cron=clock+${time}`);
  assert.equal(response.status, 200, await response.text());
}

const workflow = (key, title) => ({
  key,
  name: `Workflow ${key}`,
  steps: [{ type: "in_app", subject: title, body: "Body" }],
});

before(async () => {
  // Created in test mode, as a CI job would: webhooks reach only these recipients.
  const created = await envCommand("create", name, "--type", "development", "--after", "staging", "--deliver-only-to", "qa-1, @QA.example.com", "--shards", "2");
  assert.equal(created.code, 0, created.stderr + created.stdout);
  freeze = created.json();
  assert.equal(freeze.shards, 2);
  assert.deepEqual((await admin(`/v1/environments/${name}`)).body.deliver_only_to, ["qa-1", "@qa.example.com"]);
  const made = await admin("/v1/members", { method: "POST", body: { name: "Dev", email: `dev-${tag}@example.com`, role: "developer" } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  member = (await admin(`/v1/members/${made.body.id}/tokens`, { method: "POST", body: { name: "tests" } })).body.token;
  // A developer kept out of freeze: kept out of its previews too.
  const kept = await admin("/v1/members", { method: "POST", body: { name: "Out", email: `out-${tag}@example.com`, role: "developer", environments: { [name]: "none" } } });
  assert.equal(kept.status, 201, JSON.stringify(kept.body));
  outsider = (await admin(`/v1/members/${kept.body.id}/tokens`, { method: "POST", body: { name: "tests" } })).body.token;
  // Rows kept under the preview's name before it exists (granted ahead, or left by a deleted
  // environment of the name) give no more than the source does.
  for (const [label, role, environments] of [["ahead", "developer", { [name]: "none", [preview]: "admin" }], ["above", "viewer", { [preview]: "admin" }]]) {
    const made = await admin("/v1/members", { method: "POST", body: { name: label, email: `${label}-${tag}@example.com`, role, environments } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    granted[label] = (await admin(`/v1/members/${made.body.id}/tokens`, { method: "POST", body: { name: "tests" } })).body.token;
    grantedIds[label] = made.body.id;
  }
});

after(async () => {
  for (const environment of [preview, name]) {
    const deleted = await envCommand("delete", environment);
    // The preview may be purged already (its lifetime test); the environment must go.
    if (environment === name) assert.equal(deleted.code, 0, deleted.stderr + deleted.stdout);
    // Each deletion rewrites the configuration: the worker restarts before the next request.
    await reloaded();
  }
  rmSync(scratch, { recursive: true, force: true });
});

describe("lock", () => {
  it("refuses every content write, promotion, import and rollback with 423 and the reason; triggers and feeds go on", { timeout: 60_000 }, async () => {
    const sk = freeze.secret_key;
    const saved = await api("/v1/workflows/before-lock", { key: sk, method: "PUT", body: workflow("before-lock", "Before") });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));

    expectError(assert, await api(`/v1/environments/${name}/lock`, { key: member, method: "POST", body: { reason: "mine" } }), 403, "forbidden");
    expectError(assert, await admin(`/v1/environments/${name}/lock`, { method: "POST", body: { reason: "  " } }), 400, "validation_failed");
    const locked = await admin(`/v1/environments/${name}/lock`, { method: "POST", body: { reason: "release freeze" } });
    assert.equal(locked.status, 200, JSON.stringify(locked.body));
    assert.equal(locked.body.lock.reason, "release freeze");
    assert.equal(locked.body.lock.locked_by, "admin");

    const refused = [
      ["PUT", "/v1/workflows/during-lock", workflow("during-lock", "During")],
      ["POST", "/v1/workflows", workflow("during-lock-2", "During")],
      ["DELETE", "/v1/workflows/before-lock"],
      ["PUT", "/v1/variables/SUPPORT_URL", { value: "https://example.com" }],
      ["PUT", "/v1/integrations/hook", { kind: "webhook", name: "Hook", url: "https://hooks.example.test/in", signing_secret: "s".repeat(32) }],
      ["PUT", "/v1/brand", { name: "Frozen", primary_colour: "#3b5bdb" }],
      ["PUT", "/v1/preferences/defaults", { workflows: { "before-lock": { in_app: true } } }],
    ];
    for (const [method, path, body] of refused) {
      const response = await api(path, { key: sk, method, body });
      expectError(assert, response, 423, "environment_locked");
      assert.match(response.body.error.message, /release freeze/, path);
      assert.equal(response.body.error.details.reason, "release freeze");
    }
    assert.equal((await api("/v1/workflows/before-lock", { key: sk })).status, 200, "a refused delete removed nothing");
    // The console's writes, an import and a promotion into it.
    expectError(assert, await admin(`/v1/environments/${name}/workflows/console-write`, { method: "PUT", body: workflow("console-write", "X") }), 423, "environment_locked");
    const exported = (await admin(`/v1/environments/${name}/export`)).body;
    const { key: _key, ...imported } = workflow("imported", "Imported");
    exported.workflows = { ...exported.workflows, imported };
    expectError(assert, await admin(`/v1/environments/${name}/import`, { method: "POST", body: { file: exported, dry_run: false } }), 423, "environment_locked");
    const dryRun = await admin(`/v1/environments/${name}/import`, { method: "POST", body: { file: exported, dry_run: true } });
    assert.equal(dryRun.status, 200, "a dry run writes nothing and is allowed");

    // Triggers, feeds and settings keep working.
    const subscriber = freshSubscriber("locked");
    const triggered = await api("/v1/events/trigger", { key: sk, method: "POST", body: { workflow: "before-lock", to: [subscriber] } });
    assert.equal(triggered.status, 202, JSON.stringify(triggered.body));
    assert.equal((await api(`/v1/subscribers/${subscriber}/feed`, { key: sk })).body.counts.total, 1);
    assert.equal((await admin(`/v1/environments/${name}`, { method: "PATCH", body: { label: "Frozen" } })).status, 200);

    // A locked environment is not archived, purged or deleted either.
    expectError(assert, await admin(`/v1/environments/${name}/archive`, { method: "POST" }), 423, "environment_locked");
    expectError(assert, await admin(`/v1/environments/${name}`, { method: "DELETE" }), 423, "environment_locked");
    const unlocked = await admin(`/v1/environments/${name}/unlock`, { method: "POST" });
    assert.equal(unlocked.status, 200);
    assert.equal(unlocked.body.lock, null);
    assert.equal((await api("/v1/workflows/after-lock", { key: sk, method: "PUT", body: workflow("after-lock", "After") })).status, 201);
    const audit = await admin(`/v1/environments/${name}/audit-log?limit=50`);
    const actions = audit.body.items.map((entry) => entry.action);
    assert.ok(actions.includes("environment.lock") && actions.includes("environment.unlock"), actions.join(","));
  });

  it("refuses a promotion and a rollback into a locked environment", { timeout: 60_000 }, async () => {
    // Content pending from staging into freeze: a workflow only staging has.
    const key = `promoted-${tag}`;
    const staged = await admin(`/v1/environments/staging/workflows/${key}`, { method: "PUT", body: workflow(key, "Staged") });
    assert.equal(staged.status, 201, JSON.stringify(staged.body));
    try {
      const changes = (await admin(`/v1/changes?from=staging&to=${name}`)).body.changes.filter((change) => change.key === key);
      assert.equal(changes.length, 1);
      await admin(`/v1/environments/${name}/lock`, { method: "POST", body: { reason: "audit" } });
      expectError(assert, await admin("/v1/promotions", { method: "POST", body: { from: "staging", to: name, changes: changes.map((change) => change.id) } }), 423, "environment_locked");
      await admin(`/v1/environments/${name}/unlock`, { method: "POST" });
      const release = await admin("/v1/promotions", { method: "POST", body: { from: "staging", to: name, changes: changes.map((change) => change.id) } });
      assert.equal(release.status, 201, JSON.stringify(release.body));
      await admin(`/v1/environments/${name}/lock`, { method: "POST", body: { reason: "audit" } });
      expectError(assert, await admin(`/v1/environments/${name}/releases/${release.body.release.id}/rollback`, { method: "POST" }), 423, "environment_locked");
      await admin(`/v1/environments/${name}/unlock`, { method: "POST" });
      assert.equal((await admin(`/v1/environments/${name}/releases/${release.body.release.id}/rollback`, { method: "POST" })).status, 201);
    } finally {
      await admin(`/v1/environments/${name}/unlock`, { method: "POST" });
      await admin(`/v1/environments/staging/workflows/${key}`, { method: "DELETE" });
    }
  });
});

describe("archive, restore, purge", () => {
  it("refuses the keys while archived, and restores the environment as it was, on both shards", { timeout: 60_000 }, async () => {
    const prefix = freshSubscriber("archived");
    const recipients = recipientsOf(prefix);
    const [subscriber] = recipients;
    const sent = await api("/v1/events/trigger", { key: freeze.secret_key, method: "POST", body: { workflow: "welcome", to: recipients, payload: { name: "A" } } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const stored = storedOnShards(name, prefix);
    assert.deepEqual(stored, [2, 2], "each shard holds its recipients' feeds");
    expectError(assert, await admin("/v1/environments/development/archive", { method: "POST" }), 409, "environment_protected");
    expectError(assert, await admin("/v1/environments/production/archive", { method: "POST" }), 409, "environment_protected");
    expectError(assert, await admin(`/v1/environments/${name}/purge`, { method: "POST" }), 409, "environment_not_archived");
    expectError(assert, await admin(`/v1/environments/${name}/restore`, { method: "POST" }), 409, "environment_not_archived");
    expectError(assert, await api(`/v1/environments/${name}/archive`, { key: member, method: "POST" }), 403, "forbidden");
    expectError(assert, await admin(`/v1/environments/${name}/archive`, { method: "POST", body: { retention_days: 0 } }), 400, "validation_failed");

    const archived = await admin(`/v1/environments/${name}/archive`, { method: "POST", body: { retention_days: 7 } });
    assert.equal(archived.status, 200, JSON.stringify(archived.body));
    assert.equal(archived.body.status, "archived");
    const purgeIn = Date.parse(archived.body.purge_at) - Date.parse(archived.body.archived_at);
    assert.equal(purgeIn, 7 * DAY);
    for (const key of [freeze.publishable_key, freeze.secret_key]) {
      expectError(assert, await api(`/v1/subscribers/${subscriber}/feed`, { key }), 401, "environment_archived");
    }
    expectError(assert, await api("/v1/environments/current", { headers: { "X-API-Key": freeze.secret_key } }), 401, "environment_archived");
    expectError(assert, await admin(`/v1/environments/${name}/subscribers`), 409, "environment_archived");
    expectError(assert, await admin(`/v1/environments/${name}/archive`, { method: "POST" }), 409, "environment_archived");
    // Regenerating a key while archived leaves the old one as it was.
    const [secretKey] = (await admin(`/v1/environments/${name}/keys`)).body.keys.filter((key) => key.kind === "secret" && key.status === "active");
    expectError(assert, await admin(`/v1/environments/${name}/keys/${secretKey.id}/regenerate`, { method: "POST", body: { grace_period_seconds: 0 } }), 409, "environment_archived");
    const listed = (await admin("/v1/environments")).body.environments.find((environment) => environment.name === name);
    assert.equal(listed.status, "archived");
    assert.equal(listed.purge_at, archived.body.purge_at);

    const restored = await admin(`/v1/environments/${name}/restore`, { method: "POST" });
    assert.equal(restored.status, 200, JSON.stringify(restored.body));
    assert.equal(restored.body.status, "active");
    assert.equal(restored.body.purge_at, null);
    for (const recipient of recipients) {
      const feed = await api(`/v1/subscribers/${recipient}/feed`, { key: freeze.secret_key });
      assert.equal(feed.status, 200, "the same keys work again");
      assert.equal(feed.body.counts.total, 1, `${recipient}'s feed came back as it was`);
    }
    assert.deepEqual(storedOnShards(name, prefix), stored, "each shard holds what it held");
  });
});

describe("preview environments", () => {
  it("start with their source's content only, sit off the chain, expire and are purged by the sweep", { timeout: 180_000 }, async () => {
    const sk = freeze.secret_key;
    const set = await api("/v1/variables/SUPPORT_URL", { key: sk, method: "PUT", body: { value: "https://support.example.com" } });
    assert.ok([200, 201].includes(set.status), JSON.stringify(set.body));
    const hook = await api("/v1/integrations/hook", { key: sk, method: "PUT", body: { kind: "webhook", name: "Hook", url: "https://hooks.example.test/in", signing_secret: "s".repeat(32) } });
    assert.ok([200, 201].includes(hook.status), JSON.stringify(hook.body));
    const subscriber = freshSubscriber("source");
    await api(`/v1/subscribers/${subscriber}`, { key: sk, method: "PUT", body: { first_name: "Source" } });

    expectError(assert, await admin("/v1/environments", { method: "POST", body: { name: "pr-bad", type: "development", from: "production", ttl_seconds: 7200 } }), 400, "validation_failed");
    expectError(assert, await admin("/v1/environments", { method: "POST", body: { name: "pr-bad", type: "development", from: name, ttl_seconds: 60 } }), 400, "validation_failed");
    expectError(assert, await admin("/v1/environments", { method: "POST", body: { name: "pr-bad", type: "development", ttl_seconds: 7200 } }), 400, "validation_failed");
    expectError(assert, await admin("/v1/environments", { method: "POST", body: { name: "pr-bad", type: "production", from: name, ttl_seconds: 7200 } }), 400, "validation_failed");
    expectError(assert, await admin("/v1/environments", { method: "POST", body: { name: "pr-bad", type: "staging", from: name, ttl_seconds: 7200 } }), 400, "validation_failed");
    expectError(assert, await admin("/v1/environments", { method: "POST", body: { name: "pr-bad", type: "development", from: "pr-missing", ttl_seconds: 7200 } }), 404, "environment_not_found");

    const created = await envCommand("create", preview, "--from", name, "--ttl", "2h", "--shards", "2");
    assert.equal(created.code, 0, created.stderr + created.stdout);
    const pr = created.json();
    assert.equal(pr.preview_of, name);
    assert.equal(pr.shards, 2);
    assert.equal(pr.status, "active");
    const lifetime = Date.parse(pr.expires_at) - Date.parse(pr.created_at);
    assert.ok(Math.abs(lifetime - 2 * HOUR) < 60_000, `${lifetime}`);

    // Whoever is kept out of the source is kept out of its preview.
    expectError(assert, await api(`/v1/environments/${preview}`, { key: outsider }), 404, "environment_not_found");
    assert.equal((await api(`/v1/environments/${preview}`, { key: member })).body.preview_of, name);
    expectError(assert, await api(`/v1/environments/${preview}`, { key: granted.ahead }), 404, "environment_not_found");
    const write = await api(`/v1/environments/${preview}/workflows/ahead-${tag}`, { key: granted.above, method: "PUT", body: workflow(`ahead-${tag}`, "Ahead") });
    expectError(assert, write, 403, "forbidden");
    assert.equal((await api(`/v1/environments/${preview}`, { key: granted.above })).body.preview_of, name);
    // What the preview's copy left of their rows grants nothing, and stands in the way of nothing:
    // their tokens and changes are written as anyone's.
    for (const label of ["ahead", "above"]) {
      const token = await admin(`/v1/members/${grantedIds[label]}/tokens`, { method: "POST", body: { name: "after the preview" } });
      assert.equal(token.status, 201, JSON.stringify(token.body));
      const renamed = await admin(`/v1/members/${grantedIds[label]}`, { method: "PATCH", body: { name: `${label} renamed` } });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    }
    // Content came along; subscribers, messages, integrations and secret values did not.
    const workflows = (await api("/v1/workflows", { key: pr.secret_key })).body.items.map((item) => item.key).sort();
    const source = (await api("/v1/workflows", { key: sk })).body.items.map((item) => item.key).sort();
    assert.deepEqual(workflows, source);
    const variable = await api("/v1/variables/SUPPORT_URL", { key: pr.secret_key });
    assert.equal(variable.status, 200);
    assert.notEqual(variable.body.value, "https://support.example.com", "a variable's value never travels");
    assert.equal((await api("/v1/subscribers", { key: pr.secret_key })).body.items.length, 0);
    assert.equal((await api("/v1/integrations/hook", { key: sk })).status, 200, "the source has an integration");
    expectError(assert, await api("/v1/integrations/hook", { key: pr.secret_key }), 404, "integration_not_found");
    const releases = (await admin(`/v1/environments/${preview}/releases`)).body.items;
    assert.equal(releases.at(-1).source, name);

    // Off the chain: it promotes into its source only, and nothing promotes into it.
    const environments = (await admin("/v1/environments")).body.environments;
    const chain = environments.filter((environment) => !environment.preview_of).map((environment) => environment.name);
    assert.ok(!chain.includes(preview));
    assert.equal(chain.indexOf("production"), chain.length - 1);
    expectError(assert, await admin(`/v1/changes?from=${name}&to=${preview}`), 422, "promotion_not_adjacent");
    expectError(assert, await admin(`/v1/changes?from=${preview}&to=production`), 422, "promotion_not_adjacent");
    expectError(assert, await admin("/v1/environments", { method: "POST", body: { name: "after-pr", type: "staging", after: preview } }), 400, "validation_failed");
    const added = await api("/v1/workflows/from-preview", { key: pr.secret_key, method: "PUT", body: workflow("from-preview", "Preview") });
    assert.equal(added.status, 201);
    const back = await admin(`/v1/changes?from=${preview}&to=${name}`);
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.ok(back.body.changes.some((change) => change.key === "from-preview"));
    // The main chain still promotes staging → freeze → production.
    assert.equal((await admin(`/v1/changes?from=${name}&to=production`)).status, 200);

    // Feeds of its own on both shards, which the purge must remove.
    const prefix = freshSubscriber("preview");
    const sent = await api("/v1/events/trigger", { key: pr.secret_key, method: "POST", body: { workflow: "welcome", to: recipientsOf(prefix), payload: { name: "P" } } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.deepEqual(storedOnShards(preview, prefix), [2, 2], "each of the preview's shards holds its recipients' feeds");

    // The sweep: nothing before the end of its lifetime, archived after, purged after the retention.
    await sweep(Date.now() + HOUR);
    assert.equal((await admin(`/v1/environments/${preview}`)).body.status, "active");
    await sweep(Date.now() + 2 * HOUR + 60_000);
    const expired = await admin(`/v1/environments/${preview}`);
    assert.equal(expired.body.status, "archived", JSON.stringify(expired.body));
    expectError(assert, await api("/v1/workflows", { key: pr.secret_key }), 401, "environment_archived");
    const audit = (await admin(`/v1/environments/${preview}/audit-log?limit=50`)).body.items;
    assert.ok(audit.some((entry) => entry.action === "environment.expire" && entry.actor === "system"));
    await sweep(Date.now() + 2 * HOUR + 31 * DAY);
    expectError(assert, await admin(`/v1/environments/${preview}`), 404, "environment_not_found");
    expectError(assert, await api("/v1/workflows", { key: pr.secret_key }), 401, "key_revoked");
    assert.deepEqual(storedOnShards(preview, prefix), [0, 0], "the purge emptied both shards");
    // Its source was never touched.
    assert.equal((await api("/v1/subscribers", { key: sk })).body.items.length >= 1, true);
  });
});
