// What a request costs D1, for the benchmark (`npm run bench`, docs/capacity.md):
// with TIDINGS_D1_ACCOUNTING=enabled (which only the bench's own stack sets,
// in its .dev.vars; never a deployment), every environment database binding
// (`DB_…`, and the feed shards' `FEED<i>_…`) is seen through a proxy that adds
// up D1's own `meta` of each statement the request runs, and the answer
// carries the sum in `Tidings-D1-Work: calls=…, statements=…, rows_read=…,
// rows_written=…, shard_calls=…, shard_statements=…, shard_rows_read=…,
// shard_rows_written=…` (`calls`: round trips to D1, a batch is one call of
// several statements; the `shard_` figures are the feed shards' part).
// Without the variable nothing is wrapped and nothing is added.

/** Whether this deployment accounts for D1 work (bench stacks only). */
export const accounting = (env) => env.TIDINGS_D1_ACCOUNTING === "enabled";

/** `env` with its environment databases counted into a fresh tally: `{ env, header() }`. */
export function accountedEnv(env) {
  const work = { calls: 0, statements: 0, rows_read: 0, rows_written: 0 };
  const shards = { calls: 0, statements: 0, rows_read: 0, rows_written: 0 };
  const note = (metas, onShard) => {
    for (const tally of onShard ? [work, shards] : [work]) {
      tally.calls += 1;
      for (const meta of metas) {
        tally.statements += 1;
        tally.rows_read += meta?.rows_read ?? 0;
        tally.rows_written += meta?.rows_written ?? 0;
      }
    }
  };
  // D1's batch takes its own statements: a proxy is swapped back for what it wraps.
  const real = new WeakMap();
  // Methods run on the real object (D1's keep private state); `constructor` stays itself, as the
  // worker crate checks a binding's type by its constructor's name.
  const forward = (target, property) => {
    const value = Reflect.get(target, property, target);
    return typeof value === "function" && property !== "constructor" ? value.bind(target) : value;
  };
  const statement = (inner, onShard) => {
    const proxy = new Proxy(inner, {
      get(target, property) {
        if (property === "bind") return (...values) => statement(target.bind(...values), onShard);
        if (property === "all" || property === "run") {
          return async () => {
            const result = await target[property]();
            note([result.meta], onShard);
            return result;
          };
        }
        if (property === "first") {
          // `first` hides its meta: read the same rows with `all`.
          return async (column) => {
            const result = await target.all();
            note([result.meta], onShard);
            const row = result.results[0] ?? null;
            if (column === undefined || row === null) return row;
            if (!(column in row)) throw new Error(`D1_COLUMN_NOTFOUND: Column not found (${column})`);
            return row[column];
          };
        }
        return forward(target, property);
      },
    });
    real.set(proxy, inner);
    return proxy;
  };
  const database = (inner, onShard) =>
    new Proxy(inner, {
      get(target, property) {
        if (property === "prepare") return (sql) => statement(target.prepare(sql), onShard);
        if (property === "batch") {
          return async (statements) => {
            const results = await target.batch(statements.map((each) => real.get(each) ?? each));
            note(results.map((result) => result.meta), onShard);
            return results;
          };
        }
        if (property === "withSession") return (...args) => database(target.withSession(...args), onShard);
        return forward(target, property);
      },
    });
  const wrapped = new Map();
  const counted = new Proxy(env, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (typeof property !== "string") return value;
      const onShard = /^FEED\d+_/.test(property);
      if (!onShard && (!property.startsWith("DB_") || property === "DB_CONTROL")) return value;
      if (!wrapped.has(property)) wrapped.set(property, database(value, onShard));
      return wrapped.get(property);
    },
  });
  const header = () =>
    `calls=${work.calls}, statements=${work.statements}, rows_read=${work.rows_read}, rows_written=${work.rows_written}, ` +
    `shard_calls=${shards.calls}, shard_statements=${shards.statements}, shard_rows_read=${shards.rows_read}, shard_rows_written=${shards.rows_written}`;
  return { env: counted, header };
}

/** The answer with the request's D1 work in `Tidings-D1-Work` (not a WebSocket's: it cannot be copied). */
export function withWork(response, header) {
  if (response.status === 101 || response.webSocket) return response;
  const copy = new Response(response.body, response);
  copy.headers.set("Tidings-D1-Work", header());
  return copy;
}
