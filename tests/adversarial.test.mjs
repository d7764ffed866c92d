// Adversarial checks of the control plane, over HTTP: members trying to get
// more than they were given, and requests built to slip past a rule.
//
// - Self-escalation: an admin kept out of production edits their own
//   record, creates a member wider than themself, hands themself a wider
//   member's token, or widens somebody else; an owner grants themself
//   personal data; admins touch owners; developers and viewers manage
//   members. Each is refused, and the member read back is unchanged.
// - Hidden environments: a member who cannot see staging tries to promote
//   development straight into production; the refusal must not name staging.
// - A custom environment that is still `creating`: deleting it needs the
//   right role there, and its content routes answer `environment_not_ready`.
// - Owners: one may leave, or drop their only token, while another owner
//   can still sign in; nobody demotes themself.
// - Promotion replays: a change promoted, rolled back and promoted again is
//   a new release (not a replay of the rolled-back one), and an
//   Idempotency-Key reused for a different request is refused.
//
// The deployment's bootstrap owner is never removed or demoted here; every
// member, workflow and environment this file makes has a unique name.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { admin, api, expectError, keys } from "./support/context.mjs";

const tag = randomBytes(4).toString("hex");
const saved = JSON.parse(readFileSync(process.env.TIDINGS_TEST_KEYS, "utf8"));
const tokens = { owner: saved.owner.token };
const tokenIds = {};
const ids = {};
const as = (who, path, options = {}) => api(path, { key: tokens[who], ...options });
const emailOf = (label) => `${label}-adv-${tag}@example.com`;

