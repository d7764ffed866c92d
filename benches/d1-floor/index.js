// The floor for any worker that reads D1 once per request: no key check, no
// credential, no rate limit, no parsing. It sends the one statement the
// Tidings worker sends for a first feed page (crates/tidings-worker/src/
// store/feed_page.rs, `EnvironmentScope::feed_page`: each item in its wire
// form as SQLite writes it, their ids, the counters and the feed clock) and
// answers the page's items as they come.
// Benchmark contender only; never shipped.

const time = (column) =>
  `strftime('%Y-%m-%dT%H:%M:%S', ${column} / 1000, 'unixepoch') || printf('.%03dZ', ${column} % 1000)`;
const WIRE_ITEM =
  "json_object('id', id, 'workflow', workflow, 'subject', subject, 'body', body, 'avatar', avatar, " +
  "'actions', json(actions), 'tags', json(tags), 'payload', json(payload), " +
  `'created_at', ${time("created_at")}, 'seen_at', ${time("seen_at")}, 'read_at', ${time("read_at")}, ` +
  `'archived_at', ${time("archived_at")}, 'attachments', json(COALESCE(attachments, '[]')))`;
const PAGE_COLUMNS =
  "id, workflow, subject, body, avatar, actions, tags, payload, created_at, seen_at, read_at, archived_at, attachments";
const STATEMENT =
  `SELECT (SELECT COALESCE(group_concat(${WIRE_ITEM}, char(30)), '') || char(10) || COALESCE(group_concat(id, ','), '') ` +
  `FROM (SELECT ${PAGE_COLUMNS} FROM messages WHERE subscriber_id = ? AND archived_at IS NULL ORDER BY id DESC LIMIT ?)) AS page, ` +
  "COALESCE(MAX(total), 0) AS total, COALESCE(MAX(unread), 0) AS unread, COALESCE(MAX(unseen), 0) AS unseen, " +
  "(SELECT version FROM feed_clock WHERE id = 1) AS version FROM feed_counts WHERE subscriber_id = ?";
const FEED_ROUTE = /^\/v1\/subscribers\/([^/]+)\/feed$/;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/health") return Response.json({ status: "ok" });
    const route = FEED_ROUTE.exec(url.pathname);
    if (!route) return Response.json({ error: { code: "not_found", message: "no such route" } }, { status: 404 });
    const subscriber = decodeURIComponent(route[1]);
    const limit = Math.min(Math.max(Number(url.searchParams.get("limit") ?? 20) || 20, 1), 100);
    const row = await env.DB.prepare(STATEMENT).bind(subscriber, limit + 1, subscriber).first();
    const { page, ...counts } = row;
    // The statement reads one item past the page (to know whether there are more); it is not answered.
    const items = page.slice(0, page.lastIndexOf("\n")).split("\x1e").slice(0, limit).join(",");
    return new Response(`{"items":[${items}],"counts":${JSON.stringify(counts)}}`, {
      headers: { "Content-Type": "application/json" },
    });
  },
};
