// Realtime sockets open with one-time tickets: the browser's credentials
// travel in headers (`POST …/feed/stream-ticket`), only a ticket valid 60 s
// and once travels in the socket's URL, and an open socket closes when the
// token or key behind it stops working (it hears why, `{"type":"closed"}`,
// then gets the close frame, and hears nothing more).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { admin, api, expectError, freshSubscriber, keys, subscriberHash } from "./support/context.mjs";
import { openSocket, refusedUpgrade, streamTicket } from "./support/realtime.mjs";

const environment = "staging";
const streamPath = (subscriber, ticket) => `/v1/subscribers/${subscriber}/feed/stream?ticket=${encodeURIComponent(ticket)}`;
/**
 * Waits for the hub's close frame: the socket leaves OPEN (CLOSING once the
 * frame came and was answered; CLOSED once the transport is gone too).
 */
async function closing(live) {
  const deadline = Date.now() + 5_000;
  while (live.socket.readyState === WebSocket.OPEN && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.notEqual(live.socket.readyState, WebSocket.OPEN, "the hub did not close the socket");
}

describe("stream tickets", () => {
  it("are issued only against the subscriber's own credential, and name nothing else", async () => {
    const [ada, bob] = [freshSubscriber("ticket-ada"), freshSubscriber("ticket-bob")];
    const issued = await streamTicket(environment, ada);
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    assert.match(issued.body.ticket, /^stk_staging_[0-9a-z]{32}$/);
    assert.ok(!issued.body.ticket.includes(keys.staging.publishable_key.slice(11)), "the ticket carries the key");
    assert.ok(Math.abs(Date.parse(issued.body.expires_at) - Date.now() - 60_000) < 10_000);
    expectError(assert, await streamTicket(environment, ada, { headers: {} }), 401, "subscriber_credential_required");
    const bobsHash = { "X-Subscriber-Hash": subscriberHash(environment, bob) };
    expectError(assert, await streamTicket(environment, ada, { headers: bobsHash }), 401, "subscriber_credential_invalid");
    const production = { key: keys.production.publishable_key, headers: { "X-Subscriber-Hash": subscriberHash(environment, ada) } };
    expectError(assert, await streamTicket("production", ada, production), 401, "subscriber_credential_invalid");
    // A read-only token is enough to listen.
    const reader = await api(`/v1/subscribers/${ada}/token`, { key: keys.staging.secret_key, method: "POST", body: { scope: "read" } });
    const withToken = await streamTicket(environment, ada, { headers: { "X-Subscriber-Token": reader.body.token } });
    assert.equal(withToken.status, 201, JSON.stringify(withToken.body));
  });

  it("open one socket, once, for their own subscriber only", async () => {
    const [ada, bob] = [freshSubscriber("ticket-once"), freshSubscriber("ticket-other")];
    const live = await openSocket(environment, ada);
    await live.ready;
    expectError(assert, await refusedUpgrade(streamPath(ada, live.ticket)), 401, "stream_ticket_invalid");
    live.socket.close();
    // A ticket tried on another subscriber's socket is spent: it opens neither.
    const adas = (await streamTicket(environment, ada)).body.ticket;
    expectError(assert, await refusedUpgrade(streamPath(bob, adas)), 401, "stream_ticket_invalid");
    expectError(assert, await refusedUpgrade(streamPath(ada, adas)), 401, "stream_ticket_invalid");
    // A ticket naming another environment than the one it was issued in is unknown there.
    const forged = (await streamTicket(environment, ada)).body.ticket.replace("stk_staging_", "stk_production_");
    expectError(assert, await refusedUpgrade(streamPath(ada, forged)), 401, "stream_ticket_invalid");
    // Nor does a made-up ticket tell which environments exist: one answer, word for word.
    const madeUp = (environmentName) => forged.replace("stk_production_", `stk_${environmentName}_`);
    const answers = await Promise.all(["production", "nowhere", "gone-long-ago"].map((name) => refusedUpgrade(streamPath(ada, madeUp(name)))));
    for (const answer of answers) expectError(assert, answer, 401, "stream_ticket_invalid");
    assert.equal(new Set(answers.map((answer) => answer.body.error.message)).size, 1, JSON.stringify(answers.map((answer) => answer.body)));
  });

  it("close the socket when its subscriber token expires", async () => {
    const ada = freshSubscriber("ticket-token");
    const minted = await api(`/v1/subscribers/${ada}/token`, { key: keys.staging.secret_key, method: "POST", body: { ttl_seconds: 2 } });
    const live = await openSocket(environment, ada, { headers: { "X-Subscriber-Token": minted.body.token } });
    try {
      await live.ready;
      const ended = await live.next("closed", 10_000);
      assert.equal(ended.reason, "credential_expired");
      await closing(live);
    } finally {
      live.socket.close();
    }
  });

  it("close the socket when its key is revoked, and a revoked key gets no ticket and opens no socket", async () => {
    const ada = freshSubscriber("ticket-key");
    const created = await admin(`/v1/environments/${environment}/keys`, { method: "POST", body: { kind: "publishable" } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const key = created.body.key;
    const live = await openSocket(environment, ada, { key });
    const waiting = (await streamTicket(environment, ada, { key })).body.ticket;
    try {
      await live.ready;
      const revoked = await admin(`/v1/environments/${environment}/keys/${created.body.id}`, { method: "DELETE" });
      assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
      const ended = await live.next("closed", 5_000);
      assert.equal(ended.reason, "revoked");
      await closing(live);
      // The hub no longer speaks to it: a new message for the subscriber is not announced there.
      const sent = await api("/v1/events/trigger", { key: keys.staging.secret_key, method: "POST", body: { workflow: "welcome", to: ada, payload: { name: "x" } } });
      assert.equal(sent.status, 202, JSON.stringify(sent.body));
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(live.heard, [], "a socket of a revoked key heard of a change");
    } finally {
      live.socket.close();
    }
    expectError(assert, await refusedUpgrade(streamPath(ada, waiting)), 401, "key_revoked");
    expectError(assert, await streamTicket(environment, ada, { key }), 401, "key_revoked");
  });

  it("keep at most 10 sockets per subscriber: one more closes their oldest, and nobody else's", async () => {
    const [ada, bob] = [freshSubscriber("ticket-many"), freshSubscriber("ticket-neighbour")];
    const neighbour = await openSocket(environment, bob);
    const sockets = [];
    try {
      await neighbour.ready;
      for (let index = 0; index < 10; index += 1) {
        const live = await openSocket(environment, ada);
        await live.ready;
        sockets.push(live);
      }
      const newest = await openSocket(environment, ada);
      sockets.push(newest);
      await newest.ready;
      assert.equal((await sockets[0].next("closed", 5_000)).reason, "replaced");
      await closing(sockets[0]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(sockets.slice(1).map((live) => live.socket.readyState), Array(10).fill(WebSocket.OPEN));
      assert.equal(neighbour.socket.readyState, WebSocket.OPEN, "another subscriber's socket is untouched");
    } finally {
      for (const live of [neighbour, ...sockets]) live.socket.close();
    }
  });

  it("end with the subscriber's tokens: a revocation closes the sockets and refuses tickets issued before it", async () => {
    const ada = freshSubscriber("ticket-revoked");
    const token = (await api(`/v1/subscribers/${ada}/token`, { key: keys.staging.secret_key, method: "POST", body: {} })).body.token;
    const headers = { "X-Subscriber-Token": token };
    const live = await openSocket(environment, ada, { headers });
    const waiting = (await streamTicket(environment, ada, { headers })).body.ticket;
    try {
      await live.ready;
      assert.equal((await api(`/v1/subscribers/${ada}/token`, { key: keys.staging.secret_key, method: "DELETE" })).status, 200);
      const ended = await live.next("closed", 5_000);
      assert.equal(ended.reason, "revoked");
      await closing(live);
      expectError(assert, await refusedUpgrade(streamPath(ada, waiting)), 401, "subscriber_credential_revoked");
    } finally {
      live.socket.close();
    }
    // A socket opened with the subscriber hash ends when the subscriber is deleted.
    await api(`/v1/subscribers/${ada}`, { key: keys.staging.secret_key, method: "PUT", body: {} });
    const hashed = await openSocket(environment, ada);
    try {
      await hashed.ready;
      assert.equal((await api(`/v1/subscribers/${ada}`, { key: keys.staging.secret_key, method: "DELETE" })).status, 200);
      assert.equal((await hashed.next("closed", 5_000)).reason, "revoked");
    } finally {
      hashed.socket.close();
    }
    // So does one opened for an id that never had a profile: the deletion answers 404, and still ends it.
    const nobody = freshSubscriber("ticket-profileless");
    const unprofiled = await openSocket(environment, nobody);
    try {
      await unprofiled.ready;
      expectError(assert, await api(`/v1/subscribers/${nobody}`, { key: keys.staging.secret_key, method: "DELETE" }), 404, "subscriber_not_found");
      assert.equal((await unprofiled.next("closed", 5_000)).reason, "revoked");
    } finally {
      unprofiled.socket.close();
    }
  });
});
