// @tidings/sdk/server: for your servers, in any runtime (Node.js ≥ 20,
// Cloudflare Workers, Deno, Bun, edge functions): a client for the
// secret-key API, subscriber tokens and hashes signed offline, and webhook
// signatures checked in constant time. Plain JavaScript: no `node:` import,
// no WebAssembly to load.
export { TidingsServer } from "./server/client.js";
export { TidingsError } from "./server/error.js";
export { signSubscriberToken, subscriberHash, verifyWebhook, signWebhook } from "./server/signing.js";
