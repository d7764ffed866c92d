// The SDK's live feed in headless Chromium against the worker in workerd:
// two tabs of one origin share one realtime socket and both stay exact; an
// action in one tab shows in the other; the socket moves when its tab
// closes; a tab that was offline, or whose runtime restarted, catches up by
// delta sync; credentials fail with typed errors.
import assert from "node:assert/strict";
import { appendFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { signSubscriberToken } from "@tidings/sdk/server";
import { launchChromium } from "./support/browser.mjs";
import { freshSubscriber, keys, wwwUrl, welcome } from "./support/context.mjs";

let browser;
let chromium;

before(async () => {
  chromium = await launchChromium();
  browser = chromium.context;
});

after(async () => {
  await chromium?.close();
});

/** Triggers until the worker acknowledges, while it may be restarting. */
async function triggerEventually(subscriber, name) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await welcome(subscriber, name, { "Idempotency-Key": `${subscriber}-${name}` });
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`the trigger never got through: ${error.message}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** Opens the demo inbox for `subscriber` and waits until it is live. */
async function openTab(subscriber) {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  await page.goto(`${wwwUrl}/feed.html?${new URLSearchParams({ subscriber })}`);
  await page.waitForSelector("body[data-loaded='true']", { timeout: 20_000 });
  return { page, problems };
}

const waitFor = (page, predicate, arg) => page.waitForFunction(predicate, arg, { timeout: 10_000 });
const showsItems = (page, count) => waitFor(page, (expected) => document.querySelectorAll("#feed li").length === expected, count);
const badge = (page) => page.evaluate(() => (document.querySelector("#unread").hidden ? "0" : document.querySelector("#unread").textContent));

describe("the live feed across tabs", () => {
  it("shows a new notification and exact counts in every tab, over one shared socket", async () => {
    const subscriber = freshSubscriber("tabs");
    await welcome(subscriber, "Ada");
    const first = await openTab(subscriber);
    const second = await openTab(subscriber);
    await waitFor(first.page, () => document.body.dataset.status === "live");
    // The tab without the socket learns its state from the tab that holds it.
    await waitFor(second.page, () => document.body.dataset.status === "live");
    // One tab holds the socket; the other waits for the lock.
    const locks = await second.page.evaluate(async () => {
      const { held, pending } = await navigator.locks.query();
      return { held: held.filter((lock) => lock.name.startsWith("tidings:")).length, pending: pending.filter((lock) => lock.name.startsWith("tidings:")).length };
    });
    assert.deepEqual(locks, { held: 1, pending: 1 });

    const sent = Date.now();
    await welcome(subscriber, "Grace");
    await Promise.all([first.page, second.page].map((page) => showsItems(page, 2)));
    const latency = Date.now() - sent;
    console.log(`# a new notification reached both tabs ${latency} ms after the trigger answered`);
    for (const { page } of [first, second]) {
      assert.equal((await page.textContent("#feed li h2")).trim(), "Welcome, Grace!");
      assert.equal(await badge(page), "2");
    }

    // Mark all read in one tab: the other tab's badge clears too.
    await first.page.click("#read-all");
    await waitFor(second.page, () => document.querySelector("#unread").hidden);
    assert.equal(await second.page.getAttribute("#feed li:first-child", "class"), "read");

    // The socket's tab closes: the other tab takes the lock, opens the socket and stays live.
    await first.page.close();
    await welcome(subscriber, "Linus");
    await showsItems(second.page, 3);
    assert.equal(await badge(second.page), "1");
    assert.deepEqual([...first.problems, ...second.problems], []);
    await second.page.close();
  });

  // A browser without either API (older Safari, some embedded views), or with Web Locks but no
  // BroadcastChannel: a shared socket's events could not reach the other tabs.
  for (const [what, withLocks] of [["Web Locks or BroadcastChannel", false], ["BroadcastChannel (Web Locks present)", true]]) it(`falls back to one socket per tab without ${what}, counts exact in each`, async () => {
    const subscriber = freshSubscriber("no-locks");
    await welcome(subscriber, "Ada");
    const page = async () => {
      const tab = await browser.newPage();
      await tab.addInitScript((withLocks) => {
        if (!withLocks) Object.defineProperty(Navigator.prototype, "locks", { get: () => undefined, configurable: true });
        delete window.BroadcastChannel;
      }, withLocks);
      const problems = [];
      tab.on("pageerror", (error) => problems.push(error.message));
      let sockets = 0;
      tab.on("websocket", () => (sockets += 1));
      await tab.goto(`${wwwUrl}/feed.html?${new URLSearchParams({ subscriber })}`);
      await tab.waitForSelector("body[data-loaded='true']", { timeout: 20_000 });
      return { page: tab, problems, sockets: () => sockets };
    };
    const first = await page();
    const second = await page();
    assert.equal(await first.page.evaluate(() => typeof BroadcastChannel + typeof navigator.locks), withLocks ? "undefinedobject" : "undefinedundefined");
    for (const tab of [first, second]) await waitFor(tab.page, () => document.body.dataset.status === "live");
    await welcome(subscriber, "Grace");
    for (const tab of [first, second]) {
      await showsItems(tab.page, 2);
      assert.equal(await badge(tab.page), "2", "counts are exact, never multiplied");
      assert.equal(tab.sockets(), 1, "each tab holds exactly one socket");
    }
    await first.page.click("#read-all");
    await waitFor(second.page, () => document.querySelector("#unread").hidden);
    assert.deepEqual([...first.problems, ...second.problems], []);
    await first.page.close();
    await second.page.close();
  });

  it("shows an action at once and puts it back when the API refuses it", async () => {
    const subscriber = freshSubscriber("optimistic");
    await welcome(subscriber, "Ada");
    const { page } = await openTab(subscriber);
    const outcome = await page.evaluate(async (subscriberId) => {
      const { Tidings } = await import("@tidings/sdk");
      const config = await (await fetch("/demo-config.json")).json();
      const tidings = await Tidings.connect({ ...config, subscriberId });
      const states = [];
      const live = tidings.feed.subscribe((state) => states.push(state.counts.unread));
      await live.ready;
      const id = (await tidings.feed.list()).items[0].id;
      const read = tidings.feed.markRead(id);
      const shownAtOnce = states.at(-1);
      await read;
      // A refused action (a malformed id among good ones) is undone.
      await tidings.feed.markUnread([id]);
      const before = states.length;
      const refused = await tidings.feed.markRead([id, "nope"]).catch((error) => error.code);
      const during = states.slice(before);
      live.close();
      return { shownAtOnce, refused, during };
    }, subscriber);
    assert.equal(outcome.shownAtOnce, 0, "the read showed before the API answered");
    assert.equal(outcome.refused, "validation_failed");
    assert.equal(outcome.during[0], 0, "shown at once");
    assert.equal(outcome.during.at(-1), 1, "then put back");
    await page.close();
  });

  it("catches up after the runtime restarts, taking every hub and socket with it", { timeout: 120_000 }, async () => {
    const subscriber = freshSubscriber("restart");
    await welcome(subscriber, "Ada");
    const { page } = await openTab(subscriber);
    await waitFor(page, () => document.body.dataset.status === "live");
    // wrangler dev restarts workerd when its configuration changes: Durable Objects and sockets die.
    appendFileSync(process.env.TIDINGS_TEST_CONFIG, `\n# restarted by a realtime test (${subscriber})\n`);
    await page.waitForFunction(() => document.body.dataset.status !== "live", null, { timeout: 30_000 });
    // Triggers sent while the runtime comes back are retried until acknowledged.
    for (const name of ["Grace", "Linus"]) await triggerEventually(subscriber, name);
    await page.waitForFunction(() => document.querySelectorAll("#feed li").length === 3, null, { timeout: 60_000 });
    await waitFor(page, () => document.body.dataset.status === "live");
    assert.equal(await badge(page), "3");
    await page.close();
  });

  it("catches up by delta sync after being offline", async () => {
    const subscriber = freshSubscriber("offline");
    await welcome(subscriber, "Ada");
    const { page } = await openTab(subscriber);
    await waitFor(page, () => document.body.dataset.status === "live");
    await browser.setOffline(true);
    await welcome(subscriber, "Grace");
    await welcome(subscriber, "Linus");
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(await page.$$eval("#feed li", (nodes) => nodes.length), 1, "nothing can arrive while offline");
    await browser.setOffline(false);
    await showsItems(page, 3);
    assert.equal(await badge(page), "3");
    await page.close();
  });

  it("refuses another subscriber's token and an expired token with typed errors", async () => {
    const [ada, bob] = [freshSubscriber("token-a"), freshSubscriber("token-b")];
    const signingSecret = keys.development.subscriber_signing_secret;
    const adaToken = signSubscriberToken({ signingSecret, environment: "development", subscriberId: ada, ttlSeconds: 600 });
    const shortToken = signSubscriberToken({ signingSecret, environment: "development", subscriberId: ada, ttlSeconds: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const page = await browser.newPage();
    await page.goto(`${wwwUrl}/feed.html?subscriber=${ada}`);
    const codes = await page.evaluate(async ({ ada, bob, adaToken, shortToken }) => {
      const { Tidings } = await import("@tidings/sdk");
      const config = await (await fetch("/demo-config.json")).json();
      const attempt = async (subscriberId, subscriberToken) => {
        const tidings = await Tidings.connect({ ...config, subscriberId, subscriberToken });
        return tidings.feed.list().then(() => "ok", (error) => error.code);
      };
      return { own: await attempt(ada, adaToken), other: await attempt(bob, adaToken), expired: await attempt(ada, shortToken) };
    }, { ada, bob, adaToken, shortToken });
    assert.deepEqual(codes, { own: "ok", other: "subscriber_credential_wrong_subscriber", expired: "subscriber_credential_expired" });
    await page.close();
  });
});
