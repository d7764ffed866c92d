// The README's server quickstarts, run exactly as they stand (extracted
// from README.md, so they cannot rot): the Node.js one with the workspace's
// @tidings/sdk, the Python one with the installed wheel. Each triggers,
// mints a token the feed accepts, and answers a real webhook delivery
// (verified) and a forged one (refused).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { signWebhook } from "@tidings/sdk/server";
import { api, apiUrl, freshSubscriber, keys, waitFor } from "./support/context.mjs";
import { preparePython, python, root } from "../scripts/python-client.mjs";

const readme = readFileSync(join(root, "README.md"), "utf8");
const dir = join(root, ".tidings/quickstarts");
const webhookSecret = `whsec_${randomBytes(16).toString("hex")}`;
const env = {
  TIDINGS_API_URL: apiUrl,
  TIDINGS_SECRET_KEY: keys.development.secret_key,
  TIDINGS_SIGNING_SECRET: keys.development.subscriber_signing_secret,
  TIDINGS_ENVIRONMENT: "development",
  TIDINGS_WEBHOOK_SECRET: webhookSecret,
};

/** The fenced block right after `<!-- quickstart: name -->` in README.md. */
export function quickstart(name) {
  const match = new RegExp(`<!-- quickstart: ${name} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\\n\`\`\`\\n`).exec(readme);
  assert.ok(match, `README.md has the ${name} quickstart`);
  return match[1];
}

/** Sends a real delivery to `url` through a fresh integration; resolves with the delivery's final record. */
async function deliverTo(url) {
  const call = (path, options = {}) => api(path, { key: keys.development.secret_key, ...options });
  const integration = `quickstart-${randomBytes(3).toString("hex")}`;
  const workflow = `quickstart-hook-${randomBytes(3).toString("hex")}`;
  const created = await call("/v1/integrations", { method: "POST", body: { id: integration, kind: "webhook", name: "Quickstart", url, signing_secret: webhookSecret } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await call(`/v1/workflows/${workflow}`, { method: "PUT", body: { name: "Hook", steps: [{ type: "webhook", integration, body: "{\"user\": {{ subscriber.id | tojson }}}" }] } });
  const sent = await call("/v1/events/trigger", { method: "POST", body: { workflow, to: [freshSubscriber("quickstart")] } });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const id = sent.body.deliveries[0].id;
  let delivery;
  await waitFor(async () => {
    delivery = (await call(`/v1/deliveries/${id}`)).body;
    return delivery.status !== "pending";
  }, "the delivery to finish");
  await call(`/v1/workflows/${workflow}`, { method: "DELETE" });
  await call(`/v1/integrations/${integration}`, { method: "DELETE" });
  return delivery;
}

/** What a forged request (right shape, wrong secret) gets from `url`. */
async function forgedStatus(url) {
  const body = "{\"user\":\"mallory\"}";
  const signature = signWebhook({ body, secret: "whsec_not_the_real_one_00", timestamp: Math.floor(Date.now() / 1000) });
  return (await fetch(url, { method: "POST", headers: { "Tidings-Signature": signature }, body })).status;
}

/** The quickstart's token opens `subscriber`'s feed, which holds the quickstart's own message. */
async function expectTokenWorks(token, subscriber, name) {
  const feed = await api(`/v1/subscribers/${subscriber}/feed`, { key: keys.development.publishable_key, headers: { "X-Subscriber-Token": token } });
  assert.equal(feed.status, 200, JSON.stringify(feed.body));
  assert.ok(feed.body.items.some((item) => item.subject === `Welcome, ${name}!`), `the quickstart's message is in ${subscriber}'s feed`);
}

before(() => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("README quickstart: Node.js server", () => {
  let module;
  let output = "";

  before(async () => {
    const file = join(dir, "server.mjs");
    writeFileSync(file, quickstart("node"));
    Object.assign(process.env, env);
    const log = console.log;
    console.log = (...args) => (output += `${args.join(" ")}\n`);
    try {
      module = await import(pathToFileURL(file).href);
    } finally {
      console.log = log;
    }
  });

  it("triggers and mints a token the feed accepts", async () => {
    assert.match(output, /^triggered \S+$/m);
    await expectTokenWorks(module.subscriberToken, "user-1", "Ada");
  });

  it("answers a real delivery (verified) and refuses a forged one", async () => {
    const server = createServer(async (request, response) => {
      const chunks = [];
      for await (const chunk of request) chunks.push(chunk);
      const answer = await module.handleWebhook(new Request(`http://local${request.url}`, { method: request.method, headers: request.headers, body: Buffer.concat(chunks) }));
      response.writeHead(answer.status).end(await answer.text());
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${server.address().port}/hook`;
    try {
      const delivery = await deliverTo(url);
      assert.deepEqual([delivery.status, delivery.last_status], ["delivered", 200], JSON.stringify(delivery));
      assert.equal(await forgedStatus(url), 401);
    } finally {
      server.close();
    }
  });
});

describe("README quickstart: Python server", () => {
  let child;
  let url;
  let output = "";

  before(async () => {
    preparePython();
    writeFileSync(join(dir, "quickstart.py"), quickstart("python"));
    // The snippet runs as written; this wrapper then serves its handle_webhook.
    writeFileSync(join(dir, "serve.py"), `
import runpy, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
handle_webhook = runpy.run_path(sys.argv[1])["handle_webhook"]
class Handler(BaseHTTPRequestHandler):
    def log_message(self, *_): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(handle_webhook(body, self.headers))
        self.send_header("Content-Length", "0")
        self.end_headers()
server = HTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
`);
    child = spawn(python, [join(dir, "serve.py"), join(dir, "quickstart.py")], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    await waitFor(() => /listening (\d+)/.test(output) || child.exitCode !== null, "the Python quickstart to start");
    const port = /listening (\d+)/.exec(output)?.[1];
    assert.ok(port, output);
    url = `http://127.0.0.1:${port}/hook`;
  });
  after(() => child?.kill());

  it("triggers and mints a token the feed accepts", async () => {
    assert.match(output, /^triggered \S+$/m);
    const token = await new Promise((resolve, reject) => {
      const probe = spawn(python, ["-c", `import runpy, sys; print(runpy.run_path(sys.argv[1])["subscriber_token"])`, join(dir, "quickstart.py")], { env: { ...process.env, ...env } });
      let text = "";
      probe.stdout.on("data", (chunk) => (text += chunk));
      probe.on("close", (code) => (code === 0 ? resolve(text.trim().split("\n").pop()) : reject(new Error(`exit ${code}`))));
    });
    await expectTokenWorks(token, "user-2", "Grace");
  });

  it("answers a real delivery (verified) and refuses a forged one", async () => {
    const delivery = await deliverTo(url);
    assert.deepEqual([delivery.status, delivery.last_status], ["delivered", 200], JSON.stringify(delivery));
    assert.equal(await forgedStatus(url), 401);
  });
});
