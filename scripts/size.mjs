// `npm run size`: what a browser downloads for @tidings/sdk (the .wasm, the
// wasm-bindgen glue and the package's own JavaScript), raw and gzip, checked
// against the budget of 50 KB gzip. Run after a build (`npm run build`).
import { readdirSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { sizeOf } from "./build.mjs";

/** The budget for everything a browser loads from the package, gzip. */
export const SDK_BUDGET_GZIP = 50 * 1024;

const BROWSER_FILES = [
  "crates/tidings-sdk/pkg/tidings_sdk_bg.wasm",
  "crates/tidings-sdk/pkg/tidings_sdk.js",
  ...readdirSync(new URL("../crates/tidings-sdk/js/", import.meta.url))
    .filter((file) => file.endsWith(".js") && file !== "server.js")
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
  if (gzip > SDK_BUDGET_GZIP) throw new Error(`the SDK is ${gzip} B gzip, over its budget of ${SDK_BUDGET_GZIP} B`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    checkSdkSize();
  } catch (error) {
    console.error(`✖ ${error.message}`);
    process.exit(1);
  }
}
