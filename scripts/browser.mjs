// The Chromium-based browser the browser tests drive through
// playwright-core: `CHROME_PATH` when set, else a Chrome or Chromium
// already on this machine, else one installed the way the platform does it
// (Debian and Ubuntu: apt, waiting for the dpkg lock), else a clear message
// with the one command to run. Only Node built-ins.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Where browsers usually live, per platform (absolute paths), before PATH is searched. */
export function candidatePaths(platform = process.platform, home = homedir()) {
  if (platform === "darwin") {
    const apps = ["/Applications", join(home, "Applications")];
    const bundles = [
      ["Google Chrome.app", "Google Chrome"],
      ["Chromium.app", "Chromium"],
      ["Google Chrome Canary.app", "Google Chrome Canary"],
      ["Microsoft Edge.app", "Microsoft Edge"],
    ];
    return [
      ...apps.flatMap((folder) => bundles.map(([bundle, binary]) => join(folder, bundle, "Contents", "MacOS", binary))),
      ...playwrightBrowsers(join(home, "Library", "Caches", "ms-playwright")),
    ];
  }
  return [
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/opt/google/chrome/chrome",
    "/usr/lib/chromium/chromium",
    "/snap/bin/chromium",
    "/usr/bin/microsoft-edge",
    ...playwrightBrowsers(join(home, ".cache", "ms-playwright")),
  ];
}

/** Names searched on PATH after the usual locations. */
const PATH_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"];

/** Browsers that `npx playwright-core install chromium` put in its cache (`PLAYWRIGHT_BROWSERS_PATH` first). */
function playwrightBrowsers(cache) {
  const folders = [process.env.PLAYWRIGHT_BROWSERS_PATH, cache].filter(Boolean);
  const found = [];
  for (const folder of folders) {
    let entries = [];
    try {
      entries = readdirSync(folder).filter((name) => name.startsWith("chromium-")).sort().reverse();
    } catch {
      continue;
    }
    for (const entry of entries) {
      for (const inner of ["chrome-linux64/chrome", "chrome-linux/chrome", "chrome-mac-arm64/Chromium.app/Contents/MacOS/Chromium",
        "chrome-mac/Chromium.app/Contents/MacOS/Chromium"]) {
        found.push(join(folder, entry, inner));
      }
    }
  }
  return found;
}

/** The browser's `--version` line, or null when it does not run. */
function versionOf(path) {
  const result = spawnSync(path, ["--version"], { encoding: "utf8", timeout: 20_000 });
  return result.status === 0 ? result.stdout.trim() : null;
}

/**
 * The browser to test with: `{ path, version }`, or null when none was found.
 * A `CHROME_PATH` that does not run is an error, never silently replaced.
 */
export function findBrowser(env = process.env) {
  if (env.CHROME_PATH) {
    const version = versionOf(env.CHROME_PATH);
    if (!version) throw new Error(`CHROME_PATH=${env.CHROME_PATH} does not run (\`${env.CHROME_PATH} --version\` failed): point it at a Chrome or Chromium executable, or unset it`);
    return { path: env.CHROME_PATH, version };
  }
  const onPath = (env.PATH ?? "").split(":").filter(Boolean).flatMap((folder) => PATH_NAMES.map((name) => join(folder, name)));
  for (const path of [...candidatePaths(), ...onPath]) {
    if (!existsSync(path)) continue;
    const version = versionOf(path);
    if (version) return { path, version };
  }
  return null;
}

/** `ID` and `ID_LIKE` of /etc/os-release, lower case; empty off Linux. */
export function linuxDistribution(release = readOsRelease()) {
  const field = (name) => (release.match(new RegExp(`^${name}="?([^"\\n]*)"?$`, "m"))?.[1] ?? "").toLowerCase();
  return { id: field("ID"), like: field("ID_LIKE").split(/\s+/).filter(Boolean) };
}

function readOsRelease() {
  try {
    return readFileSync("/etc/os-release", "utf8");
  } catch {
    return "";
  }
}

/**
 * The apt package that gives a Chromium here: Debian's `chromium` on Debian
 * and its derivatives; on Ubuntu and its derivatives `chromium-browser`
 * (which installs the snap, and so needs snapd); `null` elsewhere.
 */
export function aptChromiumPackage(platform = process.platform, distribution = linuxDistribution()) {
  if (platform !== "linux") return null;
  if (distribution.id === "ubuntu" || distribution.like.includes("ubuntu")) return "chromium-browser";
  return distribution.id === "debian" || distribution.like.includes("debian") ? "chromium" : null;
}

/** The one command to run where this script does not install a browser itself. */
export function installAdvice(platform = process.platform, distribution = linuxDistribution()) {
  const playwright = "`npx playwright-core install chromium` (any platform; found automatically afterwards)";
  if (platform === "darwin") {
    return `install Google Chrome (https://www.google.com/chrome/) or run \`brew install --cask chromium\`, or ${playwright}`;
  }
  if (distribution.id === "ubuntu" || distribution.like.includes("ubuntu")) {
    return `install Google Chrome's .deb, or run ${playwright} (Ubuntu's chromium-browser is a snap, which needs snapd)`;
  }
  if (distribution.id === "fedora" || distribution.like.includes("fedora")) return `run \`sudo dnf install -y chromium\` or ${playwright}`;
  if (distribution.id === "arch" || distribution.like.includes("arch")) return `run \`sudo pacman -S chromium\` or ${playwright}`;
  if (distribution.id === "alpine") return `run \`sudo apk add chromium\` or ${playwright}`;
  return `run ${playwright}`;
}

/** The message `npm test` stops with when it has no browser and cannot install one. */
export function missingBrowserMessage(reason = "") {
  return `the browser tests need Chrome or Chromium and none was found${reason ? ` (${reason})` : ""}: ` +
    `${installAdvice()}; or set CHROME_PATH to one already installed.`;
}
