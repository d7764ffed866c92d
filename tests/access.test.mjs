// Members and roles over HTTP: personal access tokens, per-environment
// grants, and a permission matrix (route × role × environment) against the
// control plane in workerd. Writes use bodies that fail validation after
// the permission check, so an allowed call answers 400 and changes nothing.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { admin, api, expectError } from "./support/context.mjs";

const tag = randomBytes(4).toString("hex");
const saved = JSON.parse(readFileSync(process.env.TIDINGS_TEST_KEYS, "utf8"));
const tokens = {};
const ids = {};
const as = (who, path, options = {}) => api(path, { key: tokens[who], ...options });

async function addMember(label, body) {
  const created = await admin("/v1/members", { method: "POST", body: { name: label, email: `${label}-${tag}@example.com`, ...body } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  ids[label] = created.body.id;
  const token = await admin(`/v1/members/${created.body.id}/tokens`, { method: "POST", body: { name: "tests" } });
  assert.equal(token.status, 201, JSON.stringify(token.body));
  assert.match(token.body.token, /^mt_/);
  tokens[label] = token.body.token;
}

before(async () => {
  tokens.owner = saved.owner.token;
  for (const role of ["admin", "developer", "viewer", "support"]) await addMember(role, { role });
  // A developer kept out of production, allowed to promote into staging only by default rules.
  await addMember("contractor", { role: "developer", environments: { production: "none" } });
  // A viewer who may nevertheless promote into staging.
  await addMember("releaser", { role: "viewer", promote_into: ["staging"] });
});

/** What each call needs, with a request whose allowed answer is known. */
const routes = [
  { name: "see", call: (environment) => ["GET", `/v1/environments/${environment}`], allowed: 200 },
  { name: "configure", call: (environment) => ["PATCH", `/v1/environments/${environment}`, { colour: "not-a-colour" }], allowed: 400 },
  { name: "keys", call: (environment) => ["GET", `/v1/environments/${environment}/keys`], allowed: 200 },
  { name: "audit", call: (environment) => ["GET", `/v1/environments/${environment}/audit-log`], allowed: 200 },
  { name: "releases", call: (environment) => ["GET", `/v1/environments/${environment}/releases`], allowed: 200 },
  { name: "workflows", call: (environment) => ["GET", `/v1/environments/${environment}/workflows`], allowed: 200 },
  { name: "edit", call: (environment) => ["PUT", `/v1/environments/${environment}/workflows/access-probe`, { name: "" }], allowed: 400 },
];
const previous = { staging: "development", production: "staging" };
const environments = ["development", "staging", "production"];

// The expected matrix, written out: ✓ allowed, ✗ forbidden (403), – invisible (404),
// R read-only (403 `environment_read_only`: production content changes only by promotion).
const matrix = {
  //             see        configure   keys       audit      releases   workflows  edit       promote-into (staging, production)
  owner:      { see: "✓✓✓", configure: "✓✓✓", keys: "✓✓✓", audit: "✓✓✓", releases: "✓✓✓", workflows: "✓✓✓", edit: "✓✓R", promote: "✓✓" },
  admin:      { see: "✓✓✓", configure: "✓✓✓", keys: "✓✓✓", audit: "✓✓✓", releases: "✓✓✓", workflows: "✓✓✓", edit: "✓✓R", promote: "✓✓" },
  developer:  { see: "✓✓✓", configure: "✗✗✗", keys: "✗✗✗", audit: "✗✗✗", releases: "✓✓✓", workflows: "✓✓✓", edit: "✓✗R", promote: "✓✗" },
  viewer:     { see: "✓✓✓", configure: "✗✗✗", keys: "✗✗✗", audit: "✗✗✗", releases: "✓✓✓", workflows: "✓✓✓", edit: "✗✗R", promote: "✗✗" },
  support:    { see: "✓✓✓", configure: "✗✗✗", keys: "✗✗✗", audit: "✗✗✗", releases: "✓✓✓", workflows: "✓✓✓", edit: "✗✗R", promote: "✗✗" },
  contractor: { see: "✓✓–", configure: "✗✗–", keys: "✗✗–", audit: "✗✗–", releases: "✓✓–", workflows: "✓✓–", edit: "✓✗–", promote: "✓–" },
  releaser:   { see: "✓✓✓", configure: "✗✗✗", keys: "✗✗✗", audit: "✗✗✗", releases: "✓✓✓", workflows: "✓✓✓", edit: "✗✗R", promote: "✓✗" },
};

const outcome = (expected, allowed) => ({ "✓": allowed, "✗": 403, "R": 403, "–": 404 })[expected];

describe("members and roles", () => {
  it("each role gets exactly its permissions in each environment", async () => {
    let checked = 0;
    for (const [who, row] of Object.entries(matrix)) {
      for (const route of routes) {
        for (const [index, environment] of environments.entries()) {
          const [method, path, body] = route.call(environment);
          const response = await as(who, path, { method, body });
          const expected = outcome(row[route.name][index], route.allowed);
          assert.equal(response.status, expected, `${who} ${route.name} ${environment}: ${JSON.stringify(response.body)}`);
          const mark = row[route.name][index];
          if (expected === 403) assert.equal(response.body.error.code, mark === "R" ? "environment_read_only" : "forbidden");
          if (expected === 404) assert.equal(response.body.error.code, "environment_not_found");
          checked += 1;
        }
      }
      for (const [index, target] of ["staging", "production"].entries()) {
        const response = await as(who, "/v1/promotions", { method: "POST", body: { from: previous[target], to: target, changes: "all", dry_run: true } });
        const expected = outcome(row.promote[index], 200);
        assert.equal(response.status, expected, `${who} promote into ${target}: ${JSON.stringify(response.body)}`);
        checked += 1;
      }
    }
    assert.ok(checked >= 100, `${checked} cases`);
  });

  // Self-escalation and hidden environments, for every role: what a member may never do to
  // their own grants, and a promotion that skips an environment by not seeing it.
  // Each changes the member's grants (a no-op change would be allowed, as a rename is).
  const selfEscalations = [
    ["lift a none or set one", (who) => ({ environments: { production: who === "contractor" ? null : "none" } })],
    ["raise a role", () => ({ environments: { staging: "owner" } })],
    ["take personal data", () => ({ personal_data_in: ["production"] })],
    ["take a promotion right", () => ({ promote_into: ["production"] })],
    ["change role", (who) => ({ role: who === "owner" ? "admin" : "owner" })],
  ];
  // Skipping staging: 422 for whoever sees both ends, 404 for whoever cannot see one.
  const skip = { owner: 422, admin: 422, developer: 422, viewer: 422, support: 422, contractor: 404, releaser: 422 };

  it("nobody changes their own grants, and nobody skips an environment, whatever their role", async () => {
    for (const who of Object.keys(matrix)) {
      const id = who === "owner" ? (await as("owner", "/v1/me")).body.id : ids[who];
      for (const [what, body] of selfEscalations) {
        const response = await as(who, `/v1/members/${id}`, { method: "PATCH", body: body(who) });
        assert.equal(response.status, 403, `${who} ${what}: ${JSON.stringify(response.body)}`);
        assert.equal(response.body.error.code, "own_grants_immutable", `${who} ${what}`);
      }
      const skipped = await as(who, "/v1/promotions", { method: "POST", body: { from: "development", to: "production", changes: "all", dry_run: true } });
      assert.equal(skipped.status, skip[who], `${who} skipping staging: ${JSON.stringify(skipped.body)}`);
      assert.equal(skipped.body.error.code, skip[who] === 422 ? "promotion_not_adjacent" : "environment_not_found");
    }
  });

  it("lists only visible environments, and says who the caller is", async () => {
    const listed = await as("contractor", "/v1/environments");
    assert.deepEqual(listed.body.environments.map((environment) => environment.name), ["development", "staging"]);
    const me = await as("developer", "/v1/me");
    assert.equal(me.status, 200);
    assert.deepEqual([me.body.id, me.body.role], [ids.developer, "developer"]);
    assert.deepEqual(
      me.body.environments.map((access) => [access.name, access.may_promote, access.may_manage_keys, access.may_edit_content]),
      [["development", true, false, true], ["staging", true, false, false], ["production", false, false, false]],
    );
  });

  it("manages members: only admins and owners, only owners make owners", async () => {
    expectError(assert, await as("developer", "/v1/members"), 403, "forbidden");
    expectError(assert, await as("admin", "/v1/members", { method: "POST", body: { name: "Boss", email: `boss-${tag}@example.com`, role: "owner" } }), 403, "forbidden");
    const made = await as("owner", "/v1/members", { method: "POST", body: { name: "Second owner", email: `boss-${tag}@example.com`, role: "owner" } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    expectError(assert, await as("owner", "/v1/members", { method: "POST", body: { name: "Again", email: `boss-${tag}@example.com`, role: "viewer" } }), 409, "member_exists");
    expectError(assert, await as("owner", "/v1/members", { method: "POST", body: { name: "Bad", email: "nope", role: "viewer" } }), 400, "validation_failed");
    expectError(assert, await as("owner", "/v1/members", { method: "POST", body: { name: "Bad", email: `x-${tag}@example.com`, role: "god" } }), 400, "validation_failed");
    // A changed grant takes effect at once.
    const patched = await as("admin", `/v1/members/${ids.viewer}`, { method: "PATCH", body: { environments: { staging: "none" } } });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    expectError(assert, await as("viewer", "/v1/environments/staging"), 404, "environment_not_found");
    // A removed member's tokens stop working.
    const removed = await as("admin", `/v1/members/${ids.support}`, { method: "DELETE" });
    assert.equal(removed.status, 200);
    expectError(assert, await as("support", "/v1/me"), 401, "member_token_invalid");
    expectError(assert, await api("/v1/me", { key: `mt_${"a".repeat(52)}` }), 401, "member_token_invalid");
  });

  it("records every control-plane write with its actor, never a secret", async () => {
    const issued = await as("admin", "/v1/environments/staging/keys", { method: "POST", body: { kind: "publishable" } });
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    const revoked = await as("admin", `/v1/environments/staging/keys/${issued.body.id}`, { method: "DELETE" });
    assert.equal(revoked.status, 200);
    const audit = (await as("admin", "/v1/environments/staging/audit-log")).body.items;
    const mine = audit.filter((entry) => entry.actor === ids.admin && entry.resource === `key:${issued.body.id}`);
    assert.deepEqual(mine.map((entry) => entry.action), ["key.revoke", "key.create"]);
    assert.ok(!JSON.stringify(audit).includes(issued.body.key), "a key reached the audit log");
    // Filters and pages.
    const keyOnly = (await as("admin", `/v1/environments/staging/audit-log?action=key&actor=${ids.admin}`)).body;
    assert.deepEqual(keyOnly.items.map((entry) => entry.action), ["key.revoke", "key.create"]);
    const first = (await as("admin", `/v1/environments/staging/audit-log?action=key&actor=${ids.admin}&limit=1`)).body;
    assert.equal(first.items[0].action, "key.revoke");
    const second = (await as("admin", `/v1/environments/staging/audit-log?action=key&actor=${ids.admin}&limit=1&before=${first.next_before}`)).body;
    assert.deepEqual([second.items[0].action, second.next_before], ["key.create", null]);
    expectError(assert, await as("admin", "/v1/environments/staging/audit-log?limit=0"), 400, "validation_failed");
    // Member changes are deployment-wide entries, for admins and owners.
    const deployment = (await as("owner", "/v1/audit-log?action=member.create")).body.items;
    assert.ok(deployment.some((entry) => entry.resource === `member:${ids.developer}` && entry.summary.after.role === "developer"));
    expectError(assert, await as("viewer", "/v1/audit-log"), 403, "forbidden");
  });
});
