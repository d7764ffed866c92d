// The server client: every secret-key operation of one environment, with
// retries where they are safe. Only `fetch`, `URL`, `TextEncoder`,
// `setTimeout` and `crypto.randomUUID`: every modern runtime has them.
import { TidingsError } from "./error.js";
import { BINARY_ANSWERS, KEYED, OPERATIONS } from "./operations.js";

const DEFAULTS = { maxRetries: 3, maxRetryDelaySeconds: 30, baseRetryDelayMs: 250 };
const SECRET_KEY = /^sk_[\x21-\x7e]+$/;

/**
 * Whether an answer may be waited out and the request sent again: a spent
 * rate limit (nothing was done), a trigger still running under the same
 * idempotency key, or a write the database failed transiently (503) when
 * repeating the request cannot do it twice.
 */
export function retryable({ status, code, repeatable }) {
  if (status === 429) return true;
  if (status === 409) return code === "request_in_progress";
  if (status === 503 || status === undefined) return repeatable;
  return false;
}

/**
 * How long to wait before attempt `attempt + 1` (milliseconds): the API's
 * `Retry-After` when it gave one, else exponential backoff with full jitter.
 */
export function retryDelayMs({ attempt, retryAfterSeconds, baseRetryDelayMs = DEFAULTS.baseRetryDelayMs, random = Math.random }) {
  if (retryAfterSeconds !== undefined) return retryAfterSeconds * 1000;
  return Math.round(baseRetryDelayMs * 2 ** attempt * (0.5 + random() / 2));
}

/** `Retry-After` in seconds (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value, nowMs = Date.now()) {
  if (value === null || value === undefined || value === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - nowMs) / 1000));
}

/**
 * The path of an operation with its parameters filled in. Each parameter
 * stays inside its own segment(s): a file path keeps its slashes, and no
 * segment may be empty, `.` or `..`, which URL parsing would collapse into
 * another route (`files.delete("../subscribers/x")`).
 */
export function expandPath(template, params) {
  return template.replace(/\{(\w+)\}/g, (_, name) => {
    const value = params?.[name];
    const segments = typeof value === "string" ? (name === "path" ? value.split("/") : [value]) : [""];
    if (segments.some((segment) => segment === "" || segment === "." || segment === "..")) {
      throw new TidingsError({ code: "invalid_options", message: `${name} must be a non-empty value with no empty, . or .. segment`, field: name });
    }
    return segments.map(encodeURIComponent).join("/");
  });
}

