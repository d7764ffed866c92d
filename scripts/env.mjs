// `npm run env -- <list|create|delete|export|import|clone|provision|deployments> …`:
// manage environments, and make wrangler.toml ready for a Cloudflare account.
//
//   npm run env -- list
//   npm run env -- create qa --type staging [--after development] [--label QA] [--colour #7048e8] [--remote]
//   npm run env -- create pr-42 --from development --ttl 72h   (a preview environment, of its source's type)
//   npm run env -- create qa --type staging --deliver-only-to qa-1,@example.com   (test mode: webhooks reach only these)
//   npm run env -- create big --type production --shards 4   (its feed in 4 databases, FEED0_BIG … FEED3_BIG)
//   npm run env -- reshard big --shards 8   (moves its feeds to 8 shards while it keeps serving)
//   npm run env -- reshard big --shards 8 --prepare   (only binds and migrates the new shards: deploy, then run without it)
//   npm run env -- delete qa
//   npm run env -- lock staging --reason "release freeze"  |  unlock staging
//   npm run env -- archive qa [--retention-days 30]  |  restore qa  |  purge qa
//   npm run env -- export staging [--out staging.tidings.json]      (or > staging.tidings.json)
//   npm run env -- import staging.tidings.json --into development [--apply] [--prune]
//   npm run env -- clone staging qa [--type staging] [--after …]
//   npm run env -- provision            (creates the Cloudflare resources, fills in their ids)
//   npm run env -- deployments          (writes one [env.<name>] section per environment)
//
// `export` writes an environment's promotable content (workflows,
// integrations without secrets, variable names, default preferences) as a
// stable file; `import` shows the typed diff of applying one (a dry run)
// and with --apply writes it as a release; `clone` creates an environment
// with another's settings and content, never its subscribers, messages,
// keys or secrets.
// `create` registers the environment with the running worker, adds its D1
// database and KV namespace bindings to wrangler.toml (local ids, or real
// ones created with wrangler when --remote is given), applies the
// migrations, waits until the worker reports it `ready`, issues a
// publishable and a secret key, and saves them with the other local keys.
// `delete` revokes its keys, removes its data and its bindings.
// `provision` replaces every local placeholder id in wrangler.toml with the
// id of a D1 database or KV namespace it creates with wrangler on the
// account you are logged in to (finding those an earlier run created), then
// applies the migrations to the remote databases. `deployments` derives
// wrangler `[env.<name>]` sections from the top of wrangler.toml, one per
// environment; `create` and `delete` keep them in step once they exist.
// TIDINGS_WRANGLER names another wrangler command (tests stand one in for
// Cloudflare's API, which they cannot reach).
// Options: --config <wrangler.toml> --persist-to <dir> --keys <file> --api <url>
// (the admin token: TIDINGS_ADMIN_TOKEN, else the .dev.vars next to the configuration)
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { capture, root, runAsync } from "./lib.mjs";
import { adminTokenFor, defaultConfig, migrate } from "./stack.mjs";
import {
  bindingSuffix as suffix, buckets, createdId, listedBuckets, listedId, placeholderId, placeholders, replaceId,
  shardBindings, shardTables, splitDeployments, withDeployments,
} from "./wrangler-config.mjs";

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    type: { type: "string" },
    after: { type: "string" },
    label: { type: "string" },
    colour: { type: "string" },
    remote: { type: "boolean", default: false },
    config: { type: "string", default: defaultConfig },
    "persist-to": { type: "string", default: join(root, ".wrangler", "state") },
    keys: { type: "string", default: join(root, ".tidings", "local-keys.json") },
    api: { type: "string" },
    json: { type: "boolean", default: false },
    out: { type: "string" },
    into: { type: "string" },
    apply: { type: "boolean", default: false },
    prune: { type: "boolean", default: false },
    from: { type: "string" },
    ttl: { type: "string" },
    "deliver-only-to": { type: "string" },
    reason: { type: "string" },
    "retention-days": { type: "string" },
    shards: { type: "string" },
    prepare: { type: "boolean", default: false },
  },
});

class CommandError extends Error {}

