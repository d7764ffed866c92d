// `npm run env -- …` (the script behind it) against the test deployment,
// with a keys file of the caller's own so the shared one is never touched.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { apiUrl } from "./context.mjs";

/** Runs the env command; resolves with its exit code, output, and its last line parsed as JSON. */
export function envCommand(keysFile, ...args) {
  const script = join(import.meta.dirname, "..", "..", "scripts", "env.mjs");
  const child = spawn(process.execPath, [
    script, ...args, "--config", process.env.TIDINGS_TEST_CONFIG, "--persist-to", process.env.TIDINGS_TEST_STATE,
    "--keys", keysFile, "--api", apiUrl, "--json",
  ]);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr, json: () => JSON.parse(stdout.trim().split("\n").at(-1)) })));
}
