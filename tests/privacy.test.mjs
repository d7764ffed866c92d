// Privacy per environment, over HTTP: what each role sees of subscribers
// and messages in the console routes, in production (masked and hidden by
// default) and development (shown), and that subscribers' own feeds are
// unaffected.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { before, describe, it } from "node:test";
import { admin, adminToken, api, expectError, keys, subscriberHash } from "./support/context.mjs";

const tag = randomBytes(4).toString("hex");
const tokens = {};
// Ids sort first (`0-…`), so the subscriber is on the first page whoever lists.
const subscriber = `0-private-${randomBytes(6).toString("hex")}`;
const profile = { first_name: "Ada", last_name: "Lovelace", email: "ada@example.com", phone: "+4915112345678", data: { plan: "pro" } };

before(async () => {
  // Personal data is seen only with an explicit grant, whatever the role.
  const grants = {
    trusted: { role: "viewer", personal_data_in: ["production", "development"] },
    helper: { role: "support", personal_data_in: ["production"] },
  };
  for (const label of ["viewer", "support", "admin", "trusted", "helper"]) {
    const body = { name: label, email: `${label}-privacy-${tag}@example.com`, role: label, ...grants[label] };
    const member = await admin("/v1/members", { method: "POST", body });
    assert.equal(member.status, 201, JSON.stringify(member.body));
    tokens[label] = (await admin(`/v1/members/${member.body.id}/tokens`, { method: "POST", body: { name: "tests" } })).body.token;
  }
  for (const environment of ["development", "production"]) {
    const key = keys[environment].secret_key;
    assert.equal((await api(`/v1/subscribers/${subscriber}`, { key, method: "PUT", body: profile })).status, 201);
    const triggered = await api("/v1/events/trigger", { key, method: "POST", body: { workflow: "welcome", to: subscriber, payload: { name: "Ada" } } });
    assert.equal(triggered.status, 202, JSON.stringify(triggered.body));
  }
});

const read = async (role, environment, path) => {
  const response = await api(`/v1/environments/${environment}${path}`, { key: tokens[role] });
  assert.equal(response.status, 200, JSON.stringify(response.body));
  return response.body;
};
/** What `role` is shown as the subscriber's id: the list is in id order for everyone, so its place in the list a member with the grant sees finds it. */
const shownId = async (role, environment, id = subscriber) => {
  const reference = await read("trusted", environment, "/subscribers?limit=100");
  const index = reference.items.findIndex((item) => item.subscriber_id === id);
  assert.ok(index >= 0, "the subscriber is on the first page");
  return (await read(role, environment, "/subscribers?limit=100")).items[index].subscriber_id;
};
const seen = async (role, environment) => {
  const id = await shownId(role, environment);
  const list = await read(role, environment, "/subscribers?limit=100");
  const person = list.items.find((item) => item.subscriber_id === id);
  const messages = await read(role, environment, `/subscribers/${encodeURIComponent(id)}/messages`);
  const idShown = id === subscriber ? "id" : /^sh~[0-9a-f]+$/.test(id) ? "handle" : id;
  return { id: idShown, email: person.email, name: person.first_name, plan: person.data.plan, subject: messages.items[0].subject };
};

const shown = { id: "id", email: "ada@example.com", name: "Ada", plan: "pro", subject: "Welcome, Ada!" };
const masked = { id: "handle", email: "a••@e••••••.com", name: "A••", plan: "•••", subject: "•••" };