const savedKeys = () => (existsSync(options.keys) ? JSON.parse(readFileSync(options.keys, "utf8")) : { environments: {} });
const apiUrl = options.api ?? savedKeys().api_url ?? `http://127.0.0.1:${process.env.TIDINGS_PORT ?? 8787}`;
let adminToken;
const token = () => (adminToken ??= process.env.TIDINGS_ADMIN_TOKEN || adminTokenFor(options.config));
/** The wrangler command; `TIDINGS_WRANGLER` replaces it where Cloudflare's API cannot be reached (tests). */
const wrangler = process.env.TIDINGS_WRANGLER ?? "wrangler";

async function call(method, path, body) {
  let response;
  try {
    response = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token()}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new CommandError(`the worker is not reachable at ${apiUrl}; start it with \`npm start\` first`);
  }
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = payload.error ?? {};
    const field = error.field ? ` (${error.field})` : "";
    throw new CommandError(`${error.code ?? response.status}: ${error.message ?? "request failed"}${field}`);
  }
  return payload;
}


/** Every database binding of the environment: its own, then its shards'. */
const databaseBindings = (name, shards) => [`DB_${suffix(name)}`, ...shardBindings(name, shards)];

/** The environment migrations' directory, as the configuration names it. */
const migrationsDirOf = (config) => config.match(/^migrations_dir = "(.*environment)"$/m)?.[1] ?? "migrations/environment";

/** Appends the environment's D1 and KV bindings to the configuration, once. */
async function addBindings(name, shards = 1) {
  const config = readFileSync(options.config, "utf8");
  if (config.includes(`binding = "DB_${suffix(name)}"`)) return addShardBindings(name, shards, config);
  let databaseId = placeholderId("d1", randomBytes(8).toString("hex"));
  let namespaceId = placeholderId("kv", randomBytes(8).toString("hex"));
  if (options.remote) {
    databaseId = createResource({ kind: "d1", name: `tidings-${name}` });
    namespaceId = createResource({ kind: "kv", name: `tidings-${name}` });
    createBuckets([`tidings-files-${name}`]);
  }
  const migrations = migrationsDirOf(config);
  const shardBlocks = shardTables(name, shards, {
    migrationsDir: migrations,
    databaseId: newDatabaseId,
  });
  const { head, generated } = splitDeployments(config);
  const block = `
# environment: ${name}
[[d1_databases]]
binding = "DB_${suffix(name)}"
database_name = "tidings-${name}"
database_id = "${databaseId}"
migrations_dir = "${migrations}"
${shardBlocks}
[[kv_namespaces]]
binding = "KV_${suffix(name)}"
id = "${namespaceId}"

[[r2_buckets]]
binding = "FILES_${suffix(name)}"
bucket_name = "tidings-files-${name}"
`;
  writeFileSync(options.config, withDeployments(head.trimEnd() + "\n" + block, { add: generated }));
}

/** The id of a new D1 database: created on Cloudflare with --remote, else a local placeholder. */
const newDatabaseId = (databaseName) =>
  options.remote ? createResource({ kind: "d1", name: databaseName }) : placeholderId("d1", randomBytes(8).toString("hex"));

/** Adds the feed shards an environment bound already lacks (re-created with more shards). */
function addShardBindings(name, shards, config) {
  const tables = shardTables(name, shards, {
    migrationsDir: migrationsDirOf(config),
    config,
    databaseId: newDatabaseId,
  });
  if (!tables) return;
  const { head, generated } = splitDeployments(config);
  writeFileSync(options.config, withDeployments(head.trimEnd() + "\n" + tables, { add: generated }));
}

