// Promotion over the real stack: typed changes between adjacent
// environments, dry runs, releases that are idempotent and recorded with
// an audit entry, preflight into production, read-only production, and
// rollback — ending with a production subscriber's feed using the new
// template, then the old one again.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { admin, api, expectError, freshSubscriber, keys } from "./support/context.mjs";

const tag = randomBytes(4).toString("hex");
const workflow = `promo-${tag}`;
const secret = (environment) => keys[environment].secret_key;

const saveWorkflow = async (environment, subject, steps = []) => {
  const saved = await api(`/v1/workflows/${workflow}`, {
    key: secret(environment),
    method: "PUT",
    body: { name: "Promoted", steps: [{ type: "in_app", subject, body: "b" }, ...steps] },
  });
  assert.ok([200, 201].includes(saved.status), JSON.stringify(saved.body));
};
const pending = async (from, to) => {
  const response = await admin(`/v1/changes?from=${from}&to=${to}`);
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
};
const changeOf = (list, resource, key) => list.changes.find((change) => change.resource === resource && change.key === key);
const promote = (body, headers = {}) => admin("/v1/promotions", { method: "POST", body, headers });
const promoteOne = async (from, to, ids) => {
  const response = await promote({ from, to, changes: ids });
  assert.equal(response.status, 201, JSON.stringify(response.body));
  return response.body.release;
};
const subjectIn = async (environment, name) => {
  const subscriber = freshSubscriber(`promo-${environment}`);
  const triggered = await api("/v1/events/trigger", { key: secret(environment), method: "POST", body: { workflow, to: subscriber, payload: { name } } });
  assert.equal(triggered.status, 202, JSON.stringify(triggered.body));
  const feed = await api(`/v1/subscribers/${subscriber}/feed`, { key: secret(environment) });
  return feed.body.items[0].subject;
};

