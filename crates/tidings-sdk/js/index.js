// @tidings/sdk: an in-app notification feed backed by a Tidings environment.
import init, { TidingsClient } from "../pkg/tidings_sdk.js";
import { LiveFeed } from "./live.js";

let ready;

/**
 * Loads the SDK's WebAssembly once (from next to this file, or from
 * `options.wasmUrl`) and connects to one subscriber's feed.
 */
export async function createTidings(options) {
  const { wasmUrl, ...clientOptions } = options ?? {};
  ready ??= init(wasmUrl ? { module_or_path: wasmUrl } : undefined);
  await ready;
  return new Session(new TidingsClient(clientOptions));
}

/** `Tidings.connect(options)`: the same as {@link createTidings}. */
export const Tidings = { connect: createTidings };

const asIds = (ids) => (Array.isArray(ids) ? ids : [ids]);
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

/** One subscriber's connection. */
class Session {
  #client;

  constructor(client) {
    this.#client = client;
    this.feed = new Feed(client);
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
}

/** The subscriber's feed. Every method rejects with a TidingsError (`.code`). */
class Feed {
  #client;
  #live = new Set();

  constructor(client) {
    this.#client = client;
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
    const live = new LiveFeed(this.#client, listener, options);
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
    const undo = shown.map((live) => live.show(ids, TRANSITIONS[action]));
    try {
      const result = await this.#client.act(ids ? { action, ids } : { action, filter });
      for (const live of this.#live) live.settle(result.counts, shown.includes(live));
      return result;
    } catch (error) {
      for (const putBack of undo) putBack();
      throw error;
    }
  }
}

export { TidingsClient };
