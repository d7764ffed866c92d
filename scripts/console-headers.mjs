// The security headers of console pages, wherever they are served: by
// `npm start`'s www server, and by the worker as static assets (`_headers`).

/** What console pages may load: only this origin, wasm compiled from it, no framing. */
export const CONSOLE_HEADERS = {
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
};

/** The headers of the API description (`/openapi.json`): data, never run, never kept, readable from any origin. */
export const DESCRIPTION_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
  // Tools on other origins read it, as they did when the API served it (cors.rs).
  "Access-Control-Allow-Origin": "*",
};

/** The same headers as a Workers static assets `_headers` file, for every console path and the API description. */
export function headersFile() {
  const block = (pattern, headers) =>
    `${pattern}\n${Object.entries(headers).map(([name, value]) => `  ${name}: ${value}`).join("\n")}\n`;
  return [...["/console", "/console/*"].map((pattern) => block(pattern, CONSOLE_HEADERS)), block("/openapi.json", DESCRIPTION_HEADERS)].join("\n");
}
