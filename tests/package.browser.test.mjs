// The npm package as a user gets it: `npm pack`, installed into a fresh Vite
// app with React, built with `vite build`, served and opened in headless
// Chromium. The app uses only the React bindings (`@tidings/sdk/react`): a
// live feed, counts and preferences against the worker in workerd. The same
// installed package also serves a plain HTML page, through an import map
// and no build step.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { launchChromium } from "./support/browser.mjs";
import { api, apiUrl, freshSubscriber, keys, welcome } from "./support/context.mjs";

const root = new URL("..", import.meta.url).pathname;
const rootPackage = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const app = mkdtempSync(join(tmpdir(), "tidings-vite-app-"));
let chromium;
let server;
let appUrl;
let plainServer;
let plainUrl;
let packed;

/** A page with no bundler: the installed package's files, mapped by an import map. */
const PLAIN_PAGE = `<!doctype html><html><head>
<script type="importmap">{ "imports": { "@tidings/sdk": "/node_modules/@tidings/sdk/js/index.js", "@tidings/sdk/elements": "/node_modules/@tidings/sdk/js/elements.js" } }</script>
<script type="module">
import { Tidings } from "@tidings/sdk";
import "@tidings/sdk/elements";
const params = new URLSearchParams(location.search);
const element = document.querySelector("tidings-inbox");
element.setAttribute("api-url", params.get("api"));
element.setAttribute("publishable-key", params.get("key"));
element.setAttribute("subscriber-id", params.get("subscriber"));
const tidings = await Tidings.connect({ apiUrl: params.get("api"), publishableKey: params.get("key"), subscriberId: params.get("subscriber") });
tidings.feed.subscribe(({ items, counts }) => {
  document.querySelector("#items").replaceChildren(...items.map((item) => Object.assign(document.createElement("li"), { textContent: item.subject })));
  document.querySelector("#unread").textContent = String(counts.unread);
});
</script></head><body><output id="unread"></output><ul id="items"></ul><tidings-inbox></tidings-inbox></body></html>`;

const MAIN = `
import { createElement as h } from "react";
import { createRoot } from "react-dom/client";
import { Bell as BellElement, Inbox as InboxElement, TidingsProvider, useCounts, useFeed, usePreferences } from "@tidings/sdk/react";

function Bell() {
  const { unread } = useCounts();
  return h("output", { id: "unread" }, String(unread));
}

function Inbox() {
  const feed = useFeed({ limit: 10 });
  document.body.dataset.status = feed.status;
  return h("ul", { id: "items" }, feed.items.map((item) =>
    h("li", { key: item.id, "data-read": item.read_at ? "yes" : "no", onClick: () => feed.markRead(item.id) }, item.subject)));
}

function InAppSwitch() {
  const { preferences, loading, update } = usePreferences();
  const on = preferences?.global?.in_app ?? true;
  return h("button", { id: "in-app", disabled: loading, onClick: () => update({ global: { in_app: !on } }) }, on ? "on" : "off");
}

const params = new URLSearchParams(location.search);
createRoot(document.getElementById("root")).render(
  h(TidingsProvider, { apiUrl: params.get("api"), publishableKey: params.get("key"), subscriberId: params.get("subscriber") },
    h(Bell), h(Inbox), h(InAppSwitch),
    // The custom elements through their React wrappers, sharing the provider's session.
    h(BellElement, { id: "element-bell" }), h(InboxElement, { id: "element-inbox", limit: 5, locale: "fr" })));
`;

const TYPES = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".css": "text/css" };

function serve(directory) {
  return new Promise((resolve) => {
    const files = createServer((request, response) => {
      const path = new URL(request.url, "http://x").pathname;
      try {
        const body = readFileSync(join(directory, path === "/" ? "index.html" : path));
        response.writeHead(200, { "Content-Type": TYPES[extname(path) || ".html"] ?? "application/octet-stream" });
        response.end(body);
      } catch {
        response.writeHead(404).end();
      }
    });
    files.listen(0, "127.0.0.1", () => resolve(files));
  });
}

