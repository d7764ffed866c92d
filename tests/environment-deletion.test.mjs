// Deleting an environment leaves nothing behind. A custom environment is
// filled through the API (triggers, webhook deliveries, variables,
// integrations, logs, releases, idempotency answers, preferences, workflow
// versions, brand and logo), deleted through the API, and then every table
// of its database, listed from `sqlite_master` so a later migration's table
// is covered too, must be empty, and its KV namespace and R2 bucket too. Re-creating the
// same name works, and `GET /v1/me` and `GET /v1/environments` keep
// answering throughout.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { admin, api, expectError } from "./support/context.mjs";
import { envCommand as runEnvCommand } from "./support/env-command.mjs";
import { queryLocal } from "./support/local-state.mjs";

const scratch = mkdtempSync(join(tmpdir(), "tidings-wipe-"));
const keysFile = join(scratch, "keys.json");
const envCommand = (...args) => runEnvCommand(keysFile, ...args);
const owner = JSON.parse(readFileSync(process.env.TIDINGS_TEST_KEYS, "utf8")).owner.token;
const name = "wipe";
const database = "DB_WIPE";
const namespace = "KV_WIPE";
const tag = randomBytes(3).toString("hex");

after(async () => {
  await envCommand("delete", name);
  rmSync(scratch, { recursive: true, force: true });
});

