// What a team would write instead of adopting Tidings, kept honest and
// idiomatic: validate the bearer key by its SHA-256 in KV, run the same feed
// query against the same D1 schema and indexes, answer the same JSON.
// Benchmark contender only; never shipped.

interface Env {
  DB: D1Database;
  KV: KVNamespace;
}

interface MessageRow {
  id: string;
  workflow: string;
  subject: string;
  body: string;
  avatar: string | null;
  actions: string;
  tags: string;
  payload: string;
  created_at: number;
  seen_at: number | null;
  read_at: number | null;
  archived_at: number | null;
  attachments: string | null;
}

const COLUMNS =
  "id, subscriber_id, workflow, transaction_id, subject, body, avatar, actions, tags, payload, created_at, seen_at, read_at, archived_at, attachments";
const FEED_ROUTE = /^\/v1\/subscribers\/([^/]+)\/feed$/;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const error = (status: number, code: string, message: string) => Response.json({ error: { code, message } }, { status });

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/health") return Response.json({ status: "ok" });
    const route = FEED_ROUTE.exec(url.pathname);
    if (!route || request.method !== "GET") return error(404, "not_found", "no such route");
    const key = request.headers.get("Authorization")?.replace(/^Bearer /, "") ?? "";
    if (!/^pk_[a-z0-9-]+_[0-9a-z]{38}$/.test(key)) return error(401, "malformed_key", "the API key is malformed");
    const environment = await env.KV.get(`bench-key:${await sha256(key)}`, { cacheTtl: 60 });
    if (environment === null) return error(401, "unknown_key", "this API key does not exist");
    const subscriber = decodeURIComponent(route[1]);
    const limit = Math.min(Math.max(Number(url.searchParams.get("limit") ?? 20) || 20, 1), 100);
    const [page, counts] = await env.DB.batch([
      env.DB.prepare(`SELECT ${COLUMNS} FROM messages WHERE subscriber_id = ? AND archived_at IS NULL ORDER BY id DESC LIMIT ?`).bind(
        subscriber,
        limit + 1,
      ),
      env.DB.prepare(
        "SELECT COALESCE(MAX(total), 0) AS total, COALESCE(MAX(unread), 0) AS unread, COALESCE(MAX(unseen), 0) AS unseen " +
          "FROM feed_counts WHERE subscriber_id = ?",
      ).bind(subscriber),
    ]);
    const rows = page.results as unknown as MessageRow[];
    const items = rows.slice(0, limit).map((row) => ({
      id: row.id,
      workflow: row.workflow,
      subject: row.subject,
      body: row.body,
      avatar: row.avatar,
      actions: JSON.parse(row.actions),
      tags: JSON.parse(row.tags),
      payload: JSON.parse(row.payload),
      created_at: iso(row.created_at),
      seen_at: iso(row.seen_at),
      read_at: iso(row.read_at),
      archived_at: iso(row.archived_at),
      // The files an in-app step attached (none in the bench's messages; their signed URLs would come from R2).
      attachments: row.attachments === null ? [] : JSON.parse(row.attachments),
    }));
    const hasMore = rows.length > limit;
    return Response.json(
      {
        items,
        page_info: { after: hasMore ? (items.at(-1)?.id ?? null) : null, before: items[0]?.id ?? null, has_more: hasMore },
        counts: counts.results[0],
      },
      { headers: { "X-Rows-Read": String(page.meta.rows_read + counts.meta.rows_read) } },
    );
  },
};
