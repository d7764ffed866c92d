// The local stack: D1 migrations, the worker in workerd (`wrangler dev`),
// the one-time bootstrap of the default environments, and the www server.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { root, start, step, stop, toolEnv } from "./lib.mjs";
import { serveWww } from "./serve-www.mjs";
import { d1Databases, withShards } from "./wrangler-config.mjs";
import { applyLocalMigrations } from "./d1-migrate.mjs";

export const defaultConfig = join(root, "wrangler.toml");
/** The admin console's worker (static assets only), which the API worker's CONSOLE binding serves. */
export const defaultConsoleConfig = join(root, "www", "console.wrangler.toml");

/**
 * The console worker's configuration that goes with an API worker's:
 * www/console.wrangler.toml for wrangler.toml, and for a copy made by
 * `isolatedConfig` the console's copy beside it (in `console/`, away from
 * the API's .dev.vars, so the console worker gets no secrets).
 */
export function consoleConfigFor(config) {
  return config === defaultConfig ? defaultConsoleConfig : join(dirname(config), "console", "wrangler.toml");
}

/** Every D1 binding declared in a wrangler configuration. */
export function d1Bindings(config = defaultConfig) {
  return d1Databases(readFileSync(config, "utf8")).map((database) => database.binding);
}

/**
 * The admin token (control plane and one-time bootstrap) that wrangler dev
 * reads from .dev.vars, beside the key that seals integration secrets; both
 * are created once per checkout.
 */
export function adminToken() {
  devVar("TIDINGS_ENCRYPTION_KEY", () => randomBytes(32).toString("hex"));
  return devVar("TIDINGS_ADMIN_TOKEN", () => randomBytes(24).toString("hex"));
}

/** A variable of .dev.vars (local secrets), created with `make` when missing. */
function devVar(name, make) {
  const file = join(root, ".dev.vars");
  const current = existsSync(file) ? readFileSync(file, "utf8") : "";
  const match = current.match(new RegExp(`^${name}=(.+)$`, "m"));
  if (match) return match[1].trim();
  const value = make();
  const separator = current && !current.endsWith("\n") ? "\n" : "";
  writeFileSync(file, `${current}${separator}${name}=${value}\n`, { mode: 0o600 });
  return value;
}

/** A TCP port that is free on 127.0.0.1 right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Applies pending migrations to every local D1 database, all in one
 * Miniflare, as `wrangler d1 migrations apply --local` would one by one
 * (scripts/d1-migrate.mjs).
 */
export async function migrate(persistTo, config = defaultConfig, bindings = d1Bindings(config)) {
  step(`applying D1 migrations (${bindings.length} database${bindings.length === 1 ? "" : "s"})`);
  await applyLocalMigrations(persistTo, config, bindings);
}

/**
 * A wrangler configuration whose paths (relative to `base`, the directory
 * of the file it was read from) are made absolute, so it works from any directory.
 */
export function withAbsolutePaths(toml, base = root) {
  return toml
    .replace(/^main = "(.+)"$/m, (_, path) => `main = "${join(base, path)}"`)
    .replace(/^migrations_dir = "(.+)"$/gm, (_, path) => `migrations_dir = "${join(base, path)}"`)
    .replace(/^directory = "(.+)"$/m, (_, path) => `directory = "${join(base, path)}"`);
}

/**
 * A copy of wrangler.toml for an isolated run (tests): absolute paths, and
 * the .dev.vars beside it, so commands may edit it without touching the repo.
 * `faults: false` leaves storage fault injection off, as in a deployment.
 */
export function isolatedConfig(directory, { faults = true, accounting = false, readReplication = true, fileQuotaBytes } = {}) {
  adminToken();
  mkdirSync(directory, { recursive: true });
  const config = join(directory, "wrangler.toml");
  writeFileSync(config, withAbsolutePaths(readFileSync(defaultConfig, "utf8")));
  const consoleConfig = consoleConfigFor(config);
  mkdirSync(dirname(consoleConfig), { recursive: true });
  writeFileSync(consoleConfig, withAbsolutePaths(readFileSync(defaultConsoleConfig, "utf8"), dirname(defaultConsoleConfig)));
  // Tests may inject storage faults (crates/tidings-worker/src/store/faults.rs); never a deployment.
  const injection = faults ? "TIDINGS_FAULT_INJECTION=enabled\n" : "";
  // The bench's count of each request's D1 work (crates/tidings-worker/js/d1-accounting.mjs); never a deployment.
  const counting = accounting ? "TIDINGS_D1_ACCOUNTING=enabled\n" : "";
  // Feed reads through D1 sessions, as a deployment whose databases replicate reads them
  // (crates/tidings-worker/src/store/replicas.rs): the tests' stack does, so bookmarks are tested.
  const replication = readReplication ? "TIDINGS_D1_READ_REPLICATION=auto\n" : "";
  // Another per-environment file quota than the default 1 GiB (tests fill one).
  const quota = fileQuotaBytes ? `TIDINGS_FILE_QUOTA_BYTES=${fileQuotaBytes}\n` : "";
  const vars = `${readFileSync(join(root, ".dev.vars"), "utf8").trimEnd()}\n${injection}${counting}${replication}${quota}`;
  writeFileSync(join(directory, ".dev.vars"), vars, { mode: 0o600 });
  return config;
}

