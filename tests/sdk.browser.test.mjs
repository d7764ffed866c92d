// The @tidings/sdk npm package in headless Chromium: the demo page imports
// it as an app would, fetches the feed cross-origin from the worker in
// workerd, and shows it. Error states are shown with their codes.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { launchChromium } from "./support/browser.mjs";
import { admin, api, freshSubscriber, keys, subscriberHash, wwwUrl } from "./support/context.mjs";

const artifacts = process.env.TIDINGS_TEST_ARTIFACTS;
let context;
let chromium;

before(async () => {
  chromium = await launchChromium();
  context = chromium.context;
});

after(async () => {
  await chromium?.close();
});

/** Opens the demo with URL parameters and waits until it has loaded or failed. */
async function openDemo(params) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  await page.goto(`${wwwUrl}/feed.html?${new URLSearchParams(params)}`);
  await page.waitForSelector("body[data-loaded]", { timeout: 20_000 });
  return { page, problems };
}

async function screenshot(page, name) {
  if (!artifacts) return;
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

describe("the demo inbox on the npm package", () => {
  it("shows a triggered notification with the environment badge and unread count", async () => {
    const subscriber = freshSubscriber("browser");
    for (const name of ["Ada", "Grace"]) {
      const response = await api("/v1/events/trigger", {
        key: keys.development.secret_key,
        method: "POST",
        body: { workflow: "welcome", to: [subscriber], payload: { name } },
      });
      assert.equal(response.status, 202);
    }
    const { page, problems } = await openDemo({ subscriber });
    await screenshot(page, "demo-feed");
    assert.equal(await page.getAttribute("body", "data-loaded"), "true", await page.textContent("#error"));
    const subjects = await page.$$eval("#feed li h2", (nodes) => nodes.map((node) => node.textContent));
    assert.deepEqual(subjects, ["Welcome, Grace!", "Welcome, Ada!"]);
    assert.equal((await page.textContent("#environment")).trim(), "development");
    assert.equal(await page.getAttribute("#environment", "data-type"), "development");
    assert.equal((await page.textContent("#unread")).trim(), "2");
    assert.deepEqual(problems, []);

    await api("/v1/events/trigger", {
      key: keys.development.secret_key,
      method: "POST",
      body: { workflow: "welcome", to: [subscriber], payload: { name: "Linus" } },
    });
    await page.click("#refresh");
    await page.waitForFunction(() => document.querySelectorAll("#feed li").length === 3);
    assert.equal((await page.textContent("#feed li h2")).trim(), "Welcome, Linus!");

    // Opening a notification marks it read; "Mark all read" clears the badge.
    await page.click("#feed li:first-child");
    await page.waitForFunction(() => document.querySelector("#unread").textContent === "2");
    assert.equal(await page.getAttribute("#feed li:first-child", "class"), "read");
    await page.click("#read-all");
    await page.waitForFunction(() => document.querySelector("#unread").hidden);
    const counts = await page.evaluate(async (subscriberId) => {
      const { Tidings } = await import("@tidings/sdk");
      const config = await (await fetch("/demo-config.json")).json();
      const tidings = await Tidings.connect({ ...config, subscriberId });
      const unread = await tidings.feed.counts({ read: false });
      const all = await tidings.feed.counts();
      const error = await tidings.feed.markRead("not-an-id").catch((failure) => failure.code);
      const preferences = await tidings.preferences.update({ workflows: { welcome: { in_app: false } } });
      const back = await tidings.preferences.update({ workflows: { welcome: { in_app: null } } });
      return { unread, all, error, preferences, back };
    }, subscriber);
    assert.deepEqual(counts, {
      unread: { total: 0, unread: 0, unseen: 0 },
      all: { total: 3, unread: 0, unseen: 0 },
      error: "validation_failed",
      preferences: { global: { in_app: true, webhook: true }, workflows: { welcome: { in_app: false } } },
      back: { global: { in_app: true, webhook: true }, workflows: {} },
    });
    await screenshot(page, "demo-read");
    await page.close();
  });

  it("switches between all, unread and archived, archives, scrolls for more and saves preferences", async () => {
    const subscriber = freshSubscriber("browser-inbox");
    const sent = await api("/v1/events/trigger/bulk", {
      key: keys.development.secret_key,
      method: "POST",
      body: { events: Array.from({ length: 25 }, (_, n) => ({ workflow: "welcome", to: [subscriber], payload: { name: `N${n}` } })) },
    });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    const { page, problems } = await openDemo({ subscriber });
    const count = () => page.$$eval("#feed li", (nodes) => nodes.length);
    assert.equal(await count(), 20, "one page first");
    // Infinite scroll: bringing the end of the list into view loads the rest.
    await page.locator("#more").scrollIntoViewIfNeeded();
    await page.waitForFunction(() => document.querySelectorAll("#feed li").length === 25 && document.querySelector("#more").hidden);

    // Read one, archive another: the tabs show the right subsets.
    await page.click("#feed li:nth-child(1) h2");
    await page.waitForFunction(() => document.querySelector("#unread").textContent === "24");
    await page.click("#feed li:nth-child(2) button.archive");
    await page.waitForFunction(() => document.querySelectorAll("#feed li").length === 24);
    await page.click('#views [data-view="unread"]');
    await page.waitForFunction(() => document.body.dataset.view === "unread");
    // Only unread items, a page of them first; where the end of the list is
    // already in view, infinite scroll may load the rest at once.
    assert.ok((await count()) >= 20, "unread, first page");
    await page.evaluate(() => document.querySelector("#more").scrollIntoView());
    await page.waitForFunction(() => document.querySelectorAll("#feed li").length === 23 && document.querySelector("#more").hidden);
    assert.equal(await page.$$eval("#feed li:not(.unread)", (nodes) => nodes.length), 0, "unread items only");
    await page.click('#views [data-view="archived"]');
    await page.waitForFunction(() => document.body.dataset.view === "archived" && document.querySelectorAll("#feed li").length === 1);
    await page.click("#feed li button.archive");
    await page.waitForFunction(() => document.querySelectorAll("#feed li").length === 0);
    assert.equal(await page.getAttribute('#views [data-view="archived"]', "aria-selected"), "true");

    // Preferences: the switch saves through the package.
    await page.waitForSelector("#preferences[data-ready]", { state: "attached" });
    await page.click("#preferences summary");
    assert.equal(await page.isChecked("#pref-in_app"), true);
    await page.uncheck("#pref-in_app");
    await page.waitForFunction(async (id) => {
      const response = await fetch(`${(await (await fetch("/demo-config.json")).json()).apiUrl}/v1/subscribers/${id}/preferences`, {
        headers: { Authorization: `Bearer ${(await (await fetch("/demo-config.json")).json()).publishableKey}` },
      });
      return (await response.json()).global.in_app === false;
    }, subscriber, { timeout: 10_000 });
    await screenshot(page, "demo-tabs");
    // A phone-width screen still shows the inbox.
    await page.setViewportSize({ width: 360, height: 740 });
    await screenshot(page, "demo-phone");
    assert.deepEqual(problems, []);
    await page.close();
  });

  it("sees nothing of development's data with a staging key", async () => {
    const subscriber = freshSubscriber("browser-staging");
    await api("/v1/events/trigger", {
      key: keys.development.secret_key,
      method: "POST",
      body: { workflow: "welcome", to: [subscriber], payload: { name: "Ada" } },
    });
    const params = { subscriber, key: keys.staging.publishable_key, hash: subscriberHash("staging", subscriber) };
    // Staging allows no browser origin until one is configured…
    const refused = await openDemo(params);
    assert.equal(await refused.page.getAttribute("#error", "data-code"), "origin_not_allowed");
    await refused.page.close();
    // …and once the demo's origin is allowed, it shows staging's own (empty) feed.
    try {
      const allowed = await admin("/v1/environments/staging", { method: "PATCH", body: { allowed_origins: [wwwUrl] } });
      assert.equal(allowed.status, 200);
      const { page } = await openDemo(params);
      assert.equal(await page.getAttribute("body", "data-loaded"), "true", await page.textContent("#error"));
      assert.equal((await page.textContent("#environment")).trim(), "staging");
      assert.equal(await page.$$eval("#feed li", (nodes) => nodes.length), 0);
      assert.match(await page.textContent("#status"), /No notifications yet/);
      await screenshot(page, "demo-staging-empty");
      await page.close();
    } finally {
      await admin("/v1/environments/staging", { method: "PATCH", body: { allowed_origins: [] } });
    }
  });

  it("shows typed errors instead of spinners", async () => {
    // A typo in the key's last symbol keeps its shape: the worker's checksum catches it.
    const last = keys.development.publishable_key.at(-1) === "a" ? "b" : "a";
    const typo = keys.development.publishable_key.slice(0, -1) + last;
    const cases = [
      [{ key: "pk_development_oops" }, "malformed_key"],
      [{ key: typo }, "malformed_key"],
      [{ key: keys.development.secret_key }, "secret_key_in_browser"],
      [{ key: keys.production.publishable_key }, "origin_not_allowed"],
      [{ subscriber: "not valid!" }, "invalid_options"],
      [{ api: "http://127.0.0.1:9" }, "network_error"],
    ];
    for (const [params, code] of cases) {
      const { page } = await openDemo(params);
      assert.equal(await page.getAttribute("body", "data-loaded"), "error", JSON.stringify(params));
      assert.equal(await page.getAttribute("#error", "data-code"), code, JSON.stringify(params));
      if (code === "origin_not_allowed") await screenshot(page, "demo-error");
      await page.close();
    }
  });
});
