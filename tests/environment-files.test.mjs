// Environments as code: export an environment's promotable content as a
// stable file, import it into another as a reviewed change set (a dry run
// by default, then a release that rollback undoes), and clone an environment.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { admin, adminToken, api, apiUrl, expectError, keys } from "./support/context.mjs";
import { envCommand as runEnvCommand } from "./support/env-command.mjs";

const tag = randomBytes(3).toString("hex");
const workflow = `ef-${tag}`;
const integration = `ef-hook-${tag}`;
const variable = `EF_${tag.toUpperCase()}`;
const directory = mkdtempSync(join(tmpdir(), "tidings-env-files-"));
const keysFile = join(directory, "keys.json");
const envCommand = (...args) => runEnvCommand(keysFile, ...args);
const development = (path, options = {}) => api(path, { key: keys.development.secret_key, ...options });
const staging = (path, options = {}) => api(path, { key: keys.staging.secret_key, ...options });
const importInto = (name, body, headers = {}) => admin(`/v1/environments/${name}/import`, { method: "POST", body, headers });

before(async () => {
  const steps = [
    { type: "in_app", subject: "Order {{ payload.order }} shipped", body: "From {{ vars." + variable + " }}" },
    { type: "webhook", integration, body: '{"order": {{ payload.order }}}' },
  ];
  const writes = [
    await development(`/v1/integrations/${integration}`, {
      method: "PUT",
      body: { kind: "webhook", name: "Orders", url: "https://hooks.example.com/orders", signing_secret: `whsec_${tag}_0123456789abcdef` },
    }),
    await development(`/v1/variables/${variable}`, { method: "PUT", body: { value: "the warehouse" } }),
    await development(`/v1/workflows/${workflow}`, { method: "PUT", body: { name: "Shipped", steps } }),
  ];
  for (const write of writes) assert.ok([200, 201].includes(write.status), JSON.stringify(write.body));
});

after(() => rmSync(directory, { recursive: true, force: true }));