describe("privacy per environment", () => {
  it("masks personal data and hides contents in production for roles without the right to see them", async () => {
    const expected = {
      development: { viewer: shown, support: shown, admin: shown },
      production: { viewer: masked, support: masked, admin: masked, trusted: shown, helper: shown },
    };
    for (const [environment, byRole] of Object.entries(expected)) {
      for (const [role, view] of Object.entries(byRole)) {
        assert.deepEqual(await seen(role, environment), view, `${role} in ${environment}`);
      }
    }
    const settings = (await admin("/v1/environments/production")).body;
    assert.deepEqual([settings.obfuscate_subscriber_data, settings.hide_message_contents], [true, true]);
  });

  it("shows members without the grant handles, never ids, and takes only handles from them", async () => {
    const viewerList = await read("viewer", "production", "/subscribers?limit=100");
    const ids = new Set((await read("trusted", "production", "/subscribers?limit=100")).items.map((item) => item.subscriber_id));
    assert.ok(viewerList.items.length > 0);
    for (const item of viewerList.items) {
      assert.match(item.subscriber_id, /^sh~[0-9a-f]+$/);
      assert.ok(!ids.has(item.subscriber_id));
    }
    const handle = await shownId("viewer", "production");
    assert.equal(await shownId("viewer", "production"), handle, "a handle is stable");
    // Every place an id would go takes the handle, and refuses the id: an answer would tell who is a subscriber.
    const refusedId = async (path, field) => {
      const response = await api(`/v1/environments/production${path}`, { key: tokens.viewer });
      assert.equal(response.status, 403, `${path}: ${JSON.stringify(response.body)}`);
      assert.equal(response.body.error.field, field);
    };
    await refusedId(`/subscribers/${subscriber}/messages`, "subscriber_id");
    await refusedId(`/subscribers/no-such-person/messages`, "subscriber_id");
    await refusedId(`/subscribers?after=${subscriber}`, "after");
    await refusedId(`/logs?subscriber_id=${subscriber}`, "subscriber_id");
    const page = await read("viewer", "production", `/subscribers?limit=1&after=${encodeURIComponent(handle)}`);
    assert.ok(page.items.every((item) => item.subscriber_id !== handle));
    // A handle opens nothing in another environment.
    const elsewhere = await api(`/v1/environments/staging/subscribers/${encodeURIComponent(handle)}/messages`, { key: tokens.trusted });
    assert.notEqual(elsewhere.status, 200);
  });

  it("lets no message id or handle length tell a member without the grant whom they stand for", async () => {
    // The viewer sees the subscriber's log entry under a handle, with its message and transaction ids.
    const handle = await shownId("viewer", "production");
    const logs = await read("viewer", "production", `/logs?subscriber_id=${encodeURIComponent(handle)}&limit=100`);
    const entry = logs.items.find((item) => item.detail?.message_id);
    assert.ok(entry, JSON.stringify(logs.items));
    // Trying candidate ids against the message id finds nothing: it is keyed by the deployment's secret.
    const candidates = [subscriber, "someone-else", profile.email];
    const unkeyed = (id) => createHash("sha256").update(`tidings.message.v1\0${entry.transaction_id}\0${id}`).digest();
    const randomPart = (id) => BigInt(`0x${unkeyed(id).subarray(0, 10).toString("hex")}`);
    const fromId = (messageId) => [...messageId].reduce((value, symbol) => value * 32n + BigInt("0123456789abcdefghjkmnpqrstvwxyz".indexOf(symbol)), 0n) & ((1n << 80n) - 1n);
    for (const candidate of candidates) assert.notEqual(fromId(entry.detail.message_id), randomPart(candidate), candidate);
    // Handles of ids of different lengths are as long as each other.
    const short = `0-p${tag.slice(0, 2)}`;
    assert.equal((await api(`/v1/subscribers/${short}`, { key: keys.production.secret_key, method: "PUT", body: {} })).status, 201);
    assert.notEqual(short.length, subscriber.length);
    assert.equal((await shownId("viewer", "production", short)).length, handle.length);
  });

  it("never touches the subscriber's own feed", async () => {
    const feed = await api(`/v1/subscribers/${subscriber}/feed`, {
      key: keys.production.publishable_key,
      headers: { "X-Subscriber-Hash": subscriberHash("production", subscriber) },
    });
    assert.equal(feed.status, 200);
    assert.equal(feed.body.items[0].subject, "Welcome, Ada!");
  });

  it("hides payload fields a workflow marks x-personal even where contents are shown", async () => {
    const flow = `secretive-${tag}`;
    const key = keys.development.secret_key;
    const saved = await api(`/v1/workflows/${flow}`, {
      key,
      method: "PUT",
      body: {
        name: "Secretive",
        payload_schema: { type: "object", properties: {
          email: { type: "string", "x-personal": true },
          order: { type: "string" },
          guests: { type: "array", items: { type: "object", properties: { name: { type: "string", "x-personal": true }, seat: { type: "number" } } } },
        } },
        steps: [{ type: "in_app", subject: "Order {{ payload.order }}", body: "b" }],
      },
    });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    const someone = `0-secretive-${randomBytes(6).toString("hex")}`;
    const payload = { email: "ada@example.com", order: "A-7", guests: [{ name: "Bob", seat: 1 }, { name: "Cy", seat: 2 }] };
    const triggered = await api("/v1/events/trigger", { key, method: "POST", body: { workflow: flow, to: someone, payload } });
    assert.equal(triggered.status, 202, JSON.stringify(triggered.body));
    const settings = { obfuscate_subscriber_data: true, hide_message_contents: false };
    assert.equal((await admin("/v1/environments/development", { method: "PATCH", body: settings })).status, 200);
    try {
      const masked = { email: "•••", order: "A-7", guests: [{ name: "•••", seat: 1 }, { name: "•••", seat: 2 }] };
      const viewerPath = `/subscribers/${encodeURIComponent(await shownId("viewer", "development", someone))}/messages`;
      const viewed = await read("viewer", "development", viewerPath);
      assert.deepEqual(viewed.items[0].payload, masked);
      assert.equal(viewed.items[0].subject, "Order A-7");
      const trusted = await read("trusted", "development", `/subscribers/${someone}/messages`);
      assert.deepEqual(trusted.items[0].payload, payload);
      // What was personal when the message was written stays masked: the workflow's schema
      // loosened, then the workflow deleted, change nothing.
      const loosened = await api(`/v1/workflows/${flow}`, { key, method: "PUT", body: { name: "Secretive", payload_schema: { type: "object" }, steps: [{ type: "in_app", subject: "s", body: "b" }] } });
      assert.equal(loosened.status, 200, JSON.stringify(loosened.body));
      assert.deepEqual((await read("viewer", "development", viewerPath)).items[0].payload, masked);
      assert.equal((await api(`/v1/workflows/${flow}`, { key, method: "DELETE" })).status, 200);
      assert.deepEqual((await read("viewer", "development", viewerPath)).items[0].payload, masked);
    } finally {
      await admin("/v1/environments/development", { method: "PATCH", body: { obfuscate_subscriber_data: false } });
    }
  });

  it("never writes a rendered value into the execution log, and shows masked readers only error codes", async () => {
    const flow = `leaky-${tag}`;
    const key = keys.development.secret_key;
    // A link whose "scheme" is the recipient's email: refused once rendered, as it must be.
    const steps = [{ type: "in_app", subject: "s", body: "b", actions: [{ label: "Open", url: "{{ subscriber.email }}:" }] }];
    const saved = await api(`/v1/workflows/${flow}`, { key, method: "PUT", body: { name: "Leaky", steps } });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    const refused = await api("/v1/events/trigger", { key, method: "POST", body: { workflow: flow, to: subscriber } });
    expectError(assert, refused, 422, "unsafe_link");
    assert.doesNotMatch(JSON.stringify(refused.body), /ada@example\.com/, "the answer does not quote the rendered value");
    const settings = { obfuscate_subscriber_data: true, hide_message_contents: true };
    assert.equal((await admin("/v1/environments/development", { method: "PATCH", body: settings })).status, 200);
    try {
      const logs = await read("viewer", "development", `/logs?workflow=${flow}`);
      const entry = logs.items.find((item) => item.status === "failed");
      assert.ok(entry, JSON.stringify(logs.items));
      assert.equal(entry.detail.code, "unsafe_link");
      assert.equal(entry.detail.message, "•••", "a masked reader gets the code, not the message");
      assert.doesNotMatch(JSON.stringify(logs), /ada@example\.com/);
      const trusted = await read("trusted", "development", `/logs?workflow=${flow}`);
      const whole = trusted.items.find((item) => item.status === "failed");
      assert.match(whole.detail.message, /rendered URL/);
      assert.doesNotMatch(whole.detail.message, /ada@example\.com/, "nothing rendered is stored");
    } finally {
      await admin("/v1/environments/development", { method: "PATCH", body: { obfuscate_subscriber_data: false, hide_message_contents: false } });
      await api(`/v1/workflows/${flow}`, { key, method: "DELETE" });
    }
  });

  it("follows the environment's settings when an admin changes them", async () => {
    const changed = await admin("/v1/environments/production", { method: "PATCH", body: { hide_message_contents: false } });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    try {
      assert.deepEqual(await seen("viewer", "production"), { ...masked, subject: "Welcome, Ada!" });
    } finally {
      await admin("/v1/environments/production", { method: "PATCH", body: { hide_message_contents: true } });
    }
    const handle = await shownId("viewer", "production");
    const logs = await read("viewer", "production", `/logs?subscriber_id=${encodeURIComponent(handle)}`);
    assert.ok(logs.items.length > 0);
    assert.ok(logs.items.every((entry) => entry.subscriber_id === handle), "log entries show the handle");
    assert.ok(!JSON.stringify(logs).includes("ada@example.com"));
    assert.ok(!JSON.stringify(logs).includes(subscriber), "a log entry names the subscriber");
  });
});

