// @tidings/sdk: an in-app notification feed backed by a Tidings environment.
import init, { TidingsClient } from "../pkg/tidings_sdk.js";

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

  constructor(client) {
    this.#client = client;
  }

  list(options) {
    return this.#client.feed(options);
  }

  counts(filter) {
    return this.#client.counts(filter ?? {});
  }

  markSeen(ids) {
    return this.#client.act({ action: "seen", ids: asIds(ids) });
  }

  markRead(ids) {
    return this.#client.act({ action: "read", ids: asIds(ids) });
  }

  markUnread(ids) {
    return this.#client.act({ action: "unread", ids: asIds(ids) });
  }

  archive(ids) {
    return this.#client.act({ action: "archive", ids: asIds(ids) });
  }

  unarchive(ids) {
    return this.#client.act({ action: "unarchive", ids: asIds(ids) });
  }

  delete(ids) {
    return this.#client.act({ action: "delete", ids: asIds(ids) });
  }

  markAllSeen(filter = {}) {
    return this.#client.act({ action: "seen", filter });
  }

  markAllRead(filter = {}) {
    return this.#client.act({ action: "read", filter });
  }

  archiveAll(filter = {}) {
    return this.#client.act({ action: "archive", filter });
  }
}

export { TidingsClient };
