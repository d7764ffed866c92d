// Secrets at rest: the registry keeps every subscriber signing secret
// sealed with the deployment's encryption key, and the KV cache of key
// validations (copies of registry rows) never holds one in plaintext.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { api, environmentNames, keys, waitFor } from "./support/context.mjs";
import { queryLocal, wranglerLocal } from "./support/local-state.mjs";

describe("secrets at rest", () => {
  it("are sealed in the registry and never plaintext in the key cache", async () => {
    const rows = queryLocal("DB_CONTROL",
      "SELECT name, subscriber_signing_secret AS current, previous_signing_secret AS previous FROM environments WHERE status != 'deleted'");
    assert.ok(rows.length >= 3);
    const plaintexts = environmentNames.map((environment) => keys[environment].subscriber_signing_secret);
    for (const row of rows) {
      for (const stored of [row.current, row.previous].filter(Boolean)) {
        assert.match(stored, /^v1\.[0-9a-f]{24}\.[0-9a-f]+$/, `${row.name}'s signing secret is not sealed`);
        assert.ok(!plaintexts.some((secret) => stored.includes(secret)), `${row.name}'s signing secret is stored in plaintext`);
      }
    }
    for (const environment of environmentNames) {
      // A validated key is cached in the environment's KV namespace: what is cached holds no plaintext secret.
      const validate = async () => assert.equal((await api("/v1/environments/current", { key: keys[environment].publishable_key })).status, 200);
      await validate();
      const suffix = environment.toUpperCase().replaceAll("-", "_");
      // The cache is written after the answer (waitUntil), and read here by another process. An entry
      // listed may lapse (its TTL) before it is read: the entries still there are checked, at least one.
      const cachedEntries = () => {
        const names = JSON.parse(wranglerLocal("kv", "key", "list", "--binding", `KV_${suffix}`))
          .map(({ name }) => name)
          .filter((name) => name.startsWith("key:"));
        const entries = names
          .map((name) => [name, wranglerLocal("kv", "key", "get", "--binding", `KV_${suffix}`, name)])
          .filter(([, value]) => value.trim() !== "Value not found");
        return entries.length > 0 && entries;
      };
      // A key validated in the isolate's memory (the last 10 s) is not read from KV, so not written
      // there again: a KV entry that lapsed meanwhile comes back only once the memory entry has lapsed
      // too. The key is validated again while waiting.
      const cached = await waitFor(async () => cachedEntries() || (await validate(), false), `a cached key in KV_${suffix}`);
      for (const [name, value] of cached) {
        assert.ok(!plaintexts.some((secret) => value.includes(secret)), `${name} in KV_${suffix} holds a signing secret in plaintext`);
        assert.match(JSON.parse(value).subscriber_signing_secret, /^v1\./);
      }
    }
  });
});
