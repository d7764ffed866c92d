// @tidings/sdk: an in-app notification feed backed by a Tidings environment.
import init, { TidingsClient } from "../pkg/tidings_sdk.js";

let ready;

/**
 * Loads the SDK's WebAssembly once (from next to this file, or from
 * `options.wasmUrl`) and returns a client for one subscriber's feed.
 */
export async function createTidings(options) {
  const { wasmUrl, ...clientOptions } = options ?? {};
  ready ??= init(wasmUrl ? { module_or_path: wasmUrl } : undefined);
  await ready;
  return new TidingsClient(clientOptions);
}

export { TidingsClient };
