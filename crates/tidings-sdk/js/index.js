// @tidings/sdk: an in-app notification feed backed by a Tidings environment.
import init, { TidingsClient } from "../pkg/tidings_sdk.js";
import { LiveFeed, offlineStore } from "./live.js";

let ready;
const WASM = new URL("../pkg/tidings_sdk_bg.wasm", import.meta.url);

/** A TidingsError with `code`, as the wasm raises them. */
const failure = (code, message, field) => Object.assign(new Error(message), { name: "TidingsError", code, ...(field ? { field } : {}) });

/**
 * The wasm module's source: `wasmUrl`, or the file next to this one. Where
 * `fetch` cannot read `file:` URLs (Node.js: tests, server-side loading),
 * the file's bytes are read instead.
 */
async function wasmSource(wasmUrl) {
  if (wasmUrl) return wasmUrl;
  if (WASM.protocol !== "file:") return WASM;
  // A specifier bundlers leave alone: this branch only runs outside browsers.
  const fs = "node:fs/promises";
  const { readFile } = await import(/* @vite-ignore */ /* webpackIgnore: true */ fs);
  return readFile(WASM);
}

async function load(wasmUrl) {
  try {
    await init({ module_or_path: await wasmSource(wasmUrl) });
  } catch (error) {
    ready = undefined;
    throw Object.assign(failure("network_error", `could not load the Tidings WebAssembly: ${error?.message ?? error}`), { cause: error });
  }
}

/**
 * Loads the SDK's WebAssembly once (from next to this file, or from
 * `options.wasmUrl`) and connects to one subscriber's feed. With
 * `getSubscriberToken`, the session renews its token before it expires and
 * when the API says it has (see credentials.js).
 */
export async function createTidings(options) {
  const { wasmUrl, getSubscriberToken, ...clientOptions } = options ?? {};
  if (getSubscriberToken !== undefined && typeof getSubscriberToken !== "function") {
    throw failure("invalid_options", "getSubscriberToken must be a function answering a promise of a token", "getSubscriberToken");
  }
  ready ??= load(wasmUrl);
  await ready;
  const make = (settings) => new TidingsClient(settings);
  if (!getSubscriberToken) return new Session(make(clientOptions), cacheOwner(clientOptions, clientOptions.subscriberToken));
  // Apps that renew tokens load the renewal code; the others never download it.
  const { RenewingClient } = await import("./credentials.js");
  const client = await RenewingClient.create(make, clientOptions, getSubscriberToken);
  return new Session(client, cacheOwner(clientOptions, client.token));
}

/**
 * Who this session's offline data belongs to: the API, the publishable key
 * and the subscriber (so two deployments or environments never share it),
 * or null when it must not touch the cache: its token names another
 * subscriber or environment (the API would refuse it, and the cache must not
 * show meanwhile what the API would not).
 */
function cacheOwner(options, token) {
  if (token && !tokenMatches(options, token)) return null;
  // As the client reads them: `https://api/` and `https://api` are one API.
  return [options.apiUrl.trim().replace(/\/+$/, ""), options.publishableKey.trim(), options.subscriberId].join("\u0000");
}

