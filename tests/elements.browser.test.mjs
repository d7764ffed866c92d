// <tidings-inbox> and <tidings-bell> (@tidings/sdk/elements) on the demo
// page in Chromium against the worker in workerd: reading, actions, tabs,
// infinite scroll, live arrival, keyboard-only use, localization, empty,
// offline and error states, axe-core with zero violations, and screenshots
// at phone and desktop width in light and dark.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { launchChromium } from "./support/browser.mjs";
import { freshSubscriber, keys, welcome, wwwUrl } from "./support/context.mjs";

const axeSource = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const artifacts = process.env.TIDINGS_TEST_ARTIFACTS;
let chromium;

before(async () => {
  chromium = await launchChromium();
});
after(async () => {
  await chromium?.close();
});

/** Opens the demo page with URL parameters; resolves once the inbox shows `ready` (items, or its empty note). */
async function open(params, { viewport } = {}) {
  const page = await chromium.context.newPage();
  if (viewport) await page.setViewportSize(viewport);
  const problems = [];
  page.on("pageerror", (error) => problems.push(error.message));
  await page.goto(`${wwwUrl}/?${new URLSearchParams(params)}`);
  return { page, problems };
}

const inbox = (page) => page.locator("#inbox");
const items = (page) => page.locator("#inbox li[data-id]");
const subjects = (page) => items(page).locator(".subject").allTextContents();
const waitUntil = (page, predicate, arg) => page.waitForFunction(predicate, arg, { timeout: 10_000 });
const itemCount = (page, count) => waitUntil(page, (n) => document.querySelector("#inbox").shadowRoot.querySelectorAll("li[data-id]").length === n, count);
const badge = (page) => page.evaluate(() => document.querySelector("#bell").shadowRoot.querySelector(".count")?.textContent ?? "0");

/** axe-core over the page, shadow roots included; answers the violations. */
async function axe(page) {
  await page.addScriptTag({ path: axeSource });
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((violation) => ({ id: violation.id, nodes: violation.nodes.map((node) => node.target.join(" ")) }));
  });
}

