// The floor for any worker that reads D1 once per request: no key check, no
// credential, no rate limit, no parsing. It sends the one statement the
// Tidings worker sends for a first feed page (crates/tidings-worker/src/
// store/messages.rs, `EnvironmentScope::feed`: the page as SQLite's JSON,
// the counters and the feed clock) and answers SQLite's JSON as it is.
// Benchmark contender only; never shipped.

const COLUMNS =
  "id, subscriber_id, workflow, transaction_id, subject, body, avatar, actions, tags, payload, created_at, seen_at, read_at, archived_at";
const JSON_COLUMNS = COLUMNS.split(", ")
  .map((column) => `'${column}', ${column}`)
  .join(", ");
const STATEMENT =
  `SELECT (SELECT json_group_array(json_object(${JSON_COLUMNS})) FROM ` +
  `(SELECT ${COLUMNS} FROM messages WHERE subscriber_id = ? AND archived_at IS NULL ORDER BY id DESC LIMIT ?)) AS rows, ` +
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
    const { rows, ...counts } = row;
    return new Response(`{"items":${rows},"counts":${JSON.stringify(counts)}}`, {
      headers: { "Content-Type": "application/json" },
    });
  },
};
