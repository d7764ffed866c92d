// `npm run fuzz [-- --seconds N] [--examples N] [--seed N] [target …]`: runs
// every cargo-fuzz target of fuzz/ (nightly Rust with libFuzzer) for a
// bounded time each and prints what each run covered. A crash stops the run;
// its input is kept under fuzz/artifacts/<target>/ (gitignored) and belongs
// in a regression test. Then it fuzzes the HTTP API (target `api`) in workerd
// with schemathesis: a fresh seed (printed; `--seed` replays one), more
// examples than `npm test`, the stateful phase, once per credential kind
// (owner, admin, developer, viewer, the admin token, a secret key, a
// publishable key).
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { capture, root, run, step, toolEnv } from "./lib.mjs";
import { everyCredential, freshSeed, memberTokens, schemathesis } from "./api-fuzz.mjs";
import { build } from "./build.mjs";
import { installCargoTool, setup } from "./setup.mjs";
import { startIsolatedStack } from "./stack.mjs";

const CARGO_FUZZ = "0.13.1";
const TARGETS = ["api_key", "subscriber_token", "requests", "template", "promotion_diff"];
/** The HTTP API, fuzzed by schemathesis rather than libFuzzer. */
const API = "api";

function options() {
  const args = process.argv.slice(2);
  const number = (flag, fallback) => {
    const at = args.indexOf(flag);
    const value = at >= 0 ? Number(args.splice(at, 2)[1]) : fallback;
    if (!Number.isInteger(value) || value < 1) throw new Error(`${flag} takes a whole number`);
    return value;
  };
  const seconds = number("--seconds", 30);
  const examples = number("--examples", 50);
  const seed = number("--seed", freshSeed());
  const unknown = args.filter((name) => !TARGETS.includes(name) && name !== API);
  if (unknown.length) throw new Error(`unknown fuzz target ${unknown.join(", ")}; targets: ${[...TARGETS, API].join(", ")}`);
  const chosen = args.length ? args : [...TARGETS, API];
  return { seconds, examples, seed, targets: chosen.filter((name) => name !== API), api: chosen.includes(API) };
}

function ensureNightly() {
  const toolchains = capture("rustup", ["toolchain", "list"]) ?? "";
  if (toolchains.split("\n").some((line) => line.startsWith("nightly"))) return;
  step("installing the nightly toolchain (for libFuzzer's instrumentation)");
  run("rustup", ["toolchain", "install", "nightly", "--profile", "minimal"]);
}

/** The API pass: its own stack, a member per role, schemathesis per credential. */
async function fuzzApi({ examples, seed }) {
  build();
  const stack = await startIsolatedStack(join(root, ".tidings", `fuzz-${process.pid}`), {});
  try {
    console.log(`API fuzzing with seed ${seed} (replay: npm run fuzz -- api --seed ${seed})`);
    const tokens = await memberTokens(stack);
    await schemathesis(stack, everyCredential(stack, tokens), { seed, examples, phases: "examples,coverage,fuzzing,stateful" });
  } finally {
    await stack.stop();
  }
}

async function main() {
  const { seconds, examples, seed, targets, api } = options();
  await setup({ schemathesis: api });
  if (targets.length === 0) {
    await fuzzApi({ examples, seed });
    return;
  }
  ensureNightly();
  await installCargoTool("cargo-fuzz", CARGO_FUZZ, ["--locked"], "cargo-fuzz");
  const fuzz = join(root, "fuzz");
  step("building the fuzz targets");
  run("cargo", ["+nightly", "fuzz", "build", "-O"], { cwd: fuzz });
  const results = [];
  for (const target of targets) {
    const corpus = join(root, ".tidings", "fuzz", "corpus", target);
    const seeds = join(fuzz, "seeds", target);
    mkdirSync(corpus, { recursive: true });
    step(`fuzzing ${target} for ${seconds} s`);
    const started = Date.now();
    const result = spawnSync(
      "cargo",
      ["+nightly", "fuzz", "run", "-O", target, corpus, seeds, "--", `-max_total_time=${seconds}`, "-rss_limit_mb=2048", "-timeout=10", "-print_final_stats=1"],
      { cwd: fuzz, encoding: "utf8", env: toolEnv(), maxBuffer: 256 * 1024 * 1024 },
    );
    const output = `${result.stdout}${result.stderr}`;
    if (result.status !== 0) {
      console.error(output.split("\n").slice(-60).join("\n"));
      throw new Error(`fuzz target ${target} failed: its input is under fuzz/artifacts/${target}/`);
    }
    const runs = output.match(/stat::number_of_executed_units:\s*(\d+)/)?.[1] ?? "?";
    const coverage = [...output.matchAll(/cov: (\d+)/g)].at(-1)?.[1] ?? "?";
    results.push({ target, seconds: Math.round((Date.now() - started) / 1000), runs, coverage, corpus: readdirSync(corpus).length });
  }
  console.log("\nfuzz target        seconds   executions   coverage   corpus");
  for (const { target, seconds, runs, coverage, corpus } of results) {
    console.log(`${target.padEnd(18)} ${String(seconds).padStart(7)} ${String(runs).padStart(12)} ${String(coverage).padStart(10)} ${String(corpus).padStart(8)}`);
  }
  console.log("no crashes, no timeouts");
  if (api) await fuzzApi({ examples, seed });
}

main().catch((error) => {
  console.error(`\n✖ ${error.message}`);
  process.exit(1);
});
