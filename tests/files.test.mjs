// Files of an environment in its own R2 bucket (real R2 in workerd): upload,
// read, list, delete; types, sizes and paths refused with typed errors;
// short-lived signed URLs that open one file of one environment and nothing
// else; attachments in feed items; the brand logo as a brand asset, and
// brand assets (never other files) promoted with the content naming them.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { admin, api, apiUrl, expectError, freshSubscriber, keys } from "./support/context.mjs";

const tag = randomBytes(3).toString("hex");
const dev = keys.development.secret_key;
const staging = keys.staging.secret_key;
const production = keys.production.secret_key;
const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");
const PNG = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), randomBytes(32)]);
const PDF = Buffer.from(`%PDF-1.4\n% ${tag}\n`);

const put = (key, path, body, type) =>
  api(`/v1/files/${path}`, { key, method: "PUT", body: typeof body === "string" ? body : new Uint8Array(body), headers: { "Content-Type": type } });

/** Fetches a signed URL with no credential at all. */
async function open(url) {
  const response = await fetch(`${apiUrl}${url}`);
  const bytes = Buffer.from(await response.arrayBuffer());
  let body;
  try {
    body = JSON.parse(bytes.toString());
  } catch {}
  return { status: response.status, headers: response.headers, bytes, body };
}

