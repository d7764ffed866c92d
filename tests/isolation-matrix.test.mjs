// The isolation matrix, generated from the OpenAPI description the worker
// serves: every operation × every environment × every kind of credential
// (own pk, own sk, each foreign pk and sk, forged, revoked, missing).
// A route added to the API without declaring its key kinds fails this test.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { admin, api, apiUrl, environmentNames, forgeKey, keys, subscriberHash } from "./support/context.mjs";
import { queryLocal } from "./support/local-state.mjs";

const METHODS = ["get", "put", "post", "patch", "delete"];
const tag = randomBytes(4).toString("hex");
let operations = [];
const markers = {};
const revoked = {};
const keyIds = {};
const writes = [];
const deliveryIds = {};
/** Per environment and scope: a restricted key with only that scope, and one with every other. */
const onlyScope = {};
const allButScope = {};
let scopeNames = [];

before(async () => {
  const spec = (await api("/openapi.json")).body;
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const method of METHODS.filter((name) => item[name])) {
      const operation = item[method];
      // WebSockets carry their credentials in the URL; tests/sync.test.mjs covers them.
      if (operation["x-tidings-websocket"]) continue;
      const security = operation.security ?? spec.security;
      const scheme = security.length === 0 ? "public" : Object.keys(security[0])[0];
      operations.push({ path, method: method.toUpperCase(), operation, scheme });
    }
  }
  // The scope dimension: restricted keys derived from the scopes openapi.json names.
  scopeNames = spec.components.schemas.KeyScope.enum;
  for (const environment of environmentNames) {
    onlyScope[environment] = {};
    allButScope[environment] = {};
    for (const scope of scopeNames) {
      onlyScope[environment][scope] = await restrictedKey(environment, [scope]);
      allButScope[environment][scope] = await restrictedKey(environment, scopeNames.filter((other) => other !== scope));
    }
  }
  for (const environment of environmentNames) {
    // One message per environment, to recognise its data anywhere.
    const subscriber = `matrix-${environment}-${tag}`;
    const response = await api("/v1/events/trigger", {
      key: keys[environment].secret_key,
      method: "POST",
      body: { workflow: "welcome", to: [subscriber], payload: { name: `marker-${environment}-${tag}` } },
    });
    assert.equal(response.status, 202);
    markers[environment] = { subscriber, name: `marker-${environment}-${tag}`, transaction: response.body.transaction_id };
    // A topic of its own with the marker subscriber in it (topics are data: production has them too).
    await saveTopic(environment, topicKey(environment), [subscriber]);
    // A publishable and a secret key, issued and revoked.
    revoked[environment] = [];
    for (const kind of ["publishable", "secret"]) {
      const issued = (await admin(`/v1/environments/${environment}/keys`, { method: "POST", body: { kind } })).body;
      await admin(`/v1/environments/${environment}/keys/${issued.id}`, { method: "DELETE" });
      revoked[environment].push(issued.key);
    }
    keyIds[environment] = (await admin(`/v1/environments/${environment}/keys`)).body.keys[0].id;
    // A file to address (files are data: production holds them too), and one only this environment has.
    await saveFile(environment, FILE_PATH);
    await saveFile(environment, onlyFile(environment));
    // A workflow and an integration to address, where content may be written
    // (production's content arrives only by promotion).
    if (!isProduction(environment)) {
      await saveWorkflow(environment, workflowKey(environment));
      await saveIntegration(environment, integrationId(environment));
      await saveVariable(environment, variableName(environment));
      await saveBrand(environment);
      deliveryIds[environment] = await makeDelivery(environment, integrationId(environment));
    }
  }
});

after(async () => {
  // The restricted keys go, so a later run in the same state has room for its own.
  for (const environment of environmentNames) {
    for (const issued of [...Object.values(onlyScope[environment] ?? {}), ...Object.values(allButScope[environment] ?? {})]) {
      await admin(`/v1/environments/${environment}/keys/${issued.id}`, { method: "DELETE" });
    }
  }
});

