// The one error type of `@tidings/sdk/server`, shaped like the browser SDK's.

/**
 * An `Error` with the API's stable `code` (or the client's own:
 * `network_error`, `unexpected_response`, `invalid_options`), the HTTP
 * `status` when there was an answer, the request `field` at fault, the
 * error's structured `details`, and `retryAfter` (seconds) when the API
 * asked to wait.
 */
export class TidingsError extends Error {
  constructor({ code, message, status, field, details, retryAfter }) {
    super(message);
    this.name = "TidingsError";
    this.code = code;
    if (status !== undefined) this.status = status;
    if (field !== undefined) this.field = field;
    if (details !== undefined) this.details = details;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}
