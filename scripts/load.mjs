// `npm run load [-- --triggers N --clients C --readers R]`: a bounded load
// test on 127.0.0.1. It starts its own stack (worker in workerd, local D1/KV,
// its Queue and Cron Trigger, fresh state), sends N triggers of a workflow
// with an in-app and a webhook step from C concurrent clients while R
// readers keep reading feeds, then checks that every acknowledged
// notification is in the right feed exactly once, that counts match the
// items, that the environment next door holds none of it, and that every
// webhook delivery reached the receiver (which answers 503 to one first
// attempt in twenty) exactly once by delivery id, or is dead with a reason.
// Then one trigger to a topic of `--topic` members (100,000 by default) fans
// out through the FANOUTS queue, and every member's feed is read to check
// that it holds that notification exactly once. `--shards N` keeps the
// development environment's feeds in N shards (1 by default), so the same
// checks run against a sharded environment.
// Prints throughput, error rates, latency percentiles, delivery and fan-out figures.
//
// Rate limits are raised for this run (a trigger budget of 1,000 per 10 s
// per key would cap it at 100 triggers/s); tests/rate-limits.test.mjs tests
// the limits themselves.
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "./build.mjs";
import { numberOptions, root, step } from "./lib.mjs";
import { setup } from "./setup.mjs";
import { messagesStoredIn, raiseRateLimits, startIsolatedStack } from "./stack.mjs";
import { shardBindings } from "./wrangler-config.mjs";

const feedShards = (count) => (count === 1 ? "feeds in one database" : `feeds in ${count} shards`);
const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

async function call(apiUrl, key, path, { method = "GET", body, headers = {} } = {}) {
  const started = performance.now();
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, ms: performance.now() - started, headers: response.headers };
}

