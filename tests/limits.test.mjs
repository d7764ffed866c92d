// Limits hold when requests race: a limit is checked in the write that
// could pass it, never in a read before it, so requests sent at once to the
// last free places cannot all pass. Each case leaves the environment as it
// found it.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { api, expectError, keys } from "./support/context.mjs";

const tag = randomBytes(3).toString("hex").toUpperCase();
const MAX_VARIABLES = 200;

/**
 * Sends `requests` (functions answering promises) 20 at a time, a batch a
 * second at most: one key's management budget is 300 requests per 10 s.
 */
async function paced(requests) {
  const answers = [];
  for (let start = 0; start < requests.length; start += 20) {
    const pause = new Promise((resolve) => setTimeout(resolve, 1000));
    answers.push(...(await Promise.all(requests.slice(start, start + 20).map((request) => request()))));
    await pause;
  }
  return answers;
}

describe("environment variables", () => {
  const key = keys.development.secret_key;
  const added = [];
  const put = (name) => () => {
    added.push(name);
    return api(`/v1/variables/${name}`, { key, method: "PUT", body: { value: "v" } });
  };
  after(async () => {
    await paced(added.map((name) => () => api(`/v1/variables/${name}`, { key, method: "DELETE" })));
    const left = (await api("/v1/variables", { key })).body.items.filter((item) => item.name.startsWith(`LIMIT_${tag}`));
    assert.deepEqual(left, [], "every variable this test added is removed");
  });

  it("never passes the limit when new names arrive at once", async () => {
    const before = (await api("/v1/variables", { key })).body.items.length;
    const free = 10;
    const filling = Array.from({ length: MAX_VARIABLES - free - before }, (_, index) => put(`LIMIT_${tag}_FILL_${index}`));
    for (const answer of await paced(filling)) assert.equal(answer.status, 201, JSON.stringify(answer.body));

    const racing = Array.from({ length: 3 * free }, (_, index) => put(`LIMIT_${tag}_RACE_${index}`));
    const answers = await Promise.all(racing.map((request) => request()));
    const created = answers.filter((answer) => answer.status === 201);
    const refused = answers.filter((answer) => answer.status !== 201);
    assert.equal(created.length, free, "exactly the free places are taken");
    for (const answer of refused) expectError(assert, answer, 409, "too_many_variables");
    assert.equal((await api("/v1/variables", { key })).body.items.length, MAX_VARIABLES);

    // A name that exists still takes a new value at the limit.
    const kept = await api(`/v1/variables/LIMIT_${tag}_FILL_0`, { key, method: "PUT", body: { value: "changed" } });
    assert.equal(kept.status, 200, JSON.stringify(kept.body));
    assert.equal(kept.body.value, "changed");
  });
});

describe("the file quota", () => {
  const key = keys.development.secret_key;
  const quota = Number(process.env.TIDINGS_TEST_FILE_QUOTA_BYTES);
  const size = 7 * 1024 * 1024;
  const text = Buffer.alloc(size, 97);
  const notPng = Buffer.alloc(size, 98);
  const paths = new Set();
  const put = (path, body, type = "text/plain") => {
    paths.add(path);
    return api(`/v1/files/${path}`, { key, method: "PUT", body: new Uint8Array(body), headers: { "Content-Type": type } });
  };
  after(async () => {
    for (const path of paths) await api(`/v1/files/${path}`, { key, method: "DELETE" });
  });

  /** Bytes of files the environment keeps, read from its listing. */
  async function used() {
    let total = 0;
    let after = null;
    do {
      const page = await api(`/v1/files?limit=100${after ? `&after=${after}` : ""}`, { key });
      assert.equal(page.status, 200, JSON.stringify(page.body));
      for (const item of page.body.items) total += item.size;
      after = page.body.next_after;
    } while (after);
    return total;
  }

  it("holds for uploads sent at once, and gives back the room of those that fail", async () => {
    assert.ok(quota >= 4 * size, "the test stack sets TIDINGS_FILE_QUOTA_BYTES (scripts/test.mjs)");
    const fits = Math.floor((quota - (await used())) / size);
    const racing = await Promise.all(Array.from({ length: fits + 3 }, (_, index) => put(`limits-${tag}/race-${index}.txt`, text)));
    const stored = racing.filter((answer) => answer.status === 201);
    assert.equal(stored.length, fits, `${fits} uploads of ${size} bytes fit: ${racing.map((answer) => answer.status)}`);
    for (const answer of racing.filter((answer) => answer.status !== 201)) expectError(assert, answer, 413, "storage_quota_exceeded");
    assert.ok((await used()) <= quota, "the environment keeps no more than its quota");

    // Uploads refused for their bytes take room while they stream, and give it back.
    for (const answer of racing) if (answer.status === 201) await api(`/v1/files/${answer.body.path}`, { key, method: "DELETE" });
    const refused = await Promise.all(Array.from({ length: fits }, (_, index) => put(`limits-${tag}/bad-${index}.png`, notPng, "image/png")));
    for (const answer of refused) expectError(assert, answer, 400, "validation_failed");
    for (let index = 0; index < fits; index += 1) {
      const again = await put(`limits-${tag}/again-${index}.txt`, text);
      assert.equal(again.status, 201, `upload ${index + 1} of ${fits} after the refused ones: ${JSON.stringify(again.body)}`);
    }
  });
});
