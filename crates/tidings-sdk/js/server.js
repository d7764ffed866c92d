// @tidings/sdk/server: for Node.js servers. Mints subscriber tokens offline
// with the same code the Tidings worker verifies them with.
import { readFileSync } from "node:fs";
import { initSync, signSubscriberToken as sign } from "../pkg-server/tidings_sdk_server.js";

let ready = false;

/**
 * Signs a subscriber token for a browser: `{ signingSecret, environment,
 * subscriberId, ttlSeconds = 3600, scope = "write" }`.
 */
export function signSubscriberToken(options) {
  if (!ready) {
    initSync({ module: readFileSync(new URL("../pkg-server/tidings_sdk_server_bg.wasm", import.meta.url)) });
    ready = true;
  }
  return sign(options);
}
