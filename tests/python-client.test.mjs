// The Python client (clients/python), built into a wheel, installed in its
// own virtual environment and run against the worker in workerd; its
// release dry run (build + twine check) too.
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { OPERATIONS } from "../crates/tidings-sdk/js/server/operations.js";
import { dist, preparePython, runPython } from "./support/python.mjs";

before(() => preparePython());

describe("the Python client", () => {
  it("passes its tests against the worker (sync and async), from the installed wheel", () => {
    const output = runPython(["-m", "unittest", "discover", "-s", "clients/python/tests", "-v"]);
    assert.match(output, /^OK$/m, output);
    assert.doesNotMatch(output, /skipped/, output);
  });

  it("has the JavaScript client's operations and retry rules, operation for operation", () => {
    const python = JSON.parse(runPython(["-c", "import json, tidings; print(json.dumps(tidings.OPERATIONS))"], { cwd: "/" }));
    const javascript = Object.fromEntries(Object.entries(OPERATIONS).map(([id, [method, path, marked]]) => [id, [method, path, marked ?? method !== "POST"]]));
    assert.deepEqual(python, javascript);
  });

  it("is importable from the wheel, not the source tree", () => {
    const location = runPython(["-c", "import tidings; print(tidings.__file__)"], { cwd: "/" }).trim();
    assert.match(location, /site-packages\/tidings\/__init__\.py$/);
    const typed = runPython(["-c", "import importlib.resources as r; print(r.files('tidings').joinpath('py.typed').is_file())"], { cwd: "/" }).trim();
    assert.equal(typed, "True");
  });

  it("passes the release dry run: an sdist and a wheel that twine accepts", () => {
    const files = readdirSync(dist);
    assert.ok(files.some((file) => file.endsWith(".whl")) && files.some((file) => file.endsWith(".tar.gz")), files.join(", "));
    const checked = runPython(["-m", "twine", "check", "--strict", ...files.map((file) => join(dist, file))]);
    assert.match(checked, /PASSED/);
    assert.doesNotMatch(checked, /FAILED|WARNING/);
  });
});
