// `npm run release -- --dry-run`: both packages would publish, with what a
// user needs and nothing else, and pass the registries' own checks.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { dist, root } from "../scripts/python-client.mjs";

describe("release dry run", () => {
  const output = execFileSync("node", ["scripts/release.mjs", "--dry-run"], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

  it("would publish @tidings/sdk with the browser SDK, React and the server entry, and no sources", () => {
    assert.match(output, /would publish @tidings\/sdk@\d+\.\d+\.\d+ /);
    for (const file of ["LICENSE", "js/index.js", "js/react.js", "js/server.js", "js/server/client.js", "js/server.d.ts", "js/wire.d.ts", "pkg/tidings_sdk_bg.wasm"]) {
      assert.match(output, new RegExp(`^  ${file.replace(/[.]/g, "\\.")}  \\d+ B$`, "m"), file);
    }
    assert.doesNotMatch(output, /^ {2}(src\/|Cargo\.toml|.*\.rs )/m);
  });

  it("would upload the Python sdist and wheel, both passing twine check --strict", () => {
    assert.match(output, /tidings-\d+\.\d+\.\d+-py3-none-any\.whl: .*PASSED/);
    assert.match(output, /tidings-\d+\.\d+\.\d+\.tar\.gz: .*PASSED/);
    assert.match(output, /would upload tidings-[\d.]+-py3-none-any\.whl, tidings-[\d.]+\.tar\.gz/);
  });

  it("ships the Apache-2.0 licence text in every package", () => {
    const wheel = readdirSync(dist).find((file) => file.endsWith(".whl"));
    const listed = execFileSync("python3", ["-m", "zipfile", "-l", join(dist, wheel)], { encoding: "utf8" });
    assert.match(listed, /tidings-[\d.]+\.dist-info\/licenses\/LICENSE /);
    assert.match(readFileSync(join(root, "LICENSE"), "utf8"), /Apache License\s+Version 2\.0/);
  });
});
