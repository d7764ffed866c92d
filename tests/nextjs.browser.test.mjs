// The package's Next.js (App Router) quickstart, as its README writes it:
// the packed tarball installed into a fresh Next.js app with those files,
// built with `next build`, served with `next start`, and driven in Chromium
// against the worker in workerd: the route handler mints the token, the
// bell in the root layout shows the unread count live, and opens the inbox.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { launchChromium } from "./support/browser.mjs";
import { apiUrl, freshSubscriber, keys, waitFor, welcome } from "./support/context.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const rootPackage = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const readme = readFileSync(join(root, "crates/tidings-sdk/README.md"), "utf8");
const app = mkdtempSync(join(tmpdir(), "tidings-next-"));
const subscriberId = freshSubscriber("next-user");
let server;
let serverLog = "";
let appUrl;
let chromium;

/** Every `<!-- nextjs: path -->` block of the package README: path → contents. */
function quickstartFiles() {
  const files = {};
  for (const match of readme.matchAll(/<!-- nextjs: (\S+) -->\n```\w+\n([\s\S]*?)\n```\n/g)) files[match[1]] = `${match[2]}\n`;
  return files;
}

function write(path, text) {
  mkdirSync(dirname(join(app, path)), { recursive: true });
  writeFileSync(join(app, path), text);
}

const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };

before(async () => {
  const files = quickstartFiles();
  assert.deepEqual(Object.keys(files).sort(), ["app/api/tidings-token/route.js", "app/layout.jsx", "app/notifications.jsx"]);
  const [packed] = JSON.parse(execFileSync("npm", ["pack", join(root, "crates/tidings-sdk"), "--pack-destination", app, "--json"], { cwd: app, encoding: "utf8" }));
  const version = (name) => rootPackage.devDependencies[name];
  write("package.json", JSON.stringify({
    name: "tidings-next-app",
    private: true,
    scripts: { build: "next build", start: "next start" },
    dependencies: { "@tidings/sdk": `file:./${packed.filename}`, next: version("next"), react: version("react"), "react-dom": version("react-dom") },
  }));
  for (const [path, text] of Object.entries(files)) write(path, text);
  // What the quickstart leaves to the app: its authentication and its pages.
  write("lib/auth.js", "export async function currentUser() {\n  return { id: process.env.DEMO_USER_ID };\n}\n");
  write("app/page.jsx", "export default function Page() {\n  return <main><h1>Acme</h1></main>;\n}\n");
  write(".env.local", [
    `NEXT_PUBLIC_TIDINGS_API_URL=${apiUrl}`,
    `NEXT_PUBLIC_TIDINGS_PUBLISHABLE_KEY=${keys.development.publishable_key}`,
    `TIDINGS_SIGNING_SECRET=${keys.development.subscriber_signing_secret}`,
    "TIDINGS_ENVIRONMENT=development",
    `DEMO_USER_ID=${subscriberId}`,
    "",
  ].join("\n"));
  execFileSync("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund"], { cwd: app, stdio: ["ignore", "pipe", "pipe"], env });
  try {
    execFileSync(join(app, "node_modules/.bin/next"), ["build"], { cwd: app, stdio: ["ignore", "pipe", "pipe"], env, encoding: "utf8" });
  } catch (error) {
    throw new Error(`next build failed:\n${error.stdout}\n${error.stderr}`);
  }
  const port = 20000 + Math.floor(Math.random() * 20000);
  server = spawn(join(app, "node_modules/.bin/next"), ["start", "--port", String(port), "--hostname", "127.0.0.1"], { cwd: app, env, stdio: ["ignore", "pipe", "pipe"] });
  server.stdout.on("data", (chunk) => (serverLog += chunk));
  server.stderr.on("data", (chunk) => (serverLog += chunk));
  appUrl = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(appUrl).catch(() => null))?.ok, `next start (${serverLog})`);
  chromium = await launchChromium();
});

after(async () => {
  await chromium?.close();
  server?.kill();
  rmSync(app, { recursive: true, force: true });
});

describe("the Next.js App Router quickstart", () => {
  it("renders the bell on the server, mints tokens in the route handler, and stays live in the browser", async () => {
    await welcome(subscriberId, "Ada");
    const page = await chromium.context.newPage();
    const problems = [];
    page.on("pageerror", (error) => problems.push(error.message));
    // Every console error counts (hydration mismatches, React warnings), except the app's missing favicon.
    page.on("console", (message) => message.type() === "error" && !message.location().url.endsWith("/favicon.ico") && problems.push(`${message.text()} ${message.location().url}`));
    const tokenRequests = [];
    page.on("request", (request) => request.url().endsWith("/api/tidings-token") && tokenRequests.push(request.url()));
    const html = await (await fetch(appUrl)).text();
    assert.match(html, /<tidings-bell/, "the layout renders the element on the server");
    await page.goto(appUrl);
    const badge = () => page.evaluate(() => document.querySelector("tidings-bell")?.shadowRoot?.querySelector(".count")?.textContent ?? null);
    await page.waitForFunction(() => document.querySelector("tidings-bell")?.shadowRoot?.querySelector(".count")?.textContent === "1", null, { timeout: 20_000 });
    assert.ok(tokenRequests.length >= 1, "the token came from the route handler");
    await welcome(subscriberId, "Grace");
    await page.waitForFunction(() => document.querySelector("tidings-bell").shadowRoot.querySelector(".count")?.textContent === "2", null, { timeout: 10_000 });
    await page.locator("tidings-bell").locator("button.bell").click();
    await page.waitForFunction(() => document.querySelector("tidings-bell").shadowRoot.querySelector("[part=inbox]").shadowRoot.querySelectorAll("li[data-id]").length === 2, null, { timeout: 10_000 });
    assert.equal(await badge(), "2");
    assert.deepEqual(problems, []);
    await page.close();
  });

  it("mints the signed-in user's token, for this environment and subscriber only", async () => {
    const response = await fetch(`${appUrl}/api/tidings-token`);
    assert.equal(response.status, 200, "signed in as the demo user");
    const token = await response.text();
    assert.match(token, /^st2\./);
    const claims = JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
    assert.deepEqual([claims.sub, claims.env, claims.scope], [subscriberId, "development", "write"]);
  });
});
