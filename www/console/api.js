// The console's calls to the Tidings API, on the console's own origin,
// with the member's personal access token (kept for this tab only).

const TOKEN = "tidings.console.token";

/** An API error: HTTP status, stable `code`, `message`, and `field`/`details` when the API gives them. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error.message ?? `request failed with ${status}`);
    this.status = status;
    this.code = error.code ?? "unknown";
    this.field = error.field;
    this.details = error.details;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN),
  set: (value) => sessionStorage.setItem(TOKEN, value),
  clear: () => sessionStorage.removeItem(TOKEN),
};

/** How long a read may take before it fails as unreachable (a write is never given up on: it may have happened). */
const READ_TIMEOUT_MS = 15_000;

/** Calls the API; resolves with the parsed body, rejects with an ApiError. */
export async function api(path, { method = "GET", body } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      signal: method === "GET" ? AbortSignal.timeout(READ_TIMEOUT_MS) : undefined,
      headers: {
        Authorization: `Bearer ${token.get() ?? ""}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, { code: "network_error", message: `the API could not be reached: ${error.message}` });
  }
  const parsed = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, parsed.error ?? {});
  return parsed;
}
