// Installs whatever is missing, and nothing that is already there: Node
// for wrangler where the machine's is too old, npm packages, the wasm32
// target, wasm-bindgen-cli and, for tests, a browser. Versions are pinned;
// see README.md.
import { closeSync, mkdirSync, openSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { aptChromiumPackage, findBrowser, missingBrowserMessage } from "./browser.mjs";
import { capture, cargoBin, exists, root, run, runAsync, step } from "./lib.mjs";
import { installNodeRuntime } from "./node-runtime.mjs";

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
  const node = installNodeRuntime({ step });
  console.log(`  wrangler and the tests run on ${node}`);
  installNpmPackages();
  installRustTarget();
  const downloads = Promise.all([
    installSmallestToolchain(),
    browser && installBrowser(),
    schemathesis && installSchemathesis(),
  ]);
  downloads.catch(() => {}); // awaited below, once the tools are compiled
  // wasm-bindgen-cli's locked set names a crate version the registry mirror lacks.
  await installCargoTool("wasm-bindgen-cli", WASM_BINDGEN, ["--debug"], "wasm-bindgen");
  if (deny) await installCargoTool("cargo-deny", CARGO_DENY, ["--locked", "--debug"], "cargo-deny");
  const [, found] = await downloads;
  if (found) console.log(`  browser tests use ${found.version} (${found.path})`);
  return { browser: found || null };
}

/**
 * Runs `commands` one after the other without blocking this process, their
 * output in `.tidings/setup/<name>.log`; on failure, throws with the log's end.
 * A command that fails with output matching `retryWhile` (a lock another
 * process holds) is tried again every 5 s for up to `retryFor` seconds.
 */
async function inBackground(name, label, commands, { retryWhile = null, retryFor = 0, ...options } = {}) {
  step(`${label} (in the background; output in .tidings/setup/${name}.log)`);
  mkdirSync(setupLogs, { recursive: true });
  const log = join(setupLogs, `${name}.log`);
  const output = openSync(log, "w");
  const started = Date.now();
  try {
    for (const [command, args] of commands) {
      const deadline = Date.now() + retryFor * 1000;
      for (;;) {
        const before = statSync(log).size;
        try {
          await runAsync(command, args, { stdio: ["ignore", output, output], ...options });
          break;
        } catch (error) {
          const said = readFileSync(log, "utf8").slice(before);
          if (!retryWhile?.test(said) || Date.now() > deadline) throw error;
          console.log(`  ${label}: another process holds the lock; waiting`);
          await new Promise((resolve) => setTimeout(resolve, 5000));
        }
      }
    }
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
  if (capture("rustup", ["--version"]) === null || capture("cargo", ["--version"]) === null) {
    throw new Error("Rust is missing: install it with rustup (https://rustup.rs: `curl --proto '=https' --tlsv1.2 -sSf " +
      "https://sh.rustup.rs | sh`), open a new shell so cargo is on PATH, and run the command again");
  }
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

/** How long apt waits for another install (unattended upgrades, say) to release dpkg's and apt's locks. */
const APT_LOCK_WAIT_SECONDS = 600;
const APT_LOCKED = /Could not get lock|Unable to acquire the dpkg frontend lock|Unable to lock (the )?directory|is held by process/i;

/**
 * A browser for the browser tests: `CHROME_PATH`, or a Chrome or Chromium
 * already installed, or one installed with apt on Debian, Ubuntu and their
 * derivatives (waiting for the locks another install holds). Anywhere else, stops with the one
 * command to run. Answers `{ path, version }`.
 */
async function installBrowser() {
  const found = findBrowser();
  if (found) return found;
  const aptPackage = aptChromiumPackage();
  if (!aptPackage || capture("apt-get", ["--version"]) === null) throw new Error(missingBrowserMessage());
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  const lockWait = ["-o", `DPkg::Lock::Timeout=${APT_LOCK_WAIT_SECONDS}`];
  const apt = (args) => [sudo[0] ?? "apt-get", [...(sudo.length ? ["apt-get"] : []), ...lockWait, ...args]];
  const commands = [apt(["update"]), apt(["install", "-y", "--no-install-recommends", aptPackage])];
  const label = `installing ${aptPackage} with apt for the browser tests`;
  const options = { env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } };
  if (sudo.length && capture("sudo", ["-n", "true"]) === null) {
    // sudo will ask for a password: in the foreground, where it can.
    step(`${label} (sudo asks for your password)`);
    for (const [command, args] of commands) run(command, args, options);
  } else {
    await inBackground("chromium", label, commands, { ...options, retryWhile: APT_LOCKED, retryFor: APT_LOCK_WAIT_SECONDS });
  }
  const installed = findBrowser();
  if (!installed) throw new Error(missingBrowserMessage(`apt installed ${aptPackage}, but it does not run`));
  return installed;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  setup({ browser: process.argv.includes("--browser"), deny: process.argv.includes("--deny") }).catch((error) => {
    console.error(`\n✖ ${error.message}`);
    process.exit(1);
  });
}
