// `npm run env -- …` (the script behind it) against the test deployment,
// with a keys file of the caller's own so the shared one is never touched.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { api, apiUrl } from "./context.mjs";

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

/**
 * Creates the development environment `name` through the env command and
 * saves the in-app workflow `workflow` there, with `subject` (the body names
 * the subscriber); answers the environment's secret key.
 */
export async function environmentWithWorkflow(keysFile, name, workflow, subject) {
  const created = await envCommand(keysFile, "create", name, "--type", "development");
  if (created.code !== 0) throw new Error(`creating ${name} failed: ${created.stderr}${created.stdout}`);
  const secret = created.json().secret_key;
  const body = { name: workflow, steps: [{ type: "in_app", subject, body: "for {{ subscriber.subscriber_id }}" }] };
  // Again after a dropped connection or a 503: wrangler may still be reloading its configuration.
  for (let attempt = 1; ; attempt += 1) {
    const saved = await api(`/v1/workflows/${workflow}`, { key: secret, method: "PUT", body }).catch((error) => ({ status: 0, body: String(error) }));
    if (saved.status === 201) return secret;
    if (![0, 503].includes(saved.status) || attempt === 10) {
      throw new Error(`saving ${workflow} in ${name}: ${saved.status} ${JSON.stringify(saved.body)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
