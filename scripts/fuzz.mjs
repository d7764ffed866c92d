// `npm run fuzz [-- --seconds N] [target …]`: runs every cargo-fuzz target of
// fuzz/ (nightly Rust with libFuzzer) for a bounded time each and prints
// what each run covered. A crash stops the run; its input is kept under
// fuzz/artifacts/<target>/ (gitignored) and belongs in a regression test.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { capture, root, run, step, toolEnv } from "./lib.mjs";
import { installCargoTool, setup } from "./setup.mjs";

const CARGO_FUZZ = "0.13.1";
const TARGETS = ["api_key", "subscriber_token", "requests", "template", "promotion_diff"];

function options() {
  const args = process.argv.slice(2);
  const at = args.indexOf("--seconds");
  const seconds = at >= 0 ? Number(args.splice(at, 2)[1]) : 30;
  if (!Number.isInteger(seconds) || seconds < 1) throw new Error("--seconds takes a whole number of seconds");
  const unknown = args.filter((name) => !TARGETS.includes(name));
  if (unknown.length) throw new Error(`unknown fuzz target ${unknown.join(", ")}; targets: ${TARGETS.join(", ")}`);
  return { seconds, targets: args.length ? args : TARGETS };
}

function ensureNightly() {
  const toolchains = capture("rustup", ["toolchain", "list"]) ?? "";
  if (toolchains.split("\n").some((line) => line.startsWith("nightly"))) return;
  step("installing the nightly toolchain (for libFuzzer's instrumentation)");
  run("rustup", ["toolchain", "install", "nightly", "--profile", "minimal"]);
}

async function main() {
  const { seconds, targets } = options();
  await setup();
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
}

main().catch((error) => {
  console.error(`\n✖ ${error.message}`);
  process.exit(1);
});