async function restrictedKey(environment, scopes) {
  const issued = await admin(`/v1/environments/${environment}/keys`, { method: "POST", body: { kind: "secret", scopes } });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  assert.deepEqual(issued.body.scopes, [...scopes].sort((a, b) => scopeNames.indexOf(a) - scopeNames.indexOf(b)));
  return issued.body;
}

const isProduction = (environment) => keys[environment].type === "production";
/** The file every environment has (the example path of openapi.json's file operations). */
const FILE_PATH = "matrix/example.txt";
const onlyFile = (environment) => `matrix/only-${environment}-${tag}.txt`;

async function saveFile(environment, path) {
  const response = await api(`/v1/files/${path}`, { key: keys[environment].secret_key, method: "PUT", body: `file of ${environment}`, headers: { "Content-Type": "text/plain" } });
  assert.ok([200, 201].includes(response.status), JSON.stringify(response.body));
}
const workflowKey = (target) => `matrix-wf-${target}-${tag}`;
const topicKey = (target) => `matrix-topic-${target}-${tag}`;

async function saveTopic(environment, key, members) {
  const put = await api(`/v1/topics/${key}`, { key: keys[environment].secret_key, method: "PUT", body: { name: "Matrix" } });
  assert.equal(put.status, 201, JSON.stringify(put.body));
  const added = await api(`/v1/topics/${key}/subscribers`, { key: keys[environment].secret_key, method: "POST", body: { subscribers: members } });
  assert.equal(added.status, 200, JSON.stringify(added.body));
}
const integrationId = (target) => `matrix-int-${target}-${tag}`;
const variableName = (target) => `MATRIX_${target.toUpperCase().replaceAll("-", "_")}_${tag.toUpperCase()}`;

async function saveBrand(environment) {
  const key = keys[environment].secret_key;
  assert.equal((await api("/v1/brand", { key, method: "PUT", body: { name: "Matrix", primary_colour: "#123456" } })).status, 200);
  const logo = await api("/v1/brand/logo", { key, method: "PUT", body: "<svg/>", headers: { "Content-Type": "image/svg+xml" } });
  assert.equal(logo.status, 200, JSON.stringify(logo.body));
}

async function saveVariable(environment, name) {
  const response = await api(`/v1/variables/${name}`, { key: keys[environment].secret_key, method: "PUT", body: { value: "matrix" } });
  assert.ok([200, 201].includes(response.status), JSON.stringify(response.body));
}

async function saveIntegration(environment, id) {
  const response = await api(`/v1/integrations/${id}`, {
    key: keys[environment].secret_key,
    method: "PUT",
    body: { kind: "webhook", name: "Matrix", url: "https://hooks.example.com/matrix", signing_secret: "whsec_matrix_0123456789" },
  });
  assert.ok([200, 201].includes(response.status), JSON.stringify(response.body));
}

/** A webhook delivery of `environment` (to an unreachable receiver: it stays pending). */
async function makeDelivery(environment, integration) {
  const key = keys[environment].secret_key;
  const workflow = `matrix-hook-${environment}-${tag}`;
  const saved = await api(`/v1/workflows/${workflow}`, { key, method: "PUT", body: { name: "Hook", steps: [{ type: "webhook", integration, body: "{}" }] } });
  assert.ok([200, 201].includes(saved.status), JSON.stringify(saved.body));
  const sent = await api("/v1/events/trigger", { key, method: "POST", body: { workflow, to: [`matrix-hook-${tag}`] } });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  return sent.body.deliveries[0].id;
}

async function saveWorkflow(environment, key) {
  const response = await api(`/v1/workflows/${key}`, {
    key: keys[environment].secret_key,
    method: "PUT",
    body: { name: "Matrix", steps: [{ type: "in_app", subject: "s", body: "b" }] },
  });
  assert.ok([200, 201].includes(response.status), JSON.stringify(response.body));
}

/**
 * For a destructive operation, a throwaway resource of `target` to work on
 * instead of the shared one: `{ from, to, path }` (the path segment to swap and
 * the resource's own path), or null when `target` cannot hold one.
 */
