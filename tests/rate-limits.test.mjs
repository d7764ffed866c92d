// Rate limits: per secret key for server routes, per subscriber for feed
// routes, every counter within one environment; 429 `rate_limited` with
// Retry-After and RateLimit-* headers. Counted by the Workers Rate Limiting
// binding, which workerd enforces locally. The 429's wait is checked against
// this process's clock, so the worker must run on the same machine.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, describe, it } from "node:test";
import { admin, api, expectError, forgeKey, freshSubscriber, keys, subscriberHash } from "./support/context.mjs";

const issuedKeys = [];

/**
 * Requests one draw pays for, per binding: a subscriber's fast feed requests
 * are drawn in units (`Tier::units` in crates/tidings-core/src/rate_limit.rs).
 */
const REQUESTS_PER_DRAW = { RATE_LIMIT_FEED_UNITS: 50 };

/** Bindings that count a part of another's tier: the feed's units. */
const PART_OF = { RATE_LIMIT_FEED_UNITS: "RATE_LIMIT_FEED" };

/**
 * The budget of each tier in requests, by the binding named after it: the
 * `simple = { limit, period }` of its [[ratelimits]] bindings in
 * wrangler.toml, each limit counted in draws.
 */
function configuredLimits() {
  const toml = readFileSync(new URL("../wrangler.toml", import.meta.url), "utf8");
  const limits = {};
  for (const match of toml.matchAll(/name = "(RATE_LIMIT_\w+)"\s*\nnamespace_id = "\d+"\s*\nsimple = \{ limit = (\d+), period = (\d+) \}/g)) {
    const tier = PART_OF[match[1]] ?? match[1];
    const requests = Number(match[2]) * (REQUESTS_PER_DRAW[match[1]] ?? 1);
    const period = Number(match[3]);
    if (limits[tier] && limits[tier].period !== period) throw new Error(`${match[1]} counts in another period than ${tier}`);
    limits[tier] = { limit: (limits[tier]?.limit ?? 0) + requests, period, bindings: [...(limits[tier]?.bindings ?? []), match[1]] };
  }
  return limits;
}

/**
 * Sends `send()` in waves of 20 until one answers 429 or `most` were sent.
 * Returns the successes before the first 429 and that 429, with the times
 * (Unix ms) its wave was sent and answered.
 */
async function exhaust(send, most) {
  let succeeded = 0;
  for (let sent = 0; sent < most; sent += 20) {
    const sentAt = Date.now();
    const wave = await Promise.all(Array.from({ length: 20 }, send));
    const answeredAt = Date.now();
    const limited = wave.find((response) => response.status === 429);
    succeeded += wave.filter((response) => response.status !== 429).length;
    if (limited) return { succeeded, limited, sentAt, answeredAt };
  }
  return { succeeded, limited: null };
}

/** Whole seconds from `at` (Unix ms) to the end of its clock-aligned window, rounded up. */
const secondsLeft = (at, period) => Math.ceil((windowEnd(at, period) - at) / 1000);

/** When the clock-aligned window of `period` seconds that `at` (Unix ms) falls in ends. */
const windowEnd = (at, period) => (Math.floor(at / (period * 1000)) + 1) * period * 1000;

/**
 * Checks a 429 answer against the tier's configured budget: it must wait
 * until the end of the window it was refused in (windows are aligned to the
 * clock locally), somewhere between the wave's sending and its answer.
 */
function expectLimited({ limited, sentAt, answeredAt }, tier, { limit, period }) {
  assert.ok(limited, `the ${tier} budget ran out`);
  const error = expectError(assert, limited, 429, "rate_limited");
  assert.match(error.message, new RegExp(`${limit} per ${period} seconds`));
  const wait = Number(limited.headers.get("retry-after"));
  const possible = new Set();
  for (let at = sentAt; at < answeredAt; at += 50) possible.add(secondsLeft(at, period));
  possible.add(secondsLeft(answeredAt, period));
  assert.ok(possible.has(wait), `Retry-After ${wait}, while the window ended ${[...possible].join(" or ")} s after the refusal`);
  assert.equal(limited.headers.get("ratelimit-policy"), `"${tier}";q=${limit};w=${period}`);
  assert.equal(limited.headers.get("ratelimit"), `"${tier}";r=0;t=${wait}`);
  return wait;
}

