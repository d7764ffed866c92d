// `npm run bench:work [-- --members N]` (also part of `npm run bench`): what
// each operation costs an environment's D1 database, read from the worker's
// own count of D1's `meta` per request (`Tidings-D1-Work`, only on a stack
// started with TIDINGS_D1_ACCOUNTING; crates/tidings-worker/js/d1-accounting.mjs):
// round trips, statements, rows read and rows written, for feed reads and
// actions, triggers of 1 to 1,000 recipients, and a trigger to a topic; then
// the fan-out rate of one trigger to a topic of N members (100,000 by
// default). docs/capacity.md builds on these figures. Prints; asserts nothing.
import { randomBytes } from "node:crypto";
import { readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "./build.mjs";
import { numberOptions, root, step } from "./lib.mjs";
import { setup } from "./setup.mjs";
import { raiseRateLimits, startIsolatedStack } from "./stack.mjs";

/** `calls=…, statements=…, …` as numbers. */
const parseWork = (header) =>
  Object.fromEntries((header ?? "").split(",").filter(Boolean).map((pair) => pair.trim().split("=")).map(([name, value]) => [name, Number(value)]));

/** Measures D1 work per operation and the topic fan-out rate on a stack of its own; answers printable lines. */
export async function measureWork({ members = 100_000 } = {}) {
  const stateDir = join(root, ".tidings", `work-${process.pid}`);
  // Staging keeps its feed in four shards: the same work at one shard (development) and four, side by side.
  const stack = await startIsolatedStack(stateDir, { editConfig: raiseRateLimits, faults: false, accounting: true, readReplication: false, shards: { staging: 4 } });
  try {
    return [...(await compareShards(stack)), ...(await measure(stack, members))];
  } finally {
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function measure(stack, members) {
  const { secret_key: key } = stack.keys.environments.development;
  const tag = randomBytes(3).toString("hex");
  const call = async (path, { method = "GET", body, headers = {} } = {}) => {
    const started = performance.now();
    const response = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const ms = performance.now() - started;
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
    return { body: text ? JSON.parse(text) : null, work: parseWork(response.headers.get("tidings-d1-work")), ms };
  };
  const rows = [];
  const record = (operation, { work, ms }) => rows.push([operation, work.calls, work.statements, work.rows_read, work.rows_written, ms.toFixed(1)]);

  step("D1 work per operation");
  const workflow = `work-${tag}`;
  await call(`/v1/workflows/${workflow}`, { method: "PUT", body: { name: "Work", steps: [{ type: "in_app", subject: "Order {{ payload.n }}", body: "b" }] } });
  // What the database holds by the end, for its size per message.
  let stored = 0;
  const named = new Set();
  const trigger = async (to, headers) => {
    const answer = await call("/v1/events/trigger", { method: "POST", body: { workflow, to, payload: { n: 1 } }, headers });
    stored += answer.body.messages.length;
    return answer;
  };
  const ids = (label, count) => {
    const list = Array.from({ length: count }, (_, index) => `work-${tag}-${label}-${index}`);
    for (const id of list) named.add(id);
    return list;
  };
  await trigger(ids("warm", 1));
  record("trigger, 1 new recipient", await trigger(ids("one", 1)));
  record("trigger, 1 existing recipient", await trigger(ids("one", 1)));
  record("trigger, 1 existing recipient, Idempotency-Key", await trigger(ids("one", 1), { "Idempotency-Key": `work-${tag}` }));
  record("trigger, 100 new recipients", await trigger(ids("hundred", 100)));
  record("trigger, 100 existing recipients", await trigger(ids("hundred", 100)));
  record("trigger, 500 existing (a fan-out page's work)", await trigger([...ids("hundred", 100), ...ids("four", 400)]).then(() => trigger([...ids("hundred", 100), ...ids("four", 400)])));
  record("trigger, 1,000 new recipients", await trigger(ids("thousand", 1000)));
  record("trigger, 1,000 existing recipients", await trigger(ids("thousand", 1000)));

  // One subscriber with 1,000 messages: 10 bulk triggers of 100 events.
  const reader = `work-${tag}-reader`;
  for (let batch = 0; batch < 10; batch += 1) {
    const events = Array.from({ length: 100 }, (_, n) => ({ workflow, to: [reader], payload: { n: batch * 100 + n } }));
    await call("/v1/events/trigger/bulk", { method: "POST", body: { events } });
    stored += events.length;
  }
  named.add(reader);
  const feed = (rest = "") => call(`/v1/subscribers/${reader}/feed${rest}`);
  const first = await feed("?limit=20");
  record("feed page, 20 of 1,000 messages", first);
  record("feed page, next 20 (after cursor)", await feed(`?limit=20&after=${first.body.page_info.after}`));
  record("feed counts (whole feed)", await feed("/counts"));
  record("feed counts, filter read=false", await feed("/counts?read=false"));
  record("feed changes since the first page (none)", await feed(`/changes?since=${encodeURIComponent(first.body.watermark)}`));
  record("feed action: read 1 message", await call(`/v1/subscribers/${reader}/feed/actions`, { method: "POST", body: { action: "read", ids: [first.body.items[0].id] } }));
  record("feed action: read 1, Idempotency-Key", await call(`/v1/subscribers/${reader}/feed/actions`, { method: "POST", body: { action: "read", ids: [first.body.items[1].id] }, headers: { "Idempotency-Key": `work-${tag}-a` } }));
  record("feed changes after one action", await feed(`/changes?since=${encodeURIComponent(first.body.watermark)}`));
  record("feed action: read all (filter, 1,000 rows)", await call(`/v1/subscribers/${reader}/feed/actions`, { method: "POST", body: { action: "read", filter: {} } }));

  const topic = `work-${tag}`;
  await call(`/v1/topics/${topic}`, { method: "PUT", body: {} });
  step(`adding ${members} members to a topic`);
  const memberIds = ids("member", members);
  for (let at = 0; at < memberIds.length; at += 8000) {
    await Promise.all(Array.from({ length: 8 }, (_, n) => memberIds.slice(at + n * 1000, at + (n + 1) * 1000)).filter((chunk) => chunk.length)
      .map((chunk) => call(`/v1/topics/${topic}/subscribers`, { method: "POST", body: { subscribers: chunk } })));
  }
  record("add 1,000 members to a topic (new subscribers)", await call(`/v1/topics/${topic}/subscribers`, { method: "POST", body: { subscribers: ids("late", 1000) } }));
  step(`one trigger to the topic of ${members + 1000}`);
  const started = performance.now();
  const accepted = await call("/v1/events/trigger", { method: "POST", body: { workflow, to: [{ topic }], payload: { n: 2 } } });
  record(`trigger to a topic of ${(members + 1000).toLocaleString("en")} (accepting it)`, accepted);
  let state;
  do {
    await new Promise((resolve) => setTimeout(resolve, 250));
    state = (await call(`/v1/transactions/${accepted.body.transaction_id}`)).body;
  } while (state.status === "running");
  const seconds = (performance.now() - started) / 1000;
  // What the environment's database weighs with all of it: the largest local D1 file is development's.
  const messages = stored + state.recipients.done;
  const bytes = Math.max(...sqliteFiles(stack.persistTo).map((file) => statSync(file).size));

  const table = rows.map((row) => row.map((cell, index) => (index ? String(cell).padStart(11) : String(cell).padEnd(52))).join("")).join("\n");
  return [
    `\nD1 work per operation (the environment's database; ${"calls".padStart(11)} = round trips, a batch is one; one run, local D1)`,
    `${"".padEnd(52)}${["calls", "statements", "rows read", "rows wrote", "ms"].map((name) => name.padStart(11)).join("")}`,
    table,
    `\nTopic fan-out: one trigger to ${(members + 1000).toLocaleString("en")} members ${state.status} in ${seconds.toFixed(1)} s = ${(state.recipients.done / seconds).toFixed(0)} messages/s (pages of 500 through the FANOUTS queue)`,
    `Environment database on disk afterwards: ${(bytes / 1e6).toFixed(1)} MB for about ${messages.toLocaleString("en")} messages with their log entries and ${named.size.toLocaleString("en")} subscribers (${(bytes / messages).toFixed(0)} bytes per message, everything included)`,
  ];
}

/**
 * The same triggers and feed reads in development (one shard: its feed in its
 * own database) and staging (four feed shards): D1 work in all, the shards'
 * part of it, and trigger throughput, the two environments taking turns.
 */
async function compareShards(stack) {
  const tag = randomBytes(3).toString("hex");
  const environments = [["development", 1], ["staging", 4]];
  const call = async (environment, path, { method = "GET", body } = {}) => {
    const response = await fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${stack.keys.environments[environment].secret_key}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text.slice(0, 300)}`);
    return { body: text ? JSON.parse(text) : null, work: parseWork(response.headers.get("tidings-d1-work")) };
  };
  step("D1 work and trigger throughput at one and four feed shards");
  const workflow = `shards-${tag}`;
  const recipients = Array.from({ length: 500 }, (_, index) => `shards-${tag}-${index}`);
  const reader = `shards-${tag}-reader`;
  const rows = [];
  for (const [environment] of environments) {
    await call(environment, `/v1/workflows/${workflow}`, { method: "PUT", body: { name: "Shards", steps: [{ type: "in_app", subject: "Order {{ payload.n }}", body: "b" }] } });
    const trigger = (to) => call(environment, "/v1/events/trigger", { method: "POST", body: { workflow, to, payload: { n: 1 } } });
    await trigger(recipients);
    const page = await trigger(recipients);
    for (let n = 0; n < 100; n += 1) await trigger([reader]);
    const read = await call(environment, `/v1/subscribers/${reader}/feed?limit=20`);
    const one = await trigger([reader]);
    rows.push([environment, "trigger, 500 existing recipients", page.work], [environment, "trigger, 1 existing recipient", one.work], [environment, "feed page, 20 of 101", read.work]);
  }
  // 40 triggers of 500 existing recipients, 4 at a time; each environment twice, in turns.
  const throughput = Object.fromEntries(environments.map(([environment]) => [environment, 0]));
  for (let round = 0; round < 2; round += 1) {
    for (const [environment] of environments) {
      const started = performance.now();
      for (let at = 0; at < 40; at += 4) {
        await Promise.all(Array.from({ length: 4 }, () =>
          call(environment, "/v1/events/trigger", { method: "POST", body: { workflow, to: recipients, payload: { n: 2 } } })));
      }
      throughput[environment] = Math.max(throughput[environment], (40 * 500) / ((performance.now() - started) / 1000));
    }
  }
  const cells = (work) => [work.calls, work.statements, work.rows_read, work.rows_written, `${work.shard_calls}/${work.shard_rows_written}`];
  return [
    `\nD1 work at one and four feed shards (calls, statements and rows in all of the environment's databases; "on shards": the shards' calls/rows written)`,
    `${"".padEnd(52)}${["calls", "statements", "rows read", "rows wrote", "on shards"].map((name) => name.padStart(11)).join("")}`,
    ...rows.map(([environment, operation, work]) =>
      `${`${operation} (${environments.find(([name]) => name === environment)[1]} shard${environment === "development" ? "" : "s"})`.padEnd(52)}${cells(work).map((cell) => String(cell).padStart(11)).join("")}`),
    `Trigger throughput, 40 triggers of 500 existing recipients, 4 at a time (best of 2 turns): ` +
      environments.map(([environment, shards]) => `${shards} shard${shards === 1 ? "" : "s"} ${throughput[environment].toFixed(0)} messages/s`).join(", "),
  ];
}

/** Every SQLite file under a directory. */
function sqliteFiles(directory) {
  return readdirSync(directory, { recursive: true }).map((name) => join(directory, String(name))).filter((path) => path.endsWith(".sqlite"));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { members } = numberOptions({ members: 100_000 });
  await setup();
  build();
  try {
    console.log((await measureWork({ members })).join("\n"));
  } catch (error) {
    console.error(`\n✖ ${error.message}`);
    process.exit(1);
  }
}
