// Output safety over HTTP: only https (http in development) or relative
// links reach a feed, logos are plain images served so that they run
// nothing, and webhooks stay out of private networks outside development,
// follow no redirect, and log a failure class rather than upstream words.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { after, before, describe, it } from "node:test";
import { api, apiUrl, expectError, freshSubscriber, keys, waitFor } from "./support/context.mjs";

const tag = randomBytes(4).toString("hex");
const SIGNING = `whsec_${randomBytes(12).toString("hex")}`;
const secretOf = (environment) => keys[environment].secret_key;
const call = (environment, path, options = {}) => api(path, { key: secretOf(environment), ...options });
const inApp = (extra) => ({ type: "in_app", subject: "s", body: "b", ...extra });

let receiver;
let receiverUrl;
const received = [];
before(async () => {
  receiver = createServer((request, response) => {
    received.push(request.url);
    if (request.url.startsWith("/redirect")) response.writeHead(302, { Location: `${receiverUrl}/landed` }).end();
    else response.writeHead(200).end("ok");
  });
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${receiver.address().port}`;
});
after(() => new Promise((resolve) => receiver.close(resolve)));

describe("links in feeds", () => {
  it("refuses link templates that are already unsafe when saved", async () => {
    for (const [step, field] of [
      [inApp({ actions: [{ label: "x", url: "javascript:alert(1)" }] }), "steps.0.actions.0.url"],
      [inApp({ actions: [{ label: "x", url: "JavaScript:{{ payload.x }}" }] }), "steps.0.actions.0.url"],
      [inApp({ avatar: "data:image/svg+xml,<svg onload=alert(1)>" }), "steps.0.avatar"],
      [inApp({ avatar: "//evil.example/a.png" }), "steps.0.avatar"],
    ]) {
      const saved = await call("development", `/v1/workflows/unsafe-${tag}`, { method: "PUT", body: { name: "Unsafe", steps: [step] } });
      assert.equal(expectError(assert, saved, 400, "validation_failed").field, field);
    }
  });

  it("refuses a trigger whose rendered link a feed may not carry, storing nothing", async () => {
    const workflow = `links-${tag}`;
    const steps = [inApp({ avatar: "{{ payload.avatar }}", actions: [{ label: "Open", url: "{{ payload.url }}" }] })];
    for (const environment of ["development", "staging"]) {
      const saved = await call(environment, `/v1/workflows/${workflow}`, { method: "PUT", body: { name: "Links", steps } });
      assert.ok([200, 201].includes(saved.status), JSON.stringify(saved.body));
    }
    const send = (environment, to, payload) => call(environment, "/v1/events/trigger", { method: "POST", body: { workflow, to, payload } });
    const ada = freshSubscriber("links");
    assert.equal((await send("staging", ada, { avatar: "https://cdn.example/a.png", url: "/orders/1" })).status, 202);
    for (const payload of [
      { avatar: "https://cdn.example/a.png", url: "javascript:alert(document.cookie)" },
      { avatar: "data:text/html,<script>alert(1)</script>", url: "/x" },
      { avatar: "https://cdn.example/a.png", url: " javascript:alert(1)" },
      { avatar: "http://cdn.example/a.png", url: "/x" },
      { avatar: "https://cdn.example/a.png", url: "javascript&#58;alert(1)" },
      { avatar: "https://cdn.example/a.png", url: "&#106;avascript:alert(1)" },
      { avatar: "https://cdn.example/a.png", url: "/\\evil.example" },
    ]) {
      expectError(assert, await send("staging", ada, payload), 422, "unsafe_link");
    }
    // Plain http is for development only.
    assert.equal((await send("development", ada, { avatar: "http://localhost:5173/a.png", url: "http://localhost:5173/o" })).status, 202);
    const feed = await api(`/v1/subscribers/${ada}/feed`, { key: secretOf("staging") });
    assert.deepEqual(feed.body.items.map((item) => item.actions[0].url), ["/orders/1"], "a refused trigger stored something");
  });
});

describe("brand logos", () => {
  it("accepts only plain images, and serves them so that they run nothing", async () => {
    const put = (body, type) => call("development", "/v1/brand/logo", { method: "PUT", body, headers: { "Content-Type": type } });
    await call("development", "/v1/brand", { method: "PUT", body: { name: "Acme", primary_colour: "#112233" } });
    for (const [body, type] of [
      [`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, "image/svg+xml"],
      [`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, "image/svg+xml"],
      [`<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:alert(1)"><text>x</text></a></svg>`, "image/svg+xml"],
      ["<html><script>alert(1)</script></html>", "image/png"],
      [`<svg xmlns="http://www.w3.org/2000/svg"\ronload="alert(1)"/>`, "image/svg+xml"],
      ["<svg/onload=alert(1)>", "image/svg+xml"],
      [`<svg xmlns="http://www.w3.org/2000/svg"><a href="&#106;avascript:alert(1)"><text>x</text></a></svg>`, "image/svg+xml"],
      [`<svg xmlns="http://www.w3.org/2000/svg"><h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script></svg>`, "image/svg+xml"],
      [`<svg xmlns="http://www.w3.org/2000/svg"><image href="https://evil.example/a.svg"/></svg>`, "image/svg+xml"],
    ]) {
      assert.equal(expectError(assert, await put(body, type), 400, "validation_failed").field, "body");
    }
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"><title>${tag}</title></svg>`;
    assert.equal((await put(svg, "image/svg+xml")).status, 200);
    const logo = await fetch(`${apiUrl}/v1/brand/logo`, { headers: { Authorization: `Bearer ${keys.development.publishable_key}` } });
    assert.equal(logo.status, 200);
    assert.equal(logo.headers.get("content-type"), "image/svg+xml");
    assert.equal(logo.headers.get("x-content-type-options"), "nosniff");
    assert.equal(logo.headers.get("content-security-policy"), "default-src 'none'; style-src 'unsafe-inline'; sandbox");
    assert.equal(await logo.text(), svg);
  });
});

