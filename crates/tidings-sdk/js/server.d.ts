/** Options of {@link signSubscriberToken}. */
export interface SignSubscriberTokenOptions {
  /** The environment's subscriber signing secret (never send it to a browser). */
  signingSecret: string;
  /** The environment name, e.g. `production`. */
  environment: string;
  /** The subscriber the token is for. */
  subscriberId: string;
  /** Lifetime, 1–86,400 seconds (default 3,600). */
  ttlSeconds?: number;
  /** `write` (default) or `read` (feed and counts only). */
  scope?: "read" | "write";
  /** The signing secret's key id (`key_id` of its rotation; default `s1`). A stale id still verifies, a little slower. */
  keyId?: string;
}

/** Signs a subscriber token for `X-Subscriber-Token` / the `subscriberToken` client option. */
export declare function signSubscriberToken(options: SignSubscriberTokenOptions): string;
