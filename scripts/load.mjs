// `npm run load [-- --triggers N --clients C --readers R]`: a bounded load
// test on 127.0.0.1. It starts its own stack (worker in workerd, local D1/KV,
// its Queue and Cron Trigger, fresh state), sends N triggers of a workflow
// with an in-app and a webhook step from C concurrent clients while R
// readers keep reading feeds, then checks that every acknowledged
// notification is in the right feed exactly once, that counts match the
// items, that the environment next door holds none of it, and that every
// webhook delivery reached the receiver (which answers 503 to one first
// attempt in twenty) exactly once by delivery id, or is dead with a reason.
// Prints throughput, error rates, latency percentiles and delivery figures.
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
import { raiseRateLimits, startIsolatedStack } from "./stack.mjs";

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
  const { triggers, clients, readers, subscribers } = numberOptions({ triggers: 20_000, clients: 64, readers: 4, subscribers: 500 });
  await setup();
  build();
  const stateDir = join(root, ".tidings", `load-${process.pid}`);
  const stack = await startIsolatedStack(stateDir, { editConfig: raiseRateLimits });
  try {
    await run(stack, { triggers, clients, readers, subscribers });
  } finally {
    await stack.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function run(stack, { triggers, clients, readers, subscribers }) {
  const tag = randomBytes(3).toString("hex");
  const workflow = `load-${tag}`;
  const recipients = Array.from({ length: subscribers }, (_, index) => `load-${tag}-${index}`);
  const receiver = await startReceiver();
  try {
    await runWith(stack, receiver, { triggers, clients, readers, subscribers, tag, workflow, recipients });
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

async function runWith(stack, receiver, { triggers, clients, readers, subscribers, tag, workflow, recipients }) {
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
Load test on 127.0.0.1 (wrangler dev, workerd, local D1/KV), ${new Date().toISOString().slice(0, 10)}
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

main().catch((error) => {
  console.error(`\n✖ ${error.message}`);
  process.exit(1);
});
