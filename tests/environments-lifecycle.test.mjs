// Custom environments through `npm run env` and the control-plane API:
// creation with its own D1 and KV bindings (here with two feed shards), its
// place in the chain, its isolation, and deletion (keys revoked first, then
// data and bindings, every shard's with them).
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { signSubscriberToken } from "@tidings/sdk/server";
import { openSocket } from "./support/realtime.mjs";
import { admin, api, expectError, freshSubscriber, keys } from "./support/context.mjs";
import { recipientsOnEveryShard } from "./support/buckets.mjs";
import { envCommand as runEnvCommand } from "./support/env-command.mjs";
import { messagesStored, queryLocal } from "./support/local-state.mjs";

const config = process.env.TIDINGS_TEST_CONFIG;
const scratch = mkdtempSync(join(tmpdir(), "tidings-env-"));
const keysFile = join(scratch, "keys.json");
after(() => rmSync(scratch, { recursive: true, force: true }));

const envCommand = (...args) => runEnvCommand(keysFile, ...args);

const QA_DATABASES = ["DB_QA", "FEED0_QA", "FEED1_QA"];

const names = async () => (await admin("/v1/environments")).body.environments.map((environment) => `${environment.name}@${environment.position}`);

describe("custom environments", () => {
  it("creates one with its own bindings and two feed shards, places it before production, and isolates it", { timeout: 120_000 }, async () => {
    const created = await envCommand("create", "qa", "--type", "staging", "--label", "QA", "--colour", "#7048e8", "--shards", "2");
    assert.equal(created.code, 0, created.stderr + created.stdout);
    const qa = created.json();
    assert.equal(qa.name, "qa");
    assert.equal(qa.type, "staging");
    assert.equal(qa.status, "active");
    assert.equal(qa.label, "QA");
    assert.equal(qa.shards, 2);
    assert.match(qa.publishable_key, /^pk_qa_/);
    assert.match(qa.secret_key, /^sk_qa_/);
    assert.deepEqual(await names(), ["development@0", "staging@1", "qa@2", "production@3"]);
    const toml = readFileSync(config, "utf8");
    assert.match(toml, /binding = "DB_QA"/);
    assert.match(toml, /binding = "KV_QA"/);
    assert.match(toml, /binding = "FEED0_QA"/);
    assert.match(toml, /binding = "FEED1_QA"/);

    const current = await api("/v1/environments/current", { key: qa.publishable_key });
    assert.deepEqual([current.status, current.body.name, current.body.type, current.body.position], [200, "qa", "staging", 2]);

    // Recipients on both shards: their feeds there, none in qa's own database.
    const subscriber = freshSubscriber("qa");
    const recipients = recipientsOnEveryShard(subscriber, 2);
    const triggered = await api("/v1/events/trigger", {
      key: qa.secret_key,
      method: "POST",
      body: { workflow: "welcome", to: recipients, payload: { name: "Quinn" } },
    });
    assert.equal(triggered.status, 202, JSON.stringify(triggered.body));
    for (const recipient of recipients) {
      assert.equal((await api(`/v1/subscribers/${recipient}/feed`, { key: qa.secret_key })).body.counts.total, 1, recipient);
    }
    assert.deepEqual(QA_DATABASES.map((binding) => messagesStored(binding, subscriber)), [0, 2, 2], "each shard holds its recipients' feeds, qa's own database none");
    for (const other of Object.keys(keys)) {
      const feed = await api(`/v1/subscribers/${recipients[0]}/feed`, { key: keys[other].secret_key });
      assert.equal(feed.body.counts.total, 0, `${other} sees qa's data`);
    }
    // A staging-type environment needs subscriber credentials by default.
    expectError(assert, await api(`/v1/subscribers/${subscriber}/feed`, { key: qa.publishable_key }), 401, "subscriber_credential_required");
  });

  it("rotates the subscriber signing secret: the old one verifies through the grace period only", async () => {
    const qa = JSON.parse(readFileSync(keysFile, "utf8")).environments.qa;
    assert.match(qa.subscriber_signing_secret, /^[0-9a-f]{64}$/);
    const subscriber = freshSubscriber("rotate");
    const feed = (headers) => api(`/v1/subscribers/${subscriber}/feed`, { key: qa.publishable_key, headers });
    const hashWith = (secret) => createHmac("sha256", secret).update(subscriber).digest("hex");
    const kidOf = (token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url")).kid;
    const oldToken = signSubscriberToken({ signingSecret: qa.subscriber_signing_secret, environment: "qa", subscriberId: subscriber });
    assert.equal(kidOf(oldToken), "s1");

    // A realtime socket opened with the old secret's hash, which ends with its grace period.
    const socket = await openSocket("qa", subscriber, { key: qa.publishable_key, headers: { "X-Subscriber-Hash": hashWith(qa.subscriber_signing_secret) } });
    await socket.ready;
    const rotated = await admin("/v1/environments/qa/signing-secret/rotate", { method: "POST", body: { grace_period_seconds: 2 } });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.equal(rotated.body.key_id, "s2");
    assert.equal(rotated.body.previous_key_id, "s1");
    assert.match(rotated.body.subscriber_signing_secret, /^[0-9a-f]{64}$/);
    assert.notEqual(rotated.body.subscriber_signing_secret, qa.subscriber_signing_secret);
    const fresh = rotated.body.subscriber_signing_secret;

    // A socket opened during the grace period with the old secret's hash ends with it too.
    const during = await openSocket("qa", subscriber, { key: qa.publishable_key, headers: { "X-Subscriber-Hash": hashWith(qa.subscriber_signing_secret) } });
    await during.ready;
    // During the grace period both secrets verify; new tokens carry the new key id.
    const minted = await api(`/v1/subscribers/${subscriber}/token`, { key: qa.secret_key, method: "POST", body: {} });
    assert.equal(kidOf(minted.body.token), "s2");
    const offline = signSubscriberToken({ signingSecret: fresh, environment: "qa", subscriberId: subscriber, keyId: "s2" });
    for (const headers of [
      { "X-Subscriber-Token": oldToken },
      { "X-Subscriber-Hash": hashWith(qa.subscriber_signing_secret) },
      { "X-Subscriber-Token": minted.body.token },
      { "X-Subscriber-Token": offline },
      { "X-Subscriber-Hash": hashWith(fresh) },
    ]) {
      assert.equal((await feed(headers)).status, 200, JSON.stringify(headers));
    }

    // After it, only the new secret opens the feed, and the socket the old one opened is closed.
    await new Promise((resolve) => setTimeout(resolve, 2200));
    for (const opened of [socket, during]) {
      const ended = await opened.next("closed", 10_000);
      assert.equal(ended.reason, "credential_expired");
      opened.socket.close();
    }
    expectError(assert, await feed({ "X-Subscriber-Token": oldToken }), 401, "subscriber_credential_invalid");
    expectError(assert, await feed({ "X-Subscriber-Hash": hashWith(qa.subscriber_signing_secret) }), 401, "subscriber_credential_invalid");
    assert.equal((await feed({ "X-Subscriber-Token": minted.body.token })).status, 200);

    // A rotation with no grace stops the previous secret at once.
    const abrupt = await admin("/v1/environments/qa/signing-secret/rotate", { method: "POST", body: { grace_period_seconds: 0 } });
    assert.deepEqual([abrupt.body.key_id, abrupt.body.previous_key_id], ["s3", null]);
    expectError(assert, await feed({ "X-Subscriber-Token": minted.body.token }), 401, "subscriber_credential_invalid");

    const tooLong = await admin("/v1/environments/qa/signing-secret/rotate", { method: "POST", body: { grace_period_seconds: 8 * 86400 } });
    assert.equal(expectError(assert, tooLong, 400, "validation_failed").field, "grace_period_seconds");
    expectError(assert, await admin("/v1/environments/nowhere/signing-secret/rotate", { method: "POST", body: {} }), 404, "environment_not_found");
    expectError(assert, await api("/v1/environments/qa/signing-secret/rotate", { key: qa.secret_key, method: "POST", body: {} }), 403, "forbidden");
  });

  it("lists environments with their status", async () => {
    const listed = await envCommand("list");
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(listed.json().map((environment) => [environment.name, environment.status]),
      [["development", "active"], ["staging", "active"], ["qa", "active"], ["production", "active"]]);
  });

  it("reports a registered environment without bindings as creating, and refuses its keys", async () => {
    const created = await admin("/v1/environments", { method: "POST", body: { name: "preview-42", type: "development", after: "development" } });
    assert.equal(created.status, 202, JSON.stringify(created.body));
    assert.equal(created.body.status, "creating");
    assert.match(created.body.status_reason, /DB_PREVIEW_42/);
    assert.equal(created.body.position, 1);
    assert.match(created.body.subscriber_signing_secret, /^[0-9a-f]{64}$/);
    expectError(assert, await admin("/v1/environments/preview-42/keys", { method: "POST", body: { kind: "secret" } }), 409, "environment_not_ready");
    expectError(assert, await admin("/v1/environments", { method: "POST", body: { name: "preview-42", type: "development" } }), 409, "environment_exists");
    const deleted = await admin("/v1/environments/preview-42", { method: "DELETE" });
    assert.deepEqual([deleted.status, deleted.body.status, deleted.body.revoked_keys], [200, "deleted", 0]);
    assert.deepEqual(await names(), ["development@0", "staging@1", "qa@2", "production@3"]);
  });

  it("refuses bad names, placements and protected deletions with typed errors", async () => {
    const post = (body) => admin("/v1/environments", { method: "POST", body });
    assert.equal(expectError(assert, await post({ name: "current", type: "staging" }), 400, "validation_failed").field, "name");
    assert.equal(expectError(assert, await post({ name: "Bad Name", type: "staging" }), 400, "validation_failed").field, "name");
    assert.equal(expectError(assert, await post({ name: "x1", type: "qa" }), 400, "validation_failed").field, "type");
    assert.equal(expectError(assert, await post({ name: "x1", type: "staging", after: "production" }), 400, "validation_failed").field, "after");
    assert.equal(expectError(assert, await post({ name: "x1", type: "staging", after: "nope" }), 400, "validation_failed").field, "after");
    expectError(assert, await post({ name: "staging", type: "staging" }), 409, "environment_exists");
    for (const name of ["development", "production"]) {
      expectError(assert, await admin(`/v1/environments/${name}`, { method: "DELETE" }), 409, "environment_protected");
    }
    expectError(assert, await admin("/v1/environments/nope", { method: "DELETE" }), 404, "environment_not_found");
  });

  it("deletes one: keys revoked, data and bindings removed on every shard, chain closed up", { timeout: 60_000 }, async () => {
    const qa = JSON.parse(readFileSync(keysFile, "utf8")).environments.qa;
    // The configuration as it was, to read qa's databases from their files once their bindings are gone.
    const boundConfig = join(scratch, "bound.toml");
    writeFileSync(boundConfig, readFileSync(config, "utf8"));
    const deleted = await envCommand("delete", "qa");
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.deepEqual([deleted.json().status, deleted.json().revoked_keys], ["deleted", 2]);
    for (const binding of QA_DATABASES) {
      assert.equal(queryLocal(binding, "SELECT COUNT(*) AS count FROM messages", boundConfig)[0].count, 0, `${binding} is empty`);
    }
    expectError(assert, await api("/v1/environments/current", { key: qa.secret_key }), 401, "key_revoked");
    expectError(assert, await api("/v1/environments/current", { key: qa.publishable_key }), 401, "key_revoked");
    expectError(assert, await admin("/v1/environments/qa"), 404, "environment_not_found");
    assert.deepEqual(await names(), ["development@0", "staging@1", "production@2"]);
    assert.doesNotMatch(readFileSync(config, "utf8"), /DB_QA|KV_QA|FEED\d+_QA|environment: qa/);
    assert.equal(JSON.parse(readFileSync(keysFile, "utf8")).environments.qa, undefined);
  });
});
