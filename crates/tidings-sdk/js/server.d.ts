/** Options of {@link signSubscriberToken}. */
export interface SignSubscriberTokenOptions {
  /** The environment's subscriber signing secret (never send it to a browser). */
  signingSecret: string;
  /** The environment name, e.g. `production`. */
  environment: string;
  /** The subscriber the token is for. */
  subscriberId: string;
  /** Lifetime, 1 to 2,592,000 seconds (30 days; default 3,600), and at most the environment's `subscriber_token_max_ttl_seconds`. */
  ttlSeconds?: number;
  /** `write` (default) or `read` (feed and counts only). */
  scope?: "read" | "write";
  /** The signing secret's key id (`key_id` of its rotation; default `s1`). A stale id still verifies, a little slower. */
  keyId?: string;
}

/** Signs a subscriber token for `X-Subscriber-Token` / the `subscriberToken` client option. */
export declare function signSubscriberToken(options: SignSubscriberTokenOptions): string;
