// Serves www/ on 127.0.0.1, with the @tidings/sdk npm package under /sdk/
// exactly as installed in node_modules, and /demo-config.json telling the
// demo where the API is and which development publishable key to use.
import { createReadStream, realpathSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { root } from "./lib.mjs";

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

function resolveFile(base, relative) {
  const path = normalize(join(base, relative));
  if (path !== base && !path.startsWith(base + sep)) return null;
  const stats = statSync(path, { throwIfNoEntry: false });
  if (!stats) return null;
  return stats.isDirectory() ? resolveFile(path, "index.html") : path;
}

export function serveWww({ port, apiUrl, publishableKey }) {
  const www = join(root, "www");
  const sdk = realpathSync(join(root, "node_modules", "@tidings", "sdk"));
  const server = createServer((request, response) => {
    const { pathname } = new URL(request.url, "http://localhost");
    if (pathname === "/demo-config.json") {
      response.writeHead(200, { "Content-Type": TYPES[".json"], "Cache-Control": "no-store" });
      response.end(JSON.stringify({ apiUrl, publishableKey, subscriberId: "user-1" }));
      return;
    }
    let file = null;
    if (pathname.startsWith("/sdk/")) {
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
    response.writeHead(200, { "Content-Type": TYPES[extname(file)] ?? "application/octet-stream", "Cache-Control": "no-cache" });
    createReadStream(file).pipe(response);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}