async function screenshot(page, name) {
  if (!artifacts) return;
  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

describe("<tidings-inbox> and <tidings-bell>", () => {
  it("shows the feed with relative times, the environment badge and the unread count", async () => {
    const subscriber = freshSubscriber("element");
    for (const name of ["Ada", "Grace", "Linus"]) await welcome(subscriber, name);
    const { page, problems } = await open({ subscriber });
    await itemCount(page, 3);
    assert.deepEqual(await subjects(page), ["Welcome, Linus!", "Welcome, Grace!", "Welcome, Ada!"]);
    assert.match(await items(page).first().locator("time").textContent(), /now|second|minute/);
    assert.equal((await inbox(page).locator("[part=environment]").textContent()).trim(), "development");
    await waitUntil(page, () => document.querySelector("#bell").shadowRoot.querySelector(".count")?.textContent === "3");
    assert.equal(await page.locator("#bell").locator("button.bell").getAttribute("aria-label"), "Notifications, 3 unread");
    assert.equal(await inbox(page).locator("button.more").count(), 0, "no Load more when everything is shown");
    assert.deepEqual(problems, []);
    await page.close();
  });

  it("marks read and unread, archives, switches tabs and marks all read", async () => {
    const subscriber = freshSubscriber("element-actions");
    for (const name of ["Ada", "Grace", "Linus"]) await welcome(subscriber, name);
    const { page } = await open({ subscriber });
    await itemCount(page, 3);
    await items(page).first().getByRole("button", { name: "Mark as read" }).click();
    await waitUntil(page, () => document.querySelector("#bell").shadowRoot.querySelector(".count")?.textContent === "2");
    assert.equal(await items(page).first().getAttribute("class"), "");
    await items(page).first().getByRole("button", { name: "Mark as unread" }).click();
    await waitUntil(page, () => document.querySelector("#bell").shadowRoot.querySelector(".count")?.textContent === "3");
    await items(page).nth(1).getByRole("button", { name: "Archive" }).click();
    await itemCount(page, 2);
    await inbox(page).getByRole("tab", { name: "Archived" }).click();
    await itemCount(page, 1);
    assert.deepEqual(await subjects(page), ["Welcome, Grace!"]);
    await inbox(page).getByRole("tab", { name: "Unread" }).click();
    await itemCount(page, 2);
    await inbox(page).getByRole("button", { name: "Mark all as read" }).click();
    await waitUntil(page, () => document.querySelector("#inbox").shadowRoot.textContent.includes("You're all caught up"));
    await waitUntil(page, () => !document.querySelector("#bell").shadowRoot.querySelector(".count"));
    await page.close();
  });

  it("loads older pages as the list scrolls, and shows new notifications live, announced", async () => {
    const subscriber = freshSubscriber("element-scroll");
    for (let index = 1; index <= 7; index++) await welcome(subscriber, `N${index}`);
    const { page } = await open({ subscriber, limit: "3" });
    await itemCount(page, 3);
    await page.evaluate(() => {
      const panel = document.querySelector("#inbox").shadowRoot.querySelector(".scroll");
      panel.scrollTop = panel.scrollHeight;
    });
    await waitUntil(page, () => document.querySelector("#inbox").shadowRoot.querySelectorAll("li[data-id]").length >= 6);
    await itemCount(page, 7);
    await waitUntil(page, () => document.querySelector("#bell").shadowRoot.querySelector("button.bell").getAttribute("aria-label").includes("7 unread"));
    await welcome(subscriber, "Live");
    await itemCount(page, 8);
    assert.equal((await subjects(page))[0], "Welcome, Live!");
    await waitUntil(page, () => document.querySelector("#inbox").shadowRoot.querySelector("[aria-live]").textContent === "1 new notification");
    // The bell's popover is closed, so its inbox is hidden: the bell announces arrivals itself.
    await welcome(subscriber, "Again");
    await waitUntil(page, () => document.querySelector("#bell").shadowRoot.querySelector(".announce[aria-live]").textContent === "1 new notification");
    await page.close();
  });

  it("works with the keyboard alone: bell, popover focus trap, tabs, items, Escape", async () => {
    const subscriber = freshSubscriber("element-keys");
    for (const name of ["Ada", "Grace"]) await welcome(subscriber, name);
    const { page } = await open({ subscriber });
    await itemCount(page, 2);
    // Tab from the top of the page reaches the bell first.
    await page.keyboard.press("Tab");
    const focusedLabel = () => page.evaluate(() => {
      let node = document.activeElement;
      while (node?.shadowRoot?.activeElement) node = node.shadowRoot.activeElement;
      return node?.getAttribute("aria-label") ?? node?.getAttribute("data-focus") ?? node?.textContent;
    });
    assert.match(await focusedLabel(), /^Notifications/);
    await page.keyboard.press("Enter");
    await waitUntil(page, () => document.querySelector("#bell").open === true);
    await waitUntil(page, () => {
      const popover = document.querySelector("#bell").shadowRoot.querySelector("[part=inbox]");
      return popover.shadowRoot.activeElement?.getAttribute("role") === "tab";
    });
    // Arrow keys move between tabs.
    await page.keyboard.press("ArrowRight");
    assert.equal(await focusedLabel(), "tab-unread");
    await page.keyboard.press("ArrowLeft");
    assert.equal(await focusedLabel(), "tab-all");
    // Tab cycles inside the popover: many presses never leave it.
    for (let index = 0; index < 25; index++) {
      await page.keyboard.press("Tab");
      const where = await page.evaluate(() => {
        const chain = [];
        for (let node = document.activeElement; node; node = node.shadowRoot?.activeElement) chain.push(`${node.tagName}[${node.getAttribute("part") ?? node.getAttribute("data-focus") ?? ""}]`);
        return chain.join(" > ");
      });
      assert.match(where, /^TIDINGS-BELL\[\] > TIDINGS-INBOX\[inbox\] > /, `focus stays in the popover (press ${index + 1})`);
    }
    // Escape closes and gives focus back to the bell.
    await page.keyboard.press("Escape");
    await waitUntil(page, () => document.querySelector("#bell").open === false);
    assert.match(await focusedLabel(), /^Notifications/);
    // In the page's inbox, arrow keys move between items, and buttons act.
    await inbox(page).locator("li[data-id]").first().focus();
    await page.keyboard.press("ArrowDown");
    assert.match(await focusedLabel(), /Welcome, Ada!/);
    await page.keyboard.press("ArrowUp");
    assert.match(await focusedLabel(), /Welcome, Grace!/);
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await waitUntil(page, () => document.querySelector("#bell").shadowRoot.querySelector(".count")?.textContent === "1");
    await page.close();
  });

  it("takes the app's theme through parts and custom properties, its own tabs and item markup", async () => {
    const subscriber = freshSubscriber("element-custom");
    for (const name of ["Ada", "Grace"]) await welcome(subscriber, name);
    const { page } = await open({ subscriber });
    await itemCount(page, 2);
    await page.addStyleTag({ content: "#inbox::part(subject) { color: rgb(200, 0, 0); } #inbox { --tidings-accent: rgb(0, 120, 0); }" });
    // Read from the nodes shown at the time: the list renders again when its live connection comes up.
    await waitUntil(page, () => {
      const root = document.querySelector("#inbox").shadowRoot;
      const subject = root.querySelector("li[data-id] .subject");
      const tab = [...root.querySelectorAll("[role=tab]")].find((node) => node.textContent.trim().startsWith("All"));
      return subject && tab && getComputedStyle(subject).color === "rgb(200, 0, 0)" && getComputedStyle(tab).color === "rgb(0, 120, 0)";
    });
    await page.evaluate(() => {
      const element = document.querySelector("#inbox");
      element.tabs = [{ id: "welcome", label: "Welcome", filter: { workflow: "welcome" } }, { id: "billing", label: "Billing", filter: { workflow: "billing" } }];
      element.renderItem = (item) => Object.assign(document.createElement("p"), { className: "custom", textContent: `custom: ${item.subject}` });
    });
    await waitUntil(page, () => document.querySelector("#inbox").shadowRoot.querySelectorAll("p.custom").length === 2);
    assert.equal(await inbox(page).locator("p.custom").first().textContent(), "custom: Welcome, Grace!");
    await inbox(page).getByRole("tab", { name: "Billing" }).click();
    await waitUntil(page, () => document.querySelector("#inbox").shadowRoot.textContent.includes("No notifications yet"));
    await inbox(page).getByRole("tab", { name: "Welcome" }).click();
    await itemCount(page, 2);
    await page.close();
  });

  it("forgets the previous user at once when the subscriber changes (sign-out, switch)", async () => {
    const first = freshSubscriber("element-user-a");
    const second = freshSubscriber("element-user-b");
    for (const name of ["Ada", "Grace"]) await welcome(first, name);
    await welcome(second, "Linus");
    const { page } = await open({ subscriber: first });
    await itemCount(page, 2);
    await waitUntil(page, () => document.querySelector("#bell").shadowRoot.querySelector(".count")?.textContent === "2");
    await page.evaluate((id) => {
      for (const element of document.querySelectorAll("#bell, #inbox")) element.setAttribute("subscriber-id", id);
    }, second);
    await itemCount(page, 1);
    assert.deepEqual(await subjects(page), ["Welcome, Linus!"]);
    await waitUntil(page, () => document.querySelector("#bell").shadowRoot.querySelector(".count")?.textContent === "1");
    // Signed out: no subscriber, nothing of anyone shown.
    await page.evaluate(() => {
      for (const element of document.querySelectorAll("#bell, #inbox")) element.removeAttribute("subscriber-id");
    });
    await itemCount(page, 0);
    await waitUntil(page, () => !document.querySelector("#bell").shadowRoot.querySelector(".count"));
    await page.close();
  });

  it("speaks French when asked, and shows empty, error and offline states", async () => {
    const empty = await open({ subscriber: freshSubscriber("element-empty"), locale: "fr" });
    await waitUntil(empty.page, () => document.querySelector("#inbox").shadowRoot.textContent.includes("Aucune notification pour l'instant"));
    assert.equal(await inbox(empty.page).getByRole("tab", { name: "Non lues" }).count(), 1);
    assert.equal(await inbox(empty.page).locator("button.more").count(), 0);
    await empty.page.close();

    const broken = await open({ subscriber: "x", key: keys.development.publishable_key.slice(0, -3) + "zzz" });
    await waitUntil(broken.page, () => document.querySelector("#inbox").shadowRoot.querySelector("[role=alert]"));
    assert.match(await inbox(broken.page).locator("[role=alert]").textContent(), /could not be loaded \((malformed_key|unknown_key)\)/);
    assert.equal(await inbox(broken.page).getByRole("button", { name: "Try again" }).count(), 1);
    await broken.page.close();

    const subscriber = freshSubscriber("element-offline");
    await welcome(subscriber, "Ada");
    const offline = await open({ subscriber });
    await itemCount(offline.page, 1);
    await chromium.context.setOffline(true);
    try {
      await waitUntil(offline.page, () => document.querySelector("#inbox").shadowRoot.textContent.includes("You are offline"));
      assert.deepEqual(await subjects(offline.page), ["Welcome, Ada!"], "what was loaded stays");
    } finally {
      await chromium.context.setOffline(false);
    }
    await offline.page.close();
  });

  it("has no axe-core violations, light and dark, popover open and closed; screenshots", async () => {
    const subscriber = freshSubscriber("element-axe");
    for (const name of ["Ada", "Grace"]) await welcome(subscriber, name);
    for (const colorScheme of ["light", "dark"]) {
      for (const [width, height, label] of [[390, 844, "phone"], [1280, 800, "desktop"]]) {
        const { page } = await open({ subscriber }, { viewport: { width, height } });
        await page.emulateMedia({ colorScheme });
        await itemCount(page, 2);
        assert.deepEqual(await axe(page), [], `${colorScheme} ${label}, closed`);
        await page.locator("#bell").locator("button.bell").click();
        await waitUntil(page, () => document.querySelector("#bell").open === true);
        await waitUntil(page, () => document.querySelector("#bell").shadowRoot.querySelector("[part=inbox]").shadowRoot.querySelectorAll("li[data-id]").length === 2);
        assert.deepEqual(await axe(page), [], `${colorScheme} ${label}, open`);
        await screenshot(page, `elements-${label}-${colorScheme}`);
        await page.close();
      }
    }
  });
});