async function makeVictim(path, target, variant = "") {
  const suffix = variant ? `-${variant}` : "";
  if (path.includes("{subscriber_id}")) {
    const id = `matrix-victim-${target}-${tag}${suffix}`;
    const put = await api(`/v1/subscribers/${id}`, { key: keys[target].secret_key, method: "PUT", body: {} });
    assert.equal(put.status, 201);
    return { from: markers[target].subscriber, to: id, path: `/v1/subscribers/${id}` };
  }
  if (path.includes("{topic_key}")) {
    const key = `matrix-topicv-${target}-${tag}${suffix}`;
    await saveTopic(target, key, [markers[target].subscriber]);
    return { from: topicKey(target), to: key, path: `/v1/topics/${key}` };
  }
  if (path.includes("{path}")) {
    const victim = `matrix/victim-${target}-${tag}${suffix}.txt`;
    await saveFile(target, victim);
    return { from: FILE_PATH, to: victim, path: `/v1/files/${victim}` };
  }
  if (path.includes("{integration_id}") && !isProduction(target)) {
    const id = `matrix-intv-${target}-${tag}${suffix}`;
    await saveIntegration(target, id);
    return { from: integrationId(target), to: id, path: `/v1/integrations/${id}` };
  }
  if (path.includes("{variable_name}") && !isProduction(target)) {
    const name = `${variableName(target)}_VICTIM${variant ? `_${variant.toUpperCase()}` : ""}`;
    await saveVariable(target, name);
    return { from: variableName(target), to: name, path: `/v1/variables/${name}` };
  }
  if (path.includes("{key}") && !isProduction(target)) {
    const key = `matrix-wfv-${target}-${tag}${suffix}`;
    await saveWorkflow(target, key);
    return { from: workflowKey(target), to: key, path: `/v1/workflows/${key}` };
  }
  return null;
}

/**
 * One forged key of each kind per environment, for the whole matrix: each is read from the
 * registry once and then remembered as unknown (a fresh forgery per operation would spend the
 * per-client key-lookup budget, which `tests/rate-limits.test.mjs` checks on its own).
 */
const forged = Object.fromEntries(environmentNames.map((name) => [name, { pk: forgeKey("pk", name), sk: forgeKey("sk", name) }]));

/** Every credential to try against `target` for `operation`, with the environment it belongs to. */
function credentials(target, operation) {
  const list = [
    { label: "own pk", kind: "publishable", owner: target, key: keys[target].publishable_key },
    { label: "own sk", kind: "secret", owner: target, key: keys[target].secret_key },
  ];
  for (const other of environmentNames.filter((name) => name !== target)) {
    list.push({ label: `${other} pk`, kind: "publishable", owner: other, key: keys[other].publishable_key });
    list.push({ label: `${other} sk`, kind: "secret", owner: other, key: keys[other].secret_key });
  }
  list.push({ label: "forged pk", refusal: [401, "unknown_key"], key: forged[target].pk });
  list.push({ label: "forged sk", refusal: [401, "unknown_key"], key: forged[target].sk });
  list.push({ label: "revoked pk", refusal: [401, "key_revoked"], key: revoked[target][0] });
  list.push({ label: "revoked sk", refusal: [401, "key_revoked"], key: revoked[target][1] });
  // The scope dimension: the target's restricted key with only the route's declared scope
  // opens it as a full-access key would; the one with every other scope is refused.
  const scope = operation["x-tidings-scope"];
  if (scope && scope !== "none") {
    list.push({ label: `own sk only ${scope}`, kind: "secret", owner: target, key: onlyScope[target][scope].key, ownVictim: "s" });
    list.push({ label: `own sk without ${scope}`, refusal: [403, "key_scope_insufficient"], missingScope: scope, key: allButScope[target][scope].key });
  } else if (scope === "none") {
    list.push({ label: "own sk restricted", kind: "secret", owner: target, key: onlyScope[target][scopeNames[0]].key });
  }
  // Every credential again as `X-API-Key: <key>` instead of `Authorization: Bearer <key>`.
  const inHeader = list.map((credential) => ({
    ...credential,
    label: `${credential.label} (X-API-Key)`,
    form: "x-api-key",
    ownVictim: credential.ownVictim && `${credential.ownVictim}h`,
  }));
  list.push(...inHeader);
  list.push({ label: "missing", refusal: [401, "missing_credentials"], key: undefined });
  return list;
}