/** Adds a member through the admin token, with a token of their own unless told not to. */
async function addMember(label, body, { withToken = true } = {}) {
  const created = await admin("/v1/members", { method: "POST", body: { name: label, email: emailOf(label), ...body } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  ids[label] = created.body.id;
  if (!withToken) return;
  const token = await admin(`/v1/members/${created.body.id}/tokens`, { method: "POST", body: { name: "adversarial" } });
  assert.equal(token.status, 201, JSON.stringify(token.body));
  assert.match(token.body.token, /^mt_/);
  tokens[label] = token.body.token;
  tokenIds[label] = token.body.id;
}

/** Every member as the admin token reads them. */
async function members() {
  const listed = await admin("/v1/members");
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  return listed.body.items;
}
const memberRecord = async (id) => (await members()).find((member) => member.id === id);
const memberWithEmail = async (email) => (await members()).find((member) => member.email === email);

/** Asserts a refusal with its status and code, naming the attempt when it fails. */
function refused(response, status, code, what) {
  assert.equal(`${response.status} ${response.body?.error?.code}`, `${status} ${code}`, `${what}: ${JSON.stringify(response.body)}`);
  return expectError(assert, response, status, code);
}

/** Runs `attempt`, expects it refused, and checks the member reads back exactly as before. */
async function refusedAndUnchanged(id, attempt, status, code, what) {
  const before = await memberRecord(id);
  assert.ok(before, `member ${id} exists before: ${what}`);
  refused(await attempt(), status, code, what);
  assert.deepEqual(await memberRecord(id), before, `${what} changed the member`);
}

before(async () => {
  const me = await as("owner", "/v1/me");
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.role, "owner");
  ids.owner = me.body.id;
  // An admin kept out of production: the attacker of most of this file.
  await addMember("limited", { role: "admin", environments: { production: "none" } });
  await addMember("admin", { role: "admin" });
  await addMember("developer", { role: "developer" });
  await addMember("viewer", { role: "viewer" });
  // A developer kept out of production, whom nobody without production may let in.
  await addMember("fenced", { role: "developer", environments: { production: "none" } }, { withToken: false });
  // A second owner, without personal data anywhere.
  await addMember("coowner", { role: "owner", personal_data_in: [] });
});

describe("self-escalation", () => {
  it("an admin kept out of production cannot edit their own grants", async () => {
    const own = `/v1/members/${ids.limited}`;
    const attempts = [
      ["removing their production override", { environments: { production: null } }],
      ["making themself admin in production", { environments: { production: "admin" } }],
      ["granting themself personal data in production", { personal_data_in: ["production"] }],
      ["letting themself promote into production", { promote_into: ["production"] }],
      ["making themself owner", { role: "owner" }],
      ["renaming themself while widening", { name: "Still limited", environments: { production: "developer" } }],
    ];
    for (const [what, body] of attempts) {
      await refusedAndUnchanged(ids.limited, () => as("limited", own, { method: "PATCH", body }), 403, "own_grants_immutable", what);
    }
    // Their own name is theirs to change, and nothing else moves with it.
    const before = await memberRecord(ids.limited);
    const renamed = await as("limited", own, { method: "PATCH", body: { name: `Limited ${tag}` } });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    assert.equal(renamed.body.name, `Limited ${tag}`);
    assert.deepEqual(await memberRecord(ids.limited), { ...before, name: `Limited ${tag}` });
    assert.deepEqual(before.environments, { production: "none" });
  });

  it("an owner cannot grant themself personal data", async () => {
    assert.deepEqual((await memberRecord(ids.coowner)).personal_data_in, []);
    for (const environment of ["production", "development"]) {
      await refusedAndUnchanged(
        ids.coowner,
        () => as("coowner", `/v1/members/${ids.coowner}`, { method: "PATCH", body: { personal_data_in: [environment] } }),
        403,
        "own_grants_immutable",
        `an owner granting themself personal data in ${environment}`,
      );
    }
  });

  it("an admin kept out of production creates, widens and hands tokens for only what they hold", async () => {
    const create = (label, body) => as("limited", "/v1/members", { method: "POST", body: { name: label, email: emailOf(label), ...body } });
    const unlimited = await create("limited-unlimited", { role: "admin" });
    refused(unlimited, 403, "forbidden", "creating an admin with production");
    assert.equal(await memberWithEmail(emailOf("limited-unlimited")), undefined);
    const nosy = await create("limited-nosy", { role: "viewer", environments: { production: "none" }, personal_data_in: ["production"] });
    refused(nosy, 403, "forbidden", "creating a member with personal data in production");
    assert.equal(await memberWithEmail(emailOf("limited-nosy")), undefined);
    const developer = await create("limited-developer", { role: "developer" });
    refused(developer, 403, "forbidden", "creating a developer, who holds production");
    assert.equal(await memberWithEmail(emailOf("limited-developer")), undefined);

    // A token acts as its member: handing out one of a member who holds production hands out production.
    await refusedAndUnchanged(
      ids.developer,
      () => as("limited", `/v1/members/${ids.developer}/tokens`, { method: "POST", body: { name: "borrowed" } }),
      403,
      "forbidden",
      "issuing a token for a developer with production",
    );
    await refusedAndUnchanged(
      ids.fenced,
      () => as("limited", `/v1/members/${ids.fenced}`, { method: "PATCH", body: { environments: { production: null } } }),
      403,
      "forbidden",
      "lifting another member's production: none",
    );
    await refusedAndUnchanged(
      ids.fenced,
      () => as("limited", `/v1/members/${ids.fenced}`, { method: "PATCH", body: { environments: { production: "viewer" } } }),
      403,
      "forbidden",
      "giving another member a role in production",
    );
    await refusedAndUnchanged(
      ids.developer,
      () => as("limited", `/v1/members/${ids.developer}`, { method: "PATCH", body: { role: "admin" } }),
      403,
      "forbidden",
      "making a developer admin, hence admin in production",
    );

    // Someone exactly like themself is fine.
    const twin = await create("limited-twin", { role: "admin", environments: { production: "none" } });
    assert.equal(twin.status, 201, JSON.stringify(twin.body));
    assert.deepEqual([twin.body.role, twin.body.environments, twin.body.personal_data_in], ["admin", { production: "none" }, []]);
  });

  it("production stays invisible to them: no key minted, no deletion", async () => {
    const keysBefore = await admin("/v1/environments/production/keys");
    assert.equal(keysBefore.status, 200, JSON.stringify(keysBefore.body));
    for (const kind of ["secret", "publishable"]) {
      const minted = await as("limited", "/v1/environments/production/keys", { method: "POST", body: { kind } });
      refused(minted, 404, "environment_not_found", `minting a ${kind} production key`);
    }
    refused(await as("limited", "/v1/environments/production", { method: "DELETE" }), 404, "environment_not_found", "deleting production");
    refused(await as("limited", "/v1/environments/production"), 404, "environment_not_found", "reading production");
    const keysAfter = await admin("/v1/environments/production/keys");
    const idsOf = (listed) => listed.body.keys.map((key) => key.id);
    assert.deepEqual(idsOf(keysAfter), idsOf(keysBefore), "a production key was minted or removed");
    const production = await admin("/v1/environments/production");
    assert.equal(production.status, 200, JSON.stringify(production.body));
    assert.equal(production.body.status, "active");
    // Nor is it named to them through other members' grants.
    const listed = await as("limited", "/v1/members");
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    for (const member of listed.body.items) {
      assert.ok(!("production" in member.environments) && !member.promote_into.includes("production") && !member.personal_data_in.includes("production"), JSON.stringify(member));
    }
  });

  it("an admin cannot make, change or remove an owner", async () => {
    const made = await as("admin", "/v1/members", { method: "POST", body: { name: "Boss", email: emailOf("boss"), role: "owner" } });
    refused(made, 403, "forbidden", "an admin creating an owner");
    assert.equal(await memberWithEmail(emailOf("boss")), undefined);
    for (const [what, body] of [["demoting an owner", { role: "viewer" }], ["renaming an owner", { name: "Renamed" }], ["fencing an owner", { environments: { production: "none" } }]]) {
      await refusedAndUnchanged(ids.coowner, () => as("admin", `/v1/members/${ids.coowner}`, { method: "PATCH", body }), 403, "forbidden", `an admin ${what}`);
    }
    await refusedAndUnchanged(ids.coowner, () => as("admin", `/v1/members/${ids.coowner}`, { method: "DELETE" }), 403, "forbidden", "an admin removing an owner");
  });

  it("developers and viewers manage no members, themselves included", async () => {
    for (const who of ["developer", "viewer"]) {
      refused(await as(who, "/v1/members"), 403, "forbidden", `a ${who} listing members`);
      const made = await as(who, "/v1/members", { method: "POST", body: { name: "Friend", email: emailOf(`${who}-friend`), role: "viewer" } });
      refused(made, 403, "forbidden", `a ${who} creating a member`);
      assert.equal(await memberWithEmail(emailOf(`${who}-friend`)), undefined);
      const other = `/v1/members/${ids.fenced}`;
      await refusedAndUnchanged(ids.fenced, () => as(who, other, { method: "PATCH", body: { environments: { production: null } } }), 403, "forbidden", `a ${who} widening another member`);
      await refusedAndUnchanged(ids.fenced, () => as(who, other, { method: "DELETE" }), 403, "forbidden", `a ${who} removing another member`);
      await refusedAndUnchanged(ids.fenced, () => as(who, `${other}/tokens`, { method: "POST", body: { name: "borrowed" } }), 403, "forbidden", `a ${who} issuing another member's token`);

      // Their own role: refused, by either rule.
      for (const role of ["admin", "owner"]) {
        const before = await memberRecord(ids[who]);
        const promoted = await as(who, `/v1/members/${ids[who]}`, { method: "PATCH", body: { role } });
        assert.equal(promoted.status, 403, `a ${who} making themself ${role}: ${JSON.stringify(promoted.body)}`);
        assert.ok(["own_grants_immutable", "forbidden"].includes(promoted.body.error.code), JSON.stringify(promoted.body));
        assert.deepEqual(await memberRecord(ids[who]), before, `a ${who} making themself ${role} changed them`);
      }
    }
  });

  it("personal data is granted only by someone who holds it, or by the admin token", async () => {
    const owner = await memberRecord(ids.owner);
    assert.ok(!owner.personal_data_in.includes("production"), "the bootstrap owner should hold no personal-data grant in production");
    const body = (label) => ({ name: label, email: emailOf(label), role: "viewer", personal_data_in: ["production"] });
    refused(await as("owner", "/v1/members", { method: "POST", body: body("owner-nosy") }), 403, "forbidden", "an owner granting personal data they lack");
    assert.equal(await memberWithEmail(emailOf("owner-nosy")), undefined);
    const granted = await admin("/v1/members", { method: "POST", body: body("trusted") });
    assert.equal(granted.status, 201, JSON.stringify(granted.body));
    assert.deepEqual(granted.body.personal_data_in, ["production"]);
  });
});

describe("tokens issued for someone else", () => {
  it("never carry a right granted after they were issued: widening a member revokes their tokens", async () => {
    // An admin without personal data anywhere makes a support member and keeps a copy of the first token.
    const made = await as("admin", "/v1/members", { method: "POST", body: { name: "helper", email: emailOf("helper"), role: "support" } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const copy = await as("admin", `/v1/members/${made.body.id}/tokens`, { method: "POST", body: { name: "onboarding" } });
    assert.equal(copy.status, 201, JSON.stringify(copy.body));
    const self = await api(`/v1/members/${made.body.id}/tokens`, { key: copy.body.token, method: "POST", body: { name: "mine" } });
    assert.equal(self.status, 201, JSON.stringify(self.body));
    const path = "/v1/environments/production/subscribers";
    assert.equal((await api(path, { key: copy.body.token })).status, 200);
    // Narrowing keeps the tokens.
    const narrowed = await admin(`/v1/members/${made.body.id}`, { method: "PATCH", body: { environments: { development: "none" } } });
    assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
    assert.equal((await api("/v1/me", { key: copy.body.token })).status, 200);
    // The owner grants personal data in production: every token issued before stops, the member's own included.
    const widened = await admin(`/v1/members/${made.body.id}`, { method: "PATCH", body: { personal_data_in: ["production"] } });
    assert.equal(widened.status, 200, JSON.stringify(widened.body));
    for (const token of [copy.body.token, self.body.token]) {
      refused(await api(path, { key: token }), 401, "member_token_invalid", "a token issued before the grant");
    }
    // A new token, issued by someone who holds the grant, carries it.
    const fresh = await admin(`/v1/members/${made.body.id}/tokens`, { method: "POST", body: { name: "after" } });
    assert.equal(fresh.status, 201, JSON.stringify(fresh.body));
    assert.equal((await api(path, { key: fresh.body.token })).status, 200);
    assert.deepEqual((await memberRecord(made.body.id)).personal_data_in, ["production"]);
    // An admin without the grant cannot issue them one any more.
    refused(await as("admin", `/v1/members/${made.body.id}/tokens`, { method: "POST", body: { name: "again" } }), 403, "forbidden", "issuing a token beyond one's own grants");
    assert.equal(widened.body.replacement_token, undefined, "only an owner is issued one in the answer");
  });

  it("end when the member who issued them is removed: the issuer may keep a copy", async () => {
    // An admin onboards a colleague with a token and keeps a copy; the colleague mints one with it.
    await addMember("issuer", { role: "admin" });
    const made = await as("issuer", "/v1/members", { method: "POST", body: { name: "colleague", email: emailOf("colleague"), role: "developer" } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const copy = await as("issuer", `/v1/members/${made.body.id}/tokens`, { method: "POST", body: { name: "onboarding" } });
    assert.equal(copy.status, 201, JSON.stringify(copy.body));
    const own = await api(`/v1/members/${made.body.id}/tokens`, { key: copy.body.token, method: "POST", body: { name: "mine" } });
    assert.equal(own.status, 201, JSON.stringify(own.body));
    const byAdminToken = await admin(`/v1/members/${made.body.id}/tokens`, { method: "POST", body: { name: "from the admin token" } });
    // What the colleague issues with the admin token's token is theirs alone.
    const trusted = await api(`/v1/members/${made.body.id}/tokens`, { key: byAdminToken.body.token, method: "POST", body: { name: "mine, for real" } });
    assert.equal(trusted.status, 201, JSON.stringify(trusted.body));
    // The issuer leaves: the copy stops working, and so does what was minted with it (the issuer could
    // have minted it); what the admin token issued, and what was minted with that, go on.
    assert.equal((await admin(`/v1/members/${ids.issuer}`, { method: "DELETE" })).status, 200);
    refused(await api("/v1/me", { key: copy.body.token }), 401, "member_token_invalid", "a token the removed member issued");
    refused(await api("/v1/me", { key: own.body.token }), 401, "member_token_invalid", "a token minted with the removed member's copy");
    assert.equal((await api("/v1/me", { key: byAdminToken.body.token })).body.id, made.body.id);
    assert.equal((await api("/v1/me", { key: trusted.body.token })).body.id, made.body.id);
  });

  it("issue an owner the admin token widens a new token in the change's answer, so an owner can always sign in", async () => {
    await addMember("owner-widened", { role: "owner" });
    await addMember("owner-other", { role: "owner", environments: { production: "none" } });
    // Another owner widening them gets no token of theirs: it would carry rights the widener lacks.
    const byOwner = await as("owner-other", `/v1/members/${ids["owner-widened"]}`, { method: "PATCH", body: { promote_into: ["development"] } });
    assert.equal(byOwner.status, 200, JSON.stringify(byOwner.body));
    assert.equal(byOwner.body.replacement_token, undefined);
    refused(await as("owner-widened", "/v1/me"), 401, "member_token_invalid", "the owner's token from before the grant");
    const widened = await admin(`/v1/members/${ids["owner-widened"]}`, { method: "PATCH", body: { personal_data_in: ["production"] } });
    assert.equal(widened.status, 200, JSON.stringify(widened.body));
    assert.deepEqual(widened.body.personal_data_in, ["production"]);
    const replacement = widened.body.replacement_token;
    assert.match(replacement.token, /^mt_/);
    assert.equal((await api("/v1/me", { key: replacement.token })).body.id, ids["owner-widened"]);
  });
});

describe("hidden environments", () => {
  it("are left out of the deployment audit log: member grants there, and the admin token's paths", async () => {
    // The fenced member's grants name production; the admin token has been used on production's routes.
    assert.equal((await admin("/v1/environments/production")).status, 200);
    const whole = (await admin("/v1/audit-log?limit=100")).body.items;
    assert.ok(whole.some((entry) => entry.resource.includes("/v1/environments/production")), "the admin token's use of production is recorded");
    const seen = await as("limited", "/v1/audit-log?limit=100");
    assert.equal(seen.status, 200, JSON.stringify(seen.body));
    for (const entry of seen.body.items) {
      assert.ok(!entry.resource.includes("/v1/environments/production"), entry.resource);
      for (const side of [entry.summary?.before, entry.summary?.after].filter(Boolean)) {
        assert.ok(!Object.keys(side.environments ?? {}).includes("production"), JSON.stringify(entry));
        assert.ok(!(side.personal_data_in ?? []).includes("production"), JSON.stringify(entry));
      }
    }
  });

  before(async () => {
    // Cannot see staging, yet may promote into production: the shape of an attempt to skip staging.
    await addMember("skipper", { role: "developer", environments: { staging: "none" }, promote_into: ["production"] });
    // An admin kept out of staging, who may create environments.
    await addMember("splitter", { role: "admin", environments: { staging: "none" } });
  });

  it("cannot split the chain around staging with a new environment, which would let production take content past it", async () => {
    const environments = async () => (await admin("/v1/environments")).body.environments.map((environment) => environment.name);
    const before = await environments();
    // By default a new environment goes right before production: after staging, which they cannot configure.
    const hotfix = await as("splitter", "/v1/environments", { method: "POST", body: { name: `hot${tag}`, type: "development" } });
    const error = refused(hotfix, 403, "forbidden", "placing an environment between staging and production");
    assert.doesNotMatch(error.message, /staging/i);
    refused(await as("splitter", "/v1/environments", { method: "POST", body: { name: `hot${tag}`, type: "development", after: "development" } }), 403, "forbidden", "placing one between development and staging");
    const named = await as("splitter", "/v1/environments", { method: "POST", body: { name: `hot${tag}`, type: "development", after: "staging" } });
    assert.equal(refused(named, 404, "environment_not_found", "placing one after hidden staging").field, "after");
    assert.deepEqual(await environments(), before, "nothing was created");
  });

  it("cannot promote development straight into production by not seeing staging, and is not told staging exists", async () => {
    const listed = await as("skipper", "/v1/environments");
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.ok(!listed.body.environments.some((environment) => environment.name === "staging"));

    const skip = await as("skipper", "/v1/promotions", { method: "POST", body: { from: "development", to: "production", changes: "all", dry_run: true } });
    const error = refused(skip, 422, "promotion_not_adjacent", "promoting development into production");
    assert.doesNotMatch(error.message, /staging/i);
    assert.doesNotMatch(JSON.stringify(skip.body), /staging/i);

    const preview = await as("skipper", "/v1/changes?from=development&to=production");
    refused(preview, 422, "promotion_not_adjacent", "previewing development → production");
    assert.doesNotMatch(JSON.stringify(preview.body), /staging/i);

    // From the hidden environment itself: it does not exist for them.
    const fromStaging = await as("skipper", "/v1/promotions", { method: "POST", body: { from: "staging", to: "production", changes: "all", dry_run: true } });
    refused(fromStaging, 404, "environment_not_found", "promoting from hidden staging");
    refused(await as("skipper", "/v1/changes?from=staging&to=production"), 404, "environment_not_found", "previewing from hidden staging");
  });

  it("production's releases do not name the hidden environment they came from", async () => {
    // A release into production from staging, as the owner makes it.
    const workflow = `adv-${tag}-hidden`;
    const saved = await api(`/v1/workflows/${workflow}`, { key: keys.staging.secret_key, method: "PUT", body: { name: "Hidden", steps: [{ type: "in_app", subject: "s", body: "b" }] } });
    assert.ok([200, 201].includes(saved.status), JSON.stringify(saved.body));
    const pending = (await as("owner", "/v1/changes?from=staging&to=production")).body.changes.find((change) => change.key === workflow);
    assert.ok(pending, "no pending change into production");
    const promoted = await as("owner", "/v1/promotions", { method: "POST", body: { from: "staging", to: "production", changes: [pending.id] } });
    assert.equal(promoted.status, 201, JSON.stringify(promoted.body));
    const seenByOwner = await as("owner", `/v1/environments/production/releases/${promoted.body.release.id}`);
    assert.equal(seenByOwner.body.source, "staging");
    const listed = await as("skipper", "/v1/environments/production/releases");
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.doesNotMatch(JSON.stringify(listed.body), /"source":"staging"/);
    const one = await as("skipper", `/v1/environments/production/releases/${promoted.body.release.id}`);
    assert.equal(one.status, 200, JSON.stringify(one.body));
    assert.equal(one.body.source ?? null, null);
    // Nor its audit log, to an admin there who cannot see staging.
    const audit = await as("splitter", "/v1/environments/production/audit-log?limit=100");
    assert.equal(audit.status, 200, JSON.stringify(audit.body));
    assert.ok(audit.body.items.some((entry) => entry.action.startsWith("release.")), JSON.stringify(audit.body.items.slice(0, 3)));
    assert.doesNotMatch(JSON.stringify(audit.body), /staging/);
    assert.match(JSON.stringify((await as("owner", "/v1/environments/production/audit-log?limit=100")).body), /"source":"staging"/);
  });
});

describe("an environment still being created", () => {
  const environment = `adv${tag}`;
  let deleted = false;
  after(async () => {
    // Never leave it behind: later files count the environments.
    if (!deleted) await admin(`/v1/environments/${environment}`, { method: "DELETE" });
  });

  it("is registered without bindings and stays creating", async () => {
    const created = await admin("/v1/environments", { method: "POST", body: { name: environment, type: "staging" } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    assert.equal(created.body.status, "creating");
    await addMember("env-viewer", { role: "admin", environments: { [environment]: "viewer" } });
    await addMember("env-blind", { role: "admin", environments: { [environment]: "none" } });
    await addMember("env-trusted", { role: "viewer", personal_data_in: [environment], promote_into: [environment] }, { withToken: false });
    await addMember("env-raised", { role: "viewer", environments: { [environment]: "admin" } }, { withToken: false });
  });

  it("answers environment_not_ready on its content routes, while the deployment keeps working", async () => {
    const workflow = { name: "Not yet", steps: [{ type: "in_app", subject: "Hello {{ payload.name }}", body: "Body" }] };
    const saved = await admin(`/v1/environments/${environment}/workflows/x`, { method: "PUT", body: workflow });
    refused(saved, 409, "environment_not_ready", "saving a workflow in a creating environment");
    refused(await admin(`/v1/environments/${environment}/subscribers`), 409, "environment_not_ready", "listing subscribers of a creating environment");

    const me = await as("owner", "/v1/me");
    assert.equal(me.status, 200, JSON.stringify(me.body));
    assert.ok(me.body.environments.some((access) => access.name === environment), JSON.stringify(me.body.environments));
    for (const [who, call] of [["owner", (path) => as("owner", path)], ["admin token", (path) => admin(path)]]) {
      const listed = await call("/v1/environments");
      assert.equal(listed.status, 200, `${who}: ${JSON.stringify(listed.body)}`);
      const entry = listed.body.environments.find((item) => item.name === environment);
      assert.equal(entry?.status, "creating", `${who}: ${JSON.stringify(listed.body.environments)}`);
    }
  });

  it("is deleted only by someone whose role there allows it", async () => {
    const stillThere = async (what) => {
      const read = await admin(`/v1/environments/${environment}`);
      assert.equal(read.status, 200, `${what}: ${JSON.stringify(read.body)}`);
      assert.equal(read.body.status, "creating", `${what} touched the environment`);
    };
    refused(await as("env-viewer", `/v1/environments/${environment}`, { method: "DELETE" }), 403, "forbidden", "an admin who is a viewer there deleting it");
    await stillThere("a viewer's deletion");
    refused(await as("env-blind", `/v1/environments/${environment}`, { method: "DELETE" }), 404, "environment_not_found", "an admin who cannot see it deleting it");
    await stillThere("a blind deletion");

    const removed = await admin(`/v1/environments/${environment}`, { method: "DELETE" });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.deepEqual([removed.body.status, removed.body.revoked_keys], ["deleted", 0]);
    deleted = true;
    refused(await admin(`/v1/environments/${environment}`), 404, "environment_not_found", "reading a deleted environment");
  });

  it("brings back no grant that gave something when its name is created again, and keeps every none", async () => {
    const again = await admin("/v1/environments", { method: "POST", body: { name: environment, type: "production" } });
    assert.equal(again.status, 202, JSON.stringify(again.body));
    deleted = false;
    // Production defaults, not the old environment's settings.
    assert.deepEqual([again.body.obfuscate_subscriber_data, again.body.hide_message_contents, again.body.log_retention_days], [true, true, 30]);
    const trusted = await memberRecord(ids["env-trusted"]);
    assert.ok(!trusted.personal_data_in.includes(environment), `personal data came back: ${JSON.stringify(trusted)}`);
    assert.ok(!trusted.promote_into.includes(environment), `a promotion right came back: ${JSON.stringify(trusted)}`);
    const raised = await memberRecord(ids["env-raised"]);
    assert.equal(raised.environments[environment], undefined, `a role above the member's own came back: ${JSON.stringify(raised)}`);
    // Restrictions stay: a none, and a role below the member's own.
    const blind = await memberRecord(ids["env-blind"]);
    assert.equal(blind.environments[environment], "none", `a none was lifted: ${JSON.stringify(blind)}`);
    const lowered = await memberRecord(ids["env-viewer"]);
    assert.equal(lowered.environments[environment], "viewer", `a lower role was lifted: ${JSON.stringify(lowered)}`);
    refused(await as("env-blind", `/v1/environments/${environment}`), 404, "environment_not_found", "the kept-out admin reading the new environment");
    const removed = await admin(`/v1/environments/${environment}`, { method: "DELETE" });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    deleted = true;
  });
});

describe("personal data", () => {
  it("masking is turned off only by someone who may see what it hides", async () => {
    const settings = async () => (await admin("/v1/environments/production")).body;
    const before = await settings();
    assert.equal(before.obfuscate_subscriber_data, true);
    for (const body of [{ obfuscate_subscriber_data: false }, { hide_message_contents: false }, { hide_message_contents: false, label: "Prod" }]) {
      refused(await as("admin", "/v1/environments/production", { method: "PATCH", body }), 403, "forbidden", `an admin without personal data sending ${JSON.stringify(body)}`);
      assert.deepEqual(await settings(), before, `${JSON.stringify(body)} changed production`);
    }
    // Turning it on, or other settings, need no personal-data grant.
    const relabelled = await as("admin", "/v1/environments/production", { method: "PATCH", body: { obfuscate_subscriber_data: true } });
    assert.equal(relabelled.status, 200, JSON.stringify(relabelled.body));
  });

  it("payload filters are refused where payloads are masked, so they cannot tell what masking hides", async () => {
    const subscribers = await as("viewer", "/v1/environments/production/subscribers");
    assert.equal(subscribers.status, 200, JSON.stringify(subscribers.body));
    const someone = subscribers.body.items[0]?.subscriber_id ?? "sh~00";
    const path = `/v1/environments/production/subscribers/${encodeURIComponent(someone)}/messages?data.email=ada%40example.com`;
    refused(await as("viewer", path), 403, "forbidden", "a viewer filtering production messages by a payload field");
    if (subscribers.body.items.length > 0) {
      assert.equal((await as("viewer", `/v1/environments/production/subscribers/${encodeURIComponent(someone)}/messages`)).status, 200);
    }
    // Naming a subscriber by id (an oracle of who is one) is refused where ids are masked.
    refused(await as("viewer", "/v1/environments/production/subscribers/anyone/messages"), 403, "forbidden", "a viewer naming a production subscriber by id");
  });
});

describe("what masking hides stays hidden", () => {
  it("a secret key, the signing secret or open feeds are handed out only with a personal-data grant", async () => {
    // Production masks personal data by default; the plain admin holds no grant there.
    refused(await as("admin", "/v1/environments/production/keys", { method: "POST", body: { kind: "secret" } }), 403, "forbidden", "an admin minting a production secret key");
    refused(await as("admin", "/v1/environments/production/signing-secret/rotate", { method: "POST", body: {} }), 403, "forbidden", "an admin rotating production's signing secret");
    refused(await as("admin", "/v1/environments/production", { method: "PATCH", body: { requires_subscriber_credential: false } }), 403, "forbidden", "an admin opening production's feeds");
    // What exposes nothing is still theirs: a publishable key (then revoked).
    const publishable = await as("admin", "/v1/environments/production/keys", { method: "POST", body: { kind: "publishable" } });
    assert.equal(publishable.status, 201, JSON.stringify(publishable.body));
    assert.equal((await as("admin", `/v1/environments/production/keys/${publishable.body.id}`, { method: "DELETE" })).status, 200);
  });

  it("a test send, or a key to open feeds, that would show masked profiles needs the grant", async () => {
    const workflow = `adv-${tag}-probe`;
    const saved = await admin(`/v1/environments/development/workflows/${workflow}`, {
      method: "PUT",
      body: { name: "Probe", steps: [{ type: "in_app", subject: "Hi {{ subscriber.id }}", body: "b" }] },
    });
    assert.ok([200, 201].includes(saved.status), JSON.stringify(saved.body));
    // Masking open feeds is as much an exposure as opening masked ones: the grant's.
    refused(await as("admin", "/v1/environments/development", { method: "PATCH", body: { obfuscate_subscriber_data: true } }), 403, "forbidden", "an admin masking an environment whose feeds are open");
    const masked = await admin("/v1/environments/development", { method: "PATCH", body: { obfuscate_subscriber_data: true } });
    assert.equal(masked.status, 200, JSON.stringify(masked.body));
    try {
      const test = () => as("admin", `/v1/environments/development/workflows/${workflow}/test`, { method: "POST", body: { to: ["someone"], payload: {} } });
      refused(await test(), 403, "forbidden", "an admin without the grant test-sending where profiles are masked");
      // Development's feeds need no subscriber credential: with masking on, a publishable key reads any feed whole.
      refused(await as("admin", "/v1/environments/development/keys", { method: "POST", body: { kind: "publishable" } }), 403, "forbidden", "an admin minting a publishable key for open feeds where profiles are masked");
    } finally {
      const unmasked = await admin("/v1/environments/development", { method: "PATCH", body: { obfuscate_subscriber_data: false } });
      assert.equal(unmasked.status, 200, JSON.stringify(unmasked.body));
    }
    const sent = await as("admin", `/v1/environments/development/workflows/${workflow}/test`, { method: "POST", body: { to: ["someone"], payload: {} } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
  });
});

describe("races and repeats", () => {
  it("two creations of one name at once: one registers it, the other is told it exists", async () => {
    const name = `race${tag}`;
    const create = () => admin("/v1/environments", { method: "POST", body: { name, type: "development", after: "development" } });
    const answers = await Promise.all([create(), create()]);
    const statuses = answers.map((answer) => answer.status).sort();
    assert.deepEqual(statuses, [202, 409], JSON.stringify(answers.map((answer) => answer.body)));
    const positions = async () => (await admin("/v1/environments")).body.environments.map((environment) => environment.position);
    const listed = await positions();
    assert.deepEqual(listed, listed.map((_, index) => index), "a gap in the chain");
    // Two deletions at once: both succeed or one finds nothing; the chain closes up once.
    const removals = await Promise.all([1, 2].map(() => admin(`/v1/environments/${name}`, { method: "DELETE" })));
    for (const removal of removals) assert.ok([200, 404].includes(removal.status), JSON.stringify(removal.body));
    assert.ok(removals.some((removal) => removal.status === 200));
    const after = await positions();
    assert.deepEqual(after, after.map((_, index) => index), "a gap in the chain after the deletions");
    refused(await admin(`/v1/environments/${name}`), 404, "environment_not_found", "the deleted environment");
  });

  it("two previews made at once: one takes the next place, the other is told the chain changed", async () => {
    const [slow, fast] = [`pra${tag}`, `prb${tag}`];
    const make = (name, headers = {}) =>
      admin("/v1/environments", { method: "POST", body: { name, type: "development", from: "development", ttl_seconds: 3600 }, headers });
    try {
      // The first reads the chain, then waits; the second takes the next place meanwhile.
      const first = make(slow, { "Tidings-Inject-Faults": "create-environment=pause" });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const second = await make(fast);
      assert.equal(second.status, 202, JSON.stringify(second.body));
      const stopped = await first;
      expectError(assert, stopped, 409, "chain_changed");
      assert.equal(stopped.headers.get("retry-after"), "1");
      refused(await admin(`/v1/environments/${slow}`), 404, "environment_not_found", "the refused preview");
      // Asked again, it takes the place after.
      const again = await make(slow);
      assert.equal(again.status, 202, JSON.stringify(again.body));
      assert.equal(again.body.position, second.body.position + 1);
    } finally {
      for (const name of [slow, fast]) await admin(`/v1/environments/${name}`, { method: "DELETE" });
    }
  });

  it("a member removed while their request's body still arrives gets nothing from it", async () => {
    // An admin about to be removed opens a request for a secret key and holds its
    // body back until the removal has committed; the worker reads the body before it asks
    // who is calling, so the request meets the removal.
    await addMember("trickler", { role: "admin" });
    const encoder = new TextEncoder();
    let finish;
    const held = new Promise((resolve) => (finish = resolve));
    const body = new ReadableStream({
      async start(controller) {
        controller.enqueue(encoder.encode('{"kind":'));
        await held;
        controller.enqueue(encoder.encode('"secret"}'));
        controller.close();
      },
    });
    const { apiUrl } = await import("./support/context.mjs");
    const pending = fetch(`${apiUrl}/v1/environments/development/keys`, {
      method: "POST",
      headers: { Authorization: `Bearer ${tokens.trickler}`, "Content-Type": "application/json" },
      body,
      duplex: "half",
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const removed = await admin(`/v1/members/${ids.trickler}`, { method: "DELETE" });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    finish();
    const answer = await pending;
    const text = await answer.text();
    assert.equal(answer.status, 401, text);
    assert.equal(JSON.parse(text).error.code, "member_token_invalid", text);
  });

  it("a removed member can be invited again", async () => {
    const email = `again-adv-${tag}@example.com`;
    const first = await admin("/v1/members", { method: "POST", body: { name: "Again", email, role: "viewer" } });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal((await admin(`/v1/members/${first.body.id}`, { method: "DELETE" })).status, 200);
    const second = await admin("/v1/members", { method: "POST", body: { name: "Again", email, role: "viewer" } });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    assert.notEqual(second.body.id, first.body.id);
  });

  it("revoking a revoked key changes nothing and records nothing", async () => {
    const key = await admin("/v1/environments/development/keys", { method: "POST", body: { kind: "publishable" } });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    const revoke = () => admin(`/v1/environments/development/keys/${key.body.id}`, { method: "DELETE" });
    const answers = await Promise.all([revoke(), revoke()]);
    for (const answer of answers) assert.ok([200, 409].includes(answer.status), JSON.stringify(answer.body));
    assert.ok(answers.some((answer) => answer.status === 200));
    const entries = (await admin("/v1/environments/development/audit-log?action=key.revoke&limit=100")).body.items
      .filter((entry) => entry.resource === `key:${key.body.id}`);
    assert.equal(entries.length, 1, JSON.stringify(entries));
  });
});

describe("owners", () => {
  it("only an owner archives or deletes a production environment, whatever its name", async () => {
    const name = `prodeu${tag}`;
    const created = await admin("/v1/environments", { method: "POST", body: { name, type: "production" } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    try {
      refused(await as("admin", `/v1/environments/${name}`, { method: "DELETE" }), 403, "forbidden", "an admin deleting a production-type environment");
      refused(await as("admin", `/v1/environments/${name}/archive`, { method: "POST", body: {} }), 403, "forbidden", "an admin archiving a production-type environment");
      assert.equal((await admin(`/v1/environments/${name}`)).body.status, "creating", "left as it was");
    } finally {
      const deleted = await as("owner", `/v1/environments/${name}`, { method: "DELETE" });
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    }
  });

  it("an owner may remove themself while another owner remains", async () => {
    await addMember("leaving", { role: "owner" });
    assert.equal((await memberRecord(ids.owner))?.role, "owner", "the bootstrap owner remains");
    const left = await as("leaving", `/v1/members/${ids.leaving}`, { method: "DELETE" });
    assert.equal(left.status, 200, JSON.stringify(left.body));
    assert.deepEqual(left.body, { id: ids.leaving, removed: true });
    assert.equal(await memberRecord(ids.leaving), undefined);
    refused(await as("leaving", "/v1/me"), 401, "member_token_invalid", "a removed owner's token");
  });

  it("nobody demotes themself, the bootstrap owner included", async () => {
    await refusedAndUnchanged(
      ids.owner,
      () => as("owner", `/v1/members/${ids.owner}`, { method: "PATCH", body: { role: "admin" } }),
      403,
      "own_grants_immutable",
      "the bootstrap owner demoting themself",
    );
    const me = await as("owner", "/v1/me");
    assert.deepEqual([me.status, me.body.role], [200, "owner"]);
  });

  it("an owner may revoke their only token while another owner can still sign in", async () => {
    await addMember("revoker", { role: "owner" });
    const revoked = await as("revoker", `/v1/members/${ids.revoker}/tokens/${tokenIds.revoker}`, { method: "DELETE" });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.deepEqual(revoked.body, { id: tokenIds.revoker, revoked: true });
    refused(await as("revoker", "/v1/me"), 401, "member_token_invalid", "a revoked token");
    assert.equal((await memberRecord(ids.revoker))?.role, "owner", "revoking a token keeps the member");
    assert.equal((await as("owner", "/v1/me")).status, 200);
  });
});

describe("promotion replays", () => {
  const saveInDevelopment = async (workflow, subject) => {
    const response = await api(`/v1/workflows/${workflow}`, {
      key: keys.development.secret_key,
      method: "PUT",
      body: { name: "Adversarial", steps: [{ type: "in_app", subject, body: "b" }] },
    });
    assert.equal(response.status, 201, JSON.stringify(response.body));
  };
  const pendingChange = async (workflow) => {
    const listed = await as("owner", "/v1/changes?from=development&to=staging");
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    return listed.body.changes.find((change) => change.resource === "workflow" && change.key === workflow);
  };
  const stagingWorkflows = async () => {
    const listed = await as("owner", "/v1/environments/staging/workflows");
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    return listed.body.items.map((item) => item.key);
  };
  const promote = (body, headers = {}) => as("owner", "/v1/promotions", { method: "POST", body, headers });

  it("promotes a change again after its release was rolled back: a new release, not a replay", async () => {
    const workflow = `adv-${tag}-again`;
    await saveInDevelopment(workflow, "Again {{ payload.name }}");
    const change = await pendingChange(workflow);
    assert.ok(change, `no pending change for ${workflow}`);
    assert.equal(change.change, "added");
    const body = { from: "development", to: "staging", changes: [change.id] };

    const first = await promote(body);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.match(first.body.release.id, /^rel_/);
    assert.ok((await stagingWorkflows()).includes(workflow));

    const rolledBack = await as("owner", `/v1/environments/staging/releases/${first.body.release.id}/rollback`, { method: "POST" });
    assert.equal(rolledBack.status, 201, JSON.stringify(rolledBack.body));
    assert.deepEqual([rolledBack.body.kind, rolledBack.body.reverts], ["rollback", first.body.release.id]);
    assert.ok(!(await stagingWorkflows()).includes(workflow), "the rollback left the workflow in staging");
    assert.ok(await pendingChange(workflow), "the change is not pending again after the rollback");

    // The same request as the first: the workflow is missing again, so it is promoted again.
    const again = await promote(body);
    assert.equal(again.status, 201, `a replay of a rolled-back release: ${JSON.stringify(again.body)}`);
    assert.notEqual(again.headers.get("idempotency-replay"), "true");
    assert.match(again.body.release.id, /^rel_/);
    assert.notEqual(again.body.release.id, first.body.release.id);
    assert.notEqual(again.body.release.id, rolledBack.body.id);
    assert.ok((await stagingWorkflows()).includes(workflow), "the workflow is not in staging again");
    assert.equal(await pendingChange(workflow), undefined);

    // Retrying that request right away replays the new release.
    const retried = await promote(body);
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.equal(retried.headers.get("idempotency-replay"), "true");
    assert.equal(retried.body.release.id, again.body.release.id);

    // Staging edited back by hand: the same change is pending again, so the same request applies it.
    const removed = await api(`/v1/workflows/${workflow}`, { key: keys.staging.secret_key, method: "DELETE" });
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.ok(await pendingChange(workflow), "the change is not pending after the hand edit");
    const reapplied = await promote(body);
    assert.equal(reapplied.status, 201, `a replay of a change that is pending again: ${JSON.stringify(reapplied.body)}`);
    assert.ok((await stagingWorkflows()).includes(workflow));
  });

  it("refuses an Idempotency-Key reused for a different request, and applies nothing", async () => {
    const [first, second] = [`adv-${tag}-a`, `adv-${tag}-b`];
    await saveInDevelopment(first, "A");
    await saveInDevelopment(second, "B");
    const [changeA, changeB] = [await pendingChange(first), await pendingChange(second)];
    assert.ok(changeA && changeB, "both workflows are pending");
    const headers = { "Idempotency-Key": `k-${tag}` };

    const promoted = await promote({ from: "development", to: "staging", changes: [changeA.id], dry_run: false }, headers);
    assert.equal(promoted.status, 201, JSON.stringify(promoted.body));
    // The same request again is a replay…
    const replayed = await promote({ from: "development", to: "staging", changes: [changeA.id], dry_run: false }, headers);
    assert.equal(replayed.status, 200, JSON.stringify(replayed.body));
    assert.equal(replayed.headers.get("idempotency-replay"), "true");
    assert.equal(replayed.body.release.id, promoted.body.release.id);
    // …but the same key on a different request is a mistake, not a replay.
    const reused = await promote({ from: "development", to: "staging", changes: [changeB.id], dry_run: false }, headers);
    refused(reused, 422, "idempotency_key_reused", "an Idempotency-Key reused with other changes");
    assert.notEqual(reused.headers.get("idempotency-replay"), "true");

    const inStaging = await stagingWorkflows();
    assert.ok(inStaging.includes(first));
    assert.ok(!inStaging.includes(second), "the refused request promoted its change");
    assert.equal((await pendingChange(second))?.id, changeB.id, "the refused change is no longer pending as it was");
  });
});
