// `npm run release -- --dry-run`: what would be published, checked as the
// registries would check it: `npm publish --dry-run` of @tidings/sdk (the
// browser SDK, its React bindings and the server entry) and, for the Python
// client, `python -m build` plus `twine check --strict`. Without --dry-run
// it publishes both (npm login and TWINE_USERNAME/TWINE_PASSWORD needed).
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { buildSdk, buildTypes } from "./build.mjs";
import { capture, root, run, step } from "./lib.mjs";
import { dist, preparePython, runPython } from "./python-client.mjs";

const dryRun = process.argv.includes("--dry-run");

step("building the SDK's files");
buildTypes();
buildSdk();

step(`@tidings/sdk: npm publish${dryRun ? " --dry-run" : ""}`);
const sdk = join(root, "crates/tidings-sdk");
if (dryRun) {
  const output = capture("npm", ["publish", "--dry-run", "--json", sdk], { cwd: root });
  if (output === null) throw new Error("npm publish --dry-run failed");
  const parsed = JSON.parse(output);
  // npm answers the report itself, or keyed by the package's name.
  const published = parsed.id ? parsed : Object.values(parsed)[0];
  console.log(`would publish ${published.id} (${published.entryCount} files, ${published.size} B packed, ${published.unpackedSize} B unpacked):`);
  for (const file of published.files ?? []) console.log(`  ${file.path}  ${file.size} B`);
} else {
  run("npm", ["publish", sdk]);
}

step(`tidings (Python): build${dryRun ? " + twine check" : " + twine upload"}`);
preparePython();
const files = readdirSync(dist).map((file) => join(dist, file));
console.log(runPython(["-m", "twine", "check", "--strict", ...files]).trim());
if (!dryRun) runPython(["-m", "twine", "upload", ...files], { stdio: "inherit" });
else console.log(`would upload ${readdirSync(dist).join(", ")}`);
