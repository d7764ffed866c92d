// The docs cannot drift from the API: every route README.md and docs/*.md
// name exists in the openapi.json the worker serves, every error code the
// API has is in README's list and in openapi.json, and the list names no
// code that does not exist.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { api } from "./support/context.mjs";

const root = new URL("../", import.meta.url);
const read = (path) => readFileSync(new URL(path, root), "utf8");
const documents = ["README.md", ...readdirSync(new URL("docs/", root)).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)];
/** Every error code, from the one type the worker, SDK and console share. */
const errorCodes = [...read("crates/tidings-core/src/wire/error.rs").matchAll(/=> "([a-z_]+)",/g)].map((match) => match[1]);

/** The concrete routes a mention stands for: `[/{id}]` optional, `a\|b` alternatives in a segment. */
function expand(path) {
  const optional = path.match(/^(.*)\[([^\]]+)\](.*)$/);
  if (optional) return [...expand(optional[1] + optional[3]), ...expand(optional[1] + optional[2] + optional[3])];
  const segments = path.split("/");
  let paths = [""];
  for (const segment of segments.slice(1)) {
    const choices = segment.split("\\|");
    paths = paths.flatMap((prefix) => choices.map((choice) => `${prefix}/${choice}`));
  }
  return paths;
}

/** Whether a documented path matches a described one (`{x}` matches any one segment). */
const matches = (documented, described) => {
  const [a, b] = [documented.split("/"), described.split("/")];
  return a.length === b.length && a.every((segment, index) => b[index].startsWith("{") || segment === b[index] || segment.startsWith("{"));
};

describe("docs", () => {
  it("name only routes openapi.json describes", async () => {
    const spec = (await api("/openapi.json")).body;
    const described = Object.entries(spec.paths).flatMap(([path, item]) =>
      ["get", "put", "post", "patch", "delete"].filter((method) => item[method]).map((method) => [method.toUpperCase(), path]));
    let checked = 0;
    for (const document of documents) {
      for (const [, method, raw] of read(document).matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/v1\/[^`\s?]*)/g)) {
        for (const path of expand(raw)) {
          checked += 1;
          assert.ok(described.some(([other, candidate]) => other === method && matches(path, candidate)), `${document} names ${method} ${path}, which openapi.json lacks`);
        }
      }
    }
    assert.ok(checked > 50, `only ${checked} route mentions found`);
  });

  it("list every error code, and only those, in README and openapi.json", async () => {
    assert.ok(errorCodes.length > 80, `only ${errorCodes.length} codes read`);
    const spec = (await api("/openapi.json")).body;
    assert.deepEqual([...spec.components.schemas.Error.properties.error.properties.code.enum].sort(), [...errorCodes].sort());
    const readme = read("README.md");
    const section = readme.slice(readme.indexOf("Errors are always"), readme.indexOf("Request bodies refuse unknown fields."));
    const named = new Set([...section.matchAll(/`([a-z][a-z0-9_]*)`/g)].map((match) => match[1]).filter((name) => !["field", "snake_case"].includes(name)));
    for (const code of errorCodes) assert.ok(named.has(code), `README's error list lacks ${code}`);
    for (const name of named) assert.ok(errorCodes.includes(name), `README's error list names ${name}, which is no error code`);
  });
});
