// Chrome or Chromium, headless, through playwright-core: the one `npm test`
// found or installed (CHROME_PATH), one persistent profile per test file,
// removed afterwards.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { findBrowser } from "../../scripts/browser.mjs";

/** Launches Chromium with a fresh profile; `close()` ends it and removes the profile. */
export async function launchChromium() {
  const profile = mkdtempSync(join(tmpdir(), "tidings-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROME_PATH || findBrowser()?.path,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
