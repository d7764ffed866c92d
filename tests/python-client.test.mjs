// The Python client (clients/python), built into a wheel, installed in its
// own virtual environment and run against the worker in workerd (its
// release dry run is in release.test.mjs).
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { OPERATIONS } from "../crates/tidings-sdk/js/server/operations.js";
import { preparePython, runPython } from "../scripts/python-client.mjs";

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
});
