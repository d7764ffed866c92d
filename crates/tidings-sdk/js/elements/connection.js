// What <tidings-inbox> and <tidings-bell> share about connecting: the
// attributes that name a connection, reading them, the session an element
// holds, and the properties an app may set before the elements are defined.
import { createTidings } from "../index.js";

/** The attributes that name a connection; changing one means another session. */
export const CONNECTION = ["api-url", "publishable-key", "subscriber-id", "subscriber-token", "subscriber-hash", "wasm-url"];

/** The properties both elements take. */
const PROPERTIES = ["session", "getSubscriberToken", "renderItem", "messages", "tabs"];

/**
 * The options of `createTidings` from an element's attributes, or null when
 * they name no complete connection (or the element is not in a page).
 */
export function connectionOptions(element, getSubscriberToken) {
  const attribute = (name) => element.getAttribute(name) ?? undefined;
  const options = {
    apiUrl: attribute("api-url"),
    publishableKey: attribute("publishable-key"),
    subscriberId: attribute("subscriber-id"),
    subscriberToken: attribute("subscriber-token"),
    subscriberHash: attribute("subscriber-hash"),
    wasmUrl: attribute("wasm-url"),
    getSubscriberToken,
  };
  const complete = options.apiUrl && options.publishableKey && options.subscriberId && element.isConnected;
  return complete ? options : null;
}

/** Properties set before the element was defined hide its setters: passes them through. */
export function upgradeProperties(element) {
  for (const name of PROPERTIES) {
    if (Object.hasOwn(element, name)) {
      const value = element[name];
      delete element[name];
      element[name] = value;
    }
  }
}

/**
 * An element's session: one the app shares (`element.session = …`), or one
 * the element opens from its attributes and so closes when it is done with
 * it. Connection attempts are numbered, so a late answer never reaches the
 * attempt after it.
 */
export class ElementSession {
  /** The session in use, if any. */
  current = null;
  #own = false;
  #attempt = 0;

  /** Whether the element opened the session in use. */
  get own() {
    return this.#own;
  }

  /** Uses the app's `session`, closing one the element opened. */
  share(session) {
    this.drop();
    this.current = session ?? null;
  }

  /** Closes the session if the element opened it, and forgets it either way. */
  drop() {
    if (this.#own) this.current?.close();
    this.current = null;
    this.#own = false;
  }

  /** Starts a connection attempt (abandoning the one under way); answers its number. */
  begin() {
    return ++this.#attempt;
  }

  /** Abandons the attempt under way. */
  abandon() {
    this.#attempt += 1;
  }

  /** Whether `attempt` is still the latest. */
  isCurrent(attempt) {
    return attempt === this.#attempt;
  }

  /**
   * The session for `attempt`: the one in use, else one opened from the
   * element's attributes. Null when they name no connection, or when a later
   * attempt began meanwhile.
   */
  async open(element, getSubscriberToken, attempt) {
    if (!this.current) {
      const options = connectionOptions(element, getSubscriberToken);
      if (!options) return null;
      const session = await createTidings(options);
      if (!this.isCurrent(attempt)) {
        session.close();
        return null;
      }
      this.current = session;
      this.#own = true;
    }
    return this.isCurrent(attempt) ? this.current : null;
  }
}
