// A live view in Chromium across subscriber-token expiries: tokens of two
// seconds, renewed through getSubscriberToken, while notifications keep
// arriving over the realtime socket, with no error shown.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { signSubscriberToken } from "@tidings/sdk/server";
import { launchChromium } from "./support/browser.mjs";
import { freshSubscriber, keys, welcome, wwwUrl } from "./support/context.mjs";

let chromium;

before(async () => {
  chromium = await launchChromium();
});
after(async () => {
  await chromium?.close();
});

describe("token renewal in the browser", () => {
  it("keeps a live view running across several expiries", async () => {
    const subscriberId = freshSubscriber("renew-live");
    await welcome(subscriberId, "Ada");
    const page = await chromium.context.newPage();
    const problems = [];
    page.on("pageerror", (error) => problems.push(error.message));
    let minted = 0;
    await page.exposeFunction("mintSubscriberToken", () => {
      minted += 1;
      return signSubscriberToken({ signingSecret: keys.development.subscriber_signing_secret, environment: "development", subscriberId, ttlSeconds: 2 });
    });
    await page.goto(`${wwwUrl}/feed.html`);
    await page.evaluate(async ({ subscriberId }) => {
      const { Tidings } = await import("@tidings/sdk");
      const config = await (await fetch("/demo-config.json")).json();
      const tidings = await Tidings.connect({ ...config, subscriberId, getSubscriberToken: () => window.mintSubscriberToken() });
      window.states = [];
      window.view = tidings.feed.subscribe((state) => window.states.push({ count: state.items.length, error: state.error?.code ?? null, status: state.status }));
      await window.view.ready;
    }, { subscriberId });
    await page.waitForFunction(() => window.states.at(-1)?.status === "live", null, { timeout: 10_000 });
    for (const [index, name] of ["Grace", "Linus", "Barbara"].entries()) {
      // Each wait outlives the token in use.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      await welcome(subscriberId, name);
      await page.waitForFunction((count) => window.states.at(-1)?.count === count, index + 2, { timeout: 10_000 });
    }
    const states = await page.evaluate(() => window.states);
    assert.deepEqual(states.filter((state) => state.error !== null), [], "no error was ever shown");
    assert.ok(minted >= 4 && minted <= 12, `tokens were renewed, paced (${minted} minted in ~8 s of 2-second tokens)`);
    assert.deepEqual(problems, []);
    await page.close();
  });
});
