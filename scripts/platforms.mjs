// `npm test`'s check that the npm packages install on every supported
// platform, not only on the one it runs on:
// - a package whose `os`/`cpu` fields exclude a supported platform is only
//   ever reached through optionalDependencies (npm skips it elsewhere);
// - `npm install --dry-run --os=… --cpu=…` for each other platform succeeds
//   and adds no package built for another one;
// - the pinned Node runtime has exactly one package per platform, and its
//   minimum version agrees with wrangler's `engines.node`.
// `npm run platforms` runs it alone.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { root, step } from "./lib.mjs";
import { REQUIRED_NODE, runtimeManifest } from "./node-runtime.mjs";

/** The platforms `npm start` and `npm test` support, as npm names them. */
export const SUPPORTED_PLATFORMS = [
  { os: "linux", cpu: "x64" },
  { os: "linux", cpu: "arm64" },
  { os: "darwin", cpu: "x64" },
  { os: "darwin", cpu: "arm64" },
];

/** Whether an npm `os`/`cpu` field (a string or list, `!` negates) admits `value`. */
export function fieldAdmits(field, value) {
  if (field === undefined) return true;
  const entries = [field].flat();
  if (entries.some((entry) => entry === `!${value}`)) return false;
  const positive = entries.filter((entry) => !entry.startsWith("!"));
  return positive.length === 0 || positive.includes(value);
}

/** Whether the lock entry of a package installs on `platform`. */
export function installsOn(entry, platform) {
  return fieldAdmits(entry.os, platform.os) && fieldAdmits(entry.cpu, platform.cpu);
}

/** Names of packages in a lock file bound to platforms (excluding a supported one) that are not optional. */
export function misplacedPlatformPackages(lock, platforms = SUPPORTED_PLATFORMS) {
  return Object.entries(lock.packages ?? {})
    .filter(([path, entry]) => path !== "" && platforms.some((platform) => !installsOn(entry, platform)) && !entry.optional)
    .map(([path]) => path.replace(/^.*node_modules\//, ""));
}

/** The lock entry of package `name` (top-level first). */
function lockEntry(lock, name) {
  return lock.packages[`node_modules/${name}`] ??
    Object.entries(lock.packages).find(([path]) => path.endsWith(`node_modules/${name}`))?.[1];
}

/** The packages `npm install --dry-run` says it would add, as "name version" pairs. */
export function addedPackages(output) {
  return output.split("\n").map((line) => line.match(/^add (\S+) (\S+)$/)).filter(Boolean).map(([, name, version]) => ({ name, version }));
}

/**
 * Runs `npm install --dry-run` for `platform` against a copy of the
 * manifests in `files` (paths relative to `from`); answers what it adds.
 */
function dryRun(from, files, platform) {
  const scratch = mkdtempSync(join(tmpdir(), "tidings-platform-"));
  try {
    for (const file of files) {
      mkdirSync(dirname(join(scratch, file)), { recursive: true });
      copyFileSync(join(from, file), join(scratch, file));
    }
    const result = spawnSync("npm", ["install", "--dry-run", "--ignore-scripts", "--no-audit", "--no-fund", `--os=${platform.os}`,
      `--cpu=${platform.cpu}`], { cwd: scratch, encoding: "utf8" });
    if (result.status !== 0) {
      throw new Error(`npm install --dry-run --os=${platform.os} --cpu=${platform.cpu} failed:\n${result.stderr.slice(-2000)}`);
    }
    return addedPackages(result.stdout);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Fails when a dry run for `platform` would add a package that cannot run there. */
export function checkDryRun(label, from, files, lock, platform) {
  const added = dryRun(from, files, platform);
  if (added.length === 0) throw new Error(`${label}: npm install --dry-run for ${platform.os}-${platform.cpu} added nothing`);
  const foreign = added.filter(({ name }) => {
    const entry = lockEntry(lock, name);
    return entry && !installsOn(entry, platform);
  });
  if (foreign.length) {
    throw new Error(`${label}: on ${platform.os}-${platform.cpu} npm would install packages built for another platform: ` +
      foreign.map(({ name, version }) => `${name}@${version}`).join(", "));
  }
  return added;
}

/** Every check above; throws with what is wrong. */
export function checkPlatforms() {
  const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));
  const projectLock = readJson(join(root, "package-lock.json"));
  const runtimeLock = readJson(join(runtimeManifest, "package-lock.json"));
  for (const [label, lock] of [["package-lock.json", projectLock], ["scripts/node-runtime/package-lock.json", runtimeLock]]) {
    const misplaced = misplacedPlatformPackages(lock);
    if (misplaced.length) {
      throw new Error(`${label}: platform-bound packages outside optionalDependencies (they break \`npm install\` ` +
        `on other platforms): ${misplaced.join(", ")}`);
    }
  }

  const wrangler = readJson(join(root, "node_modules", "wrangler", "package.json"));
  const wranglerNeeds = wrangler.engines?.node?.replace(/^>=\s*/, "");
  if (wranglerNeeds !== REQUIRED_NODE) {
    throw new Error(`wrangler ${wrangler.version} needs Node ${wrangler.engines?.node}; scripts/node-runtime.mjs says ${REQUIRED_NODE}`);
  }

  const manifests = ["package.json", "package-lock.json", "crates/tidings-sdk/package.json", "www/package.json"]
    .filter((file) => existsSync(join(root, file)));
  const here = { os: process.platform, cpu: process.arch };
  const others = SUPPORTED_PLATFORMS.filter((platform) => platform.os !== here.os || platform.cpu !== here.cpu);
  for (const platform of others) {
    const added = checkDryRun("the project's packages", root, manifests, projectLock, platform);
    const runtime = checkDryRun("the pinned Node", runtimeManifest, ["package.json", "package-lock.json"], runtimeLock, platform);
    const nodes = runtime.filter(({ name }) => lockEntry(runtimeLock, name)?.bin?.node);
    if (nodes.length !== 1) {
      throw new Error(`the pinned Node: npm would install ${nodes.length} Node packages on ${platform.os}-${platform.cpu}, not one`);
    }
    console.log(`  ${platform.os}-${platform.cpu}: ${added.length} packages, Node from ${nodes[0].name}@${nodes[0].version}: ok`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  step("checking that the npm packages install on every supported platform");
  try {
    checkPlatforms();
  } catch (error) {
    console.error(`\n✖ ${error.message}`);
    process.exit(1);
  }
}
