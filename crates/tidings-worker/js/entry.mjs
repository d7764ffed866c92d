// The worker's entry module: the Rust `fetch`, `queue` and `scheduled` handlers (wasm-bindgen's module
// output in ../build, made by `npm run build`) behind a plain exported
// handler object, and the realtime Durable Object class. Requests for the
// admin console go to its own worker before any Wasm runs.
//
// A plain object costs nothing per request. An entry class (a
// `WorkerEntrypoint` wrapped in a Proxy, as worker-build 0.8.7 generates)
// is constructed for every request, and its methods are wrapped again on
// every access: a V8 profile under load put about a tenth of the isolate's
// samples there, and `/health` serves ~10 % more requests without it
// (docs/performance.md).
//
// Recovery after a trap is kept: a `WebAssembly.RuntimeError` (a panic,
// with panic = "abort") marks the instance broken, and the next call
// starts a fresh instance first (wasm-bindgen's glue would also reset it on
// its next call). Durable Object instances made before the reset are
// rebuilt on their next use. tests/faults.test.mjs traps the worker on
// purpose (`Tidings-Inject-Faults: worker=trap`) and checks what follows.
import * as wasm from "../build/index.js";
import { accountedEnv, accounting, withWork } from "./d1-accounting.mjs";

Error.stackTraceLimit = 100;
const state = wasm.__worker_init_state();

function resetIfBroken() {
  if (state.criticalError) {
    console.log("Reinitializing Wasm application");
    wasm.__wbg_reset_state();
    state.criticalError = false;
    state.instanceId += 1;
  }
}

function noteFailure(error) {
  if (error instanceof WebAssembly.RuntimeError) {
    console.error("Critical", error);
    state.criticalError = true;
  }
}

addEventListener("error", (event) => noteFailure(event.error));

/**
 * Whether a request is for the admin console, served by the CONSOLE worker
 * (www/console.wrangler.toml): its path is `/console` or under `/console/`.
 * A URL without `/console` in it is the API's, told apart without parsing
 * it into a `URL` object, which every API request paid for before
 * (docs/performance.md).
 */
function isConsoleRequest(url) {
  if (!url.includes("/console")) return false;
  const path = new URL(url).pathname;
  return path === "/console" || path.startsWith("/console/");
}

/**
 * Whether a request asks for the API description, which the CONSOLE worker
 * serves as a static file (`build/assets/openapi.json`), so it is not part
 * of this worker's upload.
 */
function isDescriptionRequest(url, request) {
  if (!url.includes("/openapi.json")) return false;
  return (request.method === "GET" || request.method === "HEAD") && new URL(url).pathname === "/openapi.json";
}

/** Calls a Rust event handler on a working instance, noting a trap. */
async function run(handler, ...args) {
  resetIfBroken();
  try {
    return await handler(...args);
  } catch (error) {
    noteFailure(error);
    throw error;
  }
}

export default {
  async fetch(request, env, ctx) {
    // The URL is read once: every read of it makes a new string. A feed request pays two `includes`.
    const url = request.url;
    if (env.CONSOLE && (isConsoleRequest(url) || isDescriptionRequest(url, request))) return env.CONSOLE.fetch(request);
    if (!accounting(env)) return run(wasm.fetch, request, env, ctx);
    const counted = accountedEnv(env);
    return withWork(await run(wasm.fetch, request, counted.env, ctx), counted.header);
  },
  /** The deliveries queue's consumer (crates/tidings-worker/src/delivery.rs). */
  async queue(batch, env, ctx) {
    return run(wasm.queue, batch, env, ctx);
  },
  /** The Cron Trigger: the deliveries sweep. */
  async scheduled(controller, env, ctx) {
    return run(wasm.scheduled, controller, env, ctx);
  },
};

/** Everything but `get` goes to the current instance behind a holder. */
const forwardToInstance = {
  set: (holder, property, value, receiver) => Reflect.set(holder.instance, property, value, receiver),
  has: (holder, property) => Reflect.has(holder.instance, property),
  deleteProperty: (holder, property) => Reflect.deleteProperty(holder.instance, property),
  getPrototypeOf: (holder) => Reflect.getPrototypeOf(holder.instance),
  setPrototypeOf: (holder, prototype) => Reflect.setPrototypeOf(holder.instance, prototype),
  isExtensible: (holder) => Reflect.isExtensible(holder.instance),
  preventExtensions: (holder) => Reflect.preventExtensions(holder.instance),
  getOwnPropertyDescriptor: (holder, property) => Reflect.getOwnPropertyDescriptor(holder.instance, property),
  defineProperty: (holder, property, descriptor) => Reflect.defineProperty(holder.instance, property, descriptor),
  ownKeys: (holder) => Reflect.ownKeys(holder.instance),
};

/**
 * A wasm-bindgen class whose instances are rebuilt, from the arguments
 * they were made with, when the Wasm instance behind them was reset.
 */
function survivingResets(Class) {
  return new Proxy(Class, {
    construct(target, args, newTarget) {
      resetIfBroken();
      const holder = { instance: Reflect.construct(target, args, newTarget), instanceId: state.instanceId };
      return new Proxy(holder, {
        ...forwardToInstance,
        get(_, property, receiver) {
          if (holder.instanceId !== state.instanceId) {
            holder.instance = Reflect.construct(target, args, newTarget);
            holder.instanceId = state.instanceId;
          }
          const value = Reflect.get(holder.instance, property, receiver);
          if (typeof value !== "function") return value;
          if (value.constructor === Function) {
            return new Proxy(value, {
              apply(method, self, callArgs) {
                resetIfBroken();
                try {
                  return method.apply(self, callArgs);
                } catch (error) {
                  noteFailure(error);
                  throw error;
                }
              },
            });
          }
          return new Proxy(value, {
            async apply(method, self, callArgs) {
              resetIfBroken();
              try {
                return await method.apply(self, callArgs);
              } catch (error) {
                noteFailure(error);
                throw error;
              }
            },
          });
        },
      });
    },
  });
}

export const FeedHub = survivingResets(wasm.FeedHub);