/** A short id of a credential's label, for the names of what it creates (ids are at most 64 characters). */
const labelId = (credential) => createHash("sha256").update(credential.label).digest("hex").slice(0, 10);

/** A concrete request for `operation` addressing `target`'s resources. */
function request({ path, method, operation }, target, credential) {
  const concrete = path
    .replace("{subscriber_id}", markers[target].subscriber)
    .replace("{name}", target)
    .replace("{key_id}", keyIds[target])
    .replace("{key}", workflowKey(target))
    .replace("{topic_key}", topicKey(target))
    .replace("{transaction_id}", markers[target].transaction)
    .replace("{integration_id}", integrationId(target))
    .replace("{variable_name}", variableName(target))
    .replace("{delivery_id}", deliveryIds[target] ?? "none")
    .replace("{path}", FILE_PATH)
    .concat(operation["x-tidings-example-query"] ? `?${operation["x-tidings-example-query"]}` : "");
  let body = operation.requestBody?.content?.["application/json"]?.example;
  const image = operation.requestBody?.content?.["image/svg+xml"]?.example;
  const plain = operation.requestBody?.content?.["text/plain"]?.example;
  if (method === "POST" && (body?.key || body?.id)) {
    // Creations get a key or id of their own, so no two attempts collide.
    const unique = `matrix-post-${target}-${labelId(credential)}-${tag}`.toLowerCase();
    body = body.key ? { ...body, key: unique } : { ...body, id: unique };
  }
  if (body?.workflow || body?.to) {
    const subscriber = `matrix-write-${target}-${operation.operationId}-${labelId(credential)}-${tag}`.toLowerCase();
    body = { ...body, to: [subscriber] };
  }
  const headers = image ? { "Content-Type": "image/svg+xml" } : plain ? { "Content-Type": "text/plain" } : {};
  if (credential.form === "x-api-key") headers["X-API-Key"] = credential.key;
  if (image) body = image;
  if (plain) body = plain;
  if (credential.owner && credential.kind === "publishable" && concrete.includes("/subscribers/")) {
    // A valid subscriber credential for the key's own environment.
    headers["X-Subscriber-Hash"] = subscriberHash(credential.owner, markers[target].subscriber);
  }
  const key = credential.form === "x-api-key" ? undefined : credential.key;
  return { path: concrete, options: { key, method, body, headers } };
}

