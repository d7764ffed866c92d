// Four-eyes approval: promotions, imports and rollbacks into an environment
// that requires approval become release requests holding the exact changes;
// another member allowed to promote there approves (applied as one release)
// or rejects with a comment. The requester never approves their own, nor
// does the admin token; a request the target has moved past is stale;
// requests expire after 7 days (the sweep, with an injected clock); a member
// or token made (or a member's rights changed) after a request cannot review it, nor a token the requester
// issued; a request whose requester
// was removed or lost the right is approved by nobody; the admin token asks for nothing; turning approval
// off is itself a request; all of it audited.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { admin, api, apiUrl, expectError, keys } from "./support/context.mjs";

const tag = randomBytes(4).toString("hex");
const production = Object.keys(keys).find((name) => keys[name].type === "production");
const tokens = {};
const memberIds = [];

async function member(label, body) {
  const made = await admin("/v1/members", { method: "POST", body: { name: label, email: `${label}-${tag}@example.com`, ...body } });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  memberIds.push(made.body.id);
  const token = await admin(`/v1/members/${made.body.id}/tokens`, { method: "POST", body: { name: "tests" } });
  tokens[label] = token.body.token;
  return made.body.id;
}

const as = (who, path, options = {}) => api(path, { key: tokens[who], ...options });
const requests = `/v1/environments/${production}/release-requests`;
const workflowIn = (environment, key) => api(`/v1/workflows/${key}`, { key: keys[environment].secret_key });

async function stage(key, subject) {
  const saved = await api(`/v1/workflows/${key}`, {
    key: keys.staging.secret_key,
    method: "PUT",
    body: { name: "Approved", steps: [{ type: "in_app", subject, body: "b" }] },
  });
  assert.ok([200, 201].includes(saved.status), JSON.stringify(saved.body));
}

/** Alice asks to promote `key` from staging into production: answers the request. */
async function requestPromotion(key) {
  const listed = await admin(`/v1/changes?from=staging&to=${production}`);
  const change = listed.body.changes.find((candidate) => candidate.resource === "workflow" && candidate.key === key);
  assert.ok(change, `no pending change for ${key}`);
  const response = await as("alice", "/v1/promotions", { method: "POST", body: { from: "staging", to: production, changes: [change.id] } });
  assert.equal(response.status, 202, JSON.stringify(response.body));
  assert.equal(response.body.release, null);
  return response.body.release_request;
}

before(async () => {
  await member("alice", { role: "admin" });
  await member("bob", { role: "admin" });
  await member("vic", { role: "viewer" });
  // Dora is Alice's doing: Alice made her and issued her token, and may keep a copy.
  const dora = await as("alice", "/v1/members", { method: "POST", body: { name: "dora", email: `dora-${tag}@example.com`, role: "admin" } });
  assert.equal(dora.status, 201, JSON.stringify(dora.body));
  memberIds.push(dora.body.id);
  const doraToken = await as("alice", `/v1/members/${dora.body.id}/tokens`, { method: "POST", body: { name: "from alice" } });
  assert.equal(doraToken.status, 201, JSON.stringify(doraToken.body));
  tokens.dora = doraToken.body.token;
  // So is Fay's token: Alice may hold copies of both.
  const fay = await as("alice", "/v1/members", { method: "POST", body: { name: "fay", email: `fay-${tag}@example.com`, role: "admin" } });
  assert.equal(fay.status, 201, JSON.stringify(fay.body));
  memberIds.push(fay.body.id);
  tokens.fay = (await as("alice", `/v1/members/${fay.body.id}/tokens`, { method: "POST", body: { name: "from alice" } })).body.token;
  const on = await admin(`/v1/environments/${production}`, { method: "PATCH", body: { require_approval: true } });
  assert.equal(on.status, 200, JSON.stringify(on.body));
  assert.equal(on.body.require_approval, true);
});

