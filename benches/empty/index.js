// The runtime's ceiling: a worker that answers a fixed small JSON body.
const BODY = JSON.stringify({ items: [], counts: { total: 0, unread: 0, unseen: 0 } });

export default {
  fetch() {
    return new Response(BODY, { headers: { "Content-Type": "application/json" } });
  },
};
