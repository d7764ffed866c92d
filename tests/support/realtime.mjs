// A subscriber's realtime socket (`…/feed/stream`), opened as the browser
// SDK opens it, for tests that listen to what the feed's hub announces.
import { apiUrl, keys, subscriberHash } from "./context.mjs";

/**
 * Opens `subscriber`'s realtime socket in `environment`, with the
 * environment's publishable key and the subscriber's hash unless another
 * `key` or `credential` is given. `ready` resolves once the hub registered
 * the socket; `next(type)` resolves with the next event of that type.
 */
export function openSocket(environment, subscriber, { key = keys[environment].publishable_key, credential } = {}) {
  const query = new URLSearchParams({ key, ...(credential ?? { hash: subscriberHash(environment, subscriber) }) });
  const socket = new WebSocket(`${apiUrl.replace(/^http/, "ws")}/v1/subscribers/${subscriber}/feed/stream?${query}`);
  const heard = [];
  const waiters = [];
  socket.addEventListener("message", (event) => {
    if (event.data === "pong") return;
    heard.push(JSON.parse(event.data));
    for (const waiter of waiters.splice(0)) waiter();
  });
  const next = (type, timeoutMs = 5000) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const index = heard.findIndex((event) => event.type === type);
        if (index >= 0) return resolve(heard.splice(index, 1)[0]);
        waiters.push(check);
      };
      setTimeout(() => reject(new Error(`no ${type} event within ${timeoutMs} ms (heard ${JSON.stringify(heard)})`)), timeoutMs);
      check();
    });
  const ready = new Promise((resolve, reject) => {
    socket.addEventListener("error", () => reject(new Error("the socket failed to open")));
    next("ready").then(resolve, reject);
  });
  return { socket, ready, next, heard };
}
