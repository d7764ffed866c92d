// The offline-first feed in Chromium against the worker in workerd: a
// reload with the API stopped (a workerd of the test's own, stopped and
// started again) shows the cached view at once (status `cached`) and
// catches up when it returns; actions taken offline are queued, shown, and
// sent exactly once, with one Idempotency-Key, when the browser is back
// online, and an action whose answer was lost is not applied twice; one
// the API refuses is undone and reported; the cache is never read for
// another subscriber and is gone after clearCache().
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { signSubscriberToken } from "@tidings/sdk/server";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startIsolatedStack } from "../scripts/stack.mjs";
import { launchChromium } from "./support/browser.mjs";
import { api, apiUrl, freshSubscriber, keys, welcome, wwwUrl } from "./support/context.mjs";

let chromium;

before(async () => {
  chromium = await launchChromium();
});
after(async () => {
  await chromium?.close();
});

const waitUntil = (page, predicate, arg, timeout = 15_000) => page.waitForFunction(predicate, arg, { timeout });

// The tests load the data-API demo page for its import map; its own demo
// session is for a subscriber of its own, so only the tests' sessions touch theirs.

/** Starts a live view for `subscriberId` (states kept in window.states). */
async function view(page, options) {
  await page.evaluate(async (options) => {
    const { Tidings } = await import("@tidings/sdk");
    const config = await (await fetch("/demo-config.json")).json();
    window.tidings = await Tidings.connect({ ...config, ...options });
    window.states = [];
    window.view = window.tidings.feed.subscribe((state) => window.states.push({
      ids: state.items.map((item) => item.id), read: state.items.filter((item) => item.read_at).length,
      status: state.status, error: state.error?.code ?? null,
    }), { limit: 10 });
    await window.view.ready;
  }, options);
}

const blockApi = (page) => page.route(`${apiUrl}/**`, (route) => route.abort("internetdisconnected"));
const last = (page) => page.evaluate(() => window.states.at(-1));