/**
 * Waits, if need be, for the next window of `period` seconds to begin, so
 * what follows starts early in a window (the binding's windows are aligned
 * to the clock).
 */
async function startEarlyInWindow(period) {
  const intoWindow = Date.now() % (period * 1000);
  if (intoWindow > 2_000) await new Promise((resolve) => setTimeout(resolve, period * 1000 - intoWindow + 200));
}

/** Waits out a 429's `Retry-After` of `seconds`, as a client should. */
const waitOut = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000 + 100));

/**
 * Runs `checks` on a flood that spent this client's `key_lookups` budget, then, whatever they
 * found, waits until the window the block ends with is over: a failed check must not leave the
 * block to refuse the next suites' first lookups.
 */
async function thenUnblocked(spent, { period }, checks) {
  try {
    await checks();
  } finally {
    const ends = windowEnd(spent.answeredAt ?? Date.now(), period);
    if (spent.limited && ends > Date.now()) await new Promise((resolve) => setTimeout(resolve, ends - Date.now() + 100));
  }
}

async function freshSecretKey(environment) {
  const issued = await admin(`/v1/environments/${environment}/keys`, { method: "POST", body: { kind: "secret" } });
  assert.equal(issued.status, 201, JSON.stringify(issued.body));
  issuedKeys.push([environment, issued.body.id]);
  return issued.body.key;
}

after(async () => {
  for (const [environment, id] of issuedKeys) await admin(`/v1/environments/${environment}/keys/${id}`, { method: "DELETE" });
});

