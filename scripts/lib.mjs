// Shared helpers of the project scripts. Only Node built-ins: these run
// before `npm install` on a fresh machine.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { nodePathEntries } from "./node-runtime.mjs";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const cargoBin = join(process.env.CARGO_HOME ?? join(homedir(), ".cargo"), "bin");
const nodeBin = join(root, "node_modules", ".bin");

/**
 * Environment for every tool: the pinned Node first on PATH when the
 * machine's is too old for wrangler (see node-runtime.mjs), then the npm
 * packages' and cargo's bins; no telemetry, no downloads.
 */
export function toolEnv(extra = {}) {
  return {
    ...process.env,
    PATH: [...nodePathEntries(), nodeBin, cargoBin, process.env.PATH].join(":"),
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    ...extra,
  };
}

/** Runs a command to completion with inherited output; throws on failure. */
export function run(command, args, options = {}) {
  const started = Date.now();
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", env: toolEnv(), ...options });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed with ${result.status ?? result.signal}`);
  }
  return Date.now() - started;
}

/** Like `run`, without blocking this process's event loop. */
export function runAsync(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: "inherit", env: toolEnv(), ...options });
    child.once("error", reject);
    child.once("exit", (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} failed with ${code ?? signal}`)));
  });
}

/** Runs a command and returns its trimmed stdout, or null when it cannot run. */
export function capture(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8", env: toolEnv(), ...options });
  return result.status === 0 ? result.stdout.trim() : null;
}

/** Starts a long-running process in its own process group. */
export function start(command, args, options = {}) {
  return spawn(command, args, { cwd: root, env: toolEnv(), detached: true, ...options });
}

/** Stops a process group started by `start` and waits for it to exit. */
export async function stop(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  }, 5000);
  await exited;
  clearTimeout(timer);
}

/** Minutes and seconds since this process started, as m:ss. */
function elapsed() {
  const seconds = Math.round(process.uptime());
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** Prints the name of the step about to run, and when it starts. */
export function step(message) {
  // Inside a `node --test` file, stdout carries the runner's serialized
  // reports, and other writes there can corrupt them: use stderr.
  const out = process.env.NODE_TEST_CONTEXT ? process.stderr : process.stdout;
  out.write(`\n▶ ${message}  · ${elapsed()}\n`);
}

export const exists = (path) => existsSync(join(root, path));

/** Whole-number options `--name N` from the command line, each with its default. */
export function numberOptions(defaults, args = process.argv.slice(2)) {
  return Object.fromEntries(
    Object.entries(defaults).map(([name, fallback]) => {
      const at = args.indexOf(`--${name}`);
      const value = at >= 0 ? Number(args[at + 1]) : fallback;
      if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} takes a whole number`);
      return [name, value];
    }),
  );
}
