// Serves www/ on 127.0.0.1, with the @tidings/sdk npm package under /sdk/
// exactly as installed in node_modules, and /demo-config.json telling the
// demo where the API is and which development publishable key to use.
// The admin console (/console/) calls the API on its own origin, as it does
// when the worker serves it: /v1/… and /openapi.json are passed through to
// the worker, and console pages carry strict security headers.
import { createReadStream, realpathSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { root } from "./lib.mjs";
import { CONSOLE_HEADERS } from "./console-headers.mjs";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".svg": "image/svg+xml",
  ".ts": "text/plain; charset=utf-8",
};

/** Passes one request through to the worker and its answer back. */
async function forward(request, response, apiUrl) {
  const chunks = [];
  for await (const chunk of request) chunks.push(chunk);
  const headers = Object.fromEntries(
    Object.entries(request.headers).filter(([name]) => !["host", "connection", "content-length"].includes(name)),
  );
  try {
    const answer = await fetch(`${apiUrl}${request.url}`, {
      method: request.method,
      headers,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    const passed = {};
    answer.headers.forEach((value, name) => {
      if (!["content-encoding", "content-length", "transfer-encoding", "connection"].includes(name)) passed[name] = value;
    });
    response.writeHead(answer.status, passed);
    response.end(Buffer.from(await answer.arrayBuffer()));
  } catch (error) {
    response.writeHead(502, { "Content-Type": "application/json" });
    response.end(JSON.stringify({ error: { code: "api_unreachable", message: `the worker did not answer: ${error.message}` } }));
  }
}

function resolveFile(base, relative) {
  const path = normalize(join(base, relative)).replace(/[\\/]+$/, "");
  if (path !== base && !path.startsWith(base + sep)) return null;
  const stats = statSync(path, { throwIfNoEntry: false });
  if (!stats) return null;
  return stats.isDirectory() ? resolveFile(path, "index.html") : path;
}

export function serveWww({ port, apiUrl, publishableKey }) {
  const www = join(root, "www");
  const sdk = realpathSync(join(root, "node_modules", "@tidings", "sdk"));
  const preview = join(root, "crates", "tidings-console", "pkg");
  const server = createServer((request, response) => {
    const { pathname } = new URL(request.url, "http://localhost");
    if (pathname.startsWith("/v1/") || pathname === "/openapi.json") {
      forward(request, response, apiUrl);
      return;
    }
    if (pathname === "/demo-config.json") {
      response.writeHead(200, { "Content-Type": TYPES[".json"], "Cache-Control": "no-store" });
      response.end(JSON.stringify({ apiUrl, publishableKey, subscriberId: "user-1" }));
      return;
    }
    let file = null;
    if (pathname.startsWith("/console/pkg/")) {
      file = resolveFile(preview, decodeURIComponent(pathname.slice("/console/pkg/".length)));
    } else if (pathname.startsWith("/sdk/")) {
      const relative = decodeURIComponent(pathname.slice("/sdk/".length));
      if (relative.startsWith("js/") || relative.startsWith("pkg/")) file = resolveFile(sdk, relative);
    } else if (!pathname.startsWith("/node_modules/") && pathname !== "/package.json") {
      file = resolveFile(www, decodeURIComponent(pathname.slice(1)));
    }
    if (!file) {
      response.writeHead(404, { "Content-Type": "text/plain" });
      response.end("not found");
      return;
    }
    response.writeHead(200, {
      "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
      "Cache-Control": "no-cache",
      ...(pathname.startsWith("/console") ? CONSOLE_HEADERS : {}),
    });
    createReadStream(file).pipe(response);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
