// Builds the worker and the browser SDK (cargo + wasm-bindgen
// + wasm-opt), each only when its sources changed since the last build.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { gzipSync } from "node:zlib";
import { headersFile } from "./console-headers.mjs";
import { root, run, step, toolEnv } from "./lib.mjs";
import { hasSmallestToolchain, NIGHTLY } from "./setup.mjs";

const shared = ["Cargo.toml", "Cargo.lock", "crates/tidings-core"];
const WASM_OPT_FEATURES = [
  "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext",
  "--enable-mutable-globals", "--enable-reference-types", "--enable-multivalue",
];

/** Newest modification time under `paths`, skipping build outputs. */
function newest(paths) {
  let latest = 0;
  const visit = (path) => {
    const stats = statSync(path, { throwIfNoEntry: false });
    if (!stats) return;
    if (stats.isDirectory()) {
      for (const entry of readdirSync(path)) {
        if (!["build", "pkg", "node_modules", "target"].includes(entry)) visit(join(path, entry));
      }
    } else {
      latest = Math.max(latest, stats.mtimeMs);
    }
  };
  paths.forEach((path) => visit(join(root, path)));
  return latest;
}

function isFresh(output, inputs) {
  const stats = statSync(join(root, output), { throwIfNoEntry: false });
  return stats !== undefined && stats.mtimeMs >= newest(inputs);
}