async function main() {
  const { triggers, clients, readers, subscribers, topic, shards } = numberOptions({ triggers: 20_000, clients: 64, readers: 4, subscribers: 500, topic: 100_000, shards: 1 });
  await setup();
  build();
  const stateDir = join(root, ".tidings", `load-${process.pid}`);
  const stack = await startIsolatedStack(stateDir, { editConfig: raiseRateLimits, readReplication: false, shards: shards > 1 ? { development: shards } : {} });
  try {
    await run(stack, { triggers, clients, readers, subscribers, shards });
    await fanOut(stack, { members: topic, clients, shards });
  } finally {
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function run(stack, { triggers, clients, readers, subscribers, shards }) {
  const tag = randomBytes(3).toString("hex");
  const workflow = `load-${tag}`;
  const recipients = Array.from({ length: subscribers }, (_, index) => `load-${tag}-${index}`);
  const receiver = await startReceiver();
  try {
    await runWith(stack, receiver, { triggers, clients, readers, subscribers, shards, tag, workflow, recipients });
  } finally {
    receiver.server.close();
  }
}

/**
 * A webhook receiver on 127.0.0.1: counts each delivery id's arrivals and
 * the ones it accepted; answers 503 to one first attempt in twenty.
 */
async function startReceiver() {
  const arrivals = new Map();
  const accepted = new Map();
  const server = createServer((request, response) => {
    request.resume().on("end", () => {
      const id = request.headers["tidings-delivery-id"];
      arrivals.set(id, (arrivals.get(id) ?? 0) + 1);
      const refuse = request.headers["tidings-delivery-attempt"] === "1" && Math.random() < 0.05;
      if (!refuse) accepted.set(id, (accepted.get(id) ?? 0) + 1);
      response.writeHead(refuse ? 503 : 200).end();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, arrivals, accepted, url: `http://127.0.0.1:${server.address().port}/hook` };
}

async function runWith(stack, receiver, { triggers, clients, readers, subscribers, shards, tag, workflow, recipients }) {
  const { apiUrl } = stack;
  const development = stack.keys.environments.development;
  const staging = stack.keys.environments.staging;
  const integration = await call(apiUrl, development.secret_key, "/v1/integrations", {
    method: "POST",
    body: { id: `load-${tag}`, kind: "webhook", name: "Load", url: receiver.url, signing_secret: `whsec_load_${tag}_0123456789` },
  });
  if (integration.status !== 201) throw new Error(`could not save the integration: ${JSON.stringify(integration.body)}`);
  const saved = await call(apiUrl, development.secret_key, `/v1/workflows/${workflow}`, {
    method: "PUT",
    body: {
      name: "Load",
      steps: [
        { type: "in_app", subject: "Order {{ payload.order }}", body: "for {{ subscriber.id }}" },
        { type: "webhook", integration: `load-${tag}`, body: "{\"order\": {{ payload.order }}}" },
      ],
    },
  });
  if (saved.status !== 201) throw new Error(`could not save the workflow: ${JSON.stringify(saved.body)}`);

  step(`${triggers} triggers from ${clients} clients, ${readers} feed readers, ${subscribers} subscribers`);
  const acknowledged = new Map();
  const deliveries = [];
  const statuses = new Map();
  const triggerMs = [];
  const readMs = [];
  let next = 0;
  let running = true;
  const count = (status) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
  async function client() {
    while (next < triggers) {
      const order = next++;
      const body = { workflow, to: [recipients[order % subscribers]], payload: { order } };
      const idempotencyKey = `load-${tag}-${order}`;
      for (let attempt = 0; attempt < 20; attempt += 1) {
        const answer = await call(apiUrl, development.secret_key, "/v1/events/trigger", {
          method: "POST",
          body,
          headers: { "Idempotency-Key": idempotencyKey },
        }).catch((error) => ({ status: `network: ${error.cause?.code ?? error.message}`, ms: 0 }));
        count(answer.status);
        if (answer.status === 202) {
          triggerMs.push(answer.ms);
          acknowledged.set(order, answer.body.messages[0]);
          deliveries.push(answer.body.deliveries[0].id);
          break;
        }
        const wait = Number(answer.headers?.get("retry-after") ?? 0.05) * 1000;
        await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 1000)));
      }
    }
  }
  const readStatuses = new Map();
  async function reader() {
    while (running) {
      const subscriber = recipients[Math.floor(Math.random() * subscribers)];
      const answer = await call(apiUrl, development.publishable_key, `/v1/subscribers/${subscriber}/feed?limit=20`).catch(() => ({ status: "network", ms: 0 }));
      readStatuses.set(answer.status, (readStatuses.get(answer.status) ?? 0) + 1);
      if (answer.status === 200) readMs.push(answer.ms);
    }
  }
  const started = performance.now();
  const reading = Promise.all(Array.from({ length: readers }, reader));
  await Promise.all(Array.from({ length: clients }, client));
  const seconds = (performance.now() - started) / 1000;
  running = false;
  await reading;

  step("checking every feed");
  const expected = new Map(recipients.map((recipient) => [recipient, new Set()]));
  for (const message of acknowledged.values()) expected.get(message.subscriber_id)?.add(message.id);
  const problems = [];
  let stored = 0;
  for (const recipient of recipients) {
    const ids = [];
    let after = "";
    let total = null;
    do {
      const page = await call(apiUrl, development.secret_key, `/v1/subscribers/${recipient}/feed?limit=100${after ? `&after=${after}` : ""}`);
      if (page.status !== 200) throw new Error(`feed read failed: ${page.status} ${JSON.stringify(page.body)}`);
      ids.push(...page.body.items.map((item) => item.id));
      total ??= page.body.counts.total;
      after = page.body.page_info.has_more ? page.body.page_info.after : "";
    } while (after);
    stored += ids.length;
    const unique = new Set(ids);
    if (unique.size !== ids.length) problems.push(`${recipient}: ${ids.length - unique.size} duplicate messages`);
    const want = expected.get(recipient);
    const missing = [...want].filter((id) => !unique.has(id));
    const extra = [...unique].filter((id) => !want.has(id));
    if (missing.length) problems.push(`${recipient}: ${missing.length} acknowledged messages missing`);
    if (extra.length) problems.push(`${recipient}: ${extra.length} messages nobody acknowledged`);
    if (total !== ids.length) problems.push(`${recipient}: counts say ${total}, the feed holds ${ids.length}`);
  }
  for (const recipient of recipients.slice(0, 50)) {
    const foreign = await call(apiUrl, staging.secret_key, `/v1/subscribers/${recipient}/feed?limit=1`);
    if (foreign.status !== 200 || foreign.body.items.length) problems.push(`staging shows ${recipient}'s feed: ${foreign.status}`);
  }

  step("waiting for every webhook delivery to finish (refused first attempts retry after about 10 s)");
  const deliveryStarted = performance.now();
  for (;;) {
    const pending = await call(apiUrl, development.secret_key, "/v1/deliveries?status=pending&limit=1");
    if (pending.status === 200 && pending.body.items.length === 0) break;
    if (performance.now() - deliveryStarted > 180_000) {
      problems.push("webhook deliveries still pending after 180 s");
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  let retried = 0;
  let dead = 0;
  for (const id of deliveries) {
    const times = receiver.accepted.get(id) ?? 0;
    if ((receiver.arrivals.get(id) ?? 0) > 1) retried += 1;
    if (times === 1) continue;
    const state = await call(apiUrl, development.secret_key, `/v1/deliveries/${id}`);
    if (times === 0 && state.body?.status === "dead" && state.body.last_error) {
      dead += 1;
      continue;
    }
    problems.push(`delivery ${id}: accepted ${times} times, status ${state.body?.status}`);
  }
  const made = new Set(deliveries);
  const extra = [...receiver.accepted.keys()].filter((id) => !made.has(id));
  if (extra.length) problems.push(`${extra.length} deliveries arrived that no acknowledged trigger made`);

  triggerMs.sort((a, b) => a - b);
  readMs.sort((a, b) => a - b);
  const format = (map) => [...map].map(([status, times]) => `${status}: ${times}`).join(", ");
  console.log(`
Load test on 127.0.0.1 (wrangler dev, workerd, local D1/KV; ${feedShards(shards)}), ${new Date().toISOString().slice(0, 10)}
  triggers acknowledged   ${acknowledged.size} of ${triggers} in ${seconds.toFixed(1)} s = ${(acknowledged.size / seconds).toFixed(0)} triggers/s
  trigger answers         ${format(statuses)}
  trigger latency         p50 ${percentile(triggerMs, 50).toFixed(1)} ms, p99 ${percentile(triggerMs, 99).toFixed(1)} ms, max ${triggerMs.at(-1)?.toFixed(1)} ms
  feed reads              ${readMs.length} (${(readMs.length / seconds).toFixed(0)}/s); answers ${format(readStatuses)}
  feed read latency       p50 ${percentile(readMs, 50).toFixed(1)} ms, p99 ${percentile(readMs, 99).toFixed(1)} ms
  messages in feeds       ${stored}, expected ${acknowledged.size}
  webhook deliveries      ${deliveries.length}, ${retried} after a refused first attempt, ${dead} dead; all done ${((performance.now() - started) / 1000 - seconds).toFixed(1)} s after the last trigger
  verification            ${problems.length ? `${problems.length} problems` : "every acknowledged message is in its feed exactly once; counts match; staging untouched; every delivery accepted once"}`);
  if (problems.length) throw new Error(problems.slice(0, 20).join("\n"));
  if (acknowledged.size !== triggers) throw new Error(`${triggers - acknowledged.size} triggers were never acknowledged`);
}

/**
 * One trigger to a topic of `members` subscribers: the members are added
 * 1,000 per request, the fan-out is followed on its transaction, and every
 * member's feed is read afterwards (`clients` at a time) to check it holds
 * the notification exactly once and that its counts agree.
 */
async function fanOut(stack, { members, clients, shards }) {
  const { apiUrl } = stack;
  const { secret_key: key } = stack.keys.environments.development;
  const tag = randomBytes(3).toString("hex");
  const topic = `load-topic-${tag}`;
  const workflow = `load-topic-${tag}`;
  const saved = await call(apiUrl, key, `/v1/workflows/${workflow}`, {
    method: "PUT",
    body: { name: "Topic load", steps: [{ type: "in_app", subject: "News {{ payload.tag }}", body: "for everyone" }] },
  });
  if (saved.status !== 201) throw new Error(`could not save the workflow: ${JSON.stringify(saved.body)}`);
  const created = await call(apiUrl, key, `/v1/topics/${topic}`, { method: "PUT", body: { name: "Load" } });
  if (created.status !== 201) throw new Error(`could not create the topic: ${JSON.stringify(created.body)}`);
  step(`adding ${members} members to a topic`);
  const ids = Array.from({ length: members }, (_, index) => `topic-${tag}-${index}`);
  const chunks = [];
  for (let at = 0; at < ids.length; at += 1000) chunks.push(ids.slice(at, at + 1000));
  let nextChunk = 0;
  const addStarted = performance.now();
  await Promise.all(Array.from({ length: Math.min(8, clients) }, async () => {
    while (nextChunk < chunks.length) {
      const chunk = chunks[nextChunk++];
      const added = await call(apiUrl, key, `/v1/topics/${topic}/subscribers`, { method: "POST", body: { subscribers: chunk } });
      if (added.status !== 200) throw new Error(`adding members failed: ${added.status} ${JSON.stringify(added.body)}`);
    }
  }));
  const addSeconds = (performance.now() - addStarted) / 1000;

  step(`one trigger to the topic of ${members}`);
  const started = performance.now();
  const accepted = await call(apiUrl, key, "/v1/events/trigger", { method: "POST", body: { workflow, to: [{ topic }], payload: { tag } } });
  if (accepted.status !== 202) throw new Error(`the trigger was refused: ${accepted.status} ${JSON.stringify(accepted.body)}`);
  let state;
  for (;;) {
    state = (await call(apiUrl, key, `/v1/transactions/${accepted.body.transaction_id}`)).body;
    if (state.status !== "running") break;
    if (performance.now() - started > 1_800_000) throw new Error(`the fan-out is still running after 30 minutes: ${JSON.stringify(state)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const fanSeconds = (performance.now() - started) / 1000;

  step(`reading ${members} feeds`);
  const problems = [];
  if (state.status !== "completed") problems.push(`the fan-out ended ${state.status}: ${JSON.stringify(state.error)}`);
  if (state.recipients.done !== members || state.recipients.total !== members) problems.push(`the transaction says ${JSON.stringify(state.recipients)}`);
  let nextMember = 0;
  const readStarted = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (nextMember < ids.length) {
      const id = ids[nextMember++];
      const feed = await call(apiUrl, key, `/v1/subscribers/${id}/feed?limit=5`);
      const items = feed.body?.items?.filter((item) => item.subject === `News ${tag}`) ?? [];
      if (feed.status !== 200 || items.length !== 1 || feed.body.counts.total !== 1) {
        problems.push(`${id}: ${feed.status}, ${items.length} copies, counts ${feed.body?.counts?.total}`);
      }
    }
  }));
  // On a sharded environment, the members' messages are where their buckets put them: on every shard.
  const perShard = shards > 1 ? storedPerShard(stack, shards, `topic-${tag}-`) : [];
  if (perShard.length && (perShard.some((count) => count === 0) || perShard.reduce((a, b) => a + b, 0) !== members)) {
    problems.push(`the shards hold ${perShard.join(" + ")} of the members' messages, expected ${members} on every shard`);
  }
  console.log(`
Topic fan-out on 127.0.0.1 (one trigger, FANOUTS queue, local D1; ${feedShards(shards)}), ${new Date().toISOString().slice(0, 10)}
  members added           ${members} in ${addSeconds.toFixed(1)} s (${chunks.length} requests of up to 1,000)
  fan-out                 ${state.recipients.done} messages in ${fanSeconds.toFixed(1)} s = ${(state.recipients.done / fanSeconds).toFixed(0)} messages/s
  feeds read afterwards   ${members} in ${((performance.now() - readStarted) / 1000).toFixed(1)} s
  verification            ${problems.length ? `${problems.length} problems` : "every member's feed holds the notification exactly once; counts match"}`);
  if (perShard.length) console.log(`  messages per shard      ${perShard.join(", ")}`);
  if (problems.length) throw new Error(problems.slice(0, 20).join("\n"));
}

/** How many messages each of development's `shards` feed shards holds for subscribers whose ids start with `prefix`. */
const storedPerShard = (stack, shards, prefix) => shardBindings("development", shards).map((binding) => messagesStoredIn(stack, binding, prefix));

main().catch((error) => {
  console.error(`\n✖ ${error.message}`);
  process.exit(1);
});