const npm = (args, cwd) => execFileSync("npm", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

before(async () => {
  [packed] = JSON.parse(npm(["pack", join(root, "crates/tidings-sdk"), "--pack-destination", app, "--json"], app));
  const dependency = (name) => rootPackage.devDependencies[name];
  writeFileSync(join(app, "package.json"), JSON.stringify({
    name: "tidings-vite-app",
    private: true,
    type: "module",
    dependencies: { "@tidings/sdk": `file:./${packed.filename}`, react: dependency("react"), "react-dom": dependency("react-dom") },
    devDependencies: { vite: dependency("vite") },
  }));
  writeFileSync(join(app, "index.html"), '<!doctype html><html><body><div id="root"></div><script type="module" src="/src/main.js"></script></body></html>');
  mkdirSync(join(app, "src"));
  writeFileSync(join(app, "src/main.js"), MAIN);
  npm(["install", "--prefer-offline", "--no-audit", "--no-fund"], app);
  execFileSync(join(app, "node_modules/.bin/vite"), ["build", "--logLevel", "warn"], { cwd: app, stdio: ["ignore", "pipe", "pipe"] });
  server = await serve(join(app, "dist"));
  appUrl = `http://127.0.0.1:${server.address().port}`;
  writeFileSync(join(app, "plain.html"), PLAIN_PAGE);
  plainServer = await serve(app);
  plainUrl = `http://127.0.0.1:${plainServer.address().port}/plain.html`;
  chromium = await launchChromium();
});

after(async () => {
  await chromium?.close();
  server?.close();
  plainServer?.close();
  rmSync(app, { recursive: true, force: true });
});

describe("the npm package in a fresh Vite app with React", () => {
  it("packs what a user needs and nothing else", () => {
    const files = packed.files.map((file) => file.path);
    for (const needed of ["package.json", "README.md", "CHANGELOG.md", "js/index.js", "js/index.d.ts", "js/react.js", "js/react.d.ts",
      "js/server.js", "js/elements.js", "js/elements.d.ts", "js/elements/inbox.js", "js/wire.d.ts", "pkg/tidings_sdk.js", "pkg/tidings_sdk_bg.wasm", "js/server/client.js", "js/server/crypto.js"]) {
      assert.ok(files.includes(needed), `the package holds ${needed}`);
    }
    assert.ok(!files.some((file) => file.startsWith("src/") || file.endsWith(".rs") || file === "Cargo.toml"), files.join(", "));
    const manifest = JSON.parse(readFileSync(join(app, "node_modules/@tidings/sdk/package.json"), "utf8"));
    assert.deepEqual(Object.keys(manifest.exports), [".", "./react", "./elements", "./server"]);
    // Only the elements entry has an effect (it defines the custom elements).
    assert.deepEqual(manifest.sideEffects, ["./js/elements.js"]);
    assert.equal(manifest.peerDependenciesMeta.react.optional, true);
  });

  it("builds with vite, bundling the SDK's WebAssembly as an asset", () => {
    const assets = readdirSync(join(app, "dist/assets"));
    assert.ok(assets.some((file) => file.endsWith(".wasm")), assets.join(", "));
  });

  it("shows a live feed, counts and preferences through the React hooks", { timeout: 60_000 }, async () => {
    const subscriber = freshSubscriber("react");
    await welcome(subscriber, "Ada");
    const page = await chromium.context.newPage();
    const problems = [];
    page.on("pageerror", (error) => problems.push(error.message));
    const query = new URLSearchParams({ api: apiUrl, key: keys.development.publishable_key, subscriber });
    await page.goto(`${appUrl}/?${query}`);
    await page.waitForFunction(() => document.body.dataset.status === "live" && document.querySelectorAll("#items li").length === 1, null, { timeout: 20_000 });
    // The bell is a view of its own (useCounts), loaded beside the list.
    await page.waitForFunction(() => document.querySelector("#unread").textContent === "1", null, { timeout: 10_000 });

    await welcome(subscriber, "Grace");
    await page.waitForFunction(() => document.querySelectorAll("#items li").length === 2, null, { timeout: 20_000 });
    await page.waitForFunction(() => document.querySelector("#unread").textContent === "2", null, { timeout: 20_000 });

    // <Inbox /> and <Bell />: the elements, loaded as their own chunk, on the provider's session.
    await page.waitForFunction(() => document.querySelector("#element-inbox")?.shadowRoot?.querySelectorAll("li[data-id]").length === 2, null, { timeout: 20_000 });
    assert.match(await page.locator("#element-inbox").getByRole("tab", { name: "Non lues" }).textContent(), /Non lues/);
    await page.waitForFunction(() => document.querySelector("#element-bell")?.shadowRoot?.querySelector(".count")?.textContent === "2", null, { timeout: 20_000 });
    const chunks = readdirSync(join(app, "dist/assets")).filter((file) => file.endsWith(".js"));
    assert.ok(chunks.length >= 2, `the elements are a chunk of their own: ${chunks.join(", ")}`);

    await page.click("#items li:first-child");
    await page.waitForFunction(() => document.querySelector("#unread").textContent === "1", null, { timeout: 20_000 });
    assert.equal(await page.getAttribute("#items li:first-child", "data-read"), "yes");

    await page.waitForSelector("#in-app:not([disabled])");
    assert.equal(await page.textContent("#in-app"), "on");
    await page.click("#in-app");
    await page.waitForFunction(() => document.querySelector("#in-app").textContent === "off", null, { timeout: 10_000 });
    const saved = await api(`/v1/subscribers/${subscriber}/preferences`, { key: keys.development.secret_key });
    assert.equal(saved.body.global.in_app, false, JSON.stringify(saved.body));
    assert.deepEqual(problems, []);
    await page.close();
  });
});

describe("the npm package in a plain HTML page", () => {
  it("loads through an import map, with no build step, and shows the feed", { timeout: 60_000 }, async () => {
    const subscriber = freshSubscriber("plain");
    await welcome(subscriber, "Ada");
    const page = await chromium.context.newPage();
    const problems = [];
    page.on("pageerror", (error) => problems.push(error.message));
    const query = new URLSearchParams({ api: apiUrl, key: keys.development.publishable_key, subscriber });
    await page.goto(`${plainUrl}?${query}`);
    await page.waitForFunction(() => document.querySelectorAll("#items li").length === 1, null, { timeout: 20_000 });
    assert.equal(await page.textContent("#unread"), "1");
    await welcome(subscriber, "Grace");
    await page.waitForFunction(() => document.querySelectorAll("#items li").length === 2, null, { timeout: 10_000 });
    // The custom element, from the installed package, with no build step. It hears of the second
    // notification on its own live connection, which reconnects with backoff (up to 10 s at the
    // fifth attempt) if the busy test stack dropped it.
    await page.waitForFunction(() => document.querySelector("tidings-inbox").shadowRoot.querySelectorAll("li[data-id]").length === 2, null, { timeout: 30_000 });
    assert.deepEqual(problems, []);
    await page.close();
  });
});