export function sizeOf(path) {
  const bytes = readFileSync(join(root, path));
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

/**
 * The worker: cargo (release, wasm32), wasm-bindgen's module output (with
 * its reset-after-trap support) into `crates/tidings-worker/build/`, then
 * wasm-opt -O, then the function names moved out of the upload into
 * `build/function-map.txt` (`index:name`, what a trap's `wasm-function[N]`
 * is; about 110 KiB gzip left out of the worker's budget). The entry module
 * `crates/tidings-worker/js/entry.mjs` (wrangler's `main`) imports it.
 */
export function buildWorker({ force = false } = {}) {
  const output = "crates/tidings-worker/build/index_bg.wasm";
  const inputs = [...shared, "crates/tidings-worker/src", "crates/tidings-worker/Cargo.toml", "openapi.json"];
  if (!force && isFresh(output, inputs)) return;
  step("building the worker (cargo, wasm-bindgen, wasm-opt)");
  run("cargo", ["build", "-p", "tidings-worker", "--target", "wasm32-unknown-unknown", "--release"]);
  const out = join(root, "crates/tidings-worker/build");
  rmSync(out, { recursive: true, force: true });
  run("wasm-bindgen", [
    "--target", "module", "--out-dir", out, "--out-name", "index", "--no-typescript",
    "--experimental-reset-state-function", "--force-enable-abort-handler",
    join(root, "target/wasm32-unknown-unknown/release/tidings_worker.wasm"),
  ]);
  // wrangler's bundler takes `import wasm from "….wasm"`, not the source-phase form.
  const glue = join(out, "index.js");
  writeFileSync(glue, readFileSync(glue, "utf8").replace("import source ", "import "));
  const wasm = join(root, output);
  // One pass: the map is printed after the optimizations, so its indices are the uploaded module's; the
  // names themselves stay out of it (keeping them through the pass, to strip after, made it ~3.7 KiB larger).
  run("wasm-opt", [
    "-O", ...WASM_OPT_FEATURES, "--enable-exception-handling", wasm,
    `--symbolmap=${join(out, "function-map.txt")}`, "-o", `${wasm}.opt`,
  ]);
  renameSync(`${wasm}.opt`, wasm);
  const size = sizeOf(output);
  console.log(`worker wasm: ${size.raw} B raw, ${size.gzip} B gzip`);
}

/**
 * A browser wasm crate: cargo (release, wasm32), wasm-bindgen `--target web`
 * into `crates/<crate>/pkg/`, then wasm-opt -Oz; skipped when up to date.
 * With `smallest`, the standard library is rebuilt on nightly Rust with
 * panics that abort at once, without their messages and formatting (about
 * 3.4 KB gzip less); without a nightly toolchain it builds on stable.
 */
function buildBrowserCrate(crate, what, { force = false, smallest = false } = {}) {
  const name = crate.replaceAll("-", "_");
  const output = `crates/${crate}/pkg/${name}_bg.wasm`;
  if (!force && isFresh(output, [...shared, `crates/${crate}/src`, `crates/${crate}/Cargo.toml`])) return;
  step(`building ${what} (cargo, wasm-bindgen, wasm-opt)`);
  const pkg = join(root, `crates/${crate}/pkg`);
  mkdirSync(pkg, { recursive: true });
  run("wasm-bindgen", ["--target", "web", "--out-dir", pkg, "--out-name", name, compileWasm(crate, smallest)]);
  const wasm = join(root, output);
  run("wasm-opt", ["-Oz", ...WASM_OPT_FEATURES, wasm, "-o", `${wasm}.opt`]);
  renameSync(`${wasm}.opt`, wasm);
  const size = sizeOf(output);
  console.log(`${what}: ${size.raw} B raw, ${size.gzip} B gzip`);
}

/** Compiles a crate to wasm32 (release); answers the path of its `.wasm`. */
function compileWasm(crate, smallest) {
  const file = `wasm32-unknown-unknown/release/${crate.replaceAll("-", "_")}.wasm`;
  if (smallest && hasSmallestToolchain()) {
    const targetDir = join(root, "target", "nightly");
    const built = spawnSync("cargo", [
      `+${NIGHTLY}`, "build", "-Zbuild-std=std,panic_abort", "-p", crate,
      "--target", "wasm32-unknown-unknown", "--release", "--target-dir", targetDir,
    ], { cwd: root, stdio: "inherit", env: toolEnv({ RUSTFLAGS: "-Zunstable-options -Cpanic=immediate-abort" }) });
    if (built.status === 0) return join(targetDir, file);
    console.warn(`the ${NIGHTLY} build of ${crate} failed: building it on stable Rust instead (larger)`);
  }
  run("cargo", ["build", "-p", crate, "--target", "wasm32-unknown-unknown", "--release"]);
  return join(root, "target", file);
}

export function buildSdk(options) {
  buildBrowserCrate("tidings-sdk", "the browser SDK", { ...options, smallest: true });
}

/**
 * The SDK's TypeScript declarations for the API's shapes, generated from the
 * core's wire types (ts-rs, cargo feature `typescript`) into `js/wire.d.ts`.
 */
export function buildTypes({ force = false } = {}) {
  const output = "crates/tidings-sdk/js/wire.d.ts";
  if (!force && isFresh(output, ["crates/tidings-core/src/wire", "crates/tidings-core/Cargo.toml"])) return;
  step("generating the SDK's TypeScript types from tidings_core::wire");
  const exportDir = join(root, "target", "ts-wire");
  rmSync(exportDir, { recursive: true, force: true });
  run("cargo", ["test", "-p", "tidings-core", "--features", "typescript", "--lib", "--quiet", "export_bindings"], {
    env: toolEnv({ TS_RS_EXPORT_DIR: exportDir }),
  });
  // ts-rs writes `serde_json::Value` as `serde_json/JsonValue.ts`.
  const declarations = readdirSync(exportDir, { recursive: true })
    .filter((file) => file.endsWith(".ts"))
    .sort((a, b) => basename(a).localeCompare(basename(b)))
    .map((file) =>
      readFileSync(join(exportDir, file), "utf8")
        .split("\n")
        .filter((line) => !line.startsWith("import type") && !line.startsWith("// This file was generated"))
        .join("\n")
        .trim(),
    );
  const header = "// The API's shapes, generated from tidings_core::wire by `npm run build`. Do not edit.\n\n";
  writeFileSync(join(root, output), `${header}${declarations.join("\n\n")}\n`);
}

/**
 * The console's live workflow preview: the core's template rendering
 * compiled to wasm (`crates/tidings-console`), served under /console/pkg/.
 */
export function buildConsole(options) {
  buildBrowserCrate("tidings-console", "the console's workflow preview", options);
  buildConsoleAssets();
}

/**
 * The console as the static assets of its own worker (www/console.wrangler.toml):
 * `build/assets/console/` holds www/console and the preview's wasm, and
 * `build/assets/_headers` its security headers, and `build/assets/openapi.json`
 * the API description. The API worker hands it /console/ requests and
 * `GET /openapi.json`, so both are served on the API's own origin.
 */
function buildConsoleAssets() {
  const assets = join(root, "build", "assets");
  rmSync(assets, { recursive: true, force: true });
  cpSync(join(root, "www", "console"), join(assets, "console"), { recursive: true });
  for (const file of ["tidings_console.js", "tidings_console_bg.wasm"]) {
    cpSync(join(root, "crates", "tidings-console", "pkg", file), join(assets, "console", "pkg", file));
  }
  // The API description, served at the API's /openapi.json by this worker too (the entry hands it the
  // request), so its 36 KB gzip are not part of the API worker's upload. Without the indentation: the
  // same document, keys in the same order.
  writeFileSync(join(assets, "openapi.json"), JSON.stringify(JSON.parse(readFileSync(join(root, "openapi.json"), "utf8"))));
  writeFileSync(join(assets, "_headers"), headersFile());
}

export function build(options) {
  buildWorker(options);
  buildTypes(options);
  buildSdk(options);
  buildConsole(options);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  build({ force: process.argv.includes("--force") });
}
