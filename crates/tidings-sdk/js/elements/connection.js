// What <tidings-inbox> and <tidings-bell> share about connecting: the
// attributes that name a connection, reading them, and the properties an
// app may set before the elements are defined.

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
