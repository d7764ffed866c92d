// The Node.js that runs wrangler, workerd's tooling and the end-to-end
// tests. The machine's own Node when it is recent enough; otherwise a
// pinned Node for this platform, installed on demand into
// .tidings/tools/node from the manifest in scripts/node-runtime/ (one
// optional package per os and cpu, pinned by its lock file), and put
// first on PATH. Only Node built-ins: this runs before `npm install`.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The oldest Node wrangler runs on (its `engines.node`; `npm test` checks the two agree). */
export const REQUIRED_NODE = "22.12.0";
/** The manifest and lock of the pinned runtime, and where it is installed. */
export const runtimeManifest = join(root, "scripts", "node-runtime");
export const runtimeDir = join(root, ".tidings", "tools", "node");
const runtimeBinDir = join(runtimeDir, "node_modules", ".bin");

/** Whether `version` ("22.3.1" or "v22.3.1") is at least `minimum`. */
export function atLeast(version, minimum = REQUIRED_NODE) {
  const parse = (text) => text.replace(/^v/, "").split(".").map((part) => Number.parseInt(part, 10) || 0);
  const [have, need] = [parse(version), parse(minimum)];
  for (let index = 0; index < 3; index += 1) {
    if ((have[index] ?? 0) !== (need[index] ?? 0)) return (have[index] ?? 0) > (need[index] ?? 0);
  }
  return true;
}

/** Whether this machine needs the pinned runtime: its Node (the one running this script) is too old. */
export function needsPinnedRuntime(version = process.versions.node) {
  return !atLeast(version);
}

/**
 * Directories to put first on PATH so that `node` is one wrangler runs on:
 * none when the machine's Node is recent enough, else the pinned runtime's.
 */
export function nodePathEntries() {
  return needsPinnedRuntime() ? [runtimeBinDir] : [];
}

/** The pinned version, from the manifest (every platform's package has the same one). */
export function pinnedVersion() {
  const manifest = JSON.parse(readFileSync(join(runtimeManifest, "package.json"), "utf8"));
  return Object.values(manifest.optionalDependencies)[0];
}

/**
 * Installs the pinned runtime when the machine's Node is too old and it is
 * not there yet. Returns a line saying which Node is used, for the log.
 */
export function installNodeRuntime({ step = () => {} } = {}) {
  if (!needsPinnedRuntime()) return `Node ${process.versions.node} (this machine's)`;
  const version = pinnedVersion();
  const binary = join(runtimeBinDir, "node");
  const installed = spawnSync(binary, ["--version"], { encoding: "utf8" });
  if (installed.status === 0 && installed.stdout.trim() === `v${version}`) return `Node ${version} (pinned, in .tidings/tools/node)`;
  step(`installing Node ${version} for ${process.platform}-${process.arch} into .tidings/tools/node ` +
    `(this machine has ${process.versions.node}; wrangler needs ${REQUIRED_NODE} or later)`);
  mkdirSync(runtimeDir, { recursive: true });
  for (const file of ["package.json", "package-lock.json"]) copyFileSync(join(runtimeManifest, file), join(runtimeDir, file));
  const result = spawnSync("npm", ["ci", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: runtimeDir, stdio: "inherit" });
  const check = spawnSync(binary, ["--version"], { encoding: "utf8" });
  if (result.status !== 0 || check.status !== 0) {
    throw new Error(`no Node ${REQUIRED_NODE}+ for ${process.platform}-${process.arch}: this machine has Node ` +
      `${process.versions.node} and the pinned Node ${version} could not be installed (npm ci in .tidings/tools/node ` +
      `exited with ${result.status}). Supported: Linux and macOS on x64 and arm64. Install Node ${REQUIRED_NODE} or ` +
      "later (https://nodejs.org) and run the command again.");
  }
  return `Node ${version} (pinned, in .tidings/tools/node)`;
}
