// Deploying: one deployment per environment from the [env.*] sections that
// `npm run env -- deployments` writes, run for real in workerd with
// `wrangler dev --env production`; and `npm run env -- provision`, which
// fills wrangler.toml with the ids of real Cloudflare resources.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { stop } from "../scripts/lib.mjs";
import { adminTokenFor, freePort, startIsolatedStack, startWorker } from "../scripts/stack.mjs";
import { DEPLOYMENTS_MARK } from "../scripts/wrangler-config.mjs";

const directory = mkdtempSync(join(tmpdir(), "tidings-deployments-"));
after(() => rmSync(directory, { recursive: true, force: true }));

const script = join(import.meta.dirname, "..", "scripts", "env.mjs");
function envCommand(config, args, env = {}) {
  const result = spawnSync(process.execPath, [script, ...args, "--config", config], { encoding: "utf8", env: { ...process.env, ...env } });
  assert.equal(result.status, 0, result.stderr + result.stdout);
  return result.stdout;
}

async function call(apiUrl, path, key, body) {
  const response = await fetch(`${apiUrl}${path}`, {
    method: body ? "POST" : "GET",
    headers: { Authorization: `Bearer ${key}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json() };
}

describe("one deployment per environment", () => {
  it("serves only its own environment's keys, and refuses the others' before reading storage", async () => {
    // Bootstrap with the one deployment that serves everything, as a new account would.
    const stack = await startIsolatedStack(join(directory, "stack"));
    const { config, persistTo, keys } = stack;
    await stack.stop();

    const written = envCommand(config, ["deployments"]);
    assert.match(written, /one \[env\.<name>\] section per environment/);
    const toml = readFileSync(config, "utf8");
    for (const name of ["development", "staging", "production"]) {
      assert.match(toml, new RegExp(`\\[env\\.${name}\\]\\nname = "tidings-${name}"\\nvars = \\{ TIDINGS_ENVIRONMENTS = "${name}" \\}`));
    }
    // Writing them again changes nothing: the sections are derived from the top of the file.
    envCommand(config, ["deployments"]);
    assert.equal(readFileSync(config, "utf8"), toml);
    assert.equal(toml.split(DEPLOYMENTS_MARK).length, 2);

    const production = await startWorker({ config, persistTo, port: await freePort(), deployment: "production" });
    try {
      const { apiUrl } = production;
      const own = await call(apiUrl, "/v1/environments/current", keys.environments.production.secret_key);
      assert.equal(own.status, 200, JSON.stringify(own.body));
      assert.equal(own.body.name, "production");
      const trigger = await call(apiUrl, "/v1/events/trigger", keys.environments.production.secret_key, {
        workflow: "welcome",
        to: ["deployments-user"],
        payload: { name: "Quinn" },
      });
      assert.equal(trigger.status, 202, JSON.stringify(trigger.body));

      for (const name of ["development", "staging"]) {
        for (const kind of ["publishable_key", "secret_key"]) {
          const refused = await call(apiUrl, "/v1/environments/current", keys.environments[name][kind]);
          assert.equal(refused.status, 421, `${name} ${kind}: ${JSON.stringify(refused.body)}`);
          assert.equal(refused.body.error.code, "environment_not_served");
          assert.match(refused.body.error.message, new RegExp(`serves production; send requests with ${name} keys`));
        }
      }
      // A malformed key is still refused as malformed: parsing comes first.
      const malformed = await call(apiUrl, "/v1/environments/current", "sk_staging_nope");
      assert.equal(malformed.body.error.code, "malformed_key");

      // Members (here the admin token) manage every environment from any deployment.
      const listed = await call(apiUrl, "/v1/environments", adminTokenFor(config));
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.deepEqual(listed.body.environments.map((environment) => environment.name), ["development", "staging", "production"]);
    } finally {
      await stop(production.worker);
    }
  });
});

describe("npm run env -- provision", () => {
  // Cloudflare's API cannot be reached from here, so a stand-in for the
  // wrangler command answers the way wrangler 4 prints created resources, and
  // records what it was asked. That staging's database exists already (an
  // earlier, interrupted run) is found through `d1 list --json`.
  const fake = join(directory, "wrangler-stand-in.mjs");
  const calls = join(directory, "wrangler-calls.log");
  writeFileSync(fake, `#!/usr/bin/env node
import { appendFileSync } from "node:fs";
import { createHash } from "node:crypto";
const args = process.argv.slice(2);
appendFileSync(${JSON.stringify(calls)}, args.join(" ") + "\\n");
const hex = (text) => createHash("sha256").update(text).digest("hex");
const uuid = (text) => hex(text).replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, "$1-$2-$3-$4-$5");
const [group, verb, name] = args;
if (group === "d1" && verb === "create" && name === "tidings-staging") {
  console.error("✘ [ERROR] A request to the Cloudflare API failed. A database with that name already exists [code: 7502]");
  process.exit(1);
}
if (group === "d1" && verb === "create") {
  console.log(\`✅ Successfully created DB '\${name}' in region WEUR
Created your new D1 database.

To access your new D1 Database in your Worker, add the following snippet to your configuration file:
[[d1_databases]]
binding = "\${name.replaceAll("-", "_")}"
database_name = "\${name}"
database_id = "\${uuid(name)}"\`);
} else if (group === "d1" && verb === "list") {
  console.log(JSON.stringify([{ uuid: uuid("tidings-staging"), name: "tidings-staging", created_at: "2026-11-20T10:00:00Z" }]));
} else if (group === "kv" && verb === "namespace" && args[2] === "create") {
  console.log(\`🌀 Creating namespace with title "\${args[3]}"
✨ Success!
To access your new KV Namespace in your Worker, add the following snippet to your configuration file:
[[kv_namespaces]]
binding = "\${args[3].replaceAll("-", "_")}"
id = "\${hex(args[3]).slice(0, 32)}"\`);
} else if (group === "r2" && verb === "bucket" && args[2] === "create") {
  appendFileSync(${JSON.stringify(calls + ".buckets")}, args[3] + "\\n");
  console.log(\`Creating bucket '\${args[3]}'...\\nCreated bucket '\${args[3]}' with default storage class of Standard.\`);
} else if (group === "r2" && verb === "bucket" && args[2] === "list") {
  const { existsSync, readFileSync } = await import("node:fs");
  const file = ${JSON.stringify(calls + ".buckets")};
  const made = existsSync(file) ? readFileSync(file, "utf8").split("\\n").filter(Boolean) : [];
  console.log(made.map((name) => \`name:           \${name}\\ncreation_date:  2026-12-04T00:00:00.000Z\\n\`).join("\\n"));
} else if (group === "d1" && verb === "migrations") {
  console.log("✅ Applied migrations");
} else {
  console.error("unexpected call: " + args.join(" "));
  process.exit(1);
}
`);
  chmodSync(fake, 0o755);

  it("creates the resources, writes their ids everywhere they appear, migrates them, and is safe to run again", () => {
    const config = join(directory, "provision.toml");
    writeFileSync(config, readFileSync(join(import.meta.dirname, "..", "wrangler.toml"), "utf8"));
    envCommand(config, ["deployments"]);
    const printed = envCommand(config, ["provision"], { TIDINGS_WRANGLER: fake });
    const toml = readFileSync(config, "utf8");
    assert.doesNotMatch(toml, /00000000-0000-4000-8000-|"000000000000400080/);
    const stagingId = toml.match(/database_name = "tidings-staging"\ndatabase_id = "([^"]+)"/)[1];
    assert.match(printed, new RegExp(`DB_STAGING: tidings-staging ${stagingId}`));
    // Each id appears in the top and in each of the three [env.*] sections.
    assert.equal(toml.split(`"${stagingId}"`).length - 1, 4);
    const log = readFileSync(calls, "utf8").trim().split("\n");
    for (const binding of ["DB_CONTROL", "DB_DEVELOPMENT", "DB_STAGING", "DB_PRODUCTION"]) {
      assert.ok(log.includes(`d1 migrations apply ${binding} --remote --config ${config}`), log.join("\n"));
    }
    assert.equal(log.filter((line) => line.startsWith("kv namespace create")).length, 3);
    assert.deepEqual(log.filter((line) => line.startsWith("r2 bucket create")).sort(),
      ["development", "production", "staging"].map((name) => `r2 bucket create tidings-files-${name}`));
    assert.match(toml, /r2_buckets = \[/, "each [env.*] section binds the buckets too");

    writeFileSync(calls, "");
    const again = envCommand(config, ["provision"], { TIDINGS_WRANGLER: fake });
    assert.match(again, /every D1 database and KV namespace .* has a real id/);
    assert.equal(readFileSync(config, "utf8"), toml);
    assert.ok(!readFileSync(calls, "utf8").includes("create"));
  });
});
