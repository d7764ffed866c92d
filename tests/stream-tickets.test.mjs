// Realtime sockets open with one-time tickets: the browser's credentials
// travel in headers (`POST …/feed/stream-ticket`), only a ticket valid 60 s
// and once travels in the socket's URL, and an open socket closes when the
// token or key behind it stops working.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { admin, api, expectError, freshSubscriber, keys, subscriberHash } from "./support/context.mjs";
import { openSocket, refusedUpgrade, streamTicket } from "./support/realtime.mjs";

const environment = "staging";
const streamPath = (subscriber, ticket) => `/v1/subscribers/${subscriber}/feed/stream?ticket=${encodeURIComponent(ticket)}`;
const within = (promise, ms, what) =>
  Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms))]);

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
  });

  it("close the socket when its subscriber token expires", async () => {
    const ada = freshSubscriber("ticket-token");
    const minted = await api(`/v1/subscribers/${ada}/token`, { key: keys.staging.secret_key, method: "POST", body: { ttl_seconds: 2 } });
    const live = await openSocket(environment, ada, { headers: { "X-Subscriber-Token": minted.body.token } });
    try {
      await live.ready;
      const closed = await within(live.closed, 10_000, "the socket did not close at the token's expiry");
      assert.equal(closed.code, 4001);
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
      const closed = await within(live.closed, 5_000, "the socket did not close when its key was revoked");
      assert.equal(closed.code, 4003);
    } finally {
      live.socket.close();
    }
    expectError(assert, await refusedUpgrade(streamPath(ada, waiting)), 401, "key_revoked");
    expectError(assert, await streamTicket(environment, ada, { key }), 401, "key_revoked");
  });
});
