// `npm run bench [-- --seconds N --rounds R]`: the feed route of the
// contenders served the same way (`wrangler dev`, workerd, the same local
// D1/KV state), measured with wrk on 127.0.0.1 in alternating rounds, and
// reported as medians and ratios to the empty worker (the runtime's
// ceiling). Also: scaling with the size of a feed, rows D1 reads, trigger
// fan-out, key validation, and sizes. Prints figures; asserts nothing.
//
// Contenders: benches/empty (fixed JSON), benches/typescript (what a team
// would hand-write), and the Tidings worker (release build) with its real
// key validation, subscriber credential check and feed route; to show what
// the local rate limiter costs, Tidings without the feed's rate-limit
// binding; Tidings reading through D1 sessions, as a deployment whose databases
// replicate does (TIDINGS_D1_READ_REPLICATION=auto); and benches/d1-floor, the
// floor for any worker that reads D1 once per request (Tidings' feed statement
// alone, in plain JavaScript). The same
// feed is also read in staging, whose feed is in four shards, beside the floor
// reading the shard that holds it.
// Then, on a stack of its own, each operation's D1 work and the fan-out rate
// of a trigger to a topic of 100,000 members (`--members N`; scripts/d1-work.mjs).
import { spawnSync } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { build } from "./build.mjs";
import { capture, numberOptions, root, run, step, stop } from "./lib.mjs";
import { setup } from "./setup.mjs";
import { measureWork } from "./d1-work.mjs";
import { checkSdkSize, checkWorkerBundle } from "./size.mjs";
import { freePort, raiseRateLimits, startIsolatedStack, startWorker } from "./stack.mjs";

const MESSAGES = 200_000;
/** Subscribers whose feeds are measured, by their number of messages. */
const FEEDS = { "bench-1k": 1_000, "bench-10k": 10_000, "bench-100k": 100_000 };

function installWrk() {
  if (spawnSync("wrk", ["--version"]).error === undefined) return;
  step("installing wrk (Debian) for load generation");
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  const apt = (args) => run(sudo[0] ?? "apt-get", sudo.length ? ["apt-get", ...args] : args, { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  apt(["update"]);
  apt(["install", "-y", "wrk"]);
}

/**
 * The entries of `targets` in the order of a round: each round starts one
 * further on, so no contender is always measured first, and a drift of the
 * machine within a round falls on a different contender each round.
 */
const inRoundOrder = (targets, round) => {
  const entries = Object.entries(targets);
  const start = round % entries.length;
  return [...entries.slice(start), ...entries.slice(0, start)];
};

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
};

/** wrk's hook that prints a run's latency histogram (benches/wrk-histogram.lua). */
const HISTOGRAM_SCRIPT = join(root, "benches", "wrk-histogram.lua");

/**
 * The latency (ms) below which a share `q` of the requests of `histograms`
 * (wrk's `[microseconds, count]` pairs, several runs' together) answered.
 */
function percentile(histograms, q) {
  const pairs = histograms.flat().sort((a, b) => a[0] - b[0]);
  const total = pairs.reduce((sum, [, count]) => sum + count, 0);
  let seen = 0;
  for (const [micros, count] of pairs) {
    seen += count;
    if (seen >= q * total) return micros / 1000;
  }
  return NaN;
}

/**
 * Runs wrk; answers requests/s, the p50/p99 latencies in ms and the latency
 * histogram (to pool rounds).
 */
function wrk(url, headers, connections, seconds) {
  const args = ["-t", connections > 1 ? "2" : "1", "-c", String(connections), "-d", `${seconds}s`, "--latency", "-s", HISTOGRAM_SCRIPT];
  for (const [name, value] of Object.entries(headers)) args.push("-H", `${name}: ${value}`);
  const result = spawnSync("wrk", [...args, url], { encoding: "utf8", maxBuffer: 64 << 20 });
  const output = result.stdout ?? "";
  const ms = (text) => {
    const [, number, unit] = text.match(/([\d.]+)(us|ms|s)/) ?? [];
    return Number(number) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? NaN);
  };
  const errors = Number(output.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0) + Number(output.match(/Socket errors: connect (\d+)/)?.[1] ?? 0);
  const histogram = (output.match(/^HIST (.+)$/m)?.[1] ?? "").split(",").filter(Boolean).map((pair) => pair.split(":").map(Number));
  const requests = Number(output.match(/(\d+) requests in/)?.[1] ?? NaN);
  // wrk leaves out of its histogram only the requests it counts as timed out.
  const timeouts = Number(output.match(/Socket errors: .*timeout (\d+)/)?.[1] ?? 0);
  const recorded = histogram.reduce((sum, [, count]) => sum + count, 0);
  if (recorded + timeouts < requests) throw new Error(`wrk's histogram holds ${recorded} of its ${requests} requests:\n${output.slice(0, 2000)}`);
  return {
    rps: Number(output.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? NaN),
    // The distribution's own lines: "+/- Stdev" columns end in "%" too.
    p50: ms(output.match(/^\s+50%\s+(\S+)$/m)?.[1] ?? ""),
    p99: ms(output.match(/^\s+99%\s+(\S+)$/m)?.[1] ?? ""),
    histogram,
    errors,
  };
}