describe("the offline-first feed", () => {
  it("shows the cached view at once after a reload with the API stopped, then catches up when it is back", async () => {
    // An API of its own (workerd with its own state) that this test stops and starts again.
    const directory = mkdtempSync(join(tmpdir(), "tidings-offline-"));
    const stack = await startIsolatedStack(directory);
    try {
      const own = { apiUrl: stack.apiUrl, publishableKey: stack.keys.environments.development.publishable_key };
      const trigger = async (subscriberId, name) => {
        const response = await fetch(`${stack.apiUrl}/v1/events/trigger`, {
          method: "POST",
          headers: { Authorization: `Bearer ${stack.keys.environments.development.secret_key}`, "Content-Type": "application/json" },
          body: JSON.stringify({ workflow: "welcome", to: [subscriberId], payload: { name } }),
        });
        assert.equal(response.status, 202, await response.text());
      };
      const subscriberId = freshSubscriber("offline-cache");
      for (const name of ["Ada", "Grace"]) await trigger(subscriberId, name);
      const page = await chromium.context.newPage();
      await page.goto(`${wwwUrl}/feed.html?subscriber=${freshSubscriber("demo-page")}`);
      await view(page, { ...own, subscriberId });
      await waitUntil(page, () => window.states.at(-1)?.status === "live" && window.states.at(-1).ids.length === 2);
      await page.waitForTimeout(300); // the cache is written 100 ms after the last change

      await stack.stopWorker();
      await assert.rejects(fetch(`${stack.apiUrl}/health`), "the API is down: its port refuses connections");
      await page.reload();
      await view(page, { ...own, subscriberId });
      const first = await page.evaluate(() => window.states[0]);
      assert.equal(first.status, "cached");
      assert.equal(first.ids.length, 2, "the cached items, with the API stopped");
      assert.equal((await last(page)).error, null, "no error while the cache stands in");

      await stack.restartWorker();
      await trigger(subscriberId, "Linus");
      await waitUntil(page, () => window.states.at(-1).ids.length === 3 && window.states.at(-1).status === "live", null, 60_000);
      await page.close();
    } finally {
      await stack.stop();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it("queues actions taken offline and sends each exactly once when back online", async () => {
    const subscriberId = freshSubscriber("offline-actions");
    for (const name of ["Ada", "Grace"]) await welcome(subscriberId, name);
    const page = await chromium.context.newPage();
    const sent = [];
    page.on("request", (request) => request.method() === "POST" && request.url().endsWith("/feed/actions")
      && sent.push(`${request.headers()["idempotency-key"]} ${request.postData()}`));
    await page.goto(`${wwwUrl}/feed.html?subscriber=${freshSubscriber("demo-page")}`);
    await view(page, { subscriberId });
    await waitUntil(page, () => window.states.at(-1)?.ids.length === 2);
    // A second session of the same subscriber (another tab would be the same): both flush the
    // one queue when the browser is online, and the action must still be sent once.
    await page.evaluate(async (subscriberId) => {
      const { Tidings } = await import("@tidings/sdk");
      const config = await (await fetch("/demo-config.json")).json();
      window.second = await Tidings.connect({ ...config, subscriberId });
    }, subscriberId);

    await chromium.context.setOffline(true);
    let answer;
    try {
      answer = await page.evaluate(() => window.tidings.feed.markRead(window.states.at(-1).ids[0]));
      assert.deepEqual(answer, { updated: 0, counts: null, queued: true });
      assert.equal((await last(page)).read, 1, "shown at once");
      const queued = await page.evaluate(() => new Promise((resolve) => {
        const request = indexedDB.open("tidings");
        request.onsuccess = () => {
          const all = request.result.transaction("actions").objectStore("actions").getAll();
          all.onsuccess = () => resolve(all.result.map((entry) => entry.body.action));
        };
      }));
      assert.deepEqual(queued, ["read"]);
      assert.equal(sent.length, 0);
    } finally {
      await chromium.context.setOffline(false);
    }
    const readOnServer = async () => (await api(`/v1/subscribers/${subscriberId}/feed/counts`, { key: keys.development.secret_key })).body.unread;
    for (let tries = 0; tries < 100 && (await readOnServer()) !== 1; tries++) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(await readOnServer(), 1, "the queued action reached the API");
    await page.waitForTimeout(1000);
    assert.equal(sent.length, 1, `sent exactly once: ${sent.join(" | ")}`);
    assert.match(sent[0], /^[0-9a-f-]{32,36} /, "with the Idempotency-Key it was queued with");
    assert.equal((await last(page)).read, 1);
    // Whichever session sent it, every view keeps up afterwards (none is left waiting on it).
    await welcome(subscriberId, "Linus");
    await waitUntil(page, () => window.states.at(-1).ids.length === 3);
    await page.close();
  });

  it("applies an action whose answer was lost once, even when it was undone elsewhere before the retry", async () => {
    const subscriberId = freshSubscriber("offline-lost-answer");
    await welcome(subscriberId, "Ada");
    const page = await chromium.context.newPage();
    await page.goto(`${wwwUrl}/feed.html?subscriber=${freshSubscriber("demo-page")}`);
    await view(page, { subscriberId });
    await waitUntil(page, () => window.states.at(-1)?.ids.length === 1);
    const id = (await last(page)).ids[0];
    const sent = [];
    let releaseRetry;
    const retryMayGo = new Promise((resolve) => (releaseRetry = resolve));
    await page.route("**/feed/actions", async (route) => {
      if (route.request().method() !== "POST") return route.continue();
      sent.push(route.request().headers()["idempotency-key"]);
      if (sent.length === 1) {
        // The API applies it; the answer never reaches the page.
        await route.fetch();
        return route.abort("connectionreset");
      }
      await retryMayGo;
      return route.continue();
    });
    const answer = await page.evaluate((id) => window.tidings.feed.markRead(id), id);
    assert.deepEqual(answer, { updated: 0, counts: null, queued: true }, "queued after the lost answer");
    const unreadOnServer = async () => (await api(`/v1/subscribers/${subscriberId}/feed/counts`, { key: keys.development.secret_key })).body.unread;
    assert.equal(await unreadOnServer(), 0, "the first attempt was applied");
    // Meanwhile the subscriber marks it unread on another device.
    const elsewhere = await api(`/v1/subscribers/${subscriberId}/feed/actions`, { key: keys.development.secret_key, method: "POST", body: { action: "unread", ids: [id] } });
    assert.equal(elsewhere.body.updated, 1);
    releaseRetry();
    for (let tries = 0; tries < 100 && sent.length < 2; tries++) await page.waitForTimeout(100);
    assert.equal(sent.length, 2, "retried from the queue");
    assert.ok(sent[0] && sent[1] === sent[0], `the retry carries the first attempt's key: ${sent.join(" | ")}`);
    await waitUntil(page, () => window.states.at(-1).read === 0);
    await page.waitForTimeout(500);
    assert.equal(await unreadOnServer(), 1, "the retry did not apply the action a second time");
    assert.equal(await page.evaluate(() => window.states.at(-1).error), null);
    await page.close();
  });

  it("sends an action taken while the queue is being sent, after it, in order", async () => {
    const subscriberId = freshSubscriber("offline-while-sending");
    for (const name of ["Ada", "Grace", "Linus"]) await welcome(subscriberId, name);
    const page = await chromium.context.newPage();
    await page.goto(`${wwwUrl}/feed.html?subscriber=${freshSubscriber("demo-page")}`);
    await view(page, { subscriberId });
    await waitUntil(page, () => window.states.at(-1)?.ids.length === 3);
    const ids = (await last(page)).ids;
    const sent = [];
    let releaseFirst;
    const firstMayGo = new Promise((resolve) => (releaseFirst = resolve));
    await page.route("**/feed/actions", async (route) => {
      if (route.request().method() !== "POST") return route.continue();
      sent.push(JSON.parse(route.request().postData()).ids.join());
      if (sent.length === 1) await firstMayGo;
      return route.continue();
    });
    await chromium.context.setOffline(true);
    try {
      for (const id of ids.slice(0, 2)) await page.evaluate((id) => window.tidings.feed.markRead(id), id);
    } finally {
      await chromium.context.setOffline(false);
    }
    for (let tries = 0; tries < 100 && sent.length === 0; tries++) await page.waitForTimeout(100);
    assert.equal(sent.length, 1, "the queue is being sent, its first action held");
    // Taken now, it queues behind the two being sent.
    assert.equal((await page.evaluate((id) => window.tidings.feed.markRead(id), ids[2])).queued, true);
    releaseFirst();
    const unreadOnServer = async () => (await api(`/v1/subscribers/${subscriberId}/feed/counts`, { key: keys.development.secret_key })).body.unread;
    for (let tries = 0; tries < 100 && (await unreadOnServer()) !== 0; tries++) await page.waitForTimeout(100);
    assert.equal(await unreadOnServer(), 0, "all three reached the API");
    assert.deepEqual(sent, ids.map(String), "in the order taken, each once");
    await page.close();
  });

  it("undoes and reports a queued action the API refuses", async () => {
    const subscriberId = freshSubscriber("offline-refused");
    await welcome(subscriberId, "Ada");
    const readOnly = signSubscriberToken({ signingSecret: keys.development.subscriber_signing_secret, environment: "development", subscriberId, scope: "read" });
    const page = await chromium.context.newPage();
    await page.goto(`${wwwUrl}/feed.html?subscriber=${freshSubscriber("demo-page")}`);
    await view(page, { subscriberId, subscriberToken: readOnly });
    await waitUntil(page, () => window.states.at(-1)?.ids.length === 1);
    await chromium.context.setOffline(true);
    try {
      await page.evaluate(() => window.tidings.feed.markRead(window.states.at(-1).ids[0]));
      assert.equal((await last(page)).read, 1);
    } finally {
      await chromium.context.setOffline(false);
    }
    await waitUntil(page, () => window.states.at(-1).error === "subscriber_token_read_only");
    assert.equal((await last(page)).read, 0, "put back as the API has it");
    await page.close();
  });

  it("never shows one subscriber's cache to another, and forgets everything on clearCache()", async () => {
    const subscriberId = freshSubscriber("offline-owner");
    await welcome(subscriberId, "Ada");
    const page = await chromium.context.newPage();
    await page.goto(`${wwwUrl}/feed.html?subscriber=${freshSubscriber("demo-page")}`);
    await view(page, { subscriberId });
    await waitUntil(page, () => window.states.at(-1)?.ids.length === 1);
    await page.waitForTimeout(300);

    await blockApi(page);
    // A token for someone else, presented as this subscriber: the cache stays shut.
    const other = signSubscriberToken({ signingSecret: keys.development.subscriber_signing_secret, environment: "development", subscriberId: "someone-else" });
    await page.reload();
    await view(page, { subscriberId, subscriberToken: other }).catch(() => {});
    assert.equal(await page.evaluate(() => window.states.filter((state) => state.ids.length > 0).length), 0, "no cached item shown");
    await page.reload();
    await view(page, { subscriberId: `${subscriberId}-b` }).catch(() => {});
    assert.equal(await page.evaluate(() => window.states.filter((state) => state.ids.length > 0).length), 0, "another subscriber's view is not the cache");

    await page.unroute(`${apiUrl}/**`);
    // A hash the API refuses: the cached view may show first, and is withdrawn once refused.
    await page.reload();
    await view(page, { subscriberId, subscriberHash: "0".repeat(64) }).catch(() => {});
    await waitUntil(page, () => window.states.at(-1)?.error !== null);
    assert.deepEqual(await page.evaluate(() => [window.states[0].status, window.states[0].ids.length]), ["cached", 1]);
    assert.deepEqual(await page.evaluate(() => [window.states.at(-1).ids.length, window.states.at(-1).error]), [0, "subscriber_credential_invalid"]);

    await page.reload();
    await view(page, { subscriberId });
    await waitUntil(page, () => window.states.at(-1)?.status === "live");
    await page.evaluate(async () => {
      window.tidings.close();
      await window.tidings.clearCache();
    });
    await blockApi(page);
    await page.reload();
    await view(page, { subscriberId }).catch(() => {});
    assert.equal(await page.evaluate(() => window.states.filter((state) => state.status === "cached").length), 0, "nothing cached after clearCache()");
    await page.close();
  });
});