/** A query string: lists of strings comma-separated (`tags`), objects and lists of objects as JSON (`filters`). */
export function queryString(query) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    const plainList = Array.isArray(value) && value.every((item) => typeof item !== "object" || item === null);
    search.set(name, plainList ? value.join(",") : typeof value === "object" ? JSON.stringify(value) : String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * A client for one environment's secret-key API. Create one per secret key
 * and reuse it. Every method resolves with the API's JSON answer or rejects
 * with a {@link TidingsError}.
 */
export class TidingsServer {
  #secretKey;
  #apiUrl;
  #fetch;
  #options;

  /**
   * `{ secretKey, apiUrl, fetch?, maxRetries = 3, maxRetryDelaySeconds = 30 }`.
   * `maxRetries` is the number of extra attempts; a `Retry-After` longer
   * than `maxRetryDelaySeconds` is not waited out (the error is thrown with
   * its `retryAfter`).
   */
  constructor({ secretKey, apiUrl, fetch: fetchImpl, ...options } = {}) {
    if (typeof secretKey !== "string" || !SECRET_KEY.test(secretKey)) {
      throw new TidingsError({ code: "invalid_options", message: "secretKey must be a secret key (sk_…)", field: "secretKey" });
    }
    let url;
    try {
      url = new URL(apiUrl);
    } catch {
      url = null;
    }
    if (!url || !/^https?:$/.test(url.protocol) || url.search || url.hash || url.username || url.password) {
      throw new TidingsError({ code: "invalid_options", message: "apiUrl must be an absolute http(s) URL without query, fragment or credentials", field: "apiUrl" });
    }
    this.#secretKey = secretKey;
    this.#apiUrl = url.href.replace(/\/+$/, "");
    this.#fetch = fetchImpl ?? ((...args) => globalThis.fetch(...args));
    this.#options = { ...DEFAULTS };
    for (const [name, value] of Object.entries(options)) {
      if (value === undefined) continue;
      if (!(name in DEFAULTS)) throw new TidingsError({ code: "invalid_options", message: `unknown option ${name}`, field: name });
      const whole = name === "maxRetries";
      if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || (whole && !Number.isInteger(value))) {
        throw new TidingsError({ code: "invalid_options", message: `${name} must be a finite number ≥ 0${whole ? " (whole)" : ""}`, field: name });
      }
      this.#options[name] = value;
    }
    this.subscribers = subscribers(this);
    this.feed = feed(this);
    this.workflows = crud(this, "Workflow", "key", { versions: (key) => this.request("listWorkflowVersions", { params: { key } }) });
    this.variables = variables(this);
    this.integrations = crud(this, "Integration", "integration_id");
    this.preferences = {
      getDefaults: () => this.request("getPreferenceDefaults"),
      putDefaults: (preferences) => this.request("putPreferenceDefaults", { body: preferences }),
    };
    this.brand = brand(this);
    this.logs = { list: (query) => this.request("listLogs", { query }) };
    this.deliveries = {
      list: (query) => this.request("listDeliveries", { query }),
      get: (id) => this.request("getDelivery", { params: { delivery_id: id } }),
      replay: (id) => this.request("replayDelivery", { params: { delivery_id: id } }),
      replayMany: (filter = {}) => this.request("replayDeliveries", { body: filter }),
    };
    this.files = files(this);
    this.topics = topics(this);
    this.transactions = { get: (id) => this.request("getTransaction", { params: { transaction_id: id } }) };
  }

  /**
   * Triggers a workflow: `{ workflow, to, payload?, actor?, tenant? }`. An
   * `Idempotency-Key` is always sent (yours, or a fresh one per call), so
   * retries never notify twice. Resolves with the 202 answer.
   */
  trigger(event, { idempotencyKey } = {}) {
    return this.request("trigger", { body: event, idempotencyKey });
  }

  /** Up to 100 triggers in one request; one result per event, in order. */
  triggerBulk(events, { idempotencyKey } = {}) {
    return this.request("triggerBulk", { body: { events }, idempotencyKey });
  }

  /** The environment this key belongs to: `{ name, type, … }`. */
  environment() {
    return this.request("currentEnvironment");
  }

  /**
   * Calls one operation by its `operationId` (see openapi.json): `params`
   * fill the path, `query` the query string; `body` is sent as JSON unless it
   * is bytes (then with `contentType`). Resolves with the parsed JSON answer,
   * or `{ body: Uint8Array, contentType }` for a file.
   */
  async request(operationId, { params, query, body, contentType, idempotencyKey, headers: extra } = {}) {
    const operation = OPERATIONS[operationId];
    if (!operation) throw new TidingsError({ code: "invalid_options", message: `unknown operation ${operationId}` });
    const [method, template, marked] = operation;
    const url = `${this.#apiUrl}${expandPath(template, params)}${queryString(query)}`;
    const headers = { Authorization: `Bearer ${this.#secretKey}`, ...extra };
    let payload;
    if (body instanceof Uint8Array || body instanceof ArrayBuffer) {
      payload = body;
      headers["Content-Type"] = contentType ?? "application/octet-stream";
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    // Triggers and feed actions are always keyed, so sending one again never acts twice.
    const key = idempotencyKey ?? (KEYED.has(operationId) ? globalThis.crypto.randomUUID() : undefined);
    if (key !== undefined) {
      if (typeof key !== "string" || !/^[\x21-\x7e]{1,255}$/.test(key)) {
        throw new TidingsError({ code: "invalid_options", message: "idempotencyKey must be 1 to 255 printable ASCII characters", field: "idempotencyKey" });
      }
      headers["Idempotency-Key"] = key;
    }
    const repeatable = marked ?? method !== "POST";
    for (let attempt = 0; ; attempt++) {
      const error = await this.#attempt(method, url, headers, payload, BINARY_ANSWERS.has(operationId));
      if (!(error instanceof TidingsError)) return error;
      const mayRetry = attempt < this.#options.maxRetries && retryable({ status: error.status, code: error.code, repeatable });
      const delay = retryDelayMs({ attempt, retryAfterSeconds: error.retryAfter, baseRetryDelayMs: this.#options.baseRetryDelayMs });
      if (!mayRetry || delay > this.#options.maxRetryDelaySeconds * 1000) throw error;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** One attempt: the answer's value, or the TidingsError it amounts to. */
  async #attempt(method, url, headers, body, binary) {
    let response;
    try {
      response = await this.#fetch(url, { method, headers, body });
    } catch (cause) {
      // The cause's name only: a custom fetch's message might quote the request.
      return new TidingsError({ code: "network_error", message: `could not reach ${new URL(url).origin}: ${cause?.name ?? "error"}` });
    }
    const type = response.headers.get("content-type") ?? "";
    let text;
    try {
      if (response.ok && binary) return { body: new Uint8Array(await response.arrayBuffer()), contentType: type };
      text = await response.text();
    } catch (cause) {
      return new TidingsError({ code: "network_error", message: `the answer from ${new URL(url).origin} broke off: ${cause?.name ?? "error"}` });
    }
    let parsed;
    try {
      parsed = text === "" ? null : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (response.ok) {
      if (parsed === undefined) return unexpected(response.status, "an answer that is not JSON");
      return parsed;
    }
    const detail = parsed?.error;
    if (typeof detail?.code !== "string" || typeof detail?.message !== "string") {
      return unexpected(response.status, `HTTP ${response.status} without an error body`);
    }
    return new TidingsError({
      code: detail.code,
      message: detail.message,
      status: response.status,
      field: detail.field,
      details: detail.details,
      retryAfter: parseRetryAfter(response.headers.get("retry-after")),
    });
  }
}

function unexpected(status, what) {
  return new TidingsError({ code: "unexpected_response", message: `the API answered ${what}`, status });
}

function subscribers(client) {
  const id = (subscriberId) => ({ subscriber_id: subscriberId });
  return {
    list: (query) => client.request("listSubscribers", { query }),
    get: (subscriberId) => client.request("getSubscriber", { params: id(subscriberId) }),
    upsert: (subscriberId, profile = {}) => client.request("upsertSubscriber", { params: id(subscriberId), body: profile }),
    bulkUpsert: (list) => client.request("bulkUpsertSubscribers", { body: { subscribers: list } }),
    delete: (subscriberId) => client.request("deleteSubscriber", { params: id(subscriberId) }),
    getPreferences: (subscriberId) => client.request("getPreferences", { params: id(subscriberId) }),
    updatePreferences: (subscriberId, patch) => client.request("updatePreferences", { params: id(subscriberId), body: patch }),
    /** Mints a subscriber token through the API: `{ ttlSeconds?, scope? }` → `{ token, expires_at, scope }`. */
    mintToken: (subscriberId, { ttlSeconds, scope } = {}) =>
      client.request("mintSubscriberToken", { params: id(subscriberId), body: { ttl_seconds: ttlSeconds, scope } }),
    revokeTokens: (subscriberId) => client.request("revokeSubscriberTokens", { params: id(subscriberId) }),
  };
}

function feed(client) {
  const id = (subscriberId) => ({ subscriber_id: subscriberId });
  return {
    list: (subscriberId, query) => client.request("feed", { params: id(subscriberId), query }),
    counts: (subscriberId, query) => client.request("feedCounts", { params: id(subscriberId), query }),
    changes: (subscriberId, since, query = {}) => client.request("feedChanges", { params: id(subscriberId), query: { ...query, since } }),
    act: (subscriberId, action, { idempotencyKey } = {}) => client.request("feedActions", { params: id(subscriberId), body: action, idempotencyKey }),
    streamTicket: (subscriberId) => client.request("feedStreamTicket", { params: id(subscriberId) }),
  };
}

function crud(client, noun, idName, extra = {}) {
  const id = (value) => ({ [idName]: value });
  return {
    list: () => client.request(`list${noun}s`),
    get: (value) => client.request(`get${noun}`, { params: id(value) }),
    create: (input) => client.request(`create${noun}`, { body: input }),
    save: (value, input) => client.request(`save${noun}`, { params: id(value), body: input }),
    delete: (value) => client.request(`delete${noun}`, { params: id(value) }),
    ...extra,
  };
}

function variables(client) {
  const id = (name) => ({ variable_name: name });
  return {
    list: () => client.request("listVariables"),
    get: (name) => client.request("getVariable", { params: id(name) }),
    put: (name, input) => client.request("putVariable", { params: id(name), body: input }),
    delete: (name) => client.request("deleteVariable", { params: id(name) }),
  };
}

function brand(client) {
  return {
    get: () => client.request("getBrand"),
    put: (input) => client.request("putBrand", { body: input }),
    getLogo: () => client.request("getLogo"),
    putLogo: (bytes, contentType) => client.request("putLogo", { body: bytes, contentType }),
  };
}

function topics(client) {
  const id = (key) => ({ topic_key: key });
  return {
    list: (query) => client.request("listTopics", { query }),
    get: (key) => client.request("getTopic", { params: id(key) }),
    put: (key, input = {}) => client.request("putTopic", { params: id(key), body: input }),
    delete: (key) => client.request("deleteTopic", { params: id(key) }),
    members: (key, query) => client.request("listTopicMembers", { params: id(key), query }),
    addMembers: (key, subscriberIds) => client.request("addTopicMembers", { params: id(key), body: { subscribers: subscriberIds } }),
    removeMembers: (key, subscriberIds) => client.request("removeTopicMembers", { params: id(key), body: { subscribers: subscriberIds } }),
  };
}

function files(client) {
  const id = (path) => ({ path });
  return {
    list: (query) => client.request("listFiles", { query }),
    signUrls: (request) => client.request("signFileUrls", { body: request }),
    put: (path, bytes, contentType) => client.request("putFile", { params: id(path), body: bytes, contentType }),
    get: (path) => client.request("getFile", { params: id(path) }),
    delete: (path) => client.request("deleteFile", { params: id(path) }),
  };
}