describe("webhook targets", () => {
  it("refuses private, loopback and metadata addresses outside development when saved", async () => {
    for (const url of [
      "http://127.0.0.1:9/hook",
      "http://localhost:8787/hook",
      "http://169.254.169.254/latest/meta-data/",
      "http://10.1.2.3/hook",
      "http://[::1]:9/hook",
      "http://2130706433/hook",
      "http://metadata.google.internal/computeMetadata/v1/",
      // Forms a URL parser reads as loopback while a naive reading does not.
      "http://127.0.0.1:9\\@hooks.example.com/backslash",
      "http://１２７.０.０.１:9/fullwidth",
      "http://127。0。0。1:9/ideographic",
      "http://[::127.0.0.1]/compat",
      "http://[2002:7f00:1::]/6to4",
      "http://kubernetes.default.svc/x",
      "http://%31%32%37.0.0.1:9/percent",
    ]) {
      const saved = await call("staging", `/v1/integrations/private-${tag}`, { method: "PUT", body: { kind: "webhook", name: "P", url, signing_secret: SIGNING } });
      assert.equal(expectError(assert, saved, 400, "validation_failed").field, "url", url);
    }
    const public_ = await call("staging", `/v1/integrations/public-${tag}`, { method: "PUT", body: { kind: "webhook", name: "P", url: "https://hooks.example.com/in", signing_secret: SIGNING } });
    assert.ok([200, 201].includes(public_.status), JSON.stringify(public_.body));
    const local = await call("development", `/v1/integrations/local-${tag}`, { method: "PUT", body: { kind: "webhook", name: "L", url: `${receiverUrl}/hook`, signing_secret: SIGNING } });
    assert.ok([200, 201].includes(local.status), JSON.stringify(local.body));
  });

  it("follows no redirect and logs failure classes, not upstream details", async () => {
    const send = async (integration, url) => {
      const saved = await call("development", `/v1/integrations/${integration}`, { method: "PUT", body: { kind: "webhook", name: "R", url, signing_secret: SIGNING } });
      assert.ok([200, 201].includes(saved.status), JSON.stringify(saved.body));
      const workflow = `${integration}-flow`;
      await call("development", `/v1/workflows/${workflow}`, { method: "PUT", body: { name: "R", steps: [{ type: "webhook", integration, body: "{}" }] } });
      const sent = await call("development", "/v1/events/trigger", { method: "POST", body: { workflow, to: freshSubscriber("hook") } });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      const id = sent.body.deliveries[0].id;
      return waitFor(async () => (await call("development", `/v1/logs?workflow=${workflow}&status=failed`)).body.items.find((item) => item.id === id), `delivery ${id}`);
    };
    const redirected = await send(`redirect-${tag}`, `${receiverUrl}/redirect`);
    assert.equal(redirected.detail.error, "redirect_refused");
    assert.equal(redirected.detail.status_code, 302);
    assert.ok(!received.includes("/landed"), "the redirect was followed");
    // No answer is worth retrying: the delivery waits for its next attempt, its error a class.
    const closed = `closed-${tag}`;
    await call("development", `/v1/integrations/${closed}`, { method: "PUT", body: { kind: "webhook", name: "R", url: "http://127.0.0.1:9/closed", signing_secret: SIGNING } });
    await call("development", `/v1/workflows/${closed}-flow`, { method: "PUT", body: { name: "R", steps: [{ type: "webhook", integration: closed, body: "{}" }] } });
    const sent = await call("development", "/v1/events/trigger", { method: "POST", body: { workflow: `${closed}-flow`, to: freshSubscriber("hook") } });
    const id = sent.body.deliveries[0].id;
    const refused = await waitFor(async () => {
      const state = (await call("development", `/v1/deliveries/${id}`)).body;
      return state.attempts >= 1 ? state : null;
    }, `delivery ${id}`);
    assert.deepEqual([refused.status, refused.last_error, refused.last_status], ["pending", "connection_failed", null]);
    assert.equal(refused.history[0].error, "connection_failed");
  });
});
