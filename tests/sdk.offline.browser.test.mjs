// The offline-first feed in Chromium against the worker in workerd: a
// reload with the API unreachable shows the cached view at once (status
// `cached`) and catches up when it returns; actions taken offline are
// queued, shown, and sent exactly once when the browser is back online; one
// the API refuses is undone and reported; the cache is never read for
// another subscriber and is gone after clearCache().
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { signSubscriberToken } from "@tidings/sdk/server";
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
  it("shows the cached view at once after a reload with the API unreachable, then catches up", async () => {
    const subscriberId = freshSubscriber("offline-cache");
    for (const name of ["Ada", "Grace"]) await welcome(subscriberId, name);
    const page = await chromium.context.newPage();
    await page.goto(`${wwwUrl}/feed.html?subscriber=${freshSubscriber("demo-page")}`);
    await view(page, { subscriberId });
    await waitUntil(page, () => window.states.at(-1)?.status === "live" && window.states.at(-1).ids.length === 2);
    await page.waitForTimeout(300); // the cache is written 100 ms after the last change

    await blockApi(page);
    await page.reload();
    await view(page, { subscriberId });
    const first = await page.evaluate(() => window.states[0]);
    assert.equal(first.status, "cached");
    assert.equal(first.ids.length, 2, "the cached items, with the API unreachable");
    assert.equal((await last(page)).error, null, "no error while the cache stands in");

    await welcome(subscriberId, "Linus");
    await page.unroute(`${apiUrl}/**`);
    await waitUntil(page, () => window.states.at(-1).ids.length === 3 && window.states.at(-1).status === "live", null, 40_000);
    await page.close();
  });

  it("queues actions taken offline and sends each exactly once when back online", async () => {
    const subscriberId = freshSubscriber("offline-actions");
    for (const name of ["Ada", "Grace"]) await welcome(subscriberId, name);
    const page = await chromium.context.newPage();
    const sent = [];
    page.on("request", (request) => request.method() === "POST" && request.url().endsWith("/feed/actions") && sent.push(request.postData()));
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
    assert.equal((await last(page)).read, 1);
    // Whichever session sent it, every view keeps up afterwards (none is left waiting on it).
    await welcome(subscriberId, "Linus");
    await waitUntil(page, () => window.states.at(-1).ids.length === 3);
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
