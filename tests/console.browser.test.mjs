// The admin console in headless Chromium, served in workerd on the API's own
// origin (its own assets-only worker behind the API worker's CONSOLE binding),
// as a deployment serves it:
// sign in as the owner, create an environment and watch it provisioned,
// manage keys, write a workflow in
// development with the wasm live preview, send it and watch it arrive in the
// demo inbox, promote it to staging and production, roll production back;
// and the same pages for a viewer, at phone width, with labelled controls.
// Screenshots of each screen go to TIDINGS_TEST_ARTIFACTS.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { launchChromium } from "./support/browser.mjs";
import { admin, api, apiUrl, freshSubscriber, keys, waitFor, wwwUrl } from "./support/context.mjs";
import { envCommand } from "./support/env-command.mjs";

const artifacts = process.env.TIDINGS_TEST_ARTIFACTS;
const ownerToken = JSON.parse(readFileSync(process.env.TIDINGS_TEST_KEYS, "utf8")).owner.token;
const tag = randomBytes(3).toString("hex");
const workflowKey = `console-${tag}`;
const subscriber = freshSubscriber("console");
const scratch = mkdtempSync(join(tmpdir(), "tidings-console-"));
const keysFile = join(scratch, "keys.json");
let chromium;
let page;
const problems = [];

before(async () => {
  chromium = await launchChromium();
  page = await chromium.context.newPage();
  page.on("pageerror", (error) => problems.push(error.message));
  // Confirmations are accepted; a prompt (a lock's reason) gets this answer.
  page.on("dialog", (dialog) => dialog.accept(dialog.type() === "prompt" ? `frozen by the console test ${tag}` : undefined));
});

after(async () => {
  await chromium?.close();
  rmSync(scratch, { recursive: true, force: true });
});

async function screenshot(name) {
  if (!artifacts) return;
  mkdirSync(join(artifacts, "console"), { recursive: true });
  await page.screenshot({ path: join(artifacts, "console", `${name}.png`), fullPage: true });
}

async function signIn(token) {
  await page.goto(`${apiUrl}/console/#/environments`);
  await page.fill("#token", token);
  await page.click("button[type=submit]");
}

async function open(hash, heading) {
  await page.goto(`${apiUrl}/console/${hash}`);
  await page.waitForFunction((text) => document.querySelector("main h1")?.textContent.startsWith(text), heading);
}

/** Loads the page again (the session, kept in the tab, reads the environments anew). */
async function reload() {
  await page.reload();
  await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "Environments");
}

/** Every form control on the page has a label a screen reader announces. */
async function assertLabelled(where) {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("input, select, textarea")]
      .filter((control) => control.type !== "checkbox" || !control.labels?.length)
      .filter((control) => !control.labels?.length && !control.getAttribute("aria-label"))
      .map((control) => control.outerHTML));
  assert.deepEqual(unlabelled, [], where);
}