async function waitForHealth(apiUrl, child, log) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const response = await fetch(`${apiUrl}/health`);
      if (response.ok) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the worker did not become healthy at ${apiUrl}:\n${log.join("")}`);
}

/** Reads the admin token from the .dev.vars beside a configuration. */
export function adminTokenFor(config) {
  const file = join(dirname(config), ".dev.vars");
  const match = existsSync(file) && readFileSync(file, "utf8").match(/^TIDINGS_ADMIN_TOKEN=(.+)$/m);
  if (!match) throw new Error(`${file} has no TIDINGS_ADMIN_TOKEN line; run npm start once`);
  return match[1].trim();
}

/**
 * Bootstraps the default environments unless `keysFile` holds keys the worker accepts.
 * Production starts with four-eyes approval unless `productionRequiresApproval` is false.
 */
async function ensureKeys(apiUrl, keysFile, { productionRequiresApproval = true, shards = {} } = {}) {
  if (existsSync(keysFile)) {
    const saved = JSON.parse(readFileSync(keysFile, "utf8"));
    const key = saved.environments?.development?.publishable_key;
    const check = await fetch(`${apiUrl}/v1/environments/current`, { headers: { Authorization: `Bearer ${key}` } });
    if (check.ok) return { ...saved, api_url: apiUrl, admin: { token: adminToken() } };
  }
  // The first owner gets a personal access token: how a person signs in to the console and API.
  const response = await fetch(`${apiUrl}/v1/bootstrap`, {
    method: "POST",
    headers: { Authorization: `Bearer ${adminToken()}`, "Content-Type": "application/json" },
    body: JSON.stringify({
      owner: { name: "Local owner", email: "owner@tidings.local" },
      production_requires_approval: productionRequiresApproval,
      shards,
    }),
  });
  const body = await response.json();
  if (response.status === 409) {
    throw new Error(
      `local state already has environments but ${keysFile} does not hold their keys.\n` +
        "Run `npm run reset` to delete local state and start over.",
    );
  }
  if (!response.ok) throw new Error(`bootstrap failed: ${response.status} ${JSON.stringify(body)}`);
  const keys = { api_url: apiUrl, environments: {}, admin: { token: adminToken() }, owner: body.owner };
  for (const environment of body.environments) {
    keys.environments[environment.name] = {
      type: environment.type,
      publishable_key: environment.publishable_key,
      secret_key: environment.secret_key,
      subscriber_signing_secret: environment.subscriber_signing_secret,
    };
  }
  mkdirSync(dirname(keysFile), { recursive: true });
  writeFileSync(keysFile, JSON.stringify(keys, null, 2) + "\n", { mode: 0o600 });
  return keys;
}

/** A configuration's rate limits raised out of the way, for runs that measure storage (load, bench). */
export const raiseRateLimits = (toml) =>
  toml.replace(/simple = \{ limit = \d+, period = (\d+) \}/g, "simple = { limit = 1000000, period = $1 }");

/**
 * A stack of its own under `stateDir` (tests, load tests): a generated
 * configuration (`editConfig(text)` may change it), fresh state, free ports.
 * Returns what `startStack` does, plus `config`, `keysFile` and `persistTo`.
 */
export async function startIsolatedStack(stateDir, { logFile, editConfig, faults, accounting, readReplication, fileQuotaBytes, productionRequiresApproval, shards = {} } = {}) {
  mkdirSync(stateDir, { recursive: true });
  const config = isolatedConfig(join(stateDir, "config"), { faults, accounting, readReplication, fileQuotaBytes });
  if (editConfig) writeFileSync(config, editConfig(readFileSync(config, "utf8")));
  // First environments with feed shards: their databases bound beside their own.
  for (const [name, count] of Object.entries(shards)) writeFileSync(config, withShards(readFileSync(config, "utf8"), name, count));
  const keysFile = join(stateDir, "keys.json");
  const persistTo = join(stateDir, "state");
  const stack = await startStack({
    logFile,
    config,
    persistTo,
    keysFile,
    productionRequiresApproval,
    shards,
    apiPort: await freePort(),
    // The www server asks the OS for a port when it starts: one picked now could be taken by
    // then (workerd binds ports of its own as it starts) and fail with EADDRINUSE.
    wwwPort: 0,
    quiet: true,
  });
  return { ...stack, config, keysFile, persistTo };
}

/**
 * Starts the worker and the www server (on `wwwPort`, or on a port the OS
 * picks when it is 0). Returns { apiUrl, wwwUrl, keys, stop }.
 * `persistTo` is where local D1/KV state lives; `keysFile` where keys are kept.
 */
export async function startStack({
  persistTo, keysFile, apiPort, wwwPort, config = defaultConfig, quiet = false, logFile, productionRequiresApproval, shards,
}) {
  adminToken();
  await migrate(persistTo, config);
  const workerOptions = { config, consoleConfig: consoleConfigFor(config), persistTo, port: apiPort, quiet, logFile };
  let { worker, apiUrl, log, logStream } = await startWorker(workerOptions);
  let www;
  try {
    const keys = await ensureKeys(apiUrl, keysFile, { productionRequiresApproval, shards });
    www = await serveWww({ port: wwwPort, apiUrl, publishableKey: keys.environments.development.publishable_key });
    return {
      apiUrl,
      wwwUrl: `http://127.0.0.1:${www.address().port}`,
      keys,
      workerLog: () => log.join(""),
      /** Stops workerd alone (the API's port then refuses connections); the www server stays. */
      stopWorker: async () => {
        await stop(worker);
        await new Promise((resolve) => (logStream ? logStream.end(resolve) : resolve()));
        worker = null;
      },
      /** Starts workerd again after `stopWorker`, on the same port with the same state. */
      restartWorker: async () => {
        ({ worker, log, logStream } = await startWorker(workerOptions));
      },
      stop: async () => {
        await new Promise((resolve) => (www ? www.close(resolve) : resolve()));
        if (worker) await stop(worker);
        await new Promise((resolve) => (logStream ? logStream.end(resolve) : resolve()));
      },
    };
  } catch (error) {
    await stop(worker);
    throw error;
  }
}