function wrangler(...args) {
  // The real wrangler (node_modules/.bin is first on PATH), on the files the running worker uses.
  const result = spawnSync("wrangler", [...args, "--local", "--config", process.env.TIDINGS_TEST_CONFIG, "--persist-to", process.env.TIDINGS_TEST_STATE], {
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  assert.equal(result.status, 0, result.stderr + result.stdout);
  return result.stdout;
}

/** Row counts of every data table of the environment's database, read from the database file itself. */
function tableCounts() {
  const sql = (command) => JSON.parse(wrangler("d1", "execute", database, "--json", "--command", command));
  const tables = sql("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name != 'd1_migrations'")
    [0].results.map((row) => row.name);
  // One statement per table: D1 limits how many terms a compound SELECT may have.
  const counts = sql(tables.map((table) => `SELECT '${table}' AS name, COUNT(*) AS count FROM "${table}"`).join("; "));
  return Object.fromEntries(counts.map((result) => [result.results[0].name, result.results[0].count]));
}

/** Whether the environment's local R2 bucket holds an object at `path`. */
function inBucket(path) {
  const result = spawnSync("wrangler", ["r2", "object", "get", `tidings-files-${name}/${path}`, "--pipe", "--local", "--config", process.env.TIDINGS_TEST_CONFIG, "--persist-to", process.env.TIDINGS_TEST_STATE], {
    encoding: "utf8",
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
  });
  return result.status === 0 && result.stdout.length > 0;
}

function kvKeys() {
  return JSON.parse(wrangler("kv", "key", "list", "--binding", namespace));
}

describe("deleting an environment", () => {
  it("removes every table's rows and every KV entry, and the same name can be created again", { timeout: 180_000 }, async () => {
    const created = await envCommand("create", name, "--type", "staging");
    assert.equal(created.code, 0, created.stderr + created.stdout);
    const { secret_key: secret } = created.json();
    const call = (path, options = {}) => api(path, { key: secret, ...options });

    // Fill it: a release and its audit entry (a file imported into it), then the rest.
    const exported = (await api(`/v1/environments/${name}/export`, { key: owner })).body;
    const [starter] = Object.values(exported.workflows);
    const file = { ...exported, workflows: { ...exported.workflows, [`imported-${tag}`]: starter } };
    const imported = await api(`/v1/environments/${name}/import`, { key: owner, method: "POST", body: { file, dry_run: false } });
    assert.equal(imported.status, 201, JSON.stringify(imported.body));
    const integration = `crm-${tag}`;
    const made = await call("/v1/integrations", {
      method: "POST",
      body: { id: integration, kind: "webhook", name: "CRM", url: "https://hooks.example.com/hook", signing_secret: "s".repeat(32) },
    });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.ok([200, 201].includes((await call("/v1/variables/PLAN", { method: "PUT", body: { value: "gold" } })).status));
    const workflow = {
      name: "Everything",
      steps: [
        { type: "in_app", subject: "Hi {{ payload.name }}", body: "Plan {{ vars.PLAN }}" },
        { type: "webhook", integration, body: "{\"name\": {{ payload.name | tojson }}}" },
      ],
    };
    assert.equal((await call(`/v1/workflows/all-${tag}`, { method: "PUT", body: workflow })).status, 201);
    assert.equal((await call(`/v1/workflows/all-${tag}`, { method: "PUT", body: { ...workflow, name: "Everything 2" } })).status, 200);
    const sent = await call("/v1/events/trigger", {
      method: "POST",
      body: { workflow: `all-${tag}`, to: [`ada-${tag}`, `bob-${tag}`], payload: { name: "Ada" } },
      headers: { "Idempotency-Key": `wipe-${tag}` },
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const refused = await call("/v1/events/trigger", { method: "POST", body: { workflow: "nowhere", to: ["x"], payload: {} } });
    assert.equal(refused.status, 404, JSON.stringify(refused.body));
    const preferred = await call(`/v1/subscribers/ada-${tag}/preferences`, { method: "PATCH", body: { global: { in_app: true } } });
    assert.equal(preferred.status, 200, JSON.stringify(preferred.body));
    assert.equal((await call("/v1/preferences/defaults", { method: "PUT", body: { workflows: { [`all-${tag}`]: { in_app: true } } } })).status, 200);
    assert.equal((await call("/v1/brand", { method: "PUT", body: { name: "Wipe", primary_colour: "#3b5bdb" } })).status, 200);
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><title>${tag}</title></svg>`;
    const logo = await call("/v1/brand/logo", { method: "PUT", body: svg, headers: { "Content-Type": "image/svg+xml" } });
    assert.equal(logo.status, 200, JSON.stringify(logo.body));
    assert.equal((await call(`/v1/subscribers/bob-${tag}`, { method: "DELETE" })).status, 200);
    const upload = await call(`/v1/files/docs/${tag}.txt`, { method: "PUT", body: `file ${tag}`, headers: { "Content-Type": "text/plain" } });
    assert.equal(upload.status, 201, JSON.stringify(upload.body));
    const logoPath = `brand/${logo.body.logo.id}`;

    const before = tableCounts();
    const filled = Object.entries(before).filter(([table, count]) => count > 0 && table !== "feed_clock").map(([table]) => table);
    for (const table of ["messages", "subscribers", "workflows", "workflow_versions", "integrations", "deliveries", "variables", "logs", "idempotency_keys", "preferences", "brand", "releases", "audit_log", "feed_counts", "files"]) {
      assert.ok(filled.includes(table), `${table} should hold rows before the deletion: ${JSON.stringify(before)}`);
    }
    assert.ok(kvKeys().length > 0, "cached keys live in KV");
    assert.ok(inBucket(`docs/${tag}.txt`) && inBucket(logoPath), "the file and the logo live in the bucket");

    // An upload still under way when the deletion begins (its row written 12 s late, after the wipe).
    const late = call(`/v1/files/docs/late-${tag}.txt`, {
      method: "PUT",
      body: `late ${tag}`,
      headers: { "Content-Type": "text/plain", "Tidings-Inject-Faults": "record file=stall" },
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const deleted = await admin(`/v1/environments/${name}`, { method: "DELETE" });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    expectError(assert, await call("/v1/environments/current"), 401, "key_revoked");
    const after = tableCounts();
    for (const [table, count] of Object.entries(after)) {
      assert.equal(count, table === "feed_clock" ? 1 : 0, `${table} still holds rows after the deletion`);
    }
    assert.deepEqual(kvKeys(), []);
    assert.ok(!inBucket(`docs/${tag}.txt`) && !inBucket(logoPath), "the bucket is empty after the deletion");

    // The late upload takes itself back: it answers as a deleted environment's key, and leaves nothing.
    expectError(assert, await late, 401, "key_revoked");
    assert.equal(tableCounts().files, 0, "the late upload's row is gone");
    assert.ok(!inBucket(`docs/late-${tag}.txt`), "the late upload's bytes are gone");
    // The same name again: registered, ready at once (its bindings are still there), empty but for the starters.
    const again = await admin("/v1/environments", { method: "POST", body: { name, type: "staging", after: "staging" } });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.body.status, "ready");
    for (const path of ["/v1/me", "/v1/environments"]) {
      assert.equal((await api(path, { key: owner })).status, 200, path);
      assert.equal((await admin(path)).status, 200, path);
    }
    const key = await admin(`/v1/environments/${name}/keys`, { method: "POST", body: { kind: "secret" } });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    const workflows = await api("/v1/workflows", { key: key.body.key });
    assert.deepEqual(workflows.body.items.map((item) => item.key).filter((item) => item.endsWith(tag)), []);
    assert.equal((await api(`/v1/subscribers/ada-${tag}`, { key: key.body.key })).status, 404);
    assert.equal((await api("/v1/variables", { key: key.body.key })).body.items.length, 0);
    assert.equal((await api("/v1/integrations", { key: key.body.key })).body.items.length, 0);
    // Its audit log starts with its creation: the deleted one's keys, settings and deletion are not shown.
    const history = await admin(`/v1/environments/${name}/audit-log?limit=100`);
    assert.equal(history.status, 200, JSON.stringify(history.body));
    assert.deepEqual(history.body.items.map((entry) => entry.action), ["key.create", "environment.create"], JSON.stringify(history.body.items));
    assert.equal(history.body.items[0].resource, `key:${key.body.id}`);
  });

  it("waits while a reshard call moves its feeds: refused with nothing changed, then deleted once the call ends", async () => {
    if ((await admin(`/v1/environments/${name}`)).status === 404) {
      const made = await admin("/v1/environments", { method: "POST", body: { name, type: "staging", after: "staging" } });
      assert.equal(made.status, 201, JSON.stringify(made.body));
    }
    const key = await admin(`/v1/environments/${name}/keys`, { method: "POST", body: { kind: "secret" } });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    // A reshard call's lease on the feeds, as one under way holds it (renewed every step, 20 s at a time).
    const hold = (until) => wrangler("d1", "execute", database, "--command",
      "INSERT INTO feed_map (id, shards_from, shards_to, moved, lease_id, lease_until) " +
      `VALUES (1, 1, 1, '${"0".repeat(64)}', 'a-reshard-call', ${until}) ` +
      "ON CONFLICT (id) DO UPDATE SET lease_id = excluded.lease_id, lease_until = excluded.lease_until");
    hold(Date.now() + 120_000);
    try {
      const refused = await admin(`/v1/environments/${name}`, { method: "DELETE" });
      expectError(assert, refused, 409, "reshard_in_progress");
      assert.ok(Number(refused.headers.get("retry-after")) > 0, "the refusal says when to ask again");
      const listed = await admin(`/v1/environments/${name}`);
      assert.equal(listed.body.status, "active", "nothing of the deletion began");
      assert.equal((await api("/v1/environments/current", { key: key.body.key })).status, 200, "its keys still work");
    } finally {
      // The call ended (it lets its lease lapse); also where a check failed, so cleanup can delete.
      hold(0);
    }
    // The deletion goes through, the lease with the rest.
    const deleted = await admin(`/v1/environments/${name}`, { method: "DELETE" });
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    expectError(assert, await api("/v1/environments/current", { key: key.body.key }), 401, "key_revoked");
    assert.equal(tableCounts().feed_map, 0, "no lease or map is left for the environment made again under this name");
  });
  it("wipes a feed shard a refused reshard stamped past the registry's count, so the name can have it again", { timeout: 180_000 }, async () => {
    const strand = "strand";
    const created = await envCommand("create", strand, "--type", "development");
    assert.equal(created.code, 0, created.stderr + created.stdout);
    try {
      const prepared = await envCommand("reshard", strand, "--shards", "2", "--prepare");
      assert.equal(prepared.code, 0, prepared.stderr + prepared.stdout);
      // What a reshard call refused half-way leaves (say FEED1 was not migrated yet): FEED0 stamped
      // as this environment's shard 0, while the registry still says one shard.
      const [{ created_at: createdAt }] = queryLocal("DB_CONTROL", `SELECT created_at FROM environments WHERE name = '${strand}'`);
      queryLocal("FEED0_STRAND", `INSERT INTO feed_shard (id, environment, shard, created_at) VALUES (1, '${strand}', 0, ${createdAt})`);
      // The configuration as it is, to read the shard's file once its binding is gone.
      const boundConfig = join(scratch, "strand.toml");
      writeFileSync(boundConfig, readFileSync(process.env.TIDINGS_TEST_CONFIG, "utf8"));
      const deleted = await envCommand("delete", strand);
      assert.equal(deleted.code, 0, deleted.stderr + deleted.stdout);
      assert.deepEqual(queryLocal("FEED0_STRAND", "SELECT environment FROM feed_shard", boundConfig), [], "the stamp went with the environment");
      // Made again under the name with two shards, it takes the databases as its own.
      const again = await envCommand("create", strand, "--type", "development", "--shards", "2");
      assert.equal(again.code, 0, again.stderr + again.stdout);
      assert.equal((await admin(`/v1/environments/${strand}`)).body.status, "active");
    } finally {
      await envCommand("delete", strand);
    }
  });
});