describe("the admin console", () => {
  it("is served on the API's origin with its security headers, and its wasm as application/wasm", async () => {
    const pageResponse = await fetch(`${apiUrl}/console/`);
    assert.equal(pageResponse.status, 200);
    assert.match(pageResponse.headers.get("content-security-policy"), /default-src 'self'; script-src 'self' 'wasm-unsafe-eval'/);
    assert.equal(pageResponse.headers.get("x-frame-options"), "DENY");
    assert.equal(pageResponse.headers.get("x-content-type-options"), "nosniff");
    assert.equal(pageResponse.headers.get("referrer-policy"), "no-referrer");
    const wasm = await fetch(`${apiUrl}/console/pkg/tidings_console_bg.wasm`);
    assert.equal(wasm.headers.get("content-type"), "application/wasm");
    assert.equal((await fetch(`${apiUrl}/_headers`)).status, 404, "the headers file is configuration, not content");
  });

  it("refuses a bad token with its code, then signs the owner in", async () => {
    await signIn(`mt_${"a".repeat(52)}`);
    await page.waitForSelector(".error[data-code=member_token_invalid]");
    await assertLabelled("login");
    await screenshot("01-login-refused");
    await page.fill("#token", ownerToken);
    await page.click("button[type=submit]");
    await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "Environments");
    const tabs = await page.$$eval("#environments-nav a[data-environment]", (links) => links.map((link) => link.dataset.environment));
    assert.deepEqual(tabs.slice(0, 3), ["development", "staging", "production"]);
    await assertLabelled("environments");
    await screenshot("02-environments");
  });

  it("creates a custom environment and watches its status move as it is provisioned, then deletes it", { timeout: 240_000 }, async () => {
    const name = `qa-${tag}`;
    await page.fill("#new-name", name);
    await page.selectOption("#new-type", "staging");
    await page.click("text=Create environment");
    await page.waitForSelector("#signing-secret");
    assert.match(await page.textContent("#signing-secret"), /^[0-9a-f]{64}$/);
    const row = page.locator("#environment-list tr", { hasText: name });
    await row.locator(".status[data-status=creating]").waitFor();
    assert.match(await row.textContent(), /waiting for the bindings/);
    await screenshot("03-environment-creating");
    try {
      // What the page tells the reader to run: bindings, migrations, keys.
      const provisioned = await envCommand(keysFile, "create", name, "--type", "staging");
      assert.equal(provisioned.code, 0, provisioned.stderr + provisioned.stdout);
      // The worker picks up the new bindings as wrangler reloads it, which a loaded machine can take a while to do.
      let registered;
      for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 1_000))) {
        registered = await admin(`/v1/environments/${name}`).catch((error) => ({ status: 0, body: String(error) }));
        if (["active", "ready"].includes(registered.body?.status)) break;
      }
      assert.ok(["active", "ready"].includes(registered.body?.status), `the API still says ${JSON.stringify(registered)}`);
      await row.locator(".status[data-status=active], .status[data-status=ready]").waitFor({ timeout: 30_000 }).catch(async (error) => {
        await screenshot("03-environment-stuck");
        throw new Error(`the page still shows ${await row.textContent().catch(() => "no row")}: ${error.message}`);
      });
      await screenshot("03-environment-ready");
      // Lock: the reason shows on the environment; unlock lifts it.
      await page.click(`button[aria-label="Lock ${name}"]`);
      await row.locator(`[data-lock="${name}"]`, { hasText: `frozen by the console test ${tag}` }).waitFor();
      assert.equal((await admin(`/v1/environments/${name}`)).body.lock.reason, `frozen by the console test ${tag}`);
      await screenshot("03-environment-locked");
      await page.click(`button[aria-label="Unlock ${name}"]`);
      await page.waitForSelector(`[data-lock="${name}"]`, { state: "detached" });
      // Archive shows the purge date; restore brings it back.
      await page.click(`button[aria-label="Archive ${name}"]`);
      await row.locator(".status[data-status=archived]").waitFor();
      assert.match(await row.textContent(), /Purged/);
      await page.click(`button[aria-label="Restore ${name}"]`);
      await row.locator(".status[data-status=active], .status[data-status=ready]").waitFor();
      // A preview (waiting for its bindings here) is listed in its own group, with its source.
      const preview = await admin("/v1/environments", { method: "POST", body: { name: `pr-${tag}`, type: "development", from: "development", ttl_seconds: 3600 } });
      assert.equal(preview.status, 202, JSON.stringify(preview.body));
      await reload();
      const group = page.locator("#environment-list table", { hasText: "Preview environments" });
      await group.locator("tr", { hasText: `pr-${tag}` }).waitFor();
      assert.match(await group.textContent(), /preview of development/);
      assert.equal((await admin(`/v1/environments/pr-${tag}`, { method: "DELETE" })).status, 200);
      await reload();
      await page.click(`button[aria-label="Delete ${name}"]`);
      await page.waitForFunction((gone) => ![...document.querySelectorAll("#environment-list tr")].some((tr) => tr.textContent.includes(gone)), name);
      assert.equal((await admin(`/v1/environments/${name}`)).status, 404);
    } finally {
      // Deleted from the console (or left behind by a failure, perhaps locked): the command removes what is left.
      await admin(`/v1/environments/${name}/unlock`, { method: "POST" });
      await admin(`/v1/environments/pr-${tag}`, { method: "DELETE" });
      const cleaned = await envCommand(keysFile, "delete", name);
      assert.equal(cleaned.code, 0, cleaned.stderr + cleaned.stdout);
    }
    assert.doesNotMatch(readFileSync(process.env.TIDINGS_TEST_CONFIG, "utf8"), new RegExp(`DB_QA_${tag.toUpperCase()}`));
  });

  it("issues a key shown once, regenerates it with a grace period, and revokes it", async () => {
    await open("#/development/keys", "Keys");
    await page.selectOption("#key-kind", "publishable");
    await page.click("text=Create key");
    const key = await page.textContent("#new-key");
    assert.match(key, /^pk_development_/);
    assert.equal((await api("/v1/environments/current", { key })).body.name, "development");
    await assertLabelled("keys");
    await screenshot("04-key-shown-once");
    await page.click("text=I have stored it");
    assert.equal(await page.$("#new-key"), null);
    // Regenerate with an hour's grace: a new key, shown once; the old one keeps working meanwhile.
    const masked = `pk_development_…${key.slice(-6)}`;
    await page.selectOption(`select[aria-label="Grace period for ${masked}"]`, "3600");
    await page.click(`button[aria-label="Regenerate ${masked}"]`);
    await page.waitForFunction((old) => document.querySelector("#new-key")?.textContent !== old, key);
    const regenerated = await page.textContent("#new-key");
    assert.match(regenerated, /^pk_development_/);
    await page.locator("tr", { hasText: masked }).locator(".status[data-status=expiring]").waitFor();
    assert.equal((await api("/v1/environments/current", { key })).body.name, "development");
    await screenshot("04-key-regenerated");
    await page.click("text=I have stored it");
    const newMasked = `pk_development_…${regenerated.slice(-6)}`;
    await page.click(`button[aria-label="Revoke ${newMasked}"]`);
    await page.locator("tr", { hasText: newMasked }).locator(".status[data-status=revoked]").waitFor();
    assert.equal((await api("/v1/environments/current", { key: regenerated })).body.error.code, "key_revoked");
    // A restricted secret key: its scopes in the list, refused outside them, then revoked.
    await page.selectOption("#key-kind", "secret");
    await page.fill("#key-scopes", "trigger, logs:read");
    await page.click("text=Create key");
    const restricted = await page.textContent("#new-key");
    assert.match(restricted, /^sk_development_/);
    await page.click("text=I have stored it");
    const restrictedMasked = `sk_development_…${restricted.slice(-6)}`;
    const row = page.locator("tr", { hasText: restrictedMasked });
    assert.equal(await row.locator("[data-scopes]").getAttribute("data-scopes"), "trigger,logs:read");
    assert.equal((await api("/v1/logs", { key: restricted })).status, 200);
    assert.equal((await api("/v1/subscribers", { key: restricted })).body.error.code, "key_scope_insufficient");
    await page.click(`button[aria-label="Revoke ${restrictedMasked}"]`);
    await row.locator(".status[data-status=revoked]").waitFor();
  });

  it("writes a workflow with a live wasm preview, sends it, and the demo inbox shows it live", async () => {
    await open("#/development/workflows/new", "New workflow");
    await page.fill("#workflow-key", workflowKey);
    await page.fill("#workflow-name", "Deploy finished");
    await page.fill("#workflow-subject", "Deploy {{ payload.version }} finished");
    await page.fill("#workflow-body", "{{ payload.message }}");
    await page.fill("#sample-payload", JSON.stringify({ version: "1.2", message: "All green" }));
    await page.waitForFunction(() => document.querySelector("#preview h3")?.textContent === "Deploy 1.2 finished");
    // The preview names what the template lacks, with the API's code.
    await page.fill("#workflow-subject", "Deploy {{ payload.build.id }}");
    await page.waitForSelector("#preview .error[data-code=template_render_failed]");
    assert.match(await page.textContent("#preview"), /payload\.build/);
    await page.fill("#workflow-subject", "Deploy {{ payload.version }} finished");
    await page.waitForFunction(() => document.querySelector("#preview h3")?.textContent === "Deploy 1.2 finished");
    await assertLabelled("editor");
    await screenshot("05-workflow-editor");
    await page.click("text=Create workflow");
    await page.waitForFunction(() => /version 1/.test(document.querySelector("main [role=status]")?.textContent ?? ""));

    const inbox = await chromium.context.newPage();
    inbox.on("pageerror", (error) => problems.push(error.message));
    await inbox.goto(`${wwwUrl}/feed.html?subscriber=${subscriber}`);
    await inbox.waitForSelector("body[data-loaded]", { timeout: 20_000 });
    await page.fill("#sample-subscriber", subscriber);
    await page.click("#send-test");
    await inbox.waitForFunction(() => [...document.querySelectorAll("#feed li h2")].some((title) => title.textContent === "Deploy 1.2 finished"));
    await inbox.screenshot({ path: artifacts ? join(artifacts, "console", "06-demo-inbox-live.png") : undefined });
    await inbox.close();
  });

  it("promotes the workflow to staging and production with a dry run, then rolls production back", async () => {
    for (const target of ["staging", "production"]) {
      await open(`#/${target}/changes`, "Changes");
      const ours = page.locator(`article.change[data-key="${workflowKey}"]`);
      await ours.waitFor();
      assert.equal(await ours.getAttribute("data-change"), "added");
      assert.match(await ours.textContent(), /steps\.0\.subject|steps/);
      // Promote only this change: others pending may belong to other tests.
      for (const box of await page.$$("article.change input[type=checkbox]")) await box.uncheck();
      await ours.locator("input[type=checkbox]").check();
      await page.click("text=Preview (dry run)");
      await page.waitForFunction(() => /Dry run: 1 change/.test(document.querySelector("main [role=status]")?.textContent ?? ""));
      await screenshot(`07-changes-${target}`);
      await page.click("text=Promote selected");
      await page.waitForFunction(() => /Release .* applied 1 change/.test(document.querySelector("main [role=status]")?.textContent ?? ""));
      await page.locator(`article.change[data-key="${workflowKey}"]`).waitFor({ state: "detached" });
    }
    const secret = keys.production.secret_key;
    assert.equal((await api(`/v1/workflows/${workflowKey}`, { key: secret })).body.name, "Deploy finished");

    // Production is read-only in the editor.
    await open(`#/production/workflows/${workflowKey}`, "Deploy finished");
    await page.waitForSelector(".readonly");
    assert.equal(await page.$("text=Save new version"), null);
    assert.equal(await page.$("#send-test"), null);
    await screenshot("08-production-read-only");

    await open("#/production/changes", "Changes");
    const release = page.locator("tr", { hasText: `added workflow ${workflowKey}` });
    await release.locator("button", { hasText: "Roll back" }).click();
    await page.waitForFunction(() => /Rolled back/.test(document.querySelector("main [role=status]")?.textContent ?? ""));
    await page.locator("tr", { hasText: `added workflow ${workflowKey}` }).locator("text=rolled back by").waitFor();
    await screenshot("09-rolled-back");
    assert.equal((await api(`/v1/workflows/${workflowKey}`, { key: secret })).body.error.code, "workflow_not_found");
  });

  it("shows subscribers, messages, logs and the audit log, masked where the environment says so", async () => {
    await open("#/development/subscribers", "Subscribers");
    await page.click(`a:has-text("${subscriber}")`);
    await page.waitForFunction(() => /Messages of/.test(document.querySelector("main h1")?.textContent ?? ""));
    assert.match(await page.textContent("main table"), /Deploy 1\.2 finished/);
    await screenshot("10-subscriber-messages");
    await open("#/development/logs", "Logs");
    assert.match(await page.textContent('main table:has(caption:has-text("Execution logs"))'), new RegExp(workflowKey));
    await screenshot("11-logs");
    await open("#/development/audit", "Audit log");
    assert.match(await page.textContent("main table"), /key/);
    await screenshot("12-audit-log");
    await open("#/production/subscribers", "Subscribers");
    assert.match(await page.textContent("main .notice"), /hides message contents/);
  });

  it("shows webhook deliveries with a Replay button for dead ones, and flags an integration that keeps failing", async () => {
    let goneStatus = 410;
    const receiver = createServer((request, response) => request.resume().on("end", () => {
      response.writeHead(request.url.startsWith("/gone") ? goneStatus : 503).end();
    }));
    await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const secret = keys.development.secret_key;
    const base = `http://127.0.0.1:${receiver.address().port}`;
    const hook = async (integration, path) => {
      await api("/v1/integrations", { key: secret, method: "POST", body: { id: integration, kind: "webhook", name: integration, url: `${base}${path}`, signing_secret: `whsec_${tag}_0123456789` } });
      const workflow = `${integration}-flow`;
      await api(`/v1/workflows/${workflow}`, { key: secret, method: "PUT", body: { name: "Hooked", steps: [{ type: "webhook", integration, body: "{}" }] } });
      return async () => (await api("/v1/events/trigger", { key: secret, method: "POST", body: { workflow, to: [freshSubscriber("console-hook")] } })).body.deliveries[0].id;
    };
    try {
      // Five answers of 503 in a row open the breaker of the first integration.
      const failing = `console-hook-${tag}`;
      const sendFailing = await hook(failing, "/hooks/private-path");
      for (let index = 0; index < 5; index += 1) await sendFailing();
      await waitFor(async () => (await api(`/v1/integrations/${failing}`, { key: secret })).body.health.failing, "the breaker did not open");
      // A 410 ends a delivery of the second at once: dead, and replayable.
      const sendGone = await hook(`console-gone-${tag}`, "/gone");
      const dead = await sendGone();
      await waitFor(async () => (await api(`/v1/deliveries/${dead}`, { key: secret })).body.status === "dead", "the delivery did not die");

      await open("#/development/integrations", "Integrations");
      const row = page.locator(`main tr:has(code:has-text("${failing}"))`);
      assert.match(await row.textContent(), /failing/);
      assert.match(await row.textContent(), /hooks\/private-path/, "an owner sees the whole URL");
      await screenshot("11b-integrations");

      goneStatus = 200;
      await open("#/development/logs", "Logs");
      assert.match(await page.textContent('main table:has(caption:has-text("Webhook deliveries"))'), /dead/);
      await page.click(`button[aria-label="Replay delivery ${dead}"]`);
      await page.waitForFunction((id) => !document.querySelector(`button[aria-label="Replay delivery ${id}"]`), dead);
      await waitFor(async () => (await api(`/v1/deliveries/${dead}`, { key: secret })).body.status === "delivered", "the replay was not delivered");
      const audit = await admin(`/v1/environments/development/audit-log?action=delivery.replay`);
      assert.ok(audit.body.items.some((entry) => entry.resource === `delivery:${dead}`), "the replay was not audited");
      await screenshot("11c-deliveries");
      // Development has integrations and no test mode: every page of it says so.
      const banner = 'p[data-banner="external-deliveries"]';
      await page.waitForSelector(banner);
      assert.match(await page.textContent(banner), /test mode/);
      await screenshot("11d-delivery-banner");
      // With test mode on the banner goes; production never shows it.
      assert.equal((await admin("/v1/environments/development", { method: "PATCH", body: { deliver_only_to: ["qa-1"] } })).status, 200);
      await open("#/environments", "Environments");
      await reload();
      await open("#/development/logs", "Logs");
      assert.equal(await page.$(banner), null);
      const production = Object.keys(keys).find((name) => keys[name].type === "production");
      await open(`#/${production}/workflows`, "Workflows");
      assert.equal(await page.$(banner), null);
    } finally {
      await admin("/v1/environments/development", { method: "PATCH", body: { deliver_only_to: null } });
      receiver.close();
    }
  });

  it("asks for approval into production, and a second member approves it on the Changes page", async () => {
    const key = `approval-${tag}`;
    const saved = await api(`/v1/workflows/${key}`, { key: keys.staging.secret_key, method: "PUT", body: { name: "Four eyes", steps: [{ type: "in_app", subject: "Checked twice", body: "b" }] } });
    assert.ok([200, 201].includes(saved.status), JSON.stringify(saved.body));
    const tokenOf = async (name) => {
      const made = await admin("/v1/members", { method: "POST", body: { name, email: `${name.toLowerCase()}-${tag}@example.com`, role: "admin" } });
      return (await admin(`/v1/members/${made.body.id}/tokens`, { method: "POST", body: { name: "console test" } })).body.token;
    };
    const [alice, bob] = [await tokenOf("Alice"), await tokenOf("Bob")];
    assert.equal((await admin("/v1/environments/production", { method: "PATCH", body: { require_approval: true } })).status, 200);
    try {
      await page.click("#sign-out");
      await signIn(alice);
      await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "Environments");
      await open("#/production/changes", "Changes");
      const ours = page.locator(`article.change[data-key="${key}"]`);
      await ours.waitFor();
      for (const box of await page.$$("article.change input[type=checkbox]")) await box.uncheck();
      await ours.locator("input[type=checkbox]").check();
      await page.click("text=Promote selected");
      await page.waitForFunction(() => /requires approval: request rr_/.test(document.querySelector("main [role=status]")?.textContent ?? ""));
      const id = await page.getAttribute("main [role=status] [data-request]", "data-request");
      const card = page.locator(`article.request[data-request="${id}"]`);
      await card.waitFor();
      assert.match(await card.textContent(), /Another member who may promote here must approve it/);
      assert.equal(await card.locator("button").count(), 0, "the requester gets no approve button");
      assert.equal((await api(`/v1/workflows/${key}`, { key: keys.production.secret_key })).status, 404);
      await screenshot("12b-approval-requested");

      await page.click("#sign-out");
      await signIn(bob);
      await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "Environments");
      await open("#/production/changes", "Changes");
      const reviewed = page.locator(`article.request[data-request="${id}"]`);
      await reviewed.locator(`button[aria-label="Reject ${id}"]`).waitFor();
      assert.match(await reviewed.textContent(), /Checked twice/, "the reviewer sees the diff");
      await screenshot("12c-approval-review");
      await reviewed.locator(`button[aria-label="Approve ${id}"]`).click();
      await page.waitForFunction((request) => new RegExp(`Approved ${request}: release rel_`).test(document.querySelector("main [role=status]")?.textContent ?? ""), id);
      await page.locator(`article.request[data-request="${id}"][data-status="approved"]`).waitFor();
      assert.equal((await api(`/v1/workflows/${key}`, { key: keys.production.secret_key })).body.name, "Four eyes");
    } finally {
      // Off again as it must be: one member asks, another approves.
      const asked = await api("/v1/environments/production", { key: alice, method: "PATCH", body: { require_approval: false } });
      await api(`/v1/environments/production/release-requests/${asked.body.id}/approve`, { key: bob, method: "POST", body: {} });
      assert.equal((await admin("/v1/environments/production")).body.require_approval, false);
      await page.click("#sign-out").catch(() => {});
      await signIn(ownerToken);
      await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "Environments");
    }
  });

  it("gives a viewer read-only pages without keys or audit log", async () => {
    const member = await admin("/v1/members", { method: "POST", body: { name: "Vera Viewer", email: `vera-${tag}@example.com`, role: "viewer" } });
    const issued = await admin(`/v1/members/${member.body.id}/tokens`, { method: "POST", body: { name: "console test" } });
    await page.click("#sign-out");
    await signIn(issued.body.token);
    await page.waitForFunction(() => document.querySelector("main h1")?.textContent === "Environments");
    assert.equal(await page.$("text=Create environment"), null);
    await open("#/development/workflows", "Workflows");
    const pages = await page.$$eval("#pages-nav a", (links) => links.map((link) => link.textContent));
    assert.deepEqual(pages, ["Workflows", "Changes", "Subscribers", "Logs", "Integrations"]);
    await page.waitForSelector(".readonly");
    await open("#/development/integrations", "Integrations");
    const hook = await page.textContent(`main tr:has(code:has-text("console-hook-${tag}"))`);
    assert.match(hook, /127\.0\.0\.1:\d+\/…/);
    assert.doesNotMatch(hook, /private-path/, "a viewer sees only the integration's host");
    await open("#/development/logs", "Logs");
    assert.equal(await page.$("button[aria-label^='Replay delivery']"), null, "a viewer cannot replay");
    await open("#/development/workflows/welcome", "Welcome");
    assert.equal(await page.$("text=Save new version"), null);
    await screenshot("13-viewer");
  });

  it("fits a phone's width", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [hash, heading] of [["#/environments", "Environments"], ["#/development/workflows/welcome", "Welcome"], ["#/staging/changes", "Changes"]]) {
      await open(hash, heading);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${hash} is ${overflow}px wider than the phone`);
    }
    await screenshot("14-phone");
    assert.deepEqual(problems, []);
  });
});
