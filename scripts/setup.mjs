// Installs whatever is missing, and nothing that is already there:
// npm packages, the wasm32 target, wasm-bindgen-cli and, for
// tests, Debian's Chromium. Versions are pinned; see README.md.
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { capture, cargoBin, exists, root, run, step } from "./lib.mjs";

const WASM_BINDGEN = "0.2.130";
const SCHEMATHESIS = "4.32.5";
const CARGO_DENY = "0.20.2";
/** Where `npm test` keeps its Python tools (schemathesis), apart from the system's. */
export const pythonTools = join(root, ".tidings", "tools", "python");

export function setup({ browser = false, schemathesis = false, deny = false } = {}) {
  installNpmPackages();
  installRustTarget();
  installSmallestToolchain();
  // wasm-bindgen-cli's locked set names a crate version the registry mirror lacks.
  installCargoTool("wasm-bindgen-cli", WASM_BINDGEN, ["--debug"], "wasm-bindgen");
  if (browser) installChromium();
  if (schemathesis) installSchemathesis();
  if (deny) installCargoTool("cargo-deny", CARGO_DENY, ["--locked", "--debug"], "cargo-deny");
}

/** schemathesis from PyPI, in a virtual environment of its own. */
function installSchemathesis() {
  const binary = join(pythonTools, "bin", "schemathesis");
  if ((capture(binary, ["--version"]) ?? "").includes(SCHEMATHESIS)) return;
  step(`installing schemathesis ${SCHEMATHESIS} from PyPI into .tidings/tools/python`);
  run("python3", ["-m", "venv", pythonTools]);
  run(join(pythonTools, "bin", "pip"), ["install", "--quiet", "--disable-pip-version-check", `schemathesis==${SCHEMATHESIS}`]);
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
function installSmallestToolchain() {
  if (hasSmallestToolchain()) return;
  step(`installing ${NIGHTLY} Rust with rust-src (for the smallest browser SDK)`);
  const installed = spawnSync("rustup", ["toolchain", "install", NIGHTLY, "--profile", "minimal", "--component", "rust-src"], { stdio: "inherit" });
  if (installed.status !== 0) console.warn(`could not install ${NIGHTLY} Rust: the browser SDK builds on stable, larger`);
}

/**
 * `cargo install`s a pinned tool unless that version is already there.
 * The two tools `npm test` needs are built without optimisation (`--debug`):
 * on 2 cores that halves their first build (wasm-bindgen-cli 3:00 → 1:26,
 * cargo-deny, whose release profile adds fat LTO, 2:56 → 1:06) and costs
 * about a second per run (wasm-bindgen on the worker 0.3 → 1.4 s, with the
 * same output; `cargo deny check` 0.5 → 1.2 s).
 */
export function installCargoTool(crate, version, flags, binary) {
  const current = capture(join(cargoBin, binary), ["--version"]) ?? "";
  if (current.includes(version)) return;
  step(`installing ${crate} ${version} (a few minutes, once)`);
  run("cargo", ["install", crate, "--version", version, "--force", ...flags]);
}

function installChromium() {
  if (capture("/usr/bin/chromium", ["--version"]) && capture("/usr/bin/chromedriver", ["--version"])) return;
  step("installing Debian's chromium and chromium-driver for browser tests");
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  const apt = (args) => run(sudo[0] ?? "apt-get", sudo.length ? ["apt-get", ...args] : args, {
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
  apt(["update"]);
  apt(["install", "-y", "chromium", "chromium-driver"]);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  setup({ browser: process.argv.includes("--browser"), deny: process.argv.includes("--deny") });
}
