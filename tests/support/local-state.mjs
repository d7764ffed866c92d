// The test deployment's local storage (D1 databases, KV namespaces), read
// directly with wrangler, as an operator or an attacker with the disk would.
import { execFileSync } from "node:child_process";
import { messagesStoredIn, queryLocalDatabase } from "../../scripts/stack.mjs";

/** Runs `wrangler <args> --local` against the test deployment's state; answers its output. */
export function wranglerLocal(...args) {
  return wranglerLocalWith(process.env.TIDINGS_TEST_CONFIG, ...args);
}

/** `wranglerLocal` with another configuration (one saved before a binding was removed). */
function wranglerLocalWith(config, ...args) {
  return execFileSync(
    "wrangler",
    [...args, "--local", "--config", config, "--persist-to", process.env.TIDINGS_TEST_STATE],
    { encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
}

/** The test deployment's local stack: its configuration and state. */
const testStack = (config = process.env.TIDINGS_TEST_CONFIG) => ({ config, persistTo: process.env.TIDINGS_TEST_STATE });

/** The rows `sql` selects from the local database `binding` (bound in `config`, the deployment's by default). */
export function queryLocal(binding, sql, config) {
  return queryLocalDatabase(testStack(config), binding, sql);
}

/** Messages the local database `binding` holds for subscribers whose ids start with `prefix`. */
export function messagesStored(binding, prefix) {
  return messagesStoredIn(testStack(), binding, prefix);
}
