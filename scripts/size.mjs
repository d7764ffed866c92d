// `npm run size`: what a browser downloads for @tidings/sdk (the .wasm, the
// wasm-bindgen glue and the package's own JavaScript), raw and gzip, checked
// against the budget of 50 KB gzip as published, and measured against the
// goal of 25,600 B in an app's minified production bundle; and the worker's upload as `wrangler
// deploy --dry-run` bundles it, against 1 MB gzip. Run after a build.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createRequire } from "node:module";
import { gzipSync } from "node:zlib";
import { sizeOf } from "./build.mjs";
import { capture, root } from "./lib.mjs";
import { defaultConfig, defaultConsoleConfig, withAbsolutePaths } from "./stack.mjs";
import { withDeployments } from "./wrangler-config.mjs";

/** The budget for the worker's upload, gzip, as `wrangler deploy` measures it. */
export const WORKER_BUDGET_GZIP_KIB = 1024;

/**
 * Bundles the worker as `wrangler deploy` would, offline (`--dry-run`), and
 * checks the upload size wrangler prints against the budget. Run after a build.
 */
export function checkWorkerBundle({ deployments = false } = {}) {
  const outdir = mkdtempSync(join(tmpdir(), "tidings-deploy-"));
  try {
    const output = dryRun(["--outdir", join(outdir, "all")]);
    const sizes = output.match(/Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/);
    if (!sizes) throw new Error(`wrangler deploy --dry-run printed no upload size:\n${output}`);
    const [raw, gzip] = [Number(sizes[1]), Number(sizes[2])];
    const share = ((gzip / WORKER_BUDGET_GZIP_KIB) * 100).toFixed(0);
    console.log(`worker upload (wrangler deploy --dry-run): ${raw} KiB raw, ${gzip} KiB gzip (${share} % of the ${WORKER_BUDGET_GZIP_KIB} KiB budget)`);
    if (gzip > WORKER_BUDGET_GZIP_KIB) throw new Error(`the worker is ${gzip} KiB gzip, over its budget of ${WORKER_BUDGET_GZIP_KIB} KiB`);
    if (!/env\.CONSOLE \(tidings-console\)/.test(output)) throw new Error(`the worker lacks its CONSOLE service binding:\n${output}`);
    // The console's own worker: static assets only, deployed beside the API worker.
    const consoleWorker = dryRun(["--config", defaultConsoleConfig]);
    const files = consoleWorker.match(/Read (\d+) files from the assets directory/)?.[1];
    if (!files) throw new Error(`the console's worker uploads no assets:\n${consoleWorker}`);
    console.log(`console worker (wrangler deploy --dry-run --config www/console.wrangler.toml): ${files} asset files`);
    if (deployments) {
      // The [env.*] sections `npm run env -- deployments` writes, for one deployment per environment.
      const config = join(outdir, "wrangler.toml");
      writeFileSync(config, withDeployments(withAbsolutePaths(readFileSync(defaultConfig, "utf8")), { add: true }));
      const production = dryRun(["--config", config, "--env", "production", "--outdir", join(outdir, "production")]);
      if (!/TIDINGS_ENVIRONMENTS.*production/.test(production)) throw new Error(`the production deployment lacks its TIDINGS_ENVIRONMENTS variable:\n${production}`);
      console.log("per-environment deployment (wrangler deploy --dry-run --env production): bundles, serves production only");
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function dryRun(args) {
  const output = capture("wrangler", ["deploy", "--dry-run", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  if (output === null) throw new Error(`wrangler deploy --dry-run ${args.join(" ")} failed; run \`npx wrangler deploy --dry-run --outdir /tmp/x\` to see why`);
  return output;
}

/** The budget for everything a browser loads from the package, gzip, as published. */
export const SDK_BUDGET_GZIP = 50 * 1024;

/** The size goal for the SDK in an app's production bundle, gzip. */
export const SDK_GOAL_GZIP = 25 * 1024;

const BROWSER_FILES = [
  "crates/tidings-sdk/pkg/tidings_sdk_bg.wasm",
  "crates/tidings-sdk/pkg/tidings_sdk.js",
  ...readdirSync(new URL("../crates/tidings-sdk/js/", import.meta.url))
    // The server entry never reaches a browser; the React bindings and the elements are optional and counted apart.
    .filter((file) => file.endsWith(".js") && !["server.js", "react.js", "elements.js"].includes(file))
    .map((file) => `crates/tidings-sdk/js/${file}`),
];

/** Prints the browser payload of the SDK; throws when it passes the budget. */
export function checkSdkSize() {
  let raw = 0;
  let gzip = 0;
  for (const file of BROWSER_FILES) {
    const size = sizeOf(file);
    raw += size.raw;
    gzip += size.gzip;
    console.log(`  ${file}: ${size.raw} B raw, ${size.gzip} B gzip`);
  }
  const share = ((gzip / SDK_BUDGET_GZIP) * 100).toFixed(0);
  console.log(`@tidings/sdk in a browser: ${raw} B raw, ${gzip} B gzip (${share} % of the ${SDK_BUDGET_GZIP} B budget)`);
  const bundled = bundledSdkSize();
  const met = bundled.gzip <= SDK_GOAL_GZIP ? "within" : "over";
  console.log(`@tidings/sdk in an app's production bundle (its entry bundled and minified by esbuild, as bundlers do, plus the .wasm): ${bundled.raw} B raw, ${bundled.gzip} B gzip (${met} the ${SDK_GOAL_GZIP} B goal)`);
  const react = sizeOf("crates/tidings-sdk/js/react.js");
  console.log(`  plus @tidings/sdk/react, for React apps: ${react.raw} B raw, ${react.gzip} B gzip`);
  const elements = elementsChunkSize();
  const fits = elements.gzip <= ELEMENTS_BUDGET_GZIP ? "within" : "over";
  console.log(`  plus @tidings/sdk/elements (<tidings-inbox>, <tidings-bell>), its own chunk on top of the core: ${elements.raw} B raw, ${elements.gzip} B gzip (${fits} the ${ELEMENTS_BUDGET_GZIP} B budget)`);
  if (gzip > SDK_BUDGET_GZIP) throw new Error(`the SDK is ${gzip} B gzip, over its budget of ${SDK_BUDGET_GZIP} B`);
  if (elements.gzip > ELEMENTS_BUDGET_GZIP) throw new Error(`the elements are ${elements.gzip} B gzip, over their budget of ${ELEMENTS_BUDGET_GZIP} B`);
}

/** The budget of the elements' chunk, on top of the core SDK, gzip. */
export const ELEMENTS_BUDGET_GZIP = 12 * 1000;

/**
 * The elements as an app's bundler emits them: the elements entry and the
 * core entry bundled with splitting, minified; the elements' own chunk is
 * what they add on top of the core.
 */
function elementsChunkSize() {
  const { buildSync } = createRequire(import.meta.url)("esbuild");
  const { outputFiles } = buildSync({
    entryPoints: [join(root, "crates/tidings-sdk/js/index.js"), join(root, "crates/tidings-sdk/js/elements.js")],
    bundle: true,
    splitting: true,
    outdir: join(root, "target", "size-elements"),
    minify: true,
    format: "esm",
    write: false,
    logLevel: "error",
  });
  const chunk = outputFiles.find((file) => file.path.endsWith("elements.js")).contents;
  return { raw: chunk.length, gzip: gzipSync(chunk, { level: 9 }).length };
}

/**
 * What an app's production build carries for the SDK: the package's entry
 * with the wasm-bindgen glue and the live feed, bundled and minified the
 * way Vite and other bundlers do, and the `.wasm` beside it.
 */
function bundledSdkSize() {
  // Loaded here, not at the top: on a fresh clone npm packages are installed after this module loads.
  const { buildSync } = createRequire(import.meta.url)("esbuild");
  // Split as Vite and webpack split: code loaded with import() (token renewal) is its own chunk,
  // fetched only by apps that use it, so the entry chunk is what every app carries.
  const { outputFiles } = buildSync({
    entryPoints: [join(root, "crates/tidings-sdk/js/index.js")],
    bundle: true,
    splitting: true,
    outdir: join(root, "target", "size-bundle"),
    minify: true,
    format: "esm",
    write: false,
    logLevel: "error",
  });
  const script = outputFiles.find((file) => file.path.endsWith("index.js")).contents;
  const wasm = sizeOf("crates/tidings-sdk/pkg/tidings_sdk_bg.wasm");
  return { raw: script.length + wasm.raw, gzip: gzipSync(script, { level: 9 }).length + wasm.gzip };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    checkSdkSize();
    checkWorkerBundle();
  } catch (error) {
    console.error(`✖ ${error.message}`);
    process.exit(1);
  }
}
