// Subscriber tokens that renew themselves. With `getSubscriberToken`, a
// session asks the app for a fresh token shortly before the current one
// expires and whenever the API answers `subscriber_credential_expired`,
// swaps it in without dropping views or the socket, and sends the refused
// request once more.

const LONGEST_TIMER_MS = 2 ** 31 - 1;

/** The claims of an `st2.` token (`sub`, `env`, `iat`, `exp`, …), or null when it cannot be read. */
export function tokenClaims(token) {
  try {
    return JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  } catch {
    return null;
  }
}

/** A token's lifetime in milliseconds (`exp - iat`, the server's clock), or null. */
export function tokenLifetime(token) {
  const claims = tokenClaims(token);
  const lifetime = (claims?.exp - claims?.iat) * 1000;
  return Number.isFinite(lifetime) && lifetime > 0 ? lifetime : null;
}

/** Never renew sooner than this after a token arrives, whatever it says. */
export const MIN_RENEWAL_MS = 1_000;

/**
 * When to ask for the next token, in milliseconds after this one arrived:
 * a minute before its lifetime ends, or at 80 % of a shorter lifetime. It is
 * measured from arrival, not from `exp` against this device's clock, so a
 * clock that is off (or a token that arrives already stale) never makes
 * renewals run back to back.
 */
export function renewalDelay(lifetime) {
  return Math.max(MIN_RENEWAL_MS, lifetime - Math.min(60_000, lifetime * 0.2));
}

const failure = (message) => Object.assign(new Error(message), { name: "TidingsError", code: "subscriber_credential_expired" });

/** A wasm client whose subscriber token is renewed through `getSubscriberToken`. */
export class RenewingClient {
  #make;
  #options;
  #getToken;
  #client;
  #renewing = null;
  #timer = null;
  #closed = false;
  #token;

  /** `make(options)` builds a wasm client; `options.subscriberToken` may be absent (then asked for first). */
  static async create(make, options, getToken) {
    const renewing = new RenewingClient(make, options, getToken);
    if (options.subscriberToken === undefined) await renewing.renew();
    else renewing.#use(options.subscriberToken);
    return renewing;
  }

  constructor(make, options, getToken) {
    this.#make = make;
    this.#options = options;
    this.#getToken = getToken;
  }

  get subscriberId() {
    return this.#client.subscriberId;
  }

  get environmentName() {
    return this.#client.environmentName;
  }

  /** Asks the app for a token now (once, however many requests wait on it) and uses it. */
  renew() {
    this.#renewing ??= (async () => {
      let token;
      try {
        token = await this.#getToken();
      } catch (error) {
        throw Object.assign(failure(`getSubscriberToken failed: ${error?.message ?? error}`), { cause: error });
      }
      if (typeof token !== "string" || token === "") throw failure("getSubscriberToken must resolve to a subscriber token");
      this.#use(token);
    })().finally(() => {
      this.#renewing = null;
    });
    return this.#renewing;
  }

  /** Stops renewing. */
  close() {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  /** The token in use. */
  get token() {
    return this.#token;
  }

  #use(token) {
    // Throws a TidingsError (invalid_options) for an unusable token, as connecting would.
    this.#client = this.#make({ ...this.#options, subscriberToken: token });
    this.#token = token;
    clearTimeout(this.#timer);
    const lifetime = tokenLifetime(token);
    if (this.#closed || lifetime === null) return;
    const renewAt = Date.now() + renewalDelay(lifetime);
    const wake = () => {
      if (this.#closed) return;
      // Timers cannot wait past ~24.8 days: wake, then wait again.
      if (Date.now() < renewAt) return this.#arm(wake, renewAt - Date.now());
      // A failed early renewal is not an error yet: the next refused request asks again.
      this.renew().catch(() => {});
    };
    this.#arm(wake, renewAt - Date.now());
  }

  #arm(wake, delay) {
    this.#timer = setTimeout(wake, Math.min(Math.max(0, delay), LONGEST_TIMER_MS));
    this.#timer?.unref?.();
  }

  // The wasm client's requests, each through #send (renewal and one resend).
  static {
    for (const name of ["environment", "feed", "changes", "counts", "preferences", "updatePreferences", "act", "streamUrl"]) {
      this.prototype[name] = function (...args) {
        return this.#send(name, args);
      };
    }
  }

  async #send(name, args) {
    if (this.#renewing) await this.#renewing.catch(() => {});
    const client = this.#client;
    try {
      return await client[name](...args);
    } catch (error) {
      if (error?.code !== "subscriber_credential_expired" || this.#closed) throw error;
      // Another request may have renewed meanwhile; otherwise ask now.
      if (this.#client === client) await this.renew();
      return this.#client[name](...args);
    }
  }
}
