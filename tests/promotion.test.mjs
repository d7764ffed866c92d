// Promotion over the real stack: typed changes between adjacent
// environments, dry runs, releases that are idempotent and recorded with
// an audit entry, preflight into production, read-only production, and
// rollback — ending with a production subscriber's feed using the new
// template, then the old one again.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { admin, api, apiUrl, expectError, freshSubscriber, keys } from "./support/context.mjs";

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
    // A new URL keeps no secret given for the old one (it would sign what the new receiver gets):
    // a direct change must bring its own, and a promotion drops the target's, saying so.
    const moved = { kind: "webhook", name: "Hook", url: "https://hooks.example.test/moved" };
    const withoutSecret = await api(`/v1/integrations/${integration}`, { key: secret("development"), method: "PUT", body: moved });
    assert.equal(expectError(assert, withoutSecret, 400, "validation_failed").field, "signing_secret");
    const withSecret = await api(`/v1/integrations/${integration}`, { key: secret("development"), method: "PUT", body: { ...moved, signing_secret: "n".repeat(32) } });
    assert.equal(withSecret.status, 200, JSON.stringify(withSecret.body));
    await promoteOne("development", "staging", [changeOf(await pending("development", "staging"), "integration", integration).id]);
    const toProduction = await promote({ from: "staging", to: "production", changes: [changeOf(await pending("staging", "production"), "integration", integration).id] });
    assert.equal(toProduction.status, 201, JSON.stringify(toProduction.body));
    assert.deepEqual(toProduction.body.problems.map((problem) => [problem.code, problem.blocking]), [["integration_secret_dropped", false]]);
    const dropped = await api(`/v1/integrations/${integration}`, { key: secret("production") });
    assert.deepEqual([dropped.body.url, dropped.body.has_signing_secret], [moved.url, false]);
    const renewed = await api(`/v1/integrations/${integration}`, { key: secret("production"), method: "PUT", body: { ...moved, signing_secret: "q".repeat(32) } });
    assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
    expectError(assert, await api(`/v1/integrations/${integration}`, { key: secret("production"), method: "DELETE" }), 403, "environment_read_only");
    expectError(assert, await api(`/v1/workflows/${workflow}`, { key: secret("production"), method: "DELETE" }), 403, "environment_read_only");

    // A new secret alone, sent while a promotion moves the integration, does not put back the URL it read.
    const movedAgain = { ...moved, url: "https://hooks.example.test/again" };
    const edited = await api(`/v1/integrations/${integration}`, { key: secret("development"), method: "PUT", body: { ...movedAgain, signing_secret: "m".repeat(32) } });
    assert.equal(edited.status, 200, JSON.stringify(edited.body));
    await promoteOne("development", "staging", [changeOf(await pending("development", "staging"), "integration", integration).id]);
    const racing = api(`/v1/integrations/${integration}`, {
      key: secret("production"),
      method: "PUT",
      body: { ...moved, signing_secret: "r".repeat(32) },
      headers: { "Tidings-Inject-Faults": "integration-secret=pause" },
    });
    await new Promise((resolve) => setTimeout(resolve, 600));
    await promoteOne("staging", "production", [changeOf(await pending("staging", "production"), "integration", integration).id]);
    expectError(assert, await racing, 403, "environment_read_only");
    const promoted = await api(`/v1/integrations/${integration}`, { key: secret("production") });
    assert.deepEqual([promoted.body.url, promoted.body.has_signing_secret], [movedAgain.url, false]);
  });

  it("refuses a rollback that would leave a production workflow naming an integration removed since", async () => {
    const flow = `hooked-${tag}`;
    const hook = `gone-hook-${tag}`;
    const save = async (steps) => {
      const saved = await api(`/v1/workflows/${flow}`, { key: secret("development"), method: "PUT", body: { name: "Hooked", steps: [{ type: "in_app", subject: "s", body: "b" }, ...steps] } });
      assert.ok([200, 201].includes(saved.status), JSON.stringify(saved.body));
    };
    // Carry every pending change of `resource`/`key` down the chain into production.
    const carry = async (resource, key) => {
      let release;
      for (const [from, to] of [["development", "staging"], ["staging", "production"]]) {
        release = await promoteOne(from, to, [changeOf(await pending(from, to), resource, key).id]);
      }
      return release;
    };
    const config = { kind: "webhook", name: "Hook", url: "https://hooks.example.test/hooked" };
    assert.equal((await api("/v1/integrations", { key: secret("development"), method: "POST", body: { id: hook, ...config, signing_secret: "h".repeat(32) } })).status, 201);
    await carry("integration", hook);
    assert.equal((await api(`/v1/integrations/${hook}`, { key: secret("production"), method: "PUT", body: { ...config, signing_secret: "p".repeat(32) } })).status, 200);
    await save([{ type: "webhook", integration: hook, body: "{}" }]);
    await carry("workflow", flow);
    // The workflow stops using the integration (release one), then the integration goes (release two).
    await save([]);
    const unhooked = await carry("workflow", flow);
    assert.equal((await api(`/v1/integrations/${hook}`, { key: secret("development"), method: "DELETE" })).status, 200);
    await carry("integration", hook);
    // Undoing release one would bring back a workflow that names the integration production no longer has.
    const rollback = await admin(`/v1/environments/production/releases/${unhooked.id}/rollback`, { method: "POST" });
    const error = expectError(assert, rollback, 422, "preflight_failed");
    assert.deepEqual(error.details.problems.map((problem) => [problem.code, problem.resource]), [["missing_integration", `workflow:${flow}`]]);
  });

  it("moves variable names but never values, and checks production has values before promoting", async () => {
    const flow = `vars-${tag}`;
    const variable = `SUPPORT_URL_${tag.toUpperCase()}`;
    const setValue = (environment, value) =>
      api(`/v1/variables/${variable}`, { key: secret(environment), method: "PUT", body: { value } });
    assert.equal((await setValue("development", "https://dev.example.test/help")).status, 201);
    const saved = await api(`/v1/workflows/${flow}`, {
      key: secret("development"),
      method: "PUT",
      body: { name: "Vars", steps: [{ type: "in_app", subject: `{{ vars.${variable} }}`, body: "b" }] },
    });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    const trigger = (environment) =>
      api("/v1/events/trigger", { key: secret(environment), method: "POST", body: { workflow: flow, to: freshSubscriber("vars"), payload: {} } });
    const subjectOf = async (environment) => {
      const triggered = await trigger(environment);
      assert.equal(triggered.status, 202, JSON.stringify(triggered.body));
      const feed = await api(`/v1/subscribers/${triggered.body.messages[0].subscriber_id}/feed`, { key: secret(environment) });
      return feed.body.items[0].subject;
    };
    assert.equal(await subjectOf("development"), "https://dev.example.test/help");

    const list = await pending("development", "staging");
    const [name, workflowChange] = [changeOf(list, "variable", variable), changeOf(list, "workflow", flow)];
    assert.deepEqual([name.change, name.after], ["added", {}], "the value does not move");
    await promoteOne("development", "staging", [name.id, workflowChange.id]);
    const staged = (await api("/v1/variables", { key: secret("staging") })).body.items.find((item) => item.name === variable);
    assert.equal(staged.value, null);
    // Without a value in staging the template cannot render: a typed refusal, nothing stored.
    expectError(assert, await trigger("staging"), 422, "template_render_failed");
    assert.equal((await setValue("staging", "https://staging.example.test/help")).status, 200);
    assert.equal(await subjectOf("staging"), "https://staging.example.test/help");

    const next = await pending("staging", "production");
    const [nameNext, flowNext] = [changeOf(next, "variable", variable), changeOf(next, "workflow", flow)];
    const blocked = expectError(assert, await promote({ from: "staging", to: "production", changes: [nameNext.id, flowNext.id] }), 422, "preflight_failed");
    assert.deepEqual(blocked.details.problems.map((problem) => problem.code), ["missing_variable_value"]);
    await promoteOne("staging", "production", [nameNext.id]);
    // Production sets its own value, but takes no new names except by promotion.
    assert.equal((await setValue("production", "https://example.test/help")).status, 200);
    const invented = await api("/v1/variables/INVENTED", { key: secret("production"), method: "PUT", body: { value: "x" } });
    expectError(assert, invented, 403, "environment_read_only");
    await promoteOne("staging", "production", [changeOf(await pending("staging", "production"), "workflow", flow).id]);
    assert.equal(await subjectOf("production"), "https://example.test/help");
  });

  it("moves default preferences, which triggers honour where a subscriber set nothing", async () => {
    const quiet = `quiet-${tag}`;
    for (const environment of ["development"]) {
      const saved = await api(`/v1/workflows/${quiet}`, {
        key: secret(environment),
        method: "PUT",
        body: { name: "Quiet", steps: [{ type: "in_app", subject: "s", body: "b" }] },
      });
      assert.equal(saved.status, 201);
    }
    const defaults = { workflows: { [quiet]: { in_app: false } } };
    const put = await api("/v1/preferences/defaults", { key: secret("development"), method: "PUT", body: defaults });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.deepEqual(put.body.workflows[quiet], { in_app: false });
    const deliver = async (environment) => {
      const response = await api("/v1/events/trigger", { key: secret(environment), method: "POST", body: { workflow: quiet, to: freshSubscriber("quiet") } });
      assert.equal(response.status, 202, JSON.stringify(response.body));
      return response.body.messages.length;
    };
    assert.equal(await deliver("development"), 0, "off by default");
    // A subscriber's own choice beats the default.
    const keen = freshSubscriber("keen");
    await api(`/v1/subscribers/${keen}/preferences`, { key: secret("development"), method: "PATCH", body: { global: { in_app: true } } });
    const response = await api("/v1/events/trigger", { key: secret("development"), method: "POST", body: { workflow: quiet, to: keen } });
    assert.equal(response.body.messages.length, 1);

    const list = await pending("development", "staging");
    const [defaultsChange, flowChange] = [changeOf(list, "preference_defaults", "defaults"), changeOf(list, "workflow", quiet)];
    assert.ok(defaultsChange.fields.some((field) => field.kind === "routing"));
    await promoteOne("development", "staging", [defaultsChange.id, flowChange.id]);
    assert.equal(await deliver("staging"), 0, "the defaults moved with the workflow");
    const inProduction = await api("/v1/preferences/defaults", { key: secret("production"), method: "PUT", body: defaults });
    expectError(assert, inProduction, 403, "environment_read_only");
  });

  it("moves brand settings and the logo file between the environments' own stores", async () => {
    const dev = secret("development");
    const name = `Acme ${tag}`;
    const saved = await api("/v1/brand", { key: dev, method: "PUT", body: { name, primary_colour: "#3b5bdb", accent_colour: "#f59f00" } });
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><title>${tag}</title></svg>`;
    const uploaded = await api("/v1/brand/logo", { key: dev, method: "PUT", body: svg, headers: { "Content-Type": "image/svg+xml" } });
    assert.equal(uploaded.status, 200, JSON.stringify(uploaded.body));
    assert.match(uploaded.body.logo.id, /^[0-9a-f]{64}$/);
    expectError(assert, await api("/v1/brand/logo", { key: dev, method: "PUT", body: "GIF89a", headers: { "Content-Type": "image/gif" } }), 415, "unsupported_media_type");

    const change = changeOf(await pending("development", "staging"), "brand", "brand");
    assert.ok(change.fields.some((field) => field.path === "logo.id" || field.path === "$" || field.path === "logo"), JSON.stringify(change.fields));
    await promoteOne("development", "staging", [change.id]);
    // Staging's own bucket now holds the logo; a browser with staging's publishable key reads both.
    const staged = await api("/v1/brand", { key: keys.staging.publishable_key });
    const withoutUrl = ({ logo: { url, ...logo }, ...brand }) => ({ ...brand, logo });
    assert.deepEqual(withoutUrl(staged.body), withoutUrl(uploaded.body));
    assert.match(staged.body.logo.url, /^\/v1\/signed-files\/staging\/brand\/[0-9a-f]{64}\?/, "staging's own signed URL");
    const logo = await fetch(`${apiUrl}/v1/brand/logo`, { headers: { Authorization: `Bearer ${keys.staging.publishable_key}` } });
    assert.equal(logo.status, 200);
    assert.equal(logo.headers.get("content-type"), "image/svg+xml");
    assert.equal(await logo.text(), svg);
    expectError(assert, await api("/v1/brand", { key: secret("production"), method: "PUT", body: { name, primary_colour: "#000000" } }), 403, "environment_read_only");
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
