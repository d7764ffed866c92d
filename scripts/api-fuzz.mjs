// schemathesis against the running worker, from openapi.json: the fixed-seed
// pass of `npm test` and the fresh-seed, per-credential pass of `npm run fuzz`.
import { randomInt } from "node:crypto";
import { join } from "node:path";
import { root, runAsync, step } from "./lib.mjs";
import { pythonTools } from "./setup.mjs";

/** The control-plane routes, which member tokens and the admin token use. */
export const CONTROL_PLANE = "^/v1/(me|members|audit-log|bootstrap|changes|promotions|environments(?!/current))";

/**
 * Runs schemathesis once per pass: `[label, credential, extra arguments]`.
 * Checks that no answer is a server error and every status, body and
 * content type is the documented one. A failure names the pass and the
 * seed (never the credential), so it can be replayed with `--seed`.
 */
export async function schemathesis(stack, passes, { seed, examples, phases }) {
  const tool = join(pythonTools, "bin", "schemathesis");
  const common = [
    // One worker: with two, Python 3.11's AST constructor failed once under schemathesis's threads
    // ("SystemError: AST constructor recursion depth mismatch"), an error of the tool, not the API.
    "run", join(root, "openapi.json"), "--url", stack.apiUrl, "--workers", "1", "--max-examples", String(examples),
    "--phases", phases, "--seed", String(seed), "--warnings", "off",
    "--checks", "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance",
  ];
  for (const [label, credential, filter] of passes) {
    step(`schemathesis (seed ${seed}): ${label}`);
    await runAsync(tool, [...common, ...filter, "--header", `Authorization: Bearer ${credential}`], {
      env: { ...process.env, SCHEMATHESIS_HOOKS: "", NO_COLOR: "1" },
    }).catch(() => {
      throw new Error(`schemathesis found problems in the ${label}; replay with seed ${seed} (its report is above)`);
    });
  }
}

/** A fresh seed, printed so a failure can be replayed. */
export function freshSeed() {
  return randomInt(1, 2 ** 31 - 1);
}

/**
 * Adds one member per role through the control plane and answers their
 * tokens, so each credential kind gets its own fuzzing pass.
 */
export async function memberTokens(stack) {
  const call = async (path, body) => {
    const response = await fetch(`${stack.apiUrl}${path}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${stack.keys.admin.token}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(`${path} answered ${response.status}: ${answer.error?.code}`);
    return answer;
  };
  const tokens = { owner: stack.keys.owner.token };
  for (const role of ["admin", "developer", "viewer"]) {
    const member = await call("/v1/members", { name: `Fuzz ${role}`, email: `fuzz-${role}-${freshSeed()}@example.com`, role });
    tokens[role] = (await call(`/v1/members/${member.id}/tokens`, { name: "fuzz" })).token;
  }
  return tokens;
}

/** The passes of `npm run fuzz`: every credential kind on the routes it may call. */
export function everyCredential(stack, tokens) {
  const keys = stack.keys.environments.development;
  const members = Object.entries(tokens).map(([role, token]) => [`control plane as ${role}`, token, ["--include-path-regex", CONTROL_PLANE]]);
  return [
    ...members,
    ["control plane with the admin token", stack.keys.admin.token, ["--include-path-regex", CONTROL_PLANE]],
    ["API-key routes with a secret key", keys.secret_key, ["--exclude-path-regex", CONTROL_PLANE, "--rate-limit", "25/s"]],
    ["API-key routes with a publishable key", keys.publishable_key, ["--exclude-path-regex", CONTROL_PLANE, "--rate-limit", "25/s"]],
  ];
}