/**
 * Starts the worker in workerd (`wrangler dev`, with `--env` when a
 * per-environment `deployment` is named), with the console's worker beside
 * it when a `consoleConfig` is given (one session: the first configuration's
 * worker answers on `port`), and waits until it answers. Each session has a
 * dev registry of its own: its workers reach each other within the session,
 * and another session starting or stopping (a test's stack) never makes it
 * reload (a reload rebinds its sockets, which can race the other's exit).
 * Returns { worker, apiUrl, log, logStream }; `stop(worker)` ends it.
 */
export async function startWorker({ config, consoleConfig, persistTo, port, deployment, quiet = true, logFile }) {
  const inspectorPort = await freePort();
  step(`starting the worker${deployment ? ` (deployment ${deployment})` : ""} in workerd on 127.0.0.1:${port}`);
  const worker = start("wrangler", [
    "dev", "--config", config, ...(consoleConfig ? ["--config", consoleConfig] : []),
    "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort),
    "--persist-to", persistTo, "--show-interactive-dev-session=false", "--test-scheduled", "--log-level", quiet && !logFile ? "warn" : "log",
    ...(deployment ? ["--env", deployment] : []),
  ], { stdio: ["ignore", "pipe", "pipe"], env: toolEnv({ WRANGLER_REGISTRY_PATH: join(dirname(persistTo), "dev-registry", String(port)) }) });
  const log = [];
  const logStream = logFile ? createWriteStream(logFile, { flags: "a" }) : null;
  const keep = (chunk) => {
    logStream?.write(chunk);
    log.push(chunk.toString());
    if (log.length > 200) log.shift();
    if (!quiet) process.stdout.write(chunk);
  };
  worker.stdout.on("data", keep);
  worker.stderr.on("data", keep);
  const apiUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForHealth(apiUrl, worker, log);
  } catch (error) {
    await stop(worker);
    throw error;
  }
  return { worker, apiUrl, log, logStream };
}

/**
 * The rows `sql` selects from the local D1 database `binding` of a stack
 * (its configuration `config` and state directory `persistTo`), read from
 * the database's file with wrangler, as an operator with the disk would.
 */
export function queryLocalDatabase({ config, persistTo }, binding, sql) {
  const out = execFileSync("wrangler", ["d1", "execute", binding, "--local", "--config", config, "--persist-to", persistTo, "--json", "--command", sql], {
    cwd: root, encoding: "utf8", env: toolEnv(),
  });
  return JSON.parse(out)[0].results;
}

/** How many messages the local database `binding` of a stack holds for subscribers whose ids start with `prefix`. */
export const messagesStoredIn = (stack, binding, prefix) =>
  queryLocalDatabase(stack, binding, `SELECT COUNT(*) AS count FROM messages WHERE subscriber_id LIKE '${prefix}%'`)[0].count;
