// Installs whatever is missing, and nothing that is already there:
// npm packages, the wasm32 target, wasm-bindgen-cli and, for
// tests, Debian's Chromium. Versions are pinned; see README.md.
import { closeSync, mkdirSync, openSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { capture, cargoBin, exists, root, run, runAsync, step } from "./lib.mjs";

const WASM_BINDGEN = "0.2.130";
const SCHEMATHESIS = "4.32.5";
const CARGO_DENY = "0.20.2";
/** Where `npm test` keeps its Python tools (schemathesis), apart from the system's. */
export const pythonTools = join(root, ".tidings", "tools", "python");
/** Where the installs that run in the background write their output. */
const setupLogs = join(root, ".tidings", "setup");

/**
 * Installs what is missing. The downloads that wait on the network and on
 * dpkg rather than on the CPU (nightly Rust, Chromium, schemathesis) run
 * while cargo compiles the tools.
 */
export async function setup({ browser = false, schemathesis = false, deny = false } = {}) {
  installNpmPackages();
  installRustTarget();
  const downloads = Promise.all([
    installSmallestToolchain(),
    browser && installChromium(),
    schemathesis && installSchemathesis(),
  ]);
  downloads.catch(() => {}); // awaited below, once the tools are compiled
  // wasm-bindgen-cli's locked set names a crate version the registry mirror lacks.
  await installCargoTool("wasm-bindgen-cli", WASM_BINDGEN, ["--debug"], "wasm-bindgen");
  if (deny) await installCargoTool("cargo-deny", CARGO_DENY, ["--locked", "--debug"], "cargo-deny");
  await downloads;
}

/**
 * Runs `commands` one after the other without blocking this process, their
 * output in `.tidings/setup/<name>.log`; on failure, throws with the log's end.
 */
async function inBackground(name, label, commands, options = {}) {
  step(`${label} (in the background; output in .tidings/setup/${name}.log)`);
  mkdirSync(setupLogs, { recursive: true });
  const log = join(setupLogs, `${name}.log`);
  const output = openSync(log, "w");
  const started = Date.now();
  try {
    for (const [command, args] of commands) await runAsync(command, args, { stdio: ["ignore", output, output], ...options });
  } catch (error) {
    const end = readFileSync(log, "utf8").split("\n").slice(-30).join("\n");
    throw new Error(`${label} failed: ${error.message}\n${end}`);
  } finally {
    closeSync(output);
  }
  console.log(`  ${label}: done in ${Math.round((Date.now() - started) / 1000)} s`);
}

/** schemathesis from PyPI, in a virtual environment of its own. */
async function installSchemathesis() {
  const binary = join(pythonTools, "bin", "schemathesis");
  if ((capture(binary, ["--version"]) ?? "").includes(SCHEMATHESIS)) return;
  await inBackground("schemathesis", `installing schemathesis ${SCHEMATHESIS} from PyPI into .tidings/tools/python`, [
    ["python3", ["-m", "venv", pythonTools]],
    [join(pythonTools, "bin", "pip"), ["install", "--quiet", "--disable-pip-version-check", `schemathesis==${SCHEMATHESIS}`]],
  ]);
}

function installNpmPackages() {
  const marker = join(root, "node_modules", ".package-lock.json");
  const newest = Math.max(...["package.json", "package-lock.json", "crates/tidings-sdk/package.json", "www/package.json"]
    .filter(exists)
    .map((file) => statSync(join(root, file)).mtimeMs));
  if (exists("node_modules/.package-lock.json") && statSync(marker).mtimeMs >= newest) return;
  step("installing npm packages");
  run("npm", ["install", "--no-audit", "--no-fund"]);
}

function installRustTarget() {
  const installed = capture("rustup", ["target", "list", "--installed"]) ?? "";
  if (installed.split("\n").includes("wasm32-unknown-unknown")) return;
  step("adding the wasm32-unknown-unknown target");
  run("rustup", ["target", "add", "wasm32-unknown-unknown"]);
}

/** The toolchain that builds the smallest browser SDK (see build.mjs). */
export const NIGHTLY = "nightly";

/** Whether the nightly toolchain and its standard library sources are installed. */
export function hasSmallestToolchain() {
  const components = capture("rustup", ["component", "list", "--toolchain", NIGHTLY, "--installed"]) ?? "";
  return components.split("\n").some((line) => line.startsWith("rust-src"));
}

/**
 * Nightly Rust with the standard library's sources, to rebuild it for the
 * SDK with panics that abort at once. Optional: without it the SDK builds
 * on stable, larger.
 */
async function installSmallestToolchain() {
  if (hasSmallestToolchain()) return;
  const command = ["toolchain", "install", NIGHTLY, "--profile", "minimal", "--component", "rust-src"];
  await inBackground("nightly", `installing ${NIGHTLY} Rust with rust-src (for the smallest browser SDK)`, [["rustup", command]])
    .catch((error) => console.warn(`${error.message}\nthe browser SDK builds on stable, larger`));
}

/**
 * `cargo install`s a pinned tool unless that version is already there.
 * The two tools `npm test` needs are built without optimisation (`--debug`):
 * on 2 cores that halves their first build (wasm-bindgen-cli 3:00 → 1:26,
 * cargo-deny, whose release profile adds fat LTO, 2:56 → 1:06) and costs
 * about a second per run (wasm-bindgen on the worker 0.3 → 1.4 s, with the
 * same output; `cargo deny check` 0.5 → 1.2 s).
 */
export async function installCargoTool(crate, version, flags, binary) {
  const current = capture(join(cargoBin, binary), ["--version"]) ?? "";
  if (current.includes(version)) return;
  step(`installing ${crate} ${version} (a minute or two, once)`);
  await runAsync("cargo", ["install", crate, "--version", version, "--force", ...flags]);
}

async function installChromium() {
  if (capture("/usr/bin/chromium", ["--version"]) && capture("/usr/bin/chromedriver", ["--version"])) return;
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  const apt = (args) => [sudo[0] ?? "apt-get", sudo.length ? ["apt-get", ...args] : args];
  const commands = [apt(["update"]), apt(["install", "-y", "chromium", "chromium-driver"])];
  const label = "installing Debian's chromium and chromium-driver for browser tests";
  const options = { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } };
  if (sudo.length && capture("sudo", ["-n", "true"]) === null) {
    // sudo will ask for a password: in the foreground, where it can.
    step(label);
    for (const [command, args] of commands) run(command, args, options);
    return;
  }
  await inBackground("chromium", label, commands, options);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  setup({ browser: process.argv.includes("--browser"), deny: process.argv.includes("--deny") }).catch((error) => {
    console.error(`\n✖ ${error.message}`);
    process.exit(1);
  });
}
