// `npm test`: install what is missing, then run every check and test:
// formatting, lints (host and wasm32), the core's boundary and unit tests,
// the npm packages' platform check,
// then the end-to-end tests against the worker in workerd and the SDK in
// headless Chromium. Exits non-zero on the first failure.
//
// `npm test -- tests/feed.test.mjs …` runs only the named end-to-end files
// and skips the lints and core tests (a quick loop while developing).
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "./build.mjs";
import { capture, root, run, runAsync, step, toolEnv } from "./lib.mjs";
import { CONTROL_PLANE, schemathesis } from "./api-fuzz.mjs";
import { checkPlatforms } from "./platforms.mjs";
import { setup } from "./setup.mjs";
import { scanForSecrets } from "./scan-secrets.mjs";
import { checkSdkSize, checkWorkerBundle } from "./size.mjs";
import { raiseRateLimits, startIsolatedStack } from "./stack.mjs";

const PLATFORM_CRATES = ["wasm-bindgen", "js-sys", "web-sys", "worker", "getrandom", "gloo"];

function checkCoreBoundary() {
  step("checking that tidings-core depends on no platform crate");
  for (const target of [[], ["--target", "wasm32-unknown-unknown"]]) {
    const tree = capture("cargo", ["tree", "-p", "tidings-core", "-e", "normal", "--prefix", "none", ...target]);
    if (tree === null) throw new Error("cargo tree failed");
    const names = tree.split("\n").map((line) => line.split(" ")[0]);
    const leaked = names.filter((name) => PLATFORM_CRATES.some((platform) => name === platform || name.startsWith(`${platform}-`)));
    if (leaked.length) throw new Error(`tidings-core depends on platform crates: ${[...new Set(leaked)].join(", ")}`);
  }
}

/** Formatting, lints (host and wasm32), the core's boundary, its tests and the worker's unit tests. */
function checkSources() {
  step("cargo fmt --check");
  run("cargo", ["fmt", "--all", "--check"]);
  step("cargo clippy (host: core with tests)");
  run("cargo", ["clippy", "-p", "tidings-core", "--all-targets", "--features", "typescript", "--", "-D", "warnings"]);
  step("cargo clippy (wasm32: whole workspace)");
  run("cargo", ["clippy", "--workspace", "--target", "wasm32-unknown-unknown", "--", "-D", "warnings"]);
  checkCoreBoundary();
  step("npm packages on every supported platform (Linux and macOS, x64 and arm64): platform-bound ones optional, dry runs");
  checkPlatforms();
  // Advisories need RustSec's database from GitHub: `npm run deny` checks them where it is reachable.
  step("cargo deny: dependency licences, bans and sources (deny.toml)");
  run("cargo", ["deny", "--log-level", "error", "check", "licenses", "bans", "sources"]);
  step("core unit tests");
  run("cargo", ["test", "-p", "tidings-core"]);
  step("worker unit tests (its pure helpers, natively)");
  run("cargo", ["test", "-p", "tidings-worker", "--lib"]);
}

/**
 * schemathesis generates requests from openapi.json for every operation and
 * checks the answers: no server error, only documented statuses, bodies
 * and content types that match the description. Once with a secret key
 * (paced under its rate limit, so the routes' logic is reached) and once
 * with the admin token for the control plane, with a fixed seed (`npm run
 * fuzz` adds a fresh seed per credential kind). Runs after the other tests:
 * it writes random content.
 */
async function propertyTests(stack, logFile) {
  // The suites are done, the rate-limit suite among them: the limits are raised out of the way,
  // so the fuzzing's thousands of requests with one secret key run at the machine's pace instead
  // of 25 a second under the management tier's 300 per 10 s (about two minutes saved).
  await reconfigured(stack, logFile, raiseRateLimits);
  const passes = [
    ["API-key routes, with a secret key", stack.keys.environments.development.secret_key,
      ["--exclude-path-regex", CONTROL_PLANE]],
    ["control-plane routes, with the admin token", stack.keys.admin.token, ["--include-path-regex", CONTROL_PLANE]],
  ];
  await schemathesis(stack, passes, { seed: 20261124, examples: 5, phases: "examples,coverage,fuzzing" });
}

/**
 * Rewrites the stack's configuration with `edit` and waits until wrangler dev
 * says it reloaded the worker (its log's "updated and ready") and it answers.
 */