describe("rate limits", () => {
  const limits = configuredLimits();

  it("declares one binding per tier in wrangler.toml, and one more for the feed's units", () => {
    assert.deepEqual(Object.keys(limits).sort(), ["RATE_LIMIT_FEED", "RATE_LIMIT_KEY_LOOKUPS", "RATE_LIMIT_MANAGEMENT", "RATE_LIMIT_TRIGGERS"]);
    assert.deepEqual(limits.RATE_LIMIT_FEED.bindings, ["RATE_LIMIT_FEED", "RATE_LIMIT_FEED_UNITS"]);
    assert.equal(limits.RATE_LIMIT_FEED.limit, 100);
  });

  it("limits feed requests per subscriber, and never another subscriber or environment", { timeout: 60_000 }, async () => {
    const subscriber = freshSubscriber("busy");
    const feedOf = (environment, id) => () =>
      api(`/v1/subscribers/${id}/feed/counts`, { key: keys[environment].publishable_key, headers: { "X-Subscriber-Hash": subscriberHash(environment, id) } });
    const spent = await exhaust(feedOf("development", subscriber), 4 * limits.RATE_LIMIT_FEED.limit);
    const wait = expectLimited(spent, "feed", limits.RATE_LIMIT_FEED);
    assert.ok(spent.succeeded >= limits.RATE_LIMIT_FEED.limit, `${spent.succeeded} requests passed before the first 429`);
    assert.equal((await feedOf("development", freshSubscriber("calm"))()).status, 200, "another subscriber");
    assert.equal((await feedOf("staging", subscriber)()).status, 200, "the same subscriber id in another environment");
    // Retry-After is when the budget comes back, not an upper bound.
    await waitOut(wait);
    assert.equal((await feedOf("development", subscriber)()).status, 200, `served again ${wait} s after the refusal`);
  });

  it("never lets feed requests that arrive at once past the budget", { timeout: 60_000 }, async () => {
    const { limit, period } = limits.RATE_LIMIT_FEED;
    // Early in a window, so the burst stays in it.
    await startEarlyInWindow(period);
    const subscriber = freshSubscriber("burst");
    const began = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 3 * limit }, () =>
        api(`/v1/subscribers/${subscriber}/feed/counts`, {
          key: keys.development.publishable_key,
          headers: { "X-Subscriber-Hash": subscriberHash("development", subscriber) },
        }),
      ),
    );
    const statuses = answers.map((answer) => answer.status);
    assert.ok(statuses.every((status) => status === 200 || status === 429), `statuses: ${[...new Set(statuses)]}`);
    const passed = statuses.filter((status) => status === 200).length;
    assert.ok(passed > 0, "the first draws are granted");
    // On a slow machine the burst may reach into the next window, which has a budget of its own.
    const windows = Math.floor(Date.now() / (period * 1000)) - Math.floor(began / (period * 1000)) + 1;
    assert.ok(passed <= windows * limit, `${passed} of ${3 * limit} requests sent at once passed ${windows} budget(s) of ${limit}`);
  });

  it("limits server routes per secret key, and never another key", { timeout: 60_000 }, async () => {
    const busy = await freshSecretKey("development");
    const spent = await exhaust(() => api("/v1/workflows", { key: busy }), 4 * limits.RATE_LIMIT_MANAGEMENT.limit);
    expectLimited(spent, "management", limits.RATE_LIMIT_MANAGEMENT);
    assert.ok(spent.succeeded >= limits.RATE_LIMIT_MANAGEMENT.limit);
    assert.equal((await api("/v1/workflows", { key: keys.development.secret_key })).status, 200, "another key");
  });

  it("gives triggers their own, larger budget per secret key", { timeout: 60_000 }, async () => {
    const busy = await freshSecretKey("staging");
    // Bodies the worker refuses after counting them: the budget is spent without storing anything.
    const send = () => api("/v1/events/trigger", { key: busy, method: "POST", body: { workflow: "" } });
    const spent = await exhaust(send, 4 * limits.RATE_LIMIT_TRIGGERS.limit);
    expectLimited(spent, "triggers", limits.RATE_LIMIT_TRIGGERS);
    assert.ok(spent.succeeded >= limits.RATE_LIMIT_TRIGGERS.limit);
    assert.equal((await api("/v1/workflows", { key: busy })).status, 200, "the key's management budget is separate");
  });

  it("remembers forged keys as unknown, and limits registry lookups of uncached keys per client", { timeout: 60_000 }, async () => {
    const current = (key) => api("/v1/environments/current", { key });
    const forged = forgeKey("pk", "staging");
    expectError(assert, await current(forged), 401, "unknown_key");
    // Sixty more tries of the same forged key exceed the lookup budget only if each reads the registry.
    for (let wave = 0; wave < 3; wave += 1) {
      for (const answer of await Promise.all(Array.from({ length: 20 }, () => current(forged)))) {
        expectError(assert, answer, 401, "unknown_key");
      }
    }
    // A flood of distinct well-formed keys that were never issued runs out of the budget. The lookup
    // the binding refuses still answers 401 and blocks the client until the window ends: start early
    // in one, so the next wave meets the block.
    await startEarlyInWindow(limits.RATE_LIMIT_KEY_LOOKUPS.period);
    // A key validated just before is cached (the isolate's memory, then KV for a minute), however
    // slowly the suites before this one ran.
    assert.equal((await current(keys.staging.publishable_key)).status, 200);
    const spent = await exhaust(() => current(forgeKey("pk", "staging")), 8 * limits.RATE_LIMIT_KEY_LOOKUPS.limit);
    await thenUnblocked(spent, limits.RATE_LIMIT_KEY_LOOKUPS, async () => {
      const wait = expectLimited(spent, "key_lookups", limits.RATE_LIMIT_KEY_LOOKUPS);
      // Keys already validated are cached, so they are not refused meanwhile.
      assert.equal((await current(keys.staging.publishable_key)).status, 200);
      // After Retry-After, lookups run again.
      await waitOut(wait);
      expectError(assert, await current(forgeKey("pk", "staging")), 401, "unknown_key");
    });
  });

  it("limits lookups of forged member tokens and stream tickets the same way", { timeout: 60_000 }, async () => {
    const base32 = "0123456789abcdefghjkmnpqrstvwxyz";
    const random = (length) => Array.from(randomBytes(length), (byte) => base32[byte & 31]).join("");
    const me = () => api("/v1/me", { key: `mt_${random(52)}` });
    expectError(assert, await me(), 401, "member_token_invalid");
    await startEarlyInWindow(limits.RATE_LIMIT_KEY_LOOKUPS.period);
    const spent = await exhaust(me, 8 * limits.RATE_LIMIT_KEY_LOOKUPS.limit);
    await thenUnblocked(spent, limits.RATE_LIMIT_KEY_LOOKUPS, async () => {
      const wait = expectLimited(spent, "key_lookups", limits.RATE_LIMIT_KEY_LOOKUPS);
      await waitOut(wait);
      expectError(assert, await me(), 401, "member_token_invalid");
    });
  });
});