/** Removes the environment's bindings (and their comment) from the configuration. */
function removeBindings(name) {
  const { head, generated } = splitDeployments(readFileSync(options.config, "utf8"));
  const tables = head.split(/\n(?=\[\[|\[[a-z]|# environment: )/);
  const kept = tables.filter((table) =>
    table.trim() !== `# environment: ${name}` &&
    !table.includes(`binding = "DB_${suffix(name)}"`) &&
    !new RegExp(`binding = "FEED\\d+_${suffix(name)}"`).test(table) &&
    !table.includes(`binding = "KV_${suffix(name)}"`) &&
    !table.includes(`binding = "FILES_${suffix(name)}"`));
  writeFileSync(options.config, withDeployments(kept.join("\n").trimEnd() + "\n", { add: generated }));
}

/**
 * Creates a D1 database or KV namespace on the Cloudflare account wrangler
 * is logged in to, or finds the one of that name made by an earlier run,
 * and answers its id.
 */
function createResource({ kind, name }) {
  const [create, list] = kind === "d1"
    ? [["d1", "create", name], ["d1", "list", "--json"]]
    : [["kv", "namespace", "create", name], ["kv", "namespace", "list"]];
  const id = createdId(kind, capture(wrangler, create, { stdio: ["ignore", "pipe", "inherit"] })) ??
    listedId(kind, capture(wrangler, list), name);
  if (!id) throw new CommandError(`wrangler could not create the ${kind === "d1" ? "D1 database" : "KV namespace"} ${name} (logged in with \`npx wrangler login\`? online?)`);
  return id;
}

/** Creates the R2 buckets of these names that the account does not have yet. */
function createBuckets(names) {
  const existing = new Set(listedBuckets(capture(wrangler, ["r2", "bucket", "list"])));
  for (const name of names.filter((name) => !existing.has(name))) {
    capture(wrangler, ["r2", "bucket", "create", name], { stdio: ["ignore", "pipe", "inherit"] });
    if (!listedBuckets(capture(wrangler, ["r2", "bucket", "list"])).includes(name)) {
      throw new CommandError(`wrangler could not create the R2 bucket ${name} (logged in with \`npx wrangler login\`? online?)`);
    }
    console.log(`R2 bucket: ${name}`);
  }
}

/**
 * Makes wrangler.toml ready for a real account: every D1 database and KV
 * namespace whose id is still a local placeholder is created on Cloudflare
 * (or found, when an earlier run created it) and its id written in; then
 * the migrations are applied to the remote databases.
 */
async function provision() {
  let config = readFileSync(options.config, "utf8");
  const waiting = placeholders(splitDeployments(config).head);
  for (const resource of waiting) {
    const id = createResource(resource);
    config = replaceId(config, resource.id, id);
    writeFileSync(options.config, config);
    console.log(`${resource.binding}: ${resource.name} ${id}`);
  }
  if (waiting.length === 0) console.log(`every D1 database and KV namespace in ${options.config} has a real id`);
  createBuckets(buckets(splitDeployments(config).head).map((bucket) => bucket.name));
  for (const binding of [...config.matchAll(/^binding = "((?:DB|FEED\d+)_[A-Z0-9_]+)"$/gm)].map((match) => match[1])) {
    await runAsync(wrangler, ["d1", "migrations", "apply", binding, "--remote", "--config", options.config]);
  }
  console.log(`ready to deploy: npx wrangler deploy${splitDeployments(config).generated ? " (or --env <name>, one deployment per environment)" : ""}`);
}

/** Writes (or rewrites) the `[env.<name>]` section of every environment into wrangler.toml. */
function deployments() {
  writeFileSync(options.config, withDeployments(readFileSync(options.config, "utf8"), { add: true }));
  console.log(`wrote one [env.<name>] section per environment into ${options.config}; deploy one with npx wrangler deploy --env <name>`);
}

/**
 * Runs `change` (which edits the configuration and migrates) while holding
 * a lock file beside the configuration, so two commands at once (two admins,
 * two terminals) never append the same bindings twice or migrate a database
 * together. A lock left by a command that died is taken over after two minutes.
 */
async function withConfigLock(change) {
  const lock = `${options.config}.lock`;
  for (const deadline = Date.now() + 180_000; ;) {
    try {
      closeSync(openSync(lock, "wx"));
      break;
    } catch (error) {
      if (error.code !== "EEXIST") throw error;
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000) unlinkSync(lock);
      } catch {}
      if (Date.now() > deadline) throw new CommandError(`${lock} is held by another command; remove it if none is running`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    return await change();
  } finally {
    try {
      unlinkSync(lock);
    } catch {}
  }
}

/** Applies the environment migrations to these databases (locally, and on Cloudflare with --remote). */
async function migrateDatabases(bindings) {
  // Migrating while wrangler dev reloads its configuration can meet a busy database: retry.
  for (let attempt = 1; ; attempt += 1) {
    try {
      await migrate(options["persist-to"], options.config, bindings);
      if (options.remote) {
        for (const binding of bindings) {
          await runAsync(wrangler, ["d1", "migrations", "apply", binding, "--remote", "--config", options.config]);
        }
      }
      return;
    } catch (error) {
      if (attempt === 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
    }
  }
}

/**
 * Moves an environment's feeds to more shards while it keeps serving: binds
 * and migrates the shards it lacks, then calls the worker until every
 * bucket of subscribers is copied, verified and switched (each call moves
 * some for a few seconds). Run again, it goes on with a move under way.
 */
async function reshard(name) {
  const shards = Number(options.shards);
  if (!name || !Number.isInteger(shards) || shards < 2 || shards > 64) {
    throw new CommandError("usage: npm run env -- reshard <name> --shards <2 to 64, more than it has>");
  }
  const environment = await call("GET", `/v1/environments/${name}`);
  if (shards < environment.shards) throw new CommandError(`${name} has ${environment.shards} shards; an environment's feeds move to more shards, never fewer`);
  await withConfigLock(async () => {
    await addBindings(name, shards);
    await migrateDatabases(databaseBindings(name, shards));
  });
  if (options.prepare) {
    const prepared = { environment: name, shards, bindings: shardBindings(name, shards) };
    if (options.json) return console.log(JSON.stringify(prepared));
    const every = splitDeployments(readFileSync(options.config, "utf8")).generated ? " (every deployment: npx wrangler deploy --env <name> for each)" : "";
    return console.log(`${name}: ${prepared.bindings.join(", ")} bound and migrated; once the worker has them (deployed${every}), run this again without --prepare`);
  }
  // The worker sees new bindings once wrangler dev has reloaded its configuration (or after a deploy).
  const deadline = Date.now() + (options.remote ? 0 : 60_000);
  let progress;
  // Since when another call has held the move's lease, every attempt in a row (none: the last went through).
  let busySince;
  // Calls in a row that failed on the way (the worker unreachable, or a 5xx): a move goes on safely
  // from wherever a failed call left it, so the next call takes it up.
  let failedInARow = 0;
  while (!progress?.done) {
    try {
      progress = await call("POST", `/v1/environments/${name}/reshard`, { shards });
      busySince = undefined;
      failedInARow = 0;
    } catch (error) {
      const transient = /^(unavailable|internal_error|feed_moving|5\d\d):|^the worker is not reachable/.test(error.message);
      failedInARow = transient ? failedInARow + 1 : 0;
      if (transient && failedInARow <= 5) {
        console.error(`${name}: the call failed (${error.message}); calling again`);
        await new Promise((resolve) => setTimeout(resolve, 2000 * failedInARow));
        continue;
      }
      // Another call holds the move's lease: one that died holds it for 20 s at most, and the Cron
      // Trigger's sweep, which takes up a move whose lease is free, for about 5 s. Wait for it, as long
      // as it keeps being taken for no more than a minute in a row.
      busySince = error.message.startsWith("reshard_in_progress") ? (busySince ?? Date.now()) : undefined;
      if (busySince !== undefined && Date.now() - busySince < 60_000) {
        await new Promise((resolve) => setTimeout(resolve, 2000));
        continue;
      }
      if (!error.message.startsWith("environment_not_ready") || Date.now() > deadline) {
        const deploy = options.remote && error.message.startsWith("environment_not_ready") ? " (deploy with `npx wrangler deploy`, and `--env <name>` for every deployment, so each worker has the new bindings, then run this again)" : "";
        throw new CommandError(`${error.message}${deploy}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    if (!options.json) console.log(`${name}: ${progress.buckets_moved}/${progress.buckets_to_move} buckets moved to ${progress.shards} shards (${progress.subscribers_moved} subscribers, ${progress.messages_moved} messages in this call)`);
  }
  if (options.json) return console.log(JSON.stringify(progress));
  console.log(`${name}: its feeds are on ${progress.shards} shards (FEED0_${suffix(name)} … FEED${progress.shards - 1}_${suffix(name)})`);
}

async function waitUntilReady(name) {
  const deadline = Date.now() + 60_000;
  let environment;
  while (Date.now() < deadline) {
    try {
      environment = await call("GET", `/v1/environments/${name}`);
      if (["ready", "active"].includes(environment.status)) return environment;
      if (environment.status === "failed") throw new CommandError(`${name} failed: ${environment.status_reason}`);
    } catch (error) {
      if (error instanceof CommandError && !error.message.includes("not reachable")) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new CommandError(`${name} is still ${environment?.status ?? "unknown"}: ${environment?.status_reason ?? "no answer"}`);
}

/** Seconds in a duration such as `90m`, `72h` or `7d` (plain numbers are seconds). */
function durationSeconds(text) {
  const match = /^(\d+)([smhd]?)$/.exec(String(text).trim());
  if (!match) throw new CommandError(`--ttl takes a duration such as 90m, 72h or 7d, not ${JSON.stringify(text)}`);
  return Number(match[1]) * { "": 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2]];
}

async function create(name) {
  // A preview has its source's type.
  if (options.from) options.type ??= (await call("GET", `/v1/environments/${options.from}`)).type;
  if (!name || !options.type) throw new CommandError("usage: npm run env -- create <name> --type <development|staging|production> [--from <name> --ttl <72h>]");
  if (options.ttl && !options.from) throw new CommandError("--ttl is for preview environments: give --from as well");
  const preview = options.from ? { from: options.from, ttl_seconds: durationSeconds(options.ttl ?? "72h") } : {};
  const testMode = options["deliver-only-to"] !== undefined
    ? { deliver_only_to: options["deliver-only-to"].split(",").map((entry) => entry.trim()).filter(Boolean) }
    : {};
  const shards = options.shards === undefined ? undefined : Number(options.shards);
  if (shards !== undefined && !(Number.isInteger(shards) && shards >= 1 && shards <= 64)) {
    throw new CommandError(`--shards takes a whole number from 1 to 64, not ${JSON.stringify(options.shards)}`);
  }
  const body = { name, type: options.type, after: options.after, label: options.label, colour: options.colour, shards, ...preview, ...testMode };
  // An environment registered elsewhere (the console) and waiting for its bindings is provisioned as it is.
  // (Its subscriber signing secret was shown there, once.)
  const created = await call("POST", "/v1/environments", body).catch(async (error) => {
    const waiting = error.message.startsWith("environment_exists") && (await call("GET", `/v1/environments/${name}`)).status === "creating";
    if (!waiting) throw error;
    return {};
  });
  // The registry's count decides (an environment registered from the console keeps its own).
  const { shards: shardCount = 1 } = await call("GET", `/v1/environments/${name}`);
  await withConfigLock(async () => {
    await addBindings(name, shardCount);
    await migrateDatabases(databaseBindings(name, shardCount));
  });
  const environment = await waitUntilReady(name);
  const publishable = await call("POST", `/v1/environments/${name}/keys`, { kind: "publishable" });
  const secret = await call("POST", `/v1/environments/${name}/keys`, { kind: "secret" });
  const keys = savedKeys();
  keys.environments[name] = {
    type: environment.type,
    publishable_key: publishable.key,
    secret_key: secret.key,
    subscriber_signing_secret: created.subscriber_signing_secret,
  };
  writeFileSync(options.keys, JSON.stringify(keys, null, 2) + "\n", { mode: 0o600 });
  const result = { ...(await call("GET", `/v1/environments/${name}`)), ...keys.environments[name] };
  if (options.json) return console.log(JSON.stringify(result));
  console.log(`created ${name} (${result.type}), position ${result.position}, status ${result.status}
  ${publishable.key}
  ${secret.key}
keys saved to ${options.keys}`);
}

async function remove(name) {
  if (!name) throw new CommandError("usage: npm run env -- delete <name>");
  // Deleted already (from the console): what is left here is its bindings and saved keys.
  const deletion = () => call("DELETE", `/v1/environments/${name}`).catch((error) => {
    const bound = readFileSync(options.config, "utf8").includes(`binding = "DB_${suffix(name)}"`);
    if (!error.message.startsWith("environment_not_found") || !bound) throw error;
    return { name, status: "deleted", revoked_keys: 0 };
  });
  // A reshard call moving its feeds holds the deletion off (one call lasts seconds; one that died, 20 s).
  // A deletion cut short (the worker restarting for another command's configuration change, or a
  // storage failure) is finished by asking again.
  const again = (message) =>
    ["reshard_in_progress", "503", "unavailable", "the worker is not reachable"].some((start) => message.startsWith(start));
  const deadline = Date.now() + 60_000;
  let deleted;
  while (!deleted) {
    deleted = await deletion().catch(async (error) => {
      if (!again(error.message) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 2000));
      return null;
    });
  }
  removeBindings(name);
  const keys = savedKeys();
  delete keys.environments[name];
  if (existsSync(options.keys)) writeFileSync(options.keys, JSON.stringify(keys, null, 2) + "\n", { mode: 0o600 });
  if (options.json) return console.log(JSON.stringify(deleted));
  console.log(`deleted ${name}: ${deleted.revoked_keys} key(s) revoked, data removed, bindings removed from ${options.config}`);
  if (options.remote) console.log(`remove the Cloudflare resources with: npx wrangler d1 delete tidings-${name} (and each feed shard's, tidings-${name}_feed<i>); npx wrangler kv namespace delete …; npx wrangler r2 bucket delete tidings-files-${name}`);
}

async function list() {
  const { environments } = await call("GET", "/v1/environments");
  if (options.json) return console.log(JSON.stringify(environments));
  for (const environment of environments) {
    const reason = environment.status_reason ? `  (${environment.status_reason})` : "";
    const notes = [
      environment.lock && `locked: ${environment.lock.reason}`,
      environment.preview_of && `preview of ${environment.preview_of}, expires ${environment.expires_at ?? "never"}`,
      environment.purge_at && `purged ${environment.purge_at}`,
    ].filter(Boolean).map((note) => `  [${note}]`).join("");
    const position = environment.preview_of ? "  -" : String(environment.position).padStart(3);
    console.log(`${position}  ${environment.name.padEnd(20)} ${environment.type.padEnd(12)} ${environment.status}${reason}${notes}`);
  }
}

/**
 * Writes `text` to stdout. When stdout is a file opened for writing from its
 * start (`> file`), the file is rewritten from its start, so the banner npm
 * printed before this script ran does not end up in it.
 */
function writeOutput(text) {
  if (options.out) return writeFileSync(options.out, text);
  let appending = true;
  try {
    const flags = readFileSync("/proc/self/fdinfo/1", "utf8").match(/^flags:\s*(\d+)/m)?.[1];
    appending = flags === undefined || (parseInt(flags, 8) & 0o2000) !== 0;
  } catch {}
  if (!appending && fstatSync(1).isFile()) {
    ftruncateSync(1, 0);
    writeSync(1, text, 0);
  } else {
    process.stdout.write(text);
  }
}

async function exportFile(name) {
  if (!name) throw new CommandError("usage: npm run env -- export <name> [--out <file>]");
  const response = await fetch(`${apiUrl}/v1/environments/${name}/export`, { headers: { Authorization: `Bearer ${token()}` } })
    .catch(() => { throw new CommandError(`the worker is not reachable at ${apiUrl}; start it with \`npm start\` first`); });
  const text = await response.text();
  if (!response.ok) {
    const error = JSON.parse(text).error ?? {};
    throw new CommandError(`${error.code ?? response.status}: ${error.message ?? "export failed"}`);
  }
  writeOutput(text);
}

const show = (value) => (value === undefined ? "∅" : JSON.stringify(value));

/** Prints an import's (or a promotion's) changes and problems for a person to review. */
function printChanges({ changes, problems }) {
  const sign = { added: "+", modified: "~", deleted: "-" };
  if (changes.length === 0) console.log("no changes");
  for (const change of changes) {
    console.log(`${sign[change.change] ?? "?"} ${change.resource} ${change.key} (${change.change})`);
    if (change.change !== "modified") continue;
    for (const field of change.fields) console.log(`    ${field.path}: ${show(field.from)} → ${show(field.to)} [${field.kind}]`);
  }
  for (const problem of problems) console.log(`! ${problem.code}: ${problem.message}`);
}

async function importFile(file, into = options.into) {
  if (!file || !into) throw new CommandError("usage: npm run env -- import <file> --into <name> [--apply] [--prune]");
  let parsed;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new CommandError(`${file} is not a readable JSON file: ${error.message}`);
  }
  const result = await call("POST", `/v1/environments/${into}/import`, { file: parsed, dry_run: !options.apply, prune: options.prune });
  if (options.json) return console.log(JSON.stringify(result));
  printChanges(result);
  if (result.release) console.log(`applied to ${into} as release ${result.release.id}`);
  else if (result.dry_run && result.changes.length) console.log(`dry run: nothing written; add --apply to apply ${result.changes.length} change(s) to ${into}`);
}

async function clone(source, name) {
  if (!source || !name) throw new CommandError("usage: npm run env -- clone <source> <name> [--type <type>] [--after <name>]");
  const original = await call("GET", `/v1/environments/${source}`);
  options.type ??= original.type === "production" ? "staging" : original.type;
  if (options.type === "production") throw new CommandError("a production environment gets its content by promotion only; clone into a development or staging environment");
  const file = await (await fetch(`${apiUrl}/v1/environments/${source}/export`, { headers: { Authorization: `Bearer ${token()}` } })).json();
  await create(name);
  const settings = ["allowed_origins", "requires_subscriber_credential", "log_retention_days", "obfuscate_subscriber_data", "hide_message_contents"];
  const patch = Object.fromEntries(settings.filter((key) => original[key] !== undefined && original[key] !== null).map((key) => [key, original[key]]));
  if (Object.keys(patch).length) await call("PATCH", `/v1/environments/${name}`, patch);
  const result = await call("POST", `/v1/environments/${name}/import`, { file, dry_run: false, prune: false });
  if (!options.json) console.log(`cloned ${source} into ${name}: ${result.changes.length} resource(s), settings copied; no subscribers, messages, keys or secrets`);
}

/** Lock, unlock, archive, restore or purge: one control-plane call, the environment as it is after. */
async function lifecycle(step, name) {
  if (!name) throw new CommandError(`usage: npm run env -- ${step} <name>`);
  if (step === "lock" && !options.reason) throw new CommandError('usage: npm run env -- lock <name> --reason "why"');
  const body = step === "lock"
    ? { reason: options.reason }
    : step === "archive" && options["retention-days"] ? { retention_days: Number(options["retention-days"]) } : undefined;
  const result = await call("POST", `/v1/environments/${name}/${step}`, body);
  if (step === "purge") {
    removeBindings(name);
    const keys = savedKeys();
    delete keys.environments[name];
    if (existsSync(options.keys)) writeFileSync(options.keys, JSON.stringify(keys, null, 2) + "\n", { mode: 0o600 });
  }
  if (options.json) return console.log(JSON.stringify(result));
  const detail = result.purge_at ? `, purged ${result.purge_at} unless restored` : result.lock ? `: ${result.lock.reason}` : "";
  console.log(`${name}: ${step === "purge" ? "purged, bindings removed" : `${result.status}${result.lock ? ", locked" : ""}${detail}`}`);
}

const [command, name, second] = positionals;
const commands = {
  list: () => list(),
  create: () => create(name),
  reshard: () => reshard(name),
  delete: () => remove(name),
  export: () => exportFile(name),
  import: () => importFile(name),
  clone: () => clone(name, second),
  provision: () => provision(),
  lock: () => lifecycle("lock", name),
  unlock: () => lifecycle("unlock", name),
  archive: () => lifecycle("archive", name),
  restore: () => lifecycle("restore", name),
  purge: () => lifecycle("purge", name),
  deployments: () => deployments(),
};
try {
  if (!commands[command]) throw new CommandError("usage: npm run env -- <list|create|reshard|delete|lock|unlock|archive|restore|purge|export|import|clone|provision|deployments> … (see scripts/env.mjs)");
  await commands[command]();
} catch (error) {
  console.error(`✖ ${error.message}`);
  process.exit(1);
}
