// The Python client's tools: its own virtual environment under .tidings/
// (created on first use, pinned tools), and its sdist and wheel built from
// clients/python and the wheel installed the way a user installs it. Used
// by the tests and by `npm run release`.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = fileURLToPath(new URL("..", import.meta.url));
const venv = join(root, ".tidings/python");
export const python = join(venv, "bin/python");
export const dist = join(root, ".tidings/python-dist");
const TOOLS = ["httpx==0.28.1", "build==1.3.0", "twine==6.2.0"];
let ready = false;

/** Runs the venv's python; returns stdout and stderr together, throws with both on failure. */
export function runPython(args, options = {}) {
  const result = spawnSync(python, args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], ...options });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  if (result.status !== 0) throw new Error(`python ${args.join(" ")} failed (${result.status ?? result.error}):\n${output}`);
  return output;
}

/** Creates the venv, builds the sdist and wheel, and installs the wheel (once per run). */
export function preparePython() {
  if (ready) return;
  if (!existsSync(python)) {
    mkdirSync(join(root, ".tidings"), { recursive: true });
    execFileSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
  }
  runPython(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", ...TOOLS]);
  // Leftovers of an earlier build would end up in the wheel (setuptools never clears build/).
  for (const stale of [dist, join(root, "clients/python/build"), join(root, "clients/python/src/tidings.egg-info")]) {
    rmSync(stale, { recursive: true, force: true });
  }
  // The sdist first, then the wheel built from it, as an index would.
  runPython(["-m", "build", "--outdir", dist, join(root, "clients/python")]);
  const wheel = readdirSync(dist).find((file) => file.endsWith(".whl"));
  runPython(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--force-reinstall", "--no-deps", join(dist, wheel)]);
  ready = true;
}