/** Turns production's approval off as it must be: Alice asks, Bob approves. */
async function approvalOff() {
  const asked = await as("alice", `/v1/environments/${production}`, { method: "PATCH", body: { require_approval: false } });
  if (asked.status === 200) return asked.body;
  assert.equal(asked.status, 202, JSON.stringify(asked.body));
  const approved = await as("bob", `${requests}/${asked.body.id}/approve`, { method: "POST", body: {} });
  assert.equal(approved.status, 201, JSON.stringify(approved.body));
  return (await admin(`/v1/environments/${production}`)).body;
}

after(async () => {
  if ((await admin(`/v1/environments/${production}`)).body.require_approval) await approvalOff();
  for (const id of memberIds) await admin(`/v1/members/${id}`, { method: "DELETE" });
});

describe("four-eyes approval", () => {
  const first = `approved-${tag}`;
  let approvedRelease;

  it("starts on for new production environments only, and guards only production-type ones", async () => {
    for (const [type, expected] of [["production", true], ["staging", false]]) {
      const name = `ap-${type.slice(0, 4)}-${tag}`;
      const created = await admin("/v1/environments", { method: "POST", body: { name, type } });
      assert.equal(created.status, 202, JSON.stringify(created.body));
      assert.equal(created.body.require_approval, expected, type);
      await admin(`/v1/environments/${name}`, { method: "DELETE" });
    }
    // Direct edits would go around it anywhere else: refused there.
    const staging = await admin("/v1/environments/staging", { method: "PATCH", body: { require_approval: true } });
    assert.equal(expectError(assert, staging, 400, "validation_failed").field, "require_approval");
  });

  it("turns a promotion into a pending request with its exact changes, applying nothing", async () => {
    await stage(first, "Version one");
    const request = await requestPromotion(first);
    assert.deepEqual([request.status, request.kind, request.source, request.requested_by], ["pending", "promotion", "staging", memberIds[0]]);
    assert.equal(request.changes.length, 1);
    assert.equal(request.changes[0].after.steps[0].subject, "Version one");
    assert.equal(Date.parse(request.expires_at) - Date.parse(request.created_at), 7 * 24 * 3600 * 1000);
    expectError(assert, await workflowIn(production, first), 404, "workflow_not_found");
    const listed = (await as("vic", requests)).body.items;
    assert.equal(listed[0].id, request.id, "a viewer sees pending requests");
    const one = await as("bob", `${requests}/${request.id}`);
    assert.deepEqual(one.body.changes, request.changes);
  });

  it("refuses the requester, the admin token and a member who may not promote there", async () => {
    const [request] = (await as("bob", requests)).body.items.filter((item) => item.status === "pending");
    expectError(assert, await as("alice", `${requests}/${request.id}/approve`, { method: "POST", body: {} }), 403, "own_release_request");
    expectError(assert, await as("alice", `${requests}/${request.id}/reject`, { method: "POST", body: { comment: "mine" } }), 403, "own_release_request");
    // Nor through a token Alice issued to someone else.
    const byDora = await as("dora", `${requests}/${request.id}/approve`, { method: "POST", body: {} });
    expectError(assert, byDora, 403, "own_release_request");
    assert.match(byDora.body.error.message, /issued by the member who made the request/);
    expectError(assert, await admin(`${requests}/${request.id}/approve`, { method: "POST", body: {} }), 403, "forbidden");
    expectError(assert, await as("vic", `${requests}/${request.id}/approve`, { method: "POST", body: {} }), 403, "forbidden");
    expectError(assert, await as("bob", `${requests}/rr_nope/approve`, { method: "POST", body: {} }), 404, "release_request_not_found");
    expectError(assert, await workflowIn(production, first), 404, "workflow_not_found");
  });

  it("refuses a member or a token made after the request", async () => {
    const [request] = (await as("bob", requests)).body.items.filter((item) => item.status === "pending");
    // A second identity made for the occasion: a new admin, and a new token of Bob's.
    await member("carol", { role: "admin" });
    expectError(assert, await as("carol", `${requests}/${request.id}/approve`, { method: "POST", body: {} }), 403, "forbidden");
    const fresh = await admin(`/v1/members/${memberIds[1]}/tokens`, { method: "POST", body: { name: "fresh" } });
    const byFresh = await api(`${requests}/${request.id}/approve`, { key: fresh.body.token, method: "POST", body: {} });
    expectError(assert, byFresh, 403, "forbidden");
    assert.match(byFresh.body.error.message, /created after the request/);
    // A member given the right after the request: Vic, a viewer from before it, made a promoter.
    const raised = await admin(`/v1/members/${memberIds[2]}`, { method: "PATCH", body: { promote_into: [production] } });
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    // The grant revoked the tokens issued before it; a new one is too new to review.
    expectError(assert, await as("vic", `${requests}/${request.id}/approve`, { method: "POST", body: {} }), 401, "member_token_invalid");
    const reissued = await admin(`/v1/members/${memberIds[2]}/tokens`, { method: "POST", body: { name: "raised" } });
    tokens.vic = reissued.body.token;
    expectError(assert, await as("vic", `${requests}/${request.id}/approve`, { method: "POST", body: {} }), 403, "forbidden");
    expectError(assert, await workflowIn(production, first), 404, "workflow_not_found");
  });

  it("applies the exact changes as one release when a second member approves, once", async () => {
    const [request] = (await as("bob", requests)).body.items.filter((item) => item.status === "pending");
    const approved = await as("bob", `${requests}/${request.id}/approve`, { method: "POST", body: { comment: "looks right" } });
    assert.equal(approved.status, 201, JSON.stringify(approved.body));
    assert.deepEqual([approved.body.request.status, approved.body.request.reviewed_by, approved.body.request.comment], ["approved", memberIds[1], "looks right"]);
    approvedRelease = approved.body.release;
    assert.deepEqual([approvedRelease.kind, approvedRelease.actor, approvedRelease.source], ["promotion", memberIds[0], "staging"]);
    assert.equal(approved.body.request.release_id, approvedRelease.id);
    assert.equal((await workflowIn(production, first)).body.steps[0].subject, "Version one");
    expectError(assert, await as("bob", `${requests}/${request.id}/approve`, { method: "POST", body: {} }), 409, "release_request_closed");
    const audit = (await admin(`/v1/environments/${production}/audit-log`)).body.items;
    const about = audit.filter((entry) => entry.resource === `release_request:${request.id}`).map((entry) => [entry.action, entry.actor]);
    assert.deepEqual(about.sort(), [["release_request.approve", memberIds[1]], ["release_request.create", memberIds[0]]]);
  });

  it("refuses a stale request: the environment moved since it was made", async () => {
    const key = `stale-${tag}`;
    await stage(key, "Stale");
    const twice = [await requestPromotion(key), await requestPromotion(key)];
    assert.equal((await as("bob", `${requests}/${twice[0].id}/approve`, { method: "POST", body: {} })).status, 201);
    const stale = await as("bob", `${requests}/${twice[1].id}/approve`, { method: "POST", body: {} });
    expectError(assert, stale, 409, "release_request_stale");
    assert.deepEqual(stale.body.error.details.resources, [`workflow:${key}`]);
    // Still pending: a reviewer rejects it, saying why.
    expectError(assert, await as("bob", `${requests}/${twice[1].id}/reject`, { method: "POST", body: {} }), 400, "validation_failed");
    const rejected = await as("bob", `${requests}/${twice[1].id}/reject`, { method: "POST", body: { comment: "superseded" } });
    assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    assert.deepEqual([rejected.body.status, rejected.body.comment], ["rejected", "superseded"]);
    expectError(assert, await as("bob", `${requests}/${twice[1].id}/approve`, { method: "POST", body: {} }), 409, "release_request_closed");
  });

  it("refuses a request made before any other change to the environment, touched by it or not", async () => {
    const [a, b] = [`apart-a-${tag}`, `apart-b-${tag}`];
    await stage(a, "A");
    await stage(b, "B");
    const [first, second] = [await requestPromotion(a), await requestPromotion(b)];
    assert.equal((await as("bob", `${requests}/${second.id}/approve`, { method: "POST", body: {} })).status, 201);
    const stale = await as("bob", `${requests}/${first.id}/approve`, { method: "POST", body: {} });
    expectError(assert, stale, 409, "release_request_stale");
    assert.deepEqual(stale.body.error.details.resources, []);
    expectError(assert, await workflowIn(production, a), 404, "workflow_not_found");
    assert.equal((await as("bob", `${requests}/${first.id}/reject`, { method: "POST", body: { comment: "ask again" } })).status, 200);
  });

  it("runs the preflight again at approval: a value production lost since blocks it", async () => {
    const variable = `APPROVAL_${tag.toUpperCase()}`;
    const key = `valued-${tag}`;
    const staging = keys.staging.secret_key;
    assert.ok([200, 201].includes((await api(`/v1/variables/${variable}`, { key: staging, method: "PUT", body: { value: "staging" } })).status));
    const saved = await api(`/v1/workflows/${key}`, { key: staging, method: "PUT", body: { name: "Valued", steps: [{ type: "in_app", subject: `{{ vars.${variable} }}`, body: "b" }] } });
    assert.ok([200, 201].includes(saved.status), JSON.stringify(saved.body));
    // The variable's name first, then its production value, then the workflow that reads it.
    const listed = await admin(`/v1/changes?from=staging&to=${production}`);
    const name = listed.body.changes.find((change) => change.resource === "variable" && change.key === variable);
    const asked = await as("alice", "/v1/promotions", { method: "POST", body: { from: "staging", to: production, changes: [name.id] } });
    assert.equal((await as("bob", `${requests}/${asked.body.release_request.id}/approve`, { method: "POST", body: {} })).status, 201);
    const valued = await api(`/v1/variables/${variable}`, { key: keys[production].secret_key, method: "PUT", body: { value: "production" } });
    assert.ok([200, 201].includes(valued.status), JSON.stringify(valued.body));
    const request = await requestPromotion(key);
    // Production's value goes (values are production's own, not content), then the review comes.
    const cleared = await api(`/v1/variables/${variable}`, { key: keys[production].secret_key, method: "PUT", body: { value: null } });
    assert.ok([200, 201].includes(cleared.status), JSON.stringify(cleared.body));
    const refused = await as("bob", `${requests}/${request.id}/approve`, { method: "POST", body: {} });
    expectError(assert, refused, 422, "preflight_failed");
    assert.ok(refused.body.error.details.problems.some((problem) => problem.blocking), JSON.stringify(refused.body));
    expectError(assert, await workflowIn(production, key), 404, "workflow_not_found");
    assert.equal((await as("bob", `${requests}/${request.id}/reject`, { method: "POST", body: { comment: "set the value first" } })).status, 200);
  });

  it("needs a personal-data grant to approve deliveries sent somewhere new in production, as to ask for them", async () => {
    await member("pia", { role: "admin", personal_data_in: [production] });
    const hook = `ap-hook-${tag}`;
    const added = await api(`/v1/integrations/${hook}`, { key: keys.staging.secret_key, method: "PUT", body: { kind: "webhook", name: "Elsewhere", url: "https://hooks.example.com/ap", signing_secret: `whsec_${tag}_0123456789abcdef` } });
    assert.ok([200, 201].includes(added.status), JSON.stringify(added.body));
    const listed = await admin(`/v1/changes?from=staging&to=${production}`);
    const change = listed.body.changes.find((candidate) => candidate.resource === "integration" && candidate.key === hook);
    const ask = (who) => as(who, "/v1/promotions", { method: "POST", body: { from: "staging", to: production, changes: [change.id] } });
    expectError(assert, await ask("alice"), 403, "forbidden");
    const asked = await ask("pia");
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const id = asked.body.release_request.id;
    const refused = await as("bob", `${requests}/${id}/approve`, { method: "POST", body: {} });
    expectError(assert, refused, 403, "forbidden");
    assert.match(refused.body.error.message, /personal-data grant/);
    expectError(assert, await api(`/v1/integrations/${hook}`, { key: keys[production].secret_key }), 404, "integration_not_found");
    assert.equal((await as("bob", `${requests}/${id}/reject`, { method: "POST", body: { comment: "not without the grant" } })).status, 200);
  });

  it("makes a rollback a request too, applied when approved", async () => {
    const asked = await as("alice", `/v1/environments/${production}/releases/${approvedRelease.id}/rollback`, { method: "POST" });
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    assert.deepEqual([asked.body.kind, asked.body.reverts, asked.body.status], ["rollback", approvedRelease.id, "pending"]);
    assert.equal((await workflowIn(production, first)).status, 200, "nothing rolled back yet");
    const approved = await as("bob", `${requests}/${asked.body.id}/approve`, { method: "POST", body: {} });
    assert.equal(approved.status, 201, JSON.stringify(approved.body));
    assert.deepEqual([approved.body.release.kind, approved.body.release.reverts], ["rollback", approvedRelease.id]);
    expectError(assert, await workflowIn(production, first), 404, "workflow_not_found");
  });

  it("expires a request nobody reviewed within 7 days, audited", async () => {
    const key = `expiring-${tag}`;
    await stage(key, "Late");
    const request = await requestPromotion(key);
    const sweep = await fetch(`${apiUrl}/__scheduled?cron=clock+${Date.now() + 7 * 24 * 3600 * 1000 + 60_000}`);
    assert.equal(sweep.status, 200);
    const after = await as("bob", `${requests}/${request.id}`);
    assert.equal(after.body.status, "expired");
    expectError(assert, await as("bob", `${requests}/${request.id}/approve`, { method: "POST", body: {} }), 409, "release_request_closed");
    const audit = (await admin(`/v1/environments/${production}/audit-log?action=release_request.expire`)).body.items;
    assert.ok(audit.some((entry) => entry.resource === `release_request:${request.id}`));
    expectError(assert, await workflowIn(production, key), 404, "workflow_not_found");
  });

  it("approves no request whose requester may no longer ask for it, and takes none from the admin token", async () => {
    // The admin token asks for nothing: whoever holds it could be the owner who then approves.
    const key = `orphan-${tag}`;
    await stage(key, "Orphaned");
    const listed = await admin(`/v1/changes?from=staging&to=${production}`);
    const change = listed.body.changes.find((candidate) => candidate.resource === "workflow" && candidate.key === key);
    const byAdminToken = await admin("/v1/promotions", { method: "POST", body: { from: "staging", to: production, changes: [change.id] } });
    expectError(assert, byAdminToken, 403, "forbidden");
    assert.match(byAdminToken.body.error.message, /admin token/);
    const offByAdminToken = await admin(`/v1/environments/${production}`, { method: "PATCH", body: { require_approval: false } });
    expectError(assert, offByAdminToken, 403, "forbidden");
    assert.equal((await admin(`/v1/environments/${production}`)).body.require_approval, true);
    // Dave asks, then loses the right to promote there; Erin asks, then is removed. Neither request is
    // approved by anyone; both can still be rejected.
    const asker = async (label, after) => {
      const id = await member(label, { role: "admin" });
      const pending = await as(label, "/v1/promotions", { method: "POST", body: { from: "staging", to: production, changes: [change.id] } });
      assert.equal(pending.status, 202, JSON.stringify(pending.body));
      assert.equal((await after(id)).status, 200);
      const approving = await as("bob", `${requests}/${pending.body.release_request.id}/approve`, { method: "POST", body: {} });
      expectError(assert, approving, 403, "forbidden");
      assert.match(approving.body.error.message, /no longer/);
      const rejected = await as("bob", `${requests}/${pending.body.release_request.id}/reject`, { method: "POST", body: { comment: "asker gone" } });
      assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
    };
    await asker("dave", (id) => admin(`/v1/members/${id}`, { method: "PATCH", body: { role: "viewer" } }));
    await asker("erin", (id) => admin(`/v1/members/${id}`, { method: "DELETE" }));
    expectError(assert, await workflowIn(production, key), 404, "workflow_not_found");
  });

  it("refuses a review by whoever issued the token the request was made with, or with a token they issued", async () => {
    // Dora's token is Alice's doing: a request made with it may be Alice's, so neither Alice nor a
    // token Alice issued reviews it.
    const key = `issued-${tag}`;
    await stage(key, "Issued");
    const listed = await admin(`/v1/changes?from=staging&to=${production}`);
    const change = listed.body.changes.find((candidate) => candidate.resource === "workflow" && candidate.key === key);
    const asked = await as("dora", "/v1/promotions", { method: "POST", body: { from: "staging", to: production, changes: [change.id] } });
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    const request = asked.body.release_request;
    const byAlice = await as("alice", `${requests}/${request.id}/approve`, { method: "POST", body: {} });
    expectError(assert, byAlice, 403, "own_release_request");
    assert.match(byAlice.body.error.message, /made with a token issued by you/);
    // Nor Fay, whose token Alice issued too.
    expectError(assert, await as("fay", `${requests}/${request.id}/approve`, { method: "POST", body: {} }), 403, "own_release_request");
    const rejected = await as("bob", `${requests}/${request.id}/reject`, { method: "POST", body: { comment: "not this one" } });
    assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
  });

  it("turns approval off only with a second member, and then applies directly", async () => {
    // Nobody lifts it alone: not an admin, not the admin token; with other settings it is refused.
    const mixed = await as("alice", `/v1/environments/${production}`, { method: "PATCH", body: { require_approval: false, label: "Prod" } });
    assert.equal(expectError(assert, mixed, 400, "validation_failed").field, "require_approval");
    expectError(assert, await admin(`/v1/environments/${production}`, { method: "PATCH", body: { require_approval: false } }), 403, "forbidden");
    assert.equal((await admin(`/v1/environments/${production}`)).body.require_approval, true);
    const asked = await as("alice", `/v1/environments/${production}`, { method: "PATCH", body: { require_approval: false } });
    assert.equal(asked.status, 202, JSON.stringify(asked.body));
    expectError(assert, await as("alice", `${requests}/${asked.body.id}/approve`, { method: "POST", body: {} }), 403, "own_release_request");
    const approved = await as("bob", `${requests}/${asked.body.id}/approve`, { method: "POST", body: {} });
    assert.equal(approved.status, 201, JSON.stringify(approved.body));
    assert.deepEqual([approved.body.request.status, approved.body.release], ["approved", null]);
    assert.equal((await admin(`/v1/environments/${production}`)).body.require_approval, false);
    const audit = (await admin(`/v1/environments/${production}/audit-log`)).body.items;
    assert.ok(audit.some((entry) => entry.resource === `release_request:${asked.body.id}` && entry.action === "release_request.approve"));
    const key = `direct-${tag}`;
    await stage(key, "Direct");
    const listed = await admin(`/v1/changes?from=staging&to=${production}`);
    const change = listed.body.changes.find((candidate) => candidate.key === key);
    const response = await as("alice", "/v1/promotions", { method: "POST", body: { from: "staging", to: production, changes: [change.id] } });
    assert.equal(response.status, 201, JSON.stringify(response.body));
    assert.equal(response.body.release_request, undefined);
    // Turning it on takes one member: it only asks for more.
    assert.equal((await as("alice", `/v1/environments/${production}`, { method: "PATCH", body: { require_approval: true } })).body.require_approval, true);
  });
});
