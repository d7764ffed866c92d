// What the test run started: the API and www URLs and the seeded keys.
import { createHash, createHmac, randomBytes } from "node:crypto";
import { appendFileSync, readFileSync } from "node:fs";

export const apiUrl = required("TIDINGS_TEST_API_URL");
export const wwwUrl = required("TIDINGS_TEST_WWW_URL");
const saved = JSON.parse(readFileSync(required("TIDINGS_TEST_KEYS"), "utf8"));
export const keys = saved.environments;
/** The control-plane credential of the test deployment. */
export const adminToken = saved.admin.token;
export const environmentNames = Object.keys(keys);

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through \`npm test\``);
  return value;
}

/** Calls the API; returns { status, headers, body } with the body parsed as JSON when it is JSON. */
export async function api(path, { key, method = "GET", body, headers = {} } = {}) {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { ...(key ? { Authorization: `Bearer ${key}` } : {}), ...headers },
    body: body === undefined || typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
  });
  const text = await response.text();
  record(method, path, body, response.status, text);
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, body: parsed };
}

/**
 * Appends an exchange to the run's record, which `npm test` scans for key
 * material in the end (scripts/scan-secrets.mjs).
 */
function record(method, path, body, status, text) {
  const file = process.env.TIDINGS_TEST_RECORD;
  if (!file) return;
  const request = body === undefined || body instanceof Uint8Array ? "" : typeof body === "string" ? body : JSON.stringify(body);
  appendFileSync(file, JSON.stringify({ method, path: path.split("?")[0], status, request, response: text }) + "\n");
}

/** Calls a control-plane route with the admin token. */
export function admin(path, options = {}) {
  return api(path, { key: adminToken, ...options });
}

/** Sends the starter `welcome` workflow to `subscriber` in development; expects 202. */
export async function welcome(subscriber, name, headers = {}) {
  const response = await api("/v1/events/trigger", {
    key: keys.development.secret_key,
    method: "POST",
    body: { workflow: "welcome", to: [subscriber], payload: { name } },
    headers,
  });
  if (response.status !== 202) throw new Error(`trigger answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response;
}

/** A subscriber id no other test uses. */
export function freshSubscriber(label) {
  return `${label}-${randomBytes(6).toString("hex")}`;
}

/** The subscriber hash credential, as a customer's server computes it. */
export function subscriberHash(environment, subscriberId) {
  return createHmac("sha256", keys[environment].subscriber_signing_secret).update(subscriberId).digest("hex");
}

const BASE32 = "0123456789abcdefghjkmnpqrstvwxyz";

/**
 * A key with a valid checksum that was never issued: what a forger who knows
 * the key format can produce.
 */
export function forgeKey(prefix, environment) {
  const secret = Array.from(randomBytes(32), (byte) => BASE32[byte & 31]).join("");
  const body = `${prefix}_${environment}_${secret}`;
  const digest = createHash("sha256").update(body).digest();
  let value = digest.readUInt32BE(0) >>> 2;
  let checksum = "";
  for (let index = 0; index < 6; index += 1) {
    checksum = BASE32[value & 31] + checksum;
    value = Math.floor(value / 32);
  }
  return body + checksum;
}

/** Checks the error shape of the API and returns the error. */
export function expectError(assert, response, status, code) {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(typeof response.body, "object");
  assert.equal(response.body.error.code, code);
  assert.equal(typeof response.body.error.message, "string");
  assert.ok(response.body.error.message.length > 0);
  return response.body.error;
}

/** Polls `check` every 100 ms until it answers something truthy (within 20 s), and answers that. */
/**
 * Waits until wrangler dev has reloaded a rewritten configuration (a test's
 * own edit, or `npm run env -- create|delete`): a request in flight while
 * it restarts the worker is answered 503 ("restarted mid-request"), so the
 * next test's first write must not meet that.
 */
export async function reloaded() {
  await new Promise((resolve) => setTimeout(resolve, 1500));
  let answered = 0;
  await waitFor(async () => {
    const status = await fetch(`${apiUrl}/health`).then((response) => response.status, () => 0);
    answered = status === 200 ? answered + 1 : 0;
    return answered >= 3;
  }, "the worker to answer after its configuration was rewritten");
}

export async function waitFor(check, what) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