describe("files", () => {
  it("stores, serves, lists and deletes an environment's files, each in its own bucket", async () => {
    const path = `docs/${tag}/guide.txt`;
    const stored = await put(dev, path, `guide ${tag}`, "text/plain; charset=utf-8");
    assert.equal(stored.status, 201, JSON.stringify(stored.body));
    assert.deepEqual([stored.body.path, stored.body.size, stored.body.content_type], [path, `guide ${tag}`.length, "text/plain"]);
    assert.equal(stored.body.sha256, sha256(`guide ${tag}`));
    assert.match(stored.body.url, new RegExp(`^/v1/signed-files/development/${path}\\?exp=\\d+&kid=s\\d+&sig=[0-9a-f]{64}$`));
    assert.equal((await put(dev, path, `guide ${tag} v2`, "text/plain")).status, 200, "a second upload replaces");

    const read = await api(`/v1/files/${path}`, { key: dev });
    assert.equal(read.status, 200);
    assert.equal(read.body, `guide ${tag} v2`);
    assert.equal(read.headers.get("x-content-type-options"), "nosniff");
    assert.match(read.headers.get("content-security-policy"), /default-src 'none'.*sandbox/);
    // Another environment's key reads its own bucket, where the file is not.
    expectError(assert, await api(`/v1/files/${path}`, { key: staging }), 404, "file_not_found");
    expectError(assert, await api(`/v1/files/${path}`, { key: keys.development.publishable_key }), 403, "secret_key_required");

    await put(dev, `docs/${tag}/b.txt`, "b", "text/plain");
    await put(dev, `docs/${tag}/c.txt`, "c", "text/plain");
    const first = await api(`/v1/files?prefix=docs/${tag}/&limit=2`, { key: dev });
    assert.deepEqual(first.body.items.map((item) => item.path), [`docs/${tag}/b.txt`, `docs/${tag}/c.txt`]);
    const second = await api(`/v1/files?prefix=docs/${tag}/&limit=2&after=${first.body.next_after}`, { key: dev });
    assert.deepEqual(second.body.items.map((item) => item.path), [path]);
    assert.equal(second.body.next_after, null);
    assert.equal((await api(`/v1/files?prefix=docs/${tag}/`, { key: staging })).body.items.length, 0);

    const deleted = await api(`/v1/files/${path}`, { key: dev, method: "DELETE" });
    assert.deepEqual(deleted.body, { path, deleted: true });
    expectError(assert, await api(`/v1/files/${path}`, { key: dev }), 404, "file_not_found");
    expectError(assert, await api(`/v1/files/${path}`, { key: dev, method: "DELETE" }), 404, "file_not_found");
  });

  it("refuses bad paths, types, contents and sizes with typed errors, storing nothing", async () => {
    expectError(assert, await put(dev, `docs%2F..%2F${tag}.txt`, "x", "text/plain"), 400, "validation_failed");
    expectError(assert, await put(dev, `.hidden-${tag}`, "x", "text/plain"), 400, "validation_failed");
    expectError(assert, await put(dev, `a%20b-${tag}.txt`, "x", "text/plain"), 400, "validation_failed");
    expectError(assert, await put(dev, `page-${tag}.html`, "<p>hi</p>", "text/html"), 415, "unsupported_media_type");
    expectError(assert, await put(dev, `fake-${tag}.png`, "<svg/>", "image/png"), 400, "validation_failed");
    const script = `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`;
    expectError(assert, await put(dev, `evil-${tag}.svg`, script, "image/svg+xml"), 400, "validation_failed");
    expectError(assert, await put(dev, `big-${tag}.txt`, Buffer.alloc(10 * 1024 * 1024 + 1, 97), "text/plain"), 413, "file_too_large");
    expectError(assert, await put(dev, `empty-${tag}.txt`, "", "text/plain"), 413, "file_too_large");
    // A refused upload over an existing file leaves it as it was, whether the check fails at
    // the first bytes or only at the last (a body ending inside a UTF-8 character).
    const kept = `kept-${tag}.txt`;
    assert.equal((await put(dev, kept, "the original", "text/plain")).status, 201);
    expectError(assert, await put(dev, kept, Buffer.concat([Buffer.from("new text "), Buffer.from([0xc3])]), "text/plain"), 400, "validation_failed");
    expectError(assert, await put(dev, kept, "<svg/>", "image/png"), 400, "validation_failed");
    const still = await api(`/v1/files/${kept}`, { key: dev });
    assert.deepEqual([still.status, still.body], [200, "the original"]);
    const listed = (await api(`/v1/files?limit=100`, { key: dev })).body.items.map((item) => item.path);
    const refused = [`${tag}.txt`, `.hidden-${tag}`, `page-${tag}.html`, `fake-${tag}.png`, `evil-${tag}.svg`, `big-${tag}.txt`, `empty-${tag}.txt`];
    // Exact names: `kept-${tag}.txt` also ends with `${tag}.txt` and is meant to stay.
    assert.ok(!listed.some((path) => refused.some((name) => path === name || path.endsWith(`/${name}`))), listed.join(","));
  });

  it("serves a file through its signed URL, and that URL opens nothing else", async () => {
    const path = `avatars/${tag}.png`;
    const stored = await put(dev, path, PNG, "image/png");
    assert.equal(stored.status, 201, JSON.stringify(stored.body));
    await put(staging, path, Buffer.concat([PNG, Buffer.from("staging")]), "image/png");
    await put(dev, `avatars/other-${tag}.png`, PNG, "image/png");

    const signed = await open(stored.body.url);
    assert.equal(signed.status, 200);
    assert.deepEqual(signed.bytes, PNG);
    assert.equal(signed.headers.get("content-type"), "image/png");
    assert.equal(signed.headers.get("x-content-type-options"), "nosniff");
    assert.match(signed.headers.get("cache-control"), /^private, max-age=\d+$/);

    const url = new URL(stored.body.url, apiUrl);
    const variants = {
      "another environment": stored.body.url.replace("/development/", "/staging/"),
      "another file": stored.body.url.replace(`/${tag}.png`, `/other-${tag}.png`),
      "a later expiry": stored.body.url.replace(/exp=(\d+)/, (_, exp) => `exp=${Number(exp) + 300}`),
      "another slot": stored.body.url.replace(/kid=s\d+/, "kid=s9"),
      "a changed signature": stored.body.url.replace(/sig=(.)/, (_, first) => `sig=${first === "0" ? "1" : "0"}`),
      "no signature": `${url.pathname}?exp=${url.searchParams.get("exp")}&kid=${url.searchParams.get("kid")}`,
      "an unknown environment": stored.body.url.replace("/development/", "/nowhere/"),
    };
    for (const [what, variant] of Object.entries(variants)) {
      const answer = await open(variant);
      assert.deepEqual([answer.status, answer.body?.error?.code], [403, "signed_url_invalid"], what);
    }
    // A key in the URL is never a credential here, and no key is needed.
    const withKey = await open(`${stored.body.url}&key=${dev}`);
    assert.equal(withKey.status, 200);

    const urls = await api("/v1/files/urls", { key: dev, method: "POST", body: { paths: [path], ttl_seconds: 60 } });
    assert.equal(urls.status, 200, JSON.stringify(urls.body));
    assert.equal((await open(urls.body.urls[path])).status, 200);
    expectError(assert, await api("/v1/files/urls", { key: dev, method: "POST", body: { paths: [`nope-${tag}.png`] } }), 404, "file_not_found");
    expectError(assert, await api("/v1/files/urls", { key: dev, method: "POST", body: { paths: [path], ttl_seconds: 7200 } }), 400, "validation_failed");
  });

  it("gives in-app messages their attachments, each with a signed URL", async () => {
    // Attachments are content: brand assets, named by their bytes, promoted with the workflow.
    const guide = `brand/${sha256(PDF)}`;
    assert.equal((await put(dev, guide, PDF, "application/pdf")).status, 201);
    await put(dev, `private/${tag}.txt`, "private", "text/plain");
    const workflow = `attach-${tag}`;
    for (const attachment of ["../x", `private/${tag}.txt`]) {
      const bad = await api(`/v1/workflows/${workflow}`, { key: dev, method: "PUT", body: { name: "A", steps: [{ type: "in_app", subject: "s", body: "b", attachments: [attachment] }] } });
      expectError(assert, bad, 400, "validation_failed");
      assert.equal(bad.body.error.field, "steps.0.attachments.0");
    }
    const saved = await api(`/v1/workflows/${workflow}`, { key: dev, method: "PUT", body: { name: "A", steps: [{ type: "in_app", subject: "Your guide", body: "Attached", attachments: [guide] }] } });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    const subscriber = freshSubscriber("attach");
    const sent = await api("/v1/events/trigger", { key: dev, method: "POST", body: { workflow, to: [subscriber], payload: { note: `"attachments":[{"path":"secret"}]` } } });
    assert.equal(sent.status, 202, JSON.stringify(sent.body));

    const feed = await api(`/v1/subscribers/${subscriber}/feed`, { key: dev });
    const [item] = feed.body.items;
    assert.equal(item.attachments.length, 1);
    assert.deepEqual([item.attachments[0].path, item.attachments[0].name], [guide, sha256(PDF)]);
    const file = await open(item.attachments[0].url);
    assert.equal(file.status, 200);
    assert.deepEqual(file.bytes, PDF);
    assert.match(file.headers.get("content-disposition"), /^attachment;/, "a PDF downloads");
    assert.equal(item.payload.note, `"attachments":[{"path":"secret"}]`, "the payload is untouched");
    const changes = await api(`/v1/subscribers/${subscriber}/feed/changes?since=0`, { key: dev });
    assert.match(changes.body.changes[0].item.attachments[0].url, /^\/v1\/signed-files\/development\//);
  });

  it("keeps the logo as a brand asset and promotes brand assets, never other files", { timeout: 60_000 }, async () => {
    // Brand assets are content-addressed, and content: not in production.
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="2" height="2"><title>${tag}</title></svg>`;
    expectError(assert, await put(dev, `brand/logo-${tag}.svg`, svg, "image/svg+xml"), 400, "validation_failed");
    const asset = `brand/${sha256(svg)}`;
    assert.equal((await put(dev, asset, svg, "image/svg+xml")).status, 201);
    const retyped = await put(dev, asset, svg, "text/plain");
    assert.deepEqual([retyped.status, retyped.body.content_type], [200, "image/svg+xml"], "a brand asset keeps its first type");
    expectError(assert, await put(production, asset, svg, "image/svg+xml"), 403, "environment_read_only");
    assert.equal((await put(production, `avatars/${tag}.png`, PNG, "image/png")).status, 201, "other files are data, in production too");

    // A workflow attaching the brand asset and an ordinary file, promoted to staging.
    const plain = `handbook/${tag}.txt`;
    await put(dev, plain, "handbook", "text/plain");
    const workflow = `brand-attach-${tag}`;
    const saved = await api(`/v1/workflows/${workflow}`, { key: dev, method: "PUT", body: { name: "B", steps: [{ type: "in_app", subject: "s", body: "b", attachments: [asset] }] } });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    const pending = (await admin("/v1/changes?from=development&to=staging")).body.changes.filter((change) => change.key === workflow);
    assert.equal(pending.length, 1);
    const promoted = await admin("/v1/promotions", { method: "POST", body: { from: "development", to: "staging", changes: pending.map((change) => change.id) } });
    assert.equal(promoted.status, 201, JSON.stringify(promoted.body));
    const copied = await api(`/v1/files/${asset}`, { key: staging });
    assert.equal(copied.status, 200, "the brand asset came along");
    assert.equal(copied.body, svg);
    // Other files stay where they are.
    expectError(assert, await api(`/v1/files/${plain}`, { key: staging }), 404, "file_not_found");

    // The logo: a brand asset too, shown through a signed URL.
    assert.equal((await api("/v1/brand", { key: dev, method: "PUT", body: { name: "Files", primary_colour: "#3b5bdb" } })).status, 200);
    const logo = await api("/v1/brand/logo", { key: dev, method: "PUT", body: svg, headers: { "Content-Type": "image/svg+xml" } });
    assert.equal(logo.status, 200, JSON.stringify(logo.body));
    const brand = await api("/v1/brand", { key: keys.development.publishable_key });
    assert.equal(brand.body.logo.id, sha256(svg));
    const image = await open(brand.body.logo.url);
    assert.equal(image.status, 200);
    assert.equal(image.bytes.toString(), svg);
    assert.match(image.headers.get("content-security-policy"), /sandbox/);
    assert.equal((await api("/v1/brand/logo", { key: dev })).status, 200);
  });

  it("exports brand assets with the content and imports them, checked", { timeout: 60_000 }, async () => {
    const exported = (await admin("/v1/environments/development/export")).body;
    const logoId = exported.brand.logo.id;
    const asset = exported.assets[`brand/${logoId}`];
    assert.ok(asset, Object.keys(exported.assets ?? {}).join(","));
    assert.equal(sha256(Buffer.from(asset.base64, "base64")), logoId);
    const file = { format: exported.format, brand: exported.brand, assets: { [`brand/${logoId}`]: asset } };

    const forged = { ...file, assets: { [`brand/${"0".repeat(64)}`]: asset } };
    expectError(assert, await admin("/v1/environments/staging/import", { method: "POST", body: { file: forged, dry_run: false } }), 400, "validation_failed");
    const unknownLogo = { format: exported.format, brand: { ...exported.brand, logo: { id: "f".repeat(64), content_type: "image/png" } } };
    const refused = await admin("/v1/environments/staging/import", { method: "POST", body: { file: unknownLogo, dry_run: false } });
    expectError(assert, refused, 400, "validation_failed");
    assert.equal(refused.body.error.field, "file.assets");

    const imported = await admin("/v1/environments/staging/import", { method: "POST", body: { file, dry_run: false } });
    assert.ok([200, 201].includes(imported.status), JSON.stringify(imported.body));
    const brand = await api("/v1/brand", { key: staging });
    assert.equal(brand.body.logo.id, logoId);
    assert.equal((await open(brand.body.logo.url)).status, 200);
    assert.equal((await api(`/v1/files/brand/${logoId}`, { key: staging })).status, 200);
  });

  it("keeps brand assets frozen while the environment is locked", async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="3" height="3"><title>${tag}</title></svg>`;
    await admin("/v1/environments/development/lock", { method: "POST", body: { reason: `files ${tag}` } });
    try {
      expectError(assert, await put(dev, `brand/${sha256(svg)}`, svg, "image/svg+xml"), 423, "environment_locked");
      assert.equal((await put(dev, `avatars/locked-${tag}.png`, PNG, "image/png")).status, 201, "other files are data");
    } finally {
      await admin("/v1/environments/development/unlock", { method: "POST" });
    }
  });
});