describe("isolation matrix", () => {
  it("every API-key operation declares the key kinds it accepts, and a secret-key one its scope", () => {
    assert.ok(operations.length >= 10, `only ${operations.length} operations found`);
    assert.ok(scopeNames.length >= 10, `only ${scopeNames.length} scopes`);
    for (const { path, method, operation, scheme } of operations) {
      if (scheme !== "apiKey") continue;
      const kinds = operation["x-tidings-keys"];
      assert.ok(Array.isArray(kinds) && kinds.length > 0, `${method} ${path} lacks x-tidings-keys`);
      if (!kinds.includes("secret")) continue;
      const scope = operation["x-tidings-scope"];
      assert.ok(scope === "none" || scopeNames.includes(scope), `${method} ${path} declares no known x-tidings-scope (${scope})`);
    }
  });

  it("every operation × environment × credential gets exactly what it may", async () => {
    let checked = 0;
    for (const entry of operations) {
      const { path, method, operation, scheme } = entry;
      if (scheme === "public") continue;
      for (const target of environmentNames) {
        // A destructive operation works on a throwaway resource: every other
        // credential tries first, then the owner's secret key deletes it.
        const shared = method === "DELETE" ? await makeVictim(path, target) : null;
        const ordered = credentials(target, operation).sort((a, b) => Number(a.label === "own sk") - Number(b.label === "own sk"));
        for (const credential of ordered) {
          // The owner's X-API-Key form and restricted key each delete a throwaway resource of their own.
          const variant = credential.label === "own sk (X-API-Key)" ? "h" : credential.ownVictim;
          const victim = shared && variant ? await makeVictim(path, target, variant) : shared;
          if (victim && credential.label === "own sk") {
            const survived = await api(victim.path, { key: keys[target].secret_key });
            assert.equal(survived.status, 200, `${target}'s ${victim.to} was deleted by another credential`);
          }
          const built = request(entry, target, credential);
          const concrete = victim ? built.path.replace(victim.from, victim.to) : built.path;
          const options = built.options;
          const response = await api(concrete, options);
          if (options.body?.to) {
            writes.push({ subscriber: options.body.to[0], writer: response.status === 202 ? credential.owner : null });
          }
          const where = `${method} ${concrete} with ${credential.label} (target ${target})`;
          const code = response.body?.error?.code;
          checked += 1;
          if (scheme !== "apiKey") {
            // The control plane opens only with the admin token: no API key, valid or not, opens it.
            const expected = credential.key === undefined ? [401, "missing_credentials"] : [403, "forbidden"];
            assert.deepEqual([response.status, code], expected, where);
          } else if (credential.refusal) {
            assert.deepEqual([response.status, code], credential.refusal, where);
            if (credential.missingScope) assert.equal(response.body.error.details?.missing_scope, credential.missingScope, where);
          } else if (!operation["x-tidings-keys"].includes(credential.kind)) {
            assert.deepEqual([response.status, code], [403, "secret_key_required"], where);
          } else if (operation["x-tidings-read-only-in-production"] && isProduction(credential.owner)) {
            // Content changes in production only by promotion, whatever the key.
            assert.deepEqual([response.status, code], [403, "environment_read_only"], where);
          } else {
            // The owner gets a success, unless the resource cannot exist in its environment
            // (workflows in production); a foreign key acts in its own environment, where the
            // resource may not exist.
            const cannotExist = ["{key}", "{integration_id}", "{variable_name}", "{delivery_id}", "/v1/brand"].some((part) => path.includes(part)) && isProduction(target);
            const miss = (credential.owner !== target || cannotExist) && response.status === 404 && /_not_found$/.test(code ?? "");
            assert.ok((response.status >= 200 && response.status < 300) || miss, `${where}: ${response.status} ${JSON.stringify(response.body)}`);
            const text = JSON.stringify(response.body);
            for (const environment of environmentNames) {
              const visible = text.includes(markers[environment].name);
              assert.equal(visible, environment === credential.owner && environment === target && /\/feed(\/changes\?.*)?$/.test(concrete),
                `${where}: ${environment}'s data ${visible ? "visible" : "missing"}`);
            }
            if (response.body?.name && concrete.endsWith("/environments/current")) {
              assert.equal(response.body.name, credential.owner, where);
            }
          }
        }
      }
    }
    assert.ok(checked > 100, `only ${checked} cases`);
  });

  it("a signed file URL opens only its own environment's object", async () => {
    for (const environment of environmentNames) {
      const urls = await api("/v1/files/urls", { key: keys[environment].secret_key, method: "POST", body: { paths: [FILE_PATH] } });
      assert.equal(urls.status, 200, JSON.stringify(urls.body));
      const url = urls.body.urls[FILE_PATH];
      const own = await fetch(`${apiUrl}${url}`);
      assert.equal(own.status, 200);
      assert.ok((await own.text()).length > 0);
      for (const other of environmentNames.filter((name) => name !== environment)) {
        const swapped = await fetch(`${apiUrl}${url.replace(`/signed-files/${environment}/`, `/signed-files/${other}/`)}`);
        assert.equal(swapped.status, 403, `${environment}'s URL opened ${other}'s file`);
        assert.equal((await swapped.json()).error.code, "signed_url_invalid");
      }
    }
  });

  it("writes landed only in the database of the key's own environment", async () => {
    assert.ok(writes.length > 0);
    for (const { subscriber, writer } of writes) {
      for (const environment of environmentNames) {
        const feed = await api(`/v1/subscribers/${subscriber}/feed`, { key: keys[environment].secret_key });
        assert.equal(feed.status, 200);
        assert.equal(feed.body.counts.total, environment === writer ? 1 : 0, `${subscriber} in ${environment}`);
      }
    }
  });

  it("each environment's own local D1 and KV hold nothing of another environment", async () => {
    const config = process.env.TIDINGS_TEST_CONFIG;
    const state = process.env.TIDINGS_TEST_STATE;
    const wrangler = (...args) =>
      JSON.parse(execFileSync("wrangler", [...args, "--local", "--config", config, "--persist-to", state], {
        encoding: "utf8",
        env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      }));
    for (const environment of environmentNames) {
      const suffix = environment.toUpperCase().replaceAll("-", "_");
      // KV: only cached validations of this environment's own keys, hashes of forged keys
      // remembered as unknown (never a real key's), and brand logos by hash.
      const ownIds = new Set((await admin(`/v1/environments/${environment}/keys`)).body.keys.map((key) => key.id));
      // A cached validation lapses from KV after a while; one made since the isolate's own memory
      // entry lapsed (10 s) writes it again. Validate the environment's key until KV holds one.
      const cachedKeys = (list) => list.filter(({ name }) => name.startsWith("key:"));
      let entries = wrangler("kv", "key", "list", "--binding", `KV_${suffix}`);
      for (const deadline = Date.now() + 30_000; cachedKeys(entries).length === 0 && Date.now() < deadline; ) {
        await api("/v1/environments/current", { key: keys[environment].secret_key });
        await new Promise((resolve) => setTimeout(resolve, 2_000));
        entries = wrangler("kv", "key", "list", "--binding", `KV_${suffix}`);
      }
      for (const { name } of entries.filter(({ name }) => name.startsWith("unknown:"))) {
        assert.match(name, /^unknown:[0-9a-f]{64}$/);
        assert.ok(!ownIds.has(`key_${name.slice(8, 24)}`), `KV_${suffix} remembers a real key as unknown: ${name}`);
      }
      const cached = entries.filter(({ name }) => !/^brand:logo:[0-9a-f]{64}$/.test(name) && !name.startsWith("unknown:"));
      assert.ok(cached.length > 0, `KV_${suffix} holds no cached key`);
      for (const { name } of cached) {
        assert.match(name, /^key:[0-9a-f]{64}$/);
        assert.ok(ownIds.has(`key_${name.slice(4, 20)}`), `KV_${suffix} caches a key of another environment: ${name}`);
      }
      // R2: this environment's own file, never another's.
      for (const other of environmentNames) {
        const held = spawnSync("wrangler", ["r2", "object", "get", `tidings-files-${environment}/${onlyFile(other)}`, "--pipe", "--local", "--config", config, "--persist-to", state],
          { encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
        assert.equal(held.status === 0 && held.stdout.length > 0, other === environment, `tidings-files-${environment} and ${onlyFile(other)}`);
      }
      // D1: of this suite's subscribers, only those written with this environment's keys, in its
      // own database or its feed shards (FEED<i>_<NAME>) together.
      const shards = [...readFileSync(config, "utf8").matchAll(new RegExp(`^binding = "(FEED\\d+_${suffix})"$`, "gm"))].map((match) => match[1]);
      const stored = [];
      for (const database of [`DB_${suffix}`, ...shards]) {
        const rows = queryLocal(database, `SELECT DISTINCT subscriber_id FROM messages WHERE subscriber_id LIKE 'matrix-%-${tag}'`);
        stored.push(...rows.map((row) => row.subscriber_id));
      }
      const expected = [markers[environment].subscriber, ...writes.filter((write) => write.writer === environment).map((write) => write.subscriber)].sort();
      assert.deepEqual(stored.sort(), expected, `DB_${suffix} and its shards ${shards.join(", ")}`);
    }
  });
});