/**
 * Starts `wrangler dev` on a configuration; resolves once it answers, with
 * the time from the start to that first answer.
 */
async function serve(config, persistTo) {
  const port = await freePort();
  const began = performance.now();
  const { worker, apiUrl } = await startWorker({ config, persistTo, port });
  return { url: apiUrl, child: worker, startMs: performance.now() - began };
}

/**
 * `fetch`, retried when a pooled connection turns out closed (workerd closes
 * idle keep-alive connections while wrk runs).
 */
async function request(url, init = {}) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fetch(url, init);
    } catch (error) {
      if (attempt === 3) throw error;
    }
  }
}

/** The id of a binding in the Tidings configuration. */
function bindingId(toml, binding, key) {
  const table = toml.split(/\n(?=\[\[)/).find((part) => part.includes(`binding = "${binding}"`));
  return table?.match(new RegExp(`^${key} = "([^"]+)"`, "m"))?.[1];
}

function seed(stack) {
  step(`seeding ${MESSAGES.toLocaleString("en")} messages into development (feeds of 1k, 10k and 100k messages)`);
  const others = 890;
  const sql = `
INSERT INTO subscribers (id, created_at) VALUES ('bench-1k', 0), ('bench-10k', 0), ('bench-100k', 0);
INSERT INTO subscribers (id, created_at)
  WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < ${others - 1}) SELECT 'bench-other-' || n, 0 FROM s;
INSERT INTO messages (id, subscriber_id, workflow, transaction_id, subject, body, payload, created_at, version)
  WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${MESSAGES})
  SELECT printf('%026d', n),
    CASE WHEN n <= 1000 THEN 'bench-1k' WHEN n <= 11000 THEN 'bench-10k' WHEN n <= 111000 THEN 'bench-100k'
      ELSE 'bench-other-' || (n % ${others}) END,
    'bench', 'tx' || n, 'Order ' || n || ' shipped', 'Your order is on its way.', '{"order":' || n || '}',
    1790000000000 + n, 0
  FROM s;`;
  const file = join(stack.persistTo, "..", "seed.sql");
  writeFileSync(file, sql);
  run("wrangler", ["d1", "execute", "DB_DEVELOPMENT", "--local", "--config", stack.config, "--persist-to", stack.persistTo, "--file", file], {
    stdio: ["ignore", "ignore", "inherit"],
  });
}

/** The feed shard (0 to `shards` − 1) holding a subscriber's feed: as tidings_core::shard::shard_of. */
function shardOf(subscriber, shards) {
  const digest = createHash("sha256").update(subscriber).digest();
  return ((digest[0] << 8) | digest[1]) % 256 % shards;
}

/**
 * The same 10,000-message feed as development's `bench-10k`, in staging, which has four feed
 * shards: written into the shard that holds it. Answers that shard's binding.
 */
function seedShard(stack) {
  const binding = `FEED${shardOf("bench-10k", 4)}_STAGING`;
  step(`seeding bench-10k's 10,000 messages into staging's shard ${binding}`);
  const sql = `
INSERT INTO subscribers (id, created_at) VALUES ('bench-10k', 0);
INSERT INTO messages (id, subscriber_id, workflow, transaction_id, subject, body, payload, created_at, version)
  WITH RECURSIVE s(n) AS (SELECT 1001 UNION ALL SELECT n + 1 FROM s WHERE n < 11000)
  SELECT printf('%026d', n), 'bench-10k', 'bench', 'tx' || n, 'Order ' || n || ' shipped', 'Your order is on its way.',
    '{"order":' || n || '}', 1790000000000 + n, 0
  FROM s;`;
  const file = join(stack.persistTo, "..", "seed-shard.sql");
  writeFileSync(file, sql);
  run("wrangler", ["d1", "execute", binding, "--local", "--config", stack.config, "--persist-to", stack.persistTo, "--file", file], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  return binding;
}

async function main() {
  const { seconds, rounds, members: topicMembers } = numberOptions({ seconds: 5, rounds: 3, members: 100_000 });
  // wrangler dev records every request, and each binding call in it, in a local trace store for
  // its local explorer (X_LOCAL_OBSERVABILITY, on by default): wrangler's tooling, not the
  // runtime, and written to SQLite per request. Every contender is served without it.
  process.env.X_LOCAL_OBSERVABILITY = "false";
  await setup();
  installWrk();
  build();
  const stateDir = join(root, ".tidings", `bench-${process.pid}`);
  // Staging keeps its feed in four shards: the feed targets are checked there too.
  // As deployed by default: databases without read replication, so no D1 sessions (a fifth
  // contender below reads through them, as a deployment whose databases replicate does).
  const stack = await startIsolatedStack(stateDir, { editConfig: raiseRateLimits, faults: false, readReplication: false, shards: { staging: 4 } });
  const contenders = [];
  try {
    seed(stack);
    const shardBinding = seedShard(stack);
    const toml = readFileSync(stack.config, "utf8");
    const database = bindingId(toml, "DB_DEVELOPMENT", "database_id");
    const shardDatabase = bindingId(toml, shardBinding, "database_id");
    const namespace = bindingId(toml, "KV_DEVELOPMENT", "id");
    const date = toml.match(/^compatibility_date = "(.+)"$/m)[1];
    const configs = {
      empty: `name = "bench-empty"\nmain = "${join(root, "benches/empty/index.js")}"\ncompatibility_date = "${date}"\n`,
      typescript: `name = "bench-typescript"\nmain = "${join(root, "benches/typescript/index.ts")}"\ncompatibility_date = "${date}"\n\n` +
        `[[d1_databases]]\nbinding = "DB"\ndatabase_name = "tidings-development"\ndatabase_id = "${database}"\n\n` +
        `[[kv_namespaces]]\nbinding = "KV"\nid = "${namespace}"\n`,
      floor: `name = "bench-d1-floor"\nmain = "${join(root, "benches/d1-floor/index.js")}"\ncompatibility_date = "${date}"\n\n` +
        `[[d1_databases]]\nbinding = "DB"\ndatabase_name = "tidings-development"\ndatabase_id = "${database}"\n`,
      // The floor on the shard that holds staging's bench-10k.
      shardFloor: `name = "bench-d1-floor-shard"\nmain = "${join(root, "benches/d1-floor/index.js")}"\ncompatibility_date = "${date}"\n\n` +
        `[[d1_databases]]\nbinding = "DB"\ndatabase_name = "tidings-staging_feed"\ndatabase_id = "${shardDatabase}"\n`,
    };
    const development = stack.keys.environments.development;
    const keyHash = createHash("sha256").update(development.publishable_key).digest("hex");
    const typescriptConfig = join(stateDir, "typescript.toml");
    writeFileSync(typescriptConfig, configs.typescript);
    run("wrangler", ["kv", "key", "put", `bench-key:${keyHash}`, "development", "--binding", "KV", "--local", "--config", typescriptConfig, "--persist-to", stack.persistTo], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    const emptyConfig = join(stateDir, "empty.toml");
    writeFileSync(emptyConfig, configs.empty);
    const floorConfig = join(stateDir, "d1-floor.toml");
    writeFileSync(floorConfig, configs.floor);
    step("starting the empty, the TypeScript and the D1 floor workers beside Tidings");
    const served = async (config) => {
      const worker = await serve(config, stack.persistTo);
      contenders.push(worker.child);
      return worker;
    };
    const empty = await served(emptyConfig);
    const typescript = await served(typescriptConfig);
    const floor = await served(floorConfig);
    const shardFloorConfig = join(stateDir, "d1-floor-shard.toml");
    writeFileSync(shardFloorConfig, configs.shardFloor);
    const shardFloor = await served(shardFloorConfig);
    // Every contender in a process of its own: under load, local D1 grows a process's memory (a
    // floor's from 126 to about 700 MB in 40 s at concurrency 1) and its slowest requests with it,
    // so a process that served two contenders' rounds would answer the second one's more slowly.
    const tidings = await served(stack.config);
    const sharded = await served(stack.config);
    // Tidings without the feed's rate-limit bindings (it then draws no budget), beside its
    // .dev.vars: locally each draw is a round trip to a Durable Object, on Cloudflare a local counter.
    const unlimitedConfig = join(dirname(stack.config), "unlimited.toml");
    writeFileSync(unlimitedConfig, toml.replace(/\[\[ratelimits\]\]\nname = "RATE_LIMIT_FEED(_UNITS)?"\n[^\n]*\n[^\n]*\n/g, ""));
    if (readFileSync(unlimitedConfig, "utf8").includes('name = "RATE_LIMIT_FEED')) throw new Error("could not unbind the feed's rate-limit bindings");
    const unlimited = await served(unlimitedConfig);
    // Tidings as a deployment whose databases replicate (TIDINGS_D1_READ_REPLICATION=auto): every
    // feed statement through a D1 session, whose bookmark the answer carries. Locally there is no
    // replica, so this shows what a session costs and nothing of what a replica saves.
    const replicatedConfig = join(dirname(stack.config), "replicated", "wrangler.toml");
    mkdirSync(dirname(replicatedConfig), { recursive: true });
    writeFileSync(replicatedConfig, toml);
    const devVars = readFileSync(join(dirname(stack.config), ".dev.vars"), "utf8").trimEnd();
    writeFileSync(join(dirname(replicatedConfig), ".dev.vars"), `${devVars}\nTIDINGS_D1_READ_REPLICATION=auto\n`, { mode: 0o600 });
    const replicated = await served(replicatedConfig);

    const hash = (subscriber) => createHmac("sha256", development.subscriber_signing_secret).update(subscriber).digest("hex");
    const feed = (base, subscriber) => `${base}/v1/subscribers/${subscriber}/feed?limit=20`;
    const auth = { Authorization: `Bearer ${development.publishable_key}` };
    const targets = {
      empty: { url: feed(empty.url, "bench-10k"), headers: auth },
      typescript: { url: feed(typescript.url, "bench-10k"), headers: auth },
      floor: { url: feed(floor.url, "bench-10k"), headers: {} },
      tidings: { url: feed(tidings.url, "bench-10k"), headers: { ...auth, "X-Subscriber-Hash": hash("bench-10k") } },
      unlimited: { url: feed(unlimited.url, "bench-10k"), headers: { ...auth, "X-Subscriber-Hash": hash("bench-10k") } },
      replicated: { url: feed(replicated.url, "bench-10k"), headers: { ...auth, "X-Subscriber-Hash": hash("bench-10k") } },
      sharded: {
        url: feed(sharded.url, "bench-10k"),
        headers: {
          Authorization: `Bearer ${stack.keys.environments.staging.publishable_key}`,
          "X-Subscriber-Hash": createHmac("sha256", stack.keys.environments.staging.subscriber_signing_secret).update("bench-10k").digest("hex"),
        },
      },
      shardFloor: { url: feed(shardFloor.url, "bench-10k"), headers: {} },
    };
    // Every contender that reads the feed must answer the same items as Tidings, or the
    // comparison is not of the same work (the floor repeats Tidings' statement by hand).
    const pages = {};
    for (const [name, target] of Object.entries(targets)) {
      const check = await request(target.url, { headers: target.headers });
      if (!check.ok) throw new Error(`${name} answered ${check.status}: ${await check.text()}`);
      if (name !== "empty") pages[name] = JSON.stringify((await check.json()).items);
      // Only the contender reading through D1 sessions answers a bookmark: the two modes differ.
      const bookmarked = check.headers.get("tidings-bookmark") !== null;
      if (["tidings", "unlimited", "replicated", "sharded"].includes(name) && bookmarked !== (name === "replicated")) {
        throw new Error(`${name} ${bookmarked ? "answered" : "did not answer"} a bookmark: its read replication setting is not what the bench meant`);
      }
    }
    for (const [name, items] of Object.entries(pages)) {
      if (items !== pages.tidings) throw new Error(`${name} answered other feed items than Tidings:\n${items.slice(0, 400)}\n${pages.tidings.slice(0, 400)}`);
    }

    const results = {};
    for (const connections of [1, 32]) {
      step(`feed page of 20 for a subscriber with 10,000 messages, concurrency ${connections}: ${rounds} rounds of ${seconds} s each, alternating, each round starting at the next contender`);
      for (const name of Object.keys(targets)) wrk(targets[name].url, targets[name].headers, connections, 1);
      for (let round = 0; round < rounds; round += 1) {
        for (const [name, target] of inRoundOrder(targets, round)) {
          (results[`${name}@${connections}`] ??= []).push(wrk(target.url, target.headers, connections, seconds));
        }
      }
    }
    const summary = (name, connections) => {
      const runs = results[`${name}@${connections}`];
      // Latencies over every request of every round: a round's p99 rests on its slowest 1 %
      // (about 17 requests at concurrency 1), so one stall of the machine moves it.
      const histograms = runs.map((r) => r.histogram);
      return {
        rps: median(runs.map((r) => r.rps)),
        p50: percentile(histograms, 0.5),
        p99: percentile(histograms, 0.99),
        roundP99s: runs.map((r) => r.p99),
        errors: runs.reduce((sum, r) => sum + r.errors, 0),
      };
    };

    step("where a Tidings feed request's time goes, at concurrency 1: each step on top of the previous one");
    const steps = {
      "empty worker": { url: `${empty.url}/`, headers: {} },
      "Tidings: /health (routing, no storage)": { url: `${stack.apiUrl}/health`, headers: {} },
      "Tidings: + key check (GET /v1/environments/current)": { url: `${stack.apiUrl}/v1/environments/current`, headers: auth },
      "Tidings: + credential, rate limit, feed queries": targets.tidings,
    };
    const breakdown = {};
    for (let round = 0; round < rounds; round += 1) {
      for (const [name, target] of inRoundOrder(steps, round)) (breakdown[name] ??= []).push(wrk(target.url, target.headers, 1, seconds));
    }

    step("scaling: Tidings feed page at concurrency 1 for feeds of 1k, 10k and 100k messages, alternating, each round starting at the next feed");
    const feeds = Object.fromEntries(
      Object.keys(FEEDS).map((subscriber) => [subscriber, { url: feed(stack.apiUrl, subscriber), headers: { ...auth, "X-Subscriber-Hash": hash(subscriber) } }]),
    );
    for (const { url, headers } of Object.values(feeds)) wrk(url, headers, 1, 1);
    const feedRuns = {};
    for (let round = 0; round < rounds; round += 1) {
      for (const [subscriber, { url, headers }] of inRoundOrder(feeds, round)) (feedRuns[subscriber] ??= []).push(wrk(url, headers, 1, seconds));
    }
    const scaling = {};
    for (const [subscriber, runs] of Object.entries(feedRuns)) {
      const rowsRead = Number((await request(feed(typescript.url, subscriber), { headers: auth })).headers.get("x-rows-read"));
      scaling[subscriber] = { rps: median(runs.map((r) => r.rps)), p50: percentile(runs.map((r) => r.histogram), 0.5), rowsRead };
    }

    step("trigger fan-out: one trigger to 1,000 recipients, then 10 at once");
    const secret = { Authorization: `Bearer ${development.secret_key}`, "Content-Type": "application/json" };
    const fanOut = async (tag) => {
      const to = Array.from({ length: 1000 }, (_, index) => `fan-${tag}-${index}`);
      const started = performance.now();
      const headers = { ...secret, "Idempotency-Key": `fan-${tag}` };
      const response = await request(`${stack.apiUrl}/v1/events/trigger`, { method: "POST", headers, body: JSON.stringify({ workflow: "welcome", to, payload: { name: "Bench" } }) });
      if (response.status !== 202) throw new Error(`fan-out answered ${response.status}: ${await response.text()}`);
      return performance.now() - started;
    };
    await fanOut("warm");
    const singles = [];
    for (let n = 0; n < 3; n += 1) singles.push(await fanOut(`one-${n}`));
    const single = median(singles);
    const startedTen = performance.now();
    await Promise.all(Array.from({ length: 10 }, (_, n) => fanOut(`ten-${n}`)));
    const ten = performance.now() - startedTen;

    step("key validation: a new key's first request (cold caches), its next ones (in isolate memory), and after the memory entry lapsed (from KV), malformed keys");
    // Three layers (crates/tidings-worker/src/store/key_cache.rs): the isolate's memory for
    // 10 s, the environment's KV namespace for 60 s, then the control database's registry.
    const MEMORY_TTL_MS = 10_000;
    const cold = [];
    const warm = [];
    const fromKv = [];
    const timedKeys = [];
    for (let n = 0; n < 5; n += 1) {
      const issued = await (await request(`${stack.apiUrl}/v1/environments/development/keys`, { method: "POST", headers: { Authorization: `Bearer ${stack.keys.admin.token}`, "Content-Type": "application/json" }, body: JSON.stringify({ kind: "publishable" }) })).json();
      const timed = async () => {
        const started = performance.now();
        const response = await request(`${stack.apiUrl}/v1/environments/current`, { headers: { Authorization: `Bearer ${issued.key}` } });
        await response.text();
        if (!response.ok) throw new Error(`a new key answered ${response.status}`);
        return performance.now() - started;
      };
      cold.push(await timed());
      for (let again = 0; again < 5; again += 1) warm.push(await timed());
      timedKeys.push(timed);
    }
    // Every key's memory entry was made at its first request; past the memory TTL (and well
    // within KV's), the next request of each reads its validation from KV.
    await new Promise((resolve) => setTimeout(resolve, MEMORY_TTL_MS + 1_000));
    for (const timed of timedKeys) fromKv.push(await timed());
    const malformed = wrk(`${stack.apiUrl}/v1/environments/current`, { Authorization: "Bearer pk_development_not-a-key" }, 1, seconds);
    const emptyRoot = wrk(`${empty.url}/`, {}, 1, seconds);

    const table = (rows) => rows.map((row) => row.map((cell, index) => (index ? String(cell).padStart(14) : String(cell).padEnd(54))).join("")).join("\n");
    const ratio = (a, b) => `${(a / b).toFixed(2)}×`;
    const lines = [];
    for (const connections of [1, 32]) {
      const [e, t, f, s, u, r] = ["empty", "typescript", "floor", "tidings", "unlimited", "replicated"].map((name) => summary(name, connections));
      lines.push(`\nFeed page (20 items), subscriber with 10,000 messages, environment with ${MESSAGES.toLocaleString("en")}; concurrency ${connections}; requests/s: medians of ${rounds} × ${seconds} s; latencies: over all of a contender's requests in those rounds`);
      lines.push(table([
        ["", "requests/s", "p50 ms", "p99 ms", "errors"],
        ["empty worker (ceiling)", e.rps.toFixed(0), e.p50.toFixed(2), e.p99.toFixed(2), e.errors],
        ["one D1 statement, nothing else (floor)", f.rps.toFixed(0), f.p50.toFixed(2), f.p99.toFixed(2), f.errors],
        ["  / empty", ratio(f.rps, e.rps), ratio(f.p50, e.p50), ratio(f.p99, e.p99), ""],
        ["hand-written TypeScript", t.rps.toFixed(0), t.p50.toFixed(2), t.p99.toFixed(2), t.errors],
        ["Tidings", s.rps.toFixed(0), s.p50.toFixed(2), s.p99.toFixed(2), s.errors],
        ["Tidings / empty", ratio(s.rps, e.rps), ratio(s.p50, e.p50), ratio(s.p99, e.p99), ""],
        ["Tidings / TypeScript", ratio(s.rps, t.rps), ratio(s.p50, t.p50), ratio(s.p99, t.p99), ""],
        ["Tidings / D1 floor", ratio(s.rps, f.rps), ratio(s.p50, f.p50), ratio(s.p99, f.p99), ""],
        ["Tidings, feed rate limiter unbound", u.rps.toFixed(0), u.p50.toFixed(2), u.p99.toFixed(2), u.errors],
        ["  / empty", ratio(u.rps, e.rps), ratio(u.p50, e.p50), ratio(u.p99, e.p99), ""],
        ["  / TypeScript", ratio(u.rps, t.rps), ratio(u.p50, t.p50), ratio(u.p99, t.p99), ""],
        ["  / D1 floor", ratio(u.rps, f.rps), ratio(u.p50, f.p50), ratio(u.p99, f.p99), ""],
        ["Tidings, read replication on (D1 sessions)", r.rps.toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2), r.errors],
        ["  / D1 floor", ratio(r.rps, f.rps), ratio(r.p50, f.p50), ratio(r.p99, f.p99), ""],
        ["  / Tidings", ratio(r.rps, s.rps), ratio(r.p50, s.p50), ratio(r.p99, s.p99), ""],
      ]));
    }
    // The feed targets against the one-statement D1 floor (issue 29): met or not, with the figure.
    {
      const [f1, s1] = ["floor", "tidings"].map((name) => summary(name, 1));
      const [f32, t32, s32, u32] = ["floor", "typescript", "tidings", "unlimited"].map((name) => summary(name, 32));
      const check = (label, value, goal, atMost = false) =>
        `  ${label.padEnd(60)}${value.toFixed(2).padStart(6)}×  (${atMost ? "≤" : "≥"} ${goal}×: ${(atMost ? value <= goal : value >= goal) ? "met" : "not met"})`;
      lines.push("\nFeed targets against the D1 floor (this run)");
      lines.push(check("concurrency 32, requests/s / floor, rate limiter bound", s32.rps / f32.rps, 0.8));
      lines.push(check("concurrency 32, requests/s / floor, rate limiter unbound", u32.rps / f32.rps, 0.95));
      lines.push(check("concurrency 32, requests/s / hand-written TypeScript", s32.rps / t32.rps, 1.15));
      lines.push(check("concurrency 1, p50 / floor's p50", s1.p50 / f1.p50, 1.25, true));
      const rounds99 = (figures) => figures.roundP99s.map((p99) => p99.toFixed(1)).join(", ");
      lines.push(`${check("concurrency 1, p99 / floor's p99", s1.p99 / f1.p99, 1.5, true)}  rounds' own p99s: ${rounds99(s1)} against ${rounds99(f1)} ms`);
      // The same targets for an environment with four feed shards, against the floor on its shard.
      const [g1, h1] = ["shardFloor", "sharded"].map((name) => summary(name, 1));
      const [g32, h32] = ["shardFloor", "sharded"].map((name) => summary(name, 32));
      lines.push(`\nFeed targets for 4 feed shards (staging; the floor reads the shard holding the feed): Tidings ${h32.rps.toFixed(0)} requests/s at 32, p50 ${h1.p50.toFixed(2)} ms at 1; floor ${g32.rps.toFixed(0)}, ${g1.p50.toFixed(2)} ms`);
      lines.push(check("concurrency 32, requests/s / shard's floor, rate limiter bound", h32.rps / g32.rps, 0.8));
      lines.push(check("concurrency 32, requests/s / hand-written TypeScript", h32.rps / t32.rps, 1.15));
      lines.push(check("concurrency 1, p50 / shard floor's p50", h1.p50 / g1.p50, 1.25, true));
      lines.push(`${check("concurrency 1, p99 / shard floor's p99", h1.p99 / g1.p99, 1.5, true)}  rounds' own p99s: ${rounds99(h1)} against ${rounds99(g1)} ms`);
      lines.push(check("concurrency 32, 4 shards / 1 shard requests/s (sharding must not tax a read)", h32.rps / s32.rps, 0.95));
    }
    lines.push(`\nWhere the time of a Tidings feed request goes (concurrency 1; medians of ${rounds} × ${seconds} s)`);
    lines.push(table([["", "requests/s", "p50 ms", "", ""], ...Object.entries(breakdown).map(([name, runs]) => [name, median(runs.map((r) => r.rps)).toFixed(0), percentile(runs.map((r) => r.histogram), 0.5).toFixed(2), "", ""])]));
    lines.push(`\nScaling (Tidings, concurrency 1); rows read by the same page + counts queries (TypeScript contender's X-Rows-Read)`);
    lines.push(table([["", "requests/s", "p50 ms", "rows read", ""], ...Object.entries(scaling).map(([name, r]) => [name, r.rps.toFixed(0), r.p50.toFixed(2), r.rowsRead, ""])]));
    const flat = scaling["bench-100k"].rps / scaling["bench-1k"].rps;
    lines.push(`  100k vs 1k throughput: ${(flat * 100).toFixed(0)} %`);
    lines.push(`\nTrigger fan-out: 1,000 recipients in ${single.toFixed(0)} ms (${(1000 / (single / 1000)).toFixed(0)} messages/s); 10 such triggers at once in ${ten.toFixed(0)} ms (${(10000 / (ten / 1000)).toFixed(0)} messages/s)`);
    lines.push(`Key validation: first request of a new key ${median(cold).toFixed(2)} ms (registry read, cache filled), next ones ${median(warm).toFixed(2)} ms (in isolate memory), after the memory entry lapsed ${median(fromKv).toFixed(2)} ms (one KV read); malformed key rejected at p50 ${malformed.p50.toFixed(2)} ms, ${malformed.rps.toFixed(0)} requests/s (empty worker: ${emptyRoot.p50.toFixed(2)} ms, ${emptyRoot.rps.toFixed(0)}/s)`);
    lines.push(startUp(empty, await serve(stack.config, stack.persistTo), contenders));
    console.log(lines.join("\n"));
    step("sizes");
    checkSdkSize();
    checkWorkerBundle();
  } finally {
    for (const child of contenders) await stop(child);
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
  // On a stack of its own, which counts every request's D1 work (not the one measured above).
  console.log((await measureWork({ members: topicMembers })).join("\n"));
}

/**
 * Start-up: from `wrangler dev` starting to the first answer, for the empty
 * worker and a second Tidings worker started the same way (workerd compiles
 * and instantiates a worker's code before it answers); and how long V8
 * takes to compile the worker's WebAssembly, the part of that which is ours.
 */
function startUp(empty, tidings, contenders) {
  contenders.push(tidings.child);
  const path = join(root, "crates/tidings-worker/build/index_bg.wasm");
  const kib = (readFileSync(path).length / 1024).toFixed(0);
  return `Start-up in workerd (wrangler dev started → first answer): empty worker ${(empty.startMs / 1000).toFixed(2)} s, Tidings ${(tidings.startMs / 1000).toFixed(2)} s; the worker's ${kib} KiB of WebAssembly compiles in V8 in ${wasmCompileMs(path).toFixed(1)} ms (median of 5)`;
}

/**
 * How long V8 takes to compile a WebAssembly file (median of 5 runs), in the
 * project's Node (node_modules/.bin): the worker's wasm uses types of the
 * GC proposal, which the older Node that may run this script on a fresh
 * checkout (before `npm install`) rejects.
 */
function wasmCompileMs(path) {
  const script = `const wasm = require("node:fs").readFileSync(${JSON.stringify(path)});
const times = [];
for (let run = 0; run < 5; run += 1) {
  const began = performance.now();
  new WebAssembly.Module(wasm);
  times.push(performance.now() - began);
}
console.log(times.sort((a, b) => a - b)[2]);`;
  const output = capture("node", ["-e", script]);
  if (output === null) throw new Error(`the project's Node could not compile ${path}`);
  return Number(output);
}

main().catch((error) => {
  console.error(`\n✖ ${error.message}${error.cause ? ` (${error.cause.message ?? error.cause})` : ""}`);
  process.exit(1);
});
