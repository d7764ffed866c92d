// A subscriber's realtime socket (`…/feed/stream`), opened as the browser
// SDK opens it (credentials in headers exchanged for a one-time ticket, only
// the ticket in the URL), for tests that listen to what the feed's hub
// announces.
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { api, apiUrl, keys, subscriberHash } from "./context.mjs";

/**
 * A stream ticket for `subscriber` in `environment`, asked with the
 * environment's publishable key and the subscriber's hash unless another
 * `key` or credential `headers` are given; answers the whole response.
 */
export function streamTicket(environment, subscriber, { key = keys[environment].publishable_key, headers } = {}) {
  return api(`/v1/subscribers/${encodeURIComponent(subscriber)}/feed/stream-ticket`, {
    key,
    method: "POST",
    headers: headers ?? { "X-Subscriber-Hash": subscriberHash(environment, subscriber) },
  });
}

/** The URL of `subscriber`'s socket with `ticket`. */
export const streamUrl = (subscriber, ticket) =>
  `${apiUrl.replace(/^http/, "ws")}/v1/subscribers/${encodeURIComponent(subscriber)}/feed/stream?ticket=${encodeURIComponent(ticket)}`;

/**
 * Opens `subscriber`'s realtime socket in `environment` (see
 * [`streamTicket`] for `options`). `ready` resolves once the hub registered
 * the socket; `next(type)` resolves with the next event of that type;
 * `closed` with the close event.
 */
export async function openSocket(environment, subscriber, options = {}) {
  const issued = await streamTicket(environment, subscriber, options);
  if (issued.status !== 201) throw new Error(`no stream ticket: ${issued.status} ${JSON.stringify(issued.body)}`);
  const socket = new WebSocket(streamUrl(subscriber, issued.body.ticket));
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
  const closed = new Promise((resolve) => socket.addEventListener("close", resolve));
  return { socket, ready, next, heard, closed, ticket: issued.body.ticket };
}

/** A WebSocket handshake that is expected to be refused: resolves with { status, body }. */
export function refusedUpgrade(path) {
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(`${apiUrl}${path}`, {
      headers: { Connection: "Upgrade", Upgrade: "websocket", "Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": randomBytes(16).toString("base64") },
    });
    outgoing.on("upgrade", (_response, socket) => {
      socket.destroy();
      reject(new Error(`${path} was upgraded`));
    });
    outgoing.on("response", (response) => {
      let text = "";
      response.on("data", (chunk) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode, body: JSON.parse(text) }));
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
}