async function reconfigured(stack, logFile, edit) {
  const reloads = () => readFileSync(logFile, "utf8").split("Local server updated and ready").length;
  const before = reloads();
  writeFileSync(stack.config, edit(readFileSync(stack.config, "utf8")));
  const deadline = Date.now() + 60_000;
  while (reloads() === before || !(await fetch(`${stack.apiUrl}/health`).then((response) => response.ok, () => false))) {
    if (Date.now() > deadline) throw new Error("the worker did not reload its rewritten configuration within 60 s");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function main() {
  const started = Date.now();
  const only = process.argv.slice(2);
  const tools = await setup({ browser: true, schemathesis: only.length === 0, deny: only.length === 0 });
  if (only.length === 0) checkSources();

  build();
  step("SDK size budget");
  checkSdkSize();
  step("deploy bundle: wrangler deploy --dry-run, offline (one deployment, and one per environment), and the worker's size budget");
  checkWorkerBundle({ deployments: true });
  step("TypeScript: the package's declarations, as a strict consumer uses them");
  run("tsc", ["-p", "tests/types"]);

  const stateDir = join(root, ".tidings", `test-${process.pid}`);
  const logFile = join(stateDir, "worker.log");
  const recordFile = join(stateDir, "exchanges.jsonl");
  // A fresh deployment's production waits for a second member's approval. The suites promote
  // into production directly, so the test deployment is bootstrapped without it;
  // tests/approvals.test.mjs turns it on where it tests it.
  // Staging keeps its feed in four shards (FEED0_STAGING … FEED3_STAGING), so every suite that
  // uses it (the isolation matrix, promotion, the SDK's) runs against a sharded environment too.
  // Each environment keeps 32 MiB of files (TIDINGS_FILE_QUOTA_BYTES), so tests/limits.test.mjs
  // can fill one with a few uploads.
  const fileQuotaBytes = 32 * 1024 * 1024;
  const stack = await startIsolatedStack(stateDir, { logFile, productionRequiresApproval: false, shards: { staging: 4 }, fileQuotaBytes });
  let failed = false;
  try {
    step("end-to-end tests (worker in workerd, SDK in headless Chromium)");
    const files = only.length
      ? only
      : readdirSync(join(root, "tests")).filter((file) => file.endsWith(".test.mjs")).sort().map((file) => join("tests", file));
    // Asynchronous: the www server runs in this process and must keep serving.
    await runAsync("node", ["--test", "--test-reporter=spec", "--test-concurrency=1", ...files], {
      env: {
        ...toolEnv(),
        CHROME_PATH: tools.browser.path,
        TIDINGS_TEST_API_URL: stack.apiUrl,
        TIDINGS_TEST_WWW_URL: stack.wwwUrl,
        TIDINGS_TEST_KEYS: stack.keysFile,
        TIDINGS_TEST_CONFIG: stack.config,
        TIDINGS_TEST_STATE: stack.persistTo,
        TIDINGS_TEST_ARTIFACTS: join(root, ".tidings", "test-artifacts"),
        TIDINGS_TEST_RECORD: recordFile,
        TIDINGS_TEST_FILE_QUOTA_BYTES: String(fileQuotaBytes),
      },
    });
    if (only.length === 0) await propertyTests(stack, logFile);
  } catch (error) {
    failed = true;
    console.error(error.message);
    console.error(`\nworker log (last lines):\n${stack.workerLog().slice(-4000)}`);
  } finally {
    await stack.stop();
  }
  if (!failed) {
    step("scanning the worker log and every recorded answer for key material");
    try {
      const scanned = scanForSecrets({ logFile, recordFile, keysFile: stack.keysFile });
      console.log(`  ${scanned.secrets} secrets, ${scanned.responses} answers, ${Math.round(scanned.logBytes / 1024)} KiB of log: no leak`);
    } catch (error) {
      failed = true;
      console.error(error.message);
    }
  }
  rmSync(stateDir, { recursive: true, force: true });
  console.log(`\nnpm test took ${Math.round((Date.now() - started) / 1000)} s`);
  if (failed) process.exit(1);
}

main().catch((error) => {
  console.error(`\n✖ ${error.message}`);
  process.exit(1);
});