describe("deliveries where personal data is masked", () => {
  it("go somewhere new only by someone who may see personal data there", async () => {
    const hook = `reroute-${tag}`;
    const made = await admin("/v1/members", { method: "POST", body: { name: "Promoter", email: `promoter-${tag}@example.com`, role: "developer", promote_into: ["production"] } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const promoter = (await admin(`/v1/members/${made.body.id}/tokens`, { method: "POST", body: { name: "tests" } })).body.token;
    const added = await api(`/v1/integrations/${hook}`, { key: keys.staging.secret_key, method: "PUT", body: { kind: "webhook", name: "Elsewhere", url: "https://hooks.example.com/elsewhere", signing_secret: `whsec_${tag}_0123456789abcdef` } });
    assert.ok([200, 201].includes(added.status), JSON.stringify(added.body));
    const diff = await api("/v1/changes?from=staging&to=production", { key: promoter });
    const change = diff.body.changes.find((entry) => entry.resource === "integration" && entry.key === hook);
    assert.ok(change, JSON.stringify(diff.body));
    const promote = (key, dryRun) => api("/v1/promotions", { key, method: "POST", body: { from: "staging", to: "production", changes: [change.id], dry_run: dryRun } });
    // Production masks personal data: a new integration there, by a promoter without the grant, is refused.
    // A dry run answers as the promotion would.
    for (const dryRun of [true, false]) {
      const refused = await promote(promoter, dryRun);
      expectError(assert, refused, 403, "forbidden");
      assert.match(refused.body.error.message, /personal-data grant/);
    }
    expectError(assert, await api(`/v1/integrations/${hook}`, { key: keys.production.secret_key }), 404, "integration_not_found");
    // So is test mode's catch-all, which sends kept deliveries to an integration.
    const admins = (await admin("/v1/members", { method: "POST", body: { name: "Settings", email: `settings-${tag}@example.com`, role: "admin" } })).body;
    const settingsToken = (await admin(`/v1/members/${admins.id}/tokens`, { method: "POST", body: { name: "tests" } })).body.token;
    const masked = await api("/v1/environments/staging", { key: settingsToken, method: "PATCH", body: { obfuscate_subscriber_data: true } });
    assert.equal(masked.status, 200, JSON.stringify(masked.body));
    try {
      const routed = await api("/v1/environments/staging", { key: settingsToken, method: "PATCH", body: { deliver_only_to: ["qa-1"], catch_all_integration: hook } });
      expectError(assert, routed, 403, "forbidden");
      assert.equal((await admin("/v1/environments/staging")).body.catch_all_integration, null);
      // Where a catch-all is set (here by the admin token), a new list of whom test mode delivers to
      // changes whose deliveries it takes: the same grant. Turning test mode off does not.
      assert.equal((await admin("/v1/environments/staging", { method: "PATCH", body: { deliver_only_to: ["qa-1", "qa-2"], catch_all_integration: hook } })).status, 200);
      const narrowed = await api("/v1/environments/staging", { key: settingsToken, method: "PATCH", body: { deliver_only_to: ["@nobody.invalid"] } });
      expectError(assert, narrowed, 403, "forbidden");
      assert.deepEqual((await admin("/v1/environments/staging")).body.deliver_only_to, ["qa-1", "qa-2"]);
      const same = await api("/v1/environments/staging", { key: settingsToken, method: "PATCH", body: { deliver_only_to: ["qa-1", "qa-2"] } });
      assert.equal(same.status, 200, JSON.stringify(same.body));
      const off = await api("/v1/environments/staging", { key: settingsToken, method: "PATCH", body: { deliver_only_to: null } });
      assert.equal(off.status, 200, JSON.stringify(off.body));
    } finally {
      await admin("/v1/environments/staging", { method: "PATCH", body: { obfuscate_subscriber_data: false, deliver_only_to: null, catch_all_integration: null } });
    }
    // An import that adds an integration, where development masks personal data: the same.
    assert.equal((await admin("/v1/environments/development", { method: "PATCH", body: { obfuscate_subscriber_data: true } })).status, 200);
    try {
      const file = { format: "tidings.environment/1", integrations: { [hook]: { kind: "webhook", name: "Elsewhere", url: "https://hooks.example.com/elsewhere" } } };
      const imported = await api("/v1/environments/development/import", { key: promoter, method: "POST", body: { file, dry_run: false } });
      expectError(assert, imported, 403, "forbidden");
      expectError(assert, await api(`/v1/integrations/${hook}`, { key: keys.development.secret_key }), 404, "integration_not_found");
    } finally {
      await admin("/v1/environments/development", { method: "PATCH", body: { obfuscate_subscriber_data: false } });
    }
    // With the grant (here the admin token's), the same promotion goes through.
    assert.equal((await promote(adminToken, false)).status, 201);
  });
});

describe("credentials where personal data is masked", () => {
  it("shows a new environment's signing secret only to a caller who may see personal data there", async () => {
    const made = await admin("/v1/members", { method: "POST", body: { name: "Creator", email: `creator-${tag}@example.com`, role: "admin" } });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const creator = (await admin(`/v1/members/${made.body.id}/tokens`, { method: "POST", body: { name: "tests" } })).body.token;
    const masked = `pe-${tag}`;
    const open = `se-${tag}`;
    try {
      // Production-type: masked from the start, and the creator has no grant there.
      const withheld = await api("/v1/environments", { key: creator, method: "POST", body: { name: masked, type: "production" } });
      assert.equal(withheld.status, 202, JSON.stringify(withheld.body));
      assert.equal(withheld.body.obfuscate_subscriber_data, true);
      assert.equal(withheld.body.subscriber_signing_secret, null, "the secret signs any subscriber's credential");
      expectError(assert, await api(`/v1/environments/${masked}/signing-secret/rotate`, { key: creator, method: "POST", body: {} }), 403, "forbidden");
      // Staging-type: nothing masked, so the creator gets it, as before.
      const shown = await api("/v1/environments", { key: creator, method: "POST", body: { name: open, type: "staging" } });
      assert.equal(shown.status, 202, JSON.stringify(shown.body));
      assert.match(shown.body.subscriber_signing_secret, /^[0-9a-f]{64}$/);
    } finally {
      for (const name of [masked, open]) await admin(`/v1/environments/${name}`, { method: "DELETE" });
    }
  });
});
