// `npm run reset`: deletes local D1/KV state and the local keys, so the next
// `npm start` seeds fresh environments.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { root } from "./lib.mjs";

for (const path of [".wrangler/state", ".tidings/local-keys.json"]) {
  rmSync(join(root, path), { recursive: true, force: true });
  console.log(`removed ${path}`);
}
