// Local D1 migrations in one Miniflare: what `wrangler d1 migrations apply
// <binding> --local` does, for every database at once. Wrangler starts a
// Miniflare (a workerd process) for each statement it sends, about ten seconds
// per database here; this opens one for all of them and applies each pending
// migration as wrangler does: the file's SQL followed by its row in the
// migrations table, in one statement (one transaction), so wrangler finds
// the same databases, the same schema and the same applied migrations.
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { root } from "./lib.mjs";
import { d1Databases } from "./wrangler-config.mjs";

/**
 * The Miniflare wrangler itself runs (a dependency of wrangler's, not of
 * ours), loaded when first needed: the scripts importing this module run
 * before `setup` has installed the npm packages on a fresh machine.
 */
function wranglersMiniflare() {
  return createRequire(join(root, "node_modules", "wrangler", "package.json"))("miniflare");
}

/** The table wrangler records applied migrations in, unless a database names another. */
const DEFAULT_TABLE = "d1_migrations";

/**
 * The top-level `[[d1_databases]]` of a wrangler configuration: binding, the
 * id wrangler uses locally (`preview_database_id`, else `database_id`), the
 * migrations directory (resolved against the configuration's directory) and
 * the migrations table.
 */
export function localDatabases(config) {
  return d1Databases(readFileSync(config, "utf8")).map((database) => {
    const directory = database.migrationsDir ?? "migrations";
    return {
      binding: database.binding,
      id: database.previewDatabaseId ?? database.databaseId ?? database.binding,
      migrationsDir: isAbsolute(directory) ? directory : join(dirname(config), directory),
      table: database.migrationsTable ?? DEFAULT_TABLE,
    };
  });
}

/** An SQL identifier, quoted as wrangler quotes the migrations table. */
function quoted(identifier) {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/**
 * Applies the pending migrations of `bindings` (all of the configuration's
 * D1 databases by default) to the local state under `persistTo`, as
 * `wrangler d1 migrations apply --local --persist-to` would. Answers, per
 * binding, the names of the migrations it applied.
 */
export async function applyLocalMigrations(persistTo, config, bindings) {
  const databases = localDatabases(config).filter((database) => !bindings || bindings.includes(database.binding));
  const missing = (bindings ?? []).filter((binding) => !databases.some((database) => database.binding === binding));
  if (missing.length > 0) throw new Error(`no [[d1_databases]] binding ${missing.join(", ")} in ${config}`);
  const { Miniflare, convertV4MiniflareOptions } = wranglersMiniflare();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      modules: true,
      script: "",
      resourcePersistencePath: join(resolve(persistTo), "v3"),
      d1Databases: Object.fromEntries(databases.map((database) => [database.binding, database.id])),
    }),
  );
  const applied = {};
  try {
    for (const { binding, migrationsDir, table } of databases) {
      const db = await mf.getD1Database(binding);
      await db
        .prepare(
          `CREATE TABLE IF NOT EXISTS ${quoted(table)}(\n\t\tid         INTEGER PRIMARY KEY AUTOINCREMENT,\n\t\tname       TEXT UNIQUE,\n\t\tapplied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL\n);`,
        )
        .run();
      const done = new Set((await db.prepare(`SELECT name FROM ${quoted(table)}`).all()).results.map((row) => row.name));
      applied[binding] = [];
      for (const name of readdirSync(migrationsDir).filter((file) => file.endsWith(".sql")).sort()) {
        if (done.has(name)) continue;
        const sql = `${readFileSync(join(migrationsDir, name), "utf8")}\nINSERT INTO ${quoted(table)} (name)\nvalues ('${name.replace(/'/g, "''")}');`;
        try {
          await db.prepare(sql).run();
        } catch (error) {
          throw new Error(`migration ${name} failed on ${binding}: ${error.cause?.message ?? error.message}`);
        }
        applied[binding].push(name);
      }
    }
  } finally {
    await mf.dispose();
  }
  return applied;
}