function tokenMatches({ subscriberId, publishableKey }, subscriberToken) {
  try {
    const claims = JSON.parse(atob(subscriberToken.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return claims.sub === subscriberId && publishableKey.startsWith(`pk_${claims.env}_`);
  } catch {
    return false;
  }
}

/** `Tidings.connect(options)`: the same as {@link createTidings}. */
export const Tidings = { connect: createTidings };

// A copy: the body sent and the body queued under one key stay the same whatever the app does to its array.
const asIds = (ids) => (Array.isArray(ids) ? [...ids] : [ids]);
const now = () => new Date().toISOString();
/** What each action does to an item, for optimistic updates (null: the item is gone). */
const TRANSITIONS = {
  seen: (item) => ({ ...item, seen_at: item.seen_at ?? now() }),
  read: (item) => ({ ...item, seen_at: item.seen_at ?? now(), read_at: item.read_at ?? now() }),
  unread: (item) => ({ ...item, read_at: null }),
  archive: (item) => ({ ...item, archived_at: item.archived_at ?? now() }),
  unarchive: (item) => ({ ...item, archived_at: null }),
  delete: () => null,
};

const pageLocks = new Map();

/** Runs `work` holding the lock `name`: a Web Lock across tabs, else a lock of this page. */
function exclusively(name, work) {
  if (globalThis.navigator?.locks) return navigator.locks.request(name, work);
  const run = (pageLocks.get(name) ?? Promise.resolve()).then(work, work);
  pageLocks.set(name, run.catch(() => {}));
  return run;
}

/** A fresh Idempotency-Key for one action: however often it is sent, the API applies it once. */
function actionKey() {
  const crypto = globalThis.crypto;
  return crypto.randomUUID?.() ?? Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Whether the API refused an action itself (not the network, a credential or its own trouble). */
function refusal(error) {
  // Only these say the action itself cannot be applied; anything else (no network, a captive
  // portal's page, a credential to renew or fix, a busy API) leaves it queued for later.
  const refused = ["validation_failed", "malformed_json", "not_found", "subscriber_token_read_only", "key_scope_insufficient", "idempotency_key_reused"];
  return refused.includes(error?.code);
}

/** One subscriber's connection. */
class Session {
  #client;

  constructor(client, owner) {
    this.#client = client;
    this.feed = new Feed(client, owner);
    this.preferences = {
      get: () => client.preferences(),
      update: (changes) => client.updatePreferences(changes),
    };
  }

  /** The subscriber this session acts for. */
  get subscriberId() {
    return this.#client.subscriberId;
  }

  /** The environment the publishable key opens: `{ name, type, status, … }`. */
  environment() {
    return this.#client.environment();
  }

  /** Closes every live view and stops renewing the token and sending queued actions. */
  close() {
    this.feed.dispose();
    this.#client.close?.();
  }

  /**
   * Deletes this subscriber's cached views and queued actions on this device
   * (sign-out), and tells its other sessions and tabs to stop caching.
   */
  async clearCache() {
    await this.feed.clearCache();
  }
}

/** The subscriber's feed. Every method rejects with a TidingsError (`.code`). */
class Feed {
  #client;
  #live = new Set();
  #owner;
  // The views that showed each action queued offline in this page, by queue id.
  #queued = new Map();
  // Whether this subscriber's queue may hold actions: new ones then queue behind them, in order.
  #backlog = false;
  #flushing = null;
  // Whether actions were queued while sending: the queue is read again when it is done.
  #again = false;
  #closed = false;
  #retry = null;
  #retryDelay = 0;
  #channel = null;
  #online = () => this.#flush();

  constructor(client, owner) {
    this.#client = client;
    this.#owner = owner;
    if (!owner) return;
    globalThis.addEventListener?.("online", this.#online);
    // A sign-out in another session or tab stops this one caching too.
    this.#channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("tidings-cache") : null;
    this.#channel?.addEventListener("message", (event) => event.data?.cleared === this.#owner && this.#forget());
    // In Node.js an open channel would keep the process alive.
    this.#channel?.unref?.();
    this.#backlog = true;
    this.#flush();
  }

  list(options) {
    return this.#client.feed(options);
  }

  changes(since, options) {
    return this.#client.changes(since, options);
  }

  counts(filter) {
    return this.#client.counts(filter ?? {});
  }

  /**
   * Keeps `listener(state)` up to date with a view of the feed, in real
   * time, across tabs. `options`: `limit` and the filters of `list`.
   * Returns `{ ready, loadMore(), sync(), close() }`.
   */
  subscribe(listener, options) {
    const live = new LiveFeed(this.#client, listener, options, this.#owner ? { owner: this.#owner } : null);
    this.#live.add(live);
    live.ready.catch(() => {});
    return {
      ready: live.ready,
      loadMore: () => live.loadMore(),
      sync: () => live.sync(),
      close: () => {
        this.#live.delete(live);
        live.close();
      },
    };
  }

  /** Closes every live view of this feed. */
  closeAll() {
    for (const live of this.#live) live.close();
    this.#live.clear();
  }

  /** Closes the views and stops listening and retrying (the session closes). */
  dispose() {
    this.#closed = true;
    this.closeAll();
    globalThis.removeEventListener?.("online", this.#online);
    clearTimeout(this.#retry);
    this.#channel?.close();
    this.#channel = null;
  }

  /** Deletes the owner's offline data and makes every session of it, here and in other tabs, stop caching. */
  async clearCache() {
    if (!this.#owner) return;
    const owner = this.#owner;
    this.#forget();
    const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("tidings-cache") : null;
    channel?.postMessage({ cleared: owner });
    channel?.close();
    // Under the queue's lock: no tab is between reading the queue and sending from it meanwhile
    // (told above, each stops before its next action).
    await exclusively(`tidings-queue:${owner}`, async () => (await offlineStore()).clearOwner(owner));
  }

  #forget() {
    for (const live of this.#live) live.forget();
    this.#owner = null;
    clearTimeout(this.#retry);
  }

  markSeen(ids) {
    return this.#act("seen", asIds(ids));
  }

  markRead(ids) {
    return this.#act("read", asIds(ids));
  }

  markUnread(ids) {
    return this.#act("unread", asIds(ids));
  }

  archive(ids) {
    return this.#act("archive", asIds(ids));
  }

  unarchive(ids) {
    return this.#act("unarchive", asIds(ids));
  }

  delete(ids) {
    return this.#act("delete", asIds(ids));
  }

  markAllSeen(filter = {}) {
    return this.#act("seen", null, filter);
  }

  markAllRead(filter = {}) {
    return this.#act("read", null, filter);
  }

  archiveAll(filter = {}) {
    return this.#act("archive", null, filter);
  }

  /** Sends an action; live views show it at once and are put back if the API refuses it. */
  async #act(action, ids, filter) {
    // A filter the loaded items cannot be checked against waits for the server's answer.
    const local = ids !== null || Object.keys(filter).length === 0;
    const shown = local ? [...this.#live] : [];
    // Offline, an action on what is shown waits in the queue: by the ids shown, never by a
    // filter that would also catch what arrives before the network returns.
    const known = ids ?? [...new Set(shown.flatMap((live) => live.state.items.map((item) => item.id)))];
    const offline = this.#owner && local && known.length <= 100;
    const undo = shown.map((live) => live.show(ids, TRANSITIONS[action]));
    // One key for the action, wherever it is sent from: sent now with an answer lost on the
    // way, then from the queue, it is still applied once.
    const key = actionKey();
    // Offline, or behind actions still queued (so they reach the API in the order taken).
    if (offline && (globalThis.navigator?.onLine === false || this.#backlog)) {
      const queued = await this.#queue({ action, ids: known }, key, shown, undo);
      if (queued) return queued;
    }
    try {
      const result = await this.#client.act(ids ? { action, ids } : { action, filter }, key);
      for (const live of this.#live) live.settle(result.counts, shown.includes(live));
      return result;
    } catch (error) {
      // A filter sent now is queued as the ids shown: another body, so another key.
      const queued = offline && error.code === "network_error"
        ? await this.#queue({ action, ids: known }, ids ? key : actionKey(), shown, undo) : null;
      if (queued) return queued;
      for (const putBack of undo) putBack();
      throw error;
    }
  }

  /**
   * Queues an action taken offline (or behind queued ones); it stays shown
   * and is sent when the browser is online. Answers null when it cannot be
   * queued but can be sent now.
   */
  async #queue(body, key, shown, undo) {
    if (body.ids.length === 0) {
      for (const live of shown) live.release(true);
      return { updated: 0, counts: null, queued: true };
    }
    const id = await (await offlineStore()).queueAction(this.#owner, body, key);
    if (id === null) {
      // No storage: online, the caller sends it now; offline, it cannot be kept.
      if (globalThis.navigator?.onLine !== false) return null;
      for (const putBack of undo) putBack();
      throw Object.assign(new Error("offline, and this browser cannot keep the action for later"), { name: "TidingsError", code: "network_error" });
    }
    // Shown, but no longer holding sync answers back: it may be sent by another tab, or late.
    for (const live of shown) live.release(true);
    this.#queued.set(id, { shown });
    this.#backlog = true;
    if (globalThis.navigator?.onLine !== false) this.#flush();
    return { updated: 0, counts: null, queued: true };
  }

  /**
   * Sends the queued actions in order, each once; one the API refuses is
   * put back and reported. One sender at a time per subscriber, across
   * sessions and tabs (a Web Lock; in this page only where there is none).
   */
  #flush() {
    const owner = this.#owner;
    if (!owner || this.#closed) return Promise.resolve();
    clearTimeout(this.#retry);
    if (this.#flushing) {
      this.#again = true;
      return this.#flushing;
    }
    this.#flushing = exclusively(`tidings-queue:${owner}`, async () => {
      const { queuedActions, removeAction, keyAction } = await offlineStore();
      let left = 0;
      for (const entry of await queuedActions(owner)) {
        if (globalThis.navigator?.onLine === false || this.#owner !== owner || this.#closed) {
          left += 1;
          break;
        }
        let result;
        try {
          // Queued before actions had keys: one now, kept with it for every later attempt.
          if (!entry.key) await keyAction(entry, actionKey());
          result = await this.#client.act(entry.body, entry.key);
        } catch (error) {
          // Not a refusal of the action (no network, a credential to renew, a busy or failing
          // API): it stays queued, first in line, for the next attempt.
          if (!refusal(error)) {
            left += 1;
            break;
          }
          await removeAction(entry.id);
          this.#queued.delete(entry.id);
          for (const live of this.#live) live.refuse(error, false);
          continue;
        }
        await removeAction(entry.id);
        this.#queued.delete(entry.id);
        for (const live of this.#live) live.settle(result.counts, false);
      }
      this.#backlog = left > 0;
      // Try again later while something is left (the online event may never come).
      this.#retryDelay = left > 0 ? Math.min(30_000, Math.max(2_000, this.#retryDelay * 2)) : 0;
      if (left > 0 && this.#owner === owner && !this.#closed) {
        this.#retry = setTimeout(() => this.#flush(), this.#retryDelay);
        this.#retry.unref?.();
      }
    }).catch(() => {}).finally(() => {
      this.#flushing = null;
      if (this.#again) {
        this.#again = false;
        this.#flush();
      }
    });
    return this.#flushing;
  }
}

export { TidingsClient };