describe("promotion", () => {
  it("moves a workflow development → staging → production, and rolls production back", async () => {
    await saveWorkflow("development", "v1 {{ payload.name }}");
    const first = changeOf(await pending("development", "staging"), "workflow", workflow);
    assert.equal(first.change, "added");
    assert.deepEqual(first.before, null);
    assert.equal(first.after.steps[0].subject, "v1 {{ payload.name }}");

    // A dry run tells exactly what would happen and writes nothing.
    const dry = await promote({ from: "development", to: "staging", changes: [first.id], dry_run: true });
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.deepEqual([dry.body.dry_run, dry.body.release], [true, null]);
    assert.deepEqual(dry.body.changes.map((change) => change.id), [first.id]);
    expectError(assert, await api(`/v1/workflows/${workflow}`, { key: secret("staging") }), 404, "workflow_not_found");

    const toStaging = await promoteOne("development", "staging", [first.id]);
    assert.match(toStaging.id, /^rel_/);
    assert.deepEqual([toStaging.environment, toStaging.kind, toStaging.source, toStaging.actor], ["staging", "promotion", "development", "admin"]);
    // Retrying the same request replays its release instead of applying twice.
    const retried = await promote({ from: "development", to: "staging", changes: [first.id] });
    assert.equal(retried.status, 200);
    assert.equal(retried.headers.get("idempotency-replay"), "true");
    assert.equal(retried.body.release.id, toStaging.id);
    assert.equal(changeOf(await pending("development", "staging"), "workflow", workflow), undefined);
    const toProduction = changeOf(await pending("staging", "production"), "workflow", workflow);
    await promoteOne("staging", "production", [toProduction.id]);
    assert.equal(await subjectIn("production", "Ada"), "v1 Ada");

    // A new version: a field-level, typed diff.
    await saveWorkflow("development", "v2 {{ payload.name }}");
    const second = changeOf(await pending("development", "staging"), "workflow", workflow);
    assert.equal(second.change, "modified");
    assert.deepEqual(second.fields, [{ path: "steps.0.subject", from: "v1 {{ payload.name }}", to: "v2 {{ payload.name }}", kind: "content" }]);
    // Ids name both sides: the first listing's id is no longer pending.
    const stale = await promote({ from: "development", to: "staging", changes: [first.id + "x"] });
    assert.deepEqual(expectError(assert, stale, 409, "change_not_pending").details, { ids: [first.id + "x"] });
    await promoteOne("development", "staging", [second.id]);
    const secondProduction = changeOf(await pending("staging", "production"), "workflow", workflow);
    const release = await promoteOne("staging", "production", [secondProduction.id]);
    assert.equal(await subjectIn("production", "Ada"), "v2 Ada");
    assert.equal(release.changes[0].before.steps[0].subject, "v1 {{ payload.name }}");

    // Roll back: the old template again, as a new release; the key never changed.
    const rolledBack = await admin(`/v1/environments/production/releases/${release.id}/rollback`, { method: "POST" });
    assert.equal(rolledBack.status, 201, JSON.stringify(rolledBack.body));
    assert.deepEqual([rolledBack.body.kind, rolledBack.body.reverts], ["rollback", release.id]);
    assert.equal(await subjectIn("production", "Ada"), "v1 Ada");
    const again = await admin(`/v1/environments/production/releases/${release.id}/rollback`, { method: "POST" });
    expectError(assert, again, 409, "release_already_rolled_back");
    const releases = (await admin("/v1/environments/production/releases")).body.items;
    assert.equal(releases[0].id, rolledBack.body.id);
    assert.equal(releases.find((item) => item.id === release.id).rolled_back_by, rolledBack.body.id);
    // Version history in production is browsable: v1, v2, v1 again.
    const versions = await api(`/v1/workflows/${workflow}/versions`, { key: secret("production") });
    assert.deepEqual(versions.body.items.map((version) => version.steps[0].subject.slice(0, 2)), ["v1", "v2", "v1"]);
    // Each release and rollback left an audit entry naming what changed, never content.
    const audit = (await admin("/v1/environments/production/audit-log")).body.items;
    const entry = audit.find((item) => item.resource === `release:${rolledBack.body.id}`);
    assert.equal(entry.action, "release.rollback");
    assert.deepEqual(entry.summary.changes, [{ resource: "workflow", key: workflow, change: "modified", fields: ["steps.0.subject"] }]);
    assert.ok(audit.some((item) => item.resource === `release:${release.id}` && item.action === "release.promotion"));
  });

  it("checks what production lacks before promoting into it, and production refuses direct edits", async () => {
    const integration = `hook-${tag}`;
    const created = await api("/v1/integrations", {
      key: secret("development"),
      method: "POST",
      body: { id: integration, kind: "webhook", name: "Hook", url: "https://hooks.example.test/in", signing_secret: "s".repeat(32) },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await saveWorkflow("development", "v3", [{ type: "webhook", integration, body: "{}" }]);
    const list = await pending("development", "staging");
    const [hook, flow] = [changeOf(list, "integration", integration), changeOf(list, "workflow", workflow)];
    assert.equal(hook.change, "added");
    assert.deepEqual(hook.after, { kind: "webhook", name: "Hook", url: "https://hooks.example.test/in" }, "no secret moves");
    assert.ok(flow.fields.some((field) => field.path === "steps.1" && field.kind === "routing"));
    // The workflow alone would use an integration staging lacks: flagged, not blocking outside production.
    const alone = await promote({ from: "development", to: "staging", changes: [flow.id], dry_run: true });
    assert.deepEqual(alone.body.problems.map((problem) => [problem.code, problem.blocking]), [["missing_integration", false]]);
    await promoteOne("development", "staging", [hook.id, flow.id]);

    // Production: the workflow needs the integration and its secret, which never moves.
    const next = await pending("staging", "production");
    const [hookNext, flowNext] = [changeOf(next, "integration", integration), changeOf(next, "workflow", workflow)];
    const blocked = await promote({ from: "staging", to: "production", changes: [hookNext.id, flowNext.id] });
    const error = expectError(assert, blocked, 422, "preflight_failed");
    assert.deepEqual(error.details.problems.map((problem) => [problem.code, problem.resource]), [["missing_integration_secret", `integration:${integration}`]]);
    await promoteOne("staging", "production", [hookNext.id]);
    // Production takes the secret (a credential), not other edits.
    const config = { kind: "webhook", name: "Hook", url: "https://hooks.example.test/in" };
    const renamed = await api(`/v1/integrations/${integration}`, { key: secret("production"), method: "PUT", body: { ...config, name: "Renamed", signing_secret: "p".repeat(32) } });
    expectError(assert, renamed, 403, "environment_read_only");
    const secretOnly = await api(`/v1/integrations/${integration}`, { key: secret("production"), method: "PUT", body: { ...config, signing_secret: "p".repeat(32) } });
    assert.equal(secretOnly.status, 200, JSON.stringify(secretOnly.body));
    const flowLast = changeOf(await pending("staging", "production"), "workflow", workflow);
    await promoteOne("staging", "production", [flowLast.id]);
    expectError(assert, await api(`/v1/integrations/${integration}`, { key: secret("production"), method: "DELETE" }), 403, "environment_read_only");
    expectError(assert, await api(`/v1/workflows/${workflow}`, { key: secret("production"), method: "DELETE" }), 403, "environment_read_only");
  });

  it("promotes one step at a time, with typed errors", async () => {
    const skip = await promote({ from: "development", to: "production", changes: "all" });
    assert.equal(expectError(assert, skip, 422, "promotion_not_adjacent").field, "to");
    expectError(assert, await promote({ from: "production", to: "staging", changes: "all" }), 422, "promotion_not_adjacent");
    expectError(assert, await promote({ from: "nowhere", to: "staging", changes: "all" }), 404, "environment_not_found");
    expectError(assert, await promote({ from: "development", to: "staging", changes: "everything" }), 400, "validation_failed");
    expectError(assert, await promote({ from: "development", to: "staging", changes: [] }), 400, "validation_failed");
    expectError(assert, await admin("/v1/changes?from=development"), 400, "validation_failed");
    expectError(assert, await admin("/v1/environments/production/releases/rel_nope"), 404, "release_not_found");
    expectError(assert, await api("/v1/changes?from=development&to=staging", { key: secret("development") }), 403, "forbidden");
  });
});