describe("environments as code", () => {
  let exported;

  it("exports promotable content as a stable file, without secrets or values", async () => {
    const response = await admin("/v1/environments/development/export");
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.match(response.headers.get("content-disposition"), /development\.tidings\.json/);
    exported = response.body;
    assert.equal(exported.format, "tidings.environment/1");
    assert.equal(exported.exported_from, "development");
    assert.equal(exported.workflows[workflow].name, "Shipped");
    assert.deepEqual(exported.integrations[integration], { kind: "webhook", name: "Orders", url: "https://hooks.example.com/orders" });
    assert.ok(exported.variables.includes(variable));
    const text = JSON.stringify(exported);
    assert.ok(!text.includes("whsec_") && !text.includes("the warehouse"), "no secret and no variable value");
    const keysInOrder = Object.keys(exported.workflows);
    assert.deepEqual(keysInOrder, [...keysInOrder].sort(), "sorted, so diffs are reviewable");
    const again = await fetch(`${apiUrl}/v1/environments/development/export`, { headers: { Authorization: `Bearer ${adminToken}` } });
    assert.equal(await again.text(), JSON.stringify(exported, null, 2) + "\n", "byte-identical, pretty-printed");
  });

  it("exports with the env command, to a file or through npm's stdout", async () => {
    const out = join(directory, "out.tidings.json");
    const written = await envCommand("export", "development", "--out", out);
    assert.equal(written.code, 0, written.stderr);
    assert.deepEqual(JSON.parse(readFileSync(out, "utf8")), exported);
    const redirected = join(directory, "redirected.tidings.json");
    const args = ["--config", process.env.TIDINGS_TEST_CONFIG, "--keys", keysFile, "--api", apiUrl].map((arg) => `'${arg}'`).join(" ");
    execFileSync("sh", ["-c", `npm run env -- export development ${args} > '${redirected}'`], { cwd: new URL("..", import.meta.url).pathname, stdio: ["ignore", "ignore", "pipe"] });
    assert.deepEqual(JSON.parse(readFileSync(redirected, "utf8")), exported, "npm's banner is not part of the file");
  });

  it("previews an import as a typed diff and writes nothing", async () => {
    const preview = await importInto("staging", { file: exported });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.equal(preview.body.dry_run, true);
    assert.equal(preview.body.release, null);
    const added = preview.body.changes.find((change) => change.resource === "workflow" && change.key === workflow);
    assert.equal(added.change, "added");
    assert.ok(preview.body.changes.some((change) => change.resource === "integration" && change.key === integration));
    assert.ok(preview.body.problems.some((problem) => problem.code === "missing_integration_secret"), JSON.stringify(preview.body.problems));
    assert.equal((await staging(`/v1/workflows/${workflow}`)).status, 404, "a dry run writes nothing");
    assert.ok(!preview.body.changes.some((change) => change.change === "deleted"), "without prune nothing is deleted");
    const pruned = await importInto("staging", { file: { format: "tidings.environment/1" }, prune: true });
    assert.ok(pruned.body.changes.length > 0 && pruned.body.changes.every((change) => change.change === "deleted"), JSON.stringify(pruned.body.changes));
  });

  it("applies an import as one release, replays it, and rolls it back", async () => {
    const idempotencyKey = `import-${tag}`;
    const file = { ...exported, workflows: { [workflow]: exported.workflows[workflow] }, integrations: { [integration]: exported.integrations[integration] }, variables: [variable] };
    const applied = await importInto("staging", { file, dry_run: false }, { "Idempotency-Key": idempotencyKey });
    assert.equal(applied.status, 201, JSON.stringify(applied.body));
    assert.equal(applied.body.release.kind, "import");
    assert.equal(applied.body.changes.length, 3);
    assert.equal((await staging(`/v1/workflows/${workflow}`)).body.name, "Shipped");
    const imported = (await staging("/v1/variables")).body.items.find((item) => item.name === variable);
    assert.equal(imported.value, null, "the name moves, never the value");
    const replay = await importInto("staging", { file, dry_run: false }, { "Idempotency-Key": idempotencyKey });
    assert.equal(replay.status, 200);
    assert.equal(replay.headers.get("idempotency-replay"), "true");
    assert.equal(replay.body.release.id, applied.body.release.id);
    const unchanged = await importInto("staging", { file, dry_run: false });
    assert.deepEqual(unchanged.body.changes, [], "applying the same file again changes nothing");

    const rollback = await admin(`/v1/environments/staging/releases/${applied.body.release.id}/rollback`, { method: "POST" });
    assert.equal(rollback.status, 201, JSON.stringify(rollback.body));
    assert.equal((await staging(`/v1/workflows/${workflow}`)).status, 404);
  });

  it("refuses production, and names the field of a broken file", async () => {
    expectError(assert, await importInto("production", { file: exported }), 403, "environment_read_only");
    const broken = (file) => importInto("development", { file: { format: "tidings.environment/1", ...file } });
    const badTemplate = { name: "Broken", steps: [{ type: "in_app", subject: "{{ oops", body: "b" }] };
    assert.equal(expectError(assert, await broken({ workflows: { broken: badTemplate } }), 400, "validation_failed").field, "file.workflows.broken.steps.0.subject");
    const withSecret = { kind: "webhook", name: "H", url: "https://x.example", signing_secret: "whsec_0123456789abcdef" };
    assert.equal(expectError(assert, await broken({ integrations: { h: withSecret } }), 400, "validation_failed").field, "file.integrations.h.signing_secret");
    assert.equal(expectError(assert, await importInto("development", { file: { format: "other/2" } }), 400, "validation_failed").field, "file.format");
    expectError(assert, await importInto("development", { file: { format: "tidings.environment/1", layouts: {} } }), 400, "validation_failed");
  });

  it("shows integration URLs, which can be credentials, whole only to those who administer the environment", async () => {
    const made = await admin("/v1/members", { method: "POST", body: { name: "Dev", email: `ef-dev-${tag}@example.com`, role: "developer" } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const token = (await admin(`/v1/members/${made.body.id}/tokens`, { method: "POST", body: { name: "ef" } })).body.token;
    const shown = "https://hooks.example.com/…";
    // The export: cut for a developer, whole for an admin.
    const cut = await api("/v1/environments/development/export", { key: token });
    assert.equal(cut.status, 200, JSON.stringify(cut.body));
    assert.equal(cut.body.integrations[integration].url, shown);
    assert.equal((await admin("/v1/environments/development/export")).body.integrations[integration].url, "https://hooks.example.com/orders");
    // A file with a cut URL (or a URL copied from where it was shown cut) is refused where it would be written.
    const refused = await importInto("development", { file: { format: "tidings.environment/1", integrations: { [integration]: cut.body.integrations[integration] } } });
    assert.equal(expectError(assert, refused, 400, "validation_failed").field, `file.integrations.${integration}.url`);
    const copied = await development(`/v1/integrations/${integration}`, { method: "PUT", body: { kind: "webhook", name: "Orders", url: shown, signing_secret: `whsec_${tag}_0123456789abcdef` } });
    assert.equal(expectError(assert, copied, 400, "validation_failed").field, "url");
    // A diff of promotions: the same.
    const diff = await api("/v1/changes?from=development&to=staging", { key: token });
    assert.equal(diff.status, 200, JSON.stringify(diff.body));
    const change = diff.body.changes.find((entry) => entry.resource === "integration" && entry.key === integration);
    assert.ok(change, JSON.stringify(diff.body.changes));
    assert.doesNotMatch(JSON.stringify(diff.body), /hooks\.example\.com\/orders/);
    assert.equal(change.after.url, shown);
    // A URL written with backslashes, which a URL parser reads as slashes, is cut at its host too.
    const slanted = `ef-slant-${tag}`;
    const put = await development(`/v1/integrations/${slanted}`, { method: "PUT", body: { kind: "webhook", name: "Slanted", url: "https://hooks.example.com\\slant-secret\\x", signing_secret: `whsec_${tag}_0123456789abcdef` } });
    assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
    const slantedExport = await api("/v1/environments/development/export", { key: token });
    assert.equal(slantedExport.body.integrations[slanted].url, shown);
    assert.doesNotMatch(JSON.stringify(slantedExport.body), /slant-secret/);
    assert.equal((await development(`/v1/integrations/${slanted}`, { method: "DELETE" })).status, 200);
    // An import's answer, and its replay, as the developer who sent it sees them.
    const devHook = `ef-dev-${tag}`;
    const file = { format: "tidings.environment/1", integrations: { [devHook]: { kind: "webhook", name: "Dev", url: "https://hooks.example.com/dev-secret" } } };
    const send = () => api("/v1/environments/development/import", { key: token, method: "POST", body: { file, dry_run: false }, headers: { "Idempotency-Key": `ef-cut-${tag}` } });
    for (const [answer, status] of [[await send(), 201], [await send(), 200]]) {
      assert.equal(answer.status, status, JSON.stringify(answer.body));
      assert.doesNotMatch(JSON.stringify(answer.body), /dev-secret/);
    }
    const whole = await admin("/v1/changes?from=development&to=staging");
    assert.equal(whole.body.changes.find((entry) => entry.resource === "integration" && entry.key === integration).after.url, "https://hooks.example.com/orders");
  });

  it("clones an environment: settings and content, never subscribers, messages, keys or secrets", { timeout: 120_000 }, async () => {
    const name = `clone-${tag}`;
    const cloned = await envCommand("clone", "development", name, "--type", "development");
    try {
      assert.equal(cloned.code, 0, cloned.stderr);
      const saved = JSON.parse(readFileSync(keysFile, "utf8")).environments[name];
      const clone = (path) => api(path, { key: saved.secret_key });
      assert.equal((await clone(`/v1/workflows/${workflow}`)).body.name, "Shipped");
      const hook = (await clone(`/v1/integrations/${integration}`)).body;
      assert.equal(hook.url, "https://hooks.example.com/orders");
      assert.equal(hook.has_signing_secret, false, "secrets stay behind");
      assert.deepEqual((await clone("/v1/subscribers")).body.items, [], "no subscribers");
      const original = (await admin("/v1/environments/development")).body;
      const copy = (await admin(`/v1/environments/${name}`)).body;
      assert.equal(copy.log_retention_days, original.log_retention_days);
      assert.deepEqual(copy.allowed_origins, original.allowed_origins);
      assert.notEqual(saved.secret_key, keys.development.secret_key);
    } finally {
      const deleted = await envCommand("delete", name);
      assert.equal(deleted.code, 0, deleted.stderr);
    }
  });
});
