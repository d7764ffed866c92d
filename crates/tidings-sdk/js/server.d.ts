// @tidings/sdk/server. The request and answer shapes come from ./wire.d.ts,
// generated from the same Rust types the worker serializes.
import type {
  Brand,
  BrandInput,
  BulkSubscribersResponse,
  BulkTriggerResponse,
  DeliveryDetail,
  DeliveryList,
  EnvironmentInfo,
  ErrorCode,
  FeedActionResponse,
  FeedChangesResponse,
  FeedCounts,
  FeedFilterInput,
  FeedResponse,
  FileInfo,
  FileList,
  Integration,
  IntegrationInput,
  IntegrationList,
  JsonValue,
  LogList,
  PreferencesInput,
  ReplayFilter,
  ReplayResult,
  SignedFileUrls,
  SignFilesRequest,
  StepInput,
  StreamTicketResponse,
  Subscriber,
  SubscriberInput,
  SubscriberList,
  TokenResponse,
  TokenRevocation,
  Topic,
  TopicList,
  TopicMemberList,
  TopicMembersResponse,
  Transaction,
  TriggerRequest,
  TriggerResponse,
  Variable,
  VariableInput,
  VariableList,
  WorkflowInput,
} from "./wire.js";

export type * from "./wire.js";

/** A stored workflow version: its definition, key, version number and times. */
export interface WorkflowResponse {
  key: string;
  version: number;
  name: string;
  description: string | null;
  tags: string[];
  category: string | null;
  payload_schema: Record<string, JsonValue> | null;
  steps: StepInput[];
  created_at: string;
  updated_at: string;
}

/** `GET /v1/workflows` and `…/versions`. */
export interface WorkflowList {
  items: WorkflowResponse[];
}

/** Every rejection of `@tidings/sdk/server`. */
export declare class TidingsError extends Error {
  name: "TidingsError";
  /** The API's stable code, or `network_error`, `unexpected_response`, `invalid_options`. */
  code: ErrorCode;
  /** The HTTP status, when the API answered. */
  status?: number;
  /** The request field at fault. */
  field?: string;
  /** Structured particulars (e.g. `missing_scope` of `key_scope_insufficient`). */
  details?: unknown;
  /** Seconds the API asked to wait (`Retry-After`). */
  retryAfter?: number;
}

/** Options of {@link TidingsServer}. */
export interface TidingsServerOptions {
  /** A secret key of the environment (`sk_…`). Never send it to a browser. */
  secretKey: string;
  /** The worker's URL, e.g. `https://tidings.example.workers.dev`. */
  apiUrl: string;
  /** A `fetch` to use instead of the global one. */
  fetch?: typeof fetch;
  /** Extra attempts after a retryable failure (default 3; a whole number ≥ 0). */
  maxRetries?: number;
  /** A `Retry-After` longer than this is not waited out (default 30). */
  maxRetryDelaySeconds?: number;
  /** First backoff step without `Retry-After`, doubled per attempt (default 250 ms). */
  baseRetryDelayMs?: number;
}

/** Per-call options of a trigger. */
export interface TriggerOptions {
  /** Up to 255 printable characters; default: a fresh UUID per call (retries of that call reuse it). */
  idempotencyKey?: string;
}

/** A file's bytes as the API answered them. */
export interface FileBody {
  body: Uint8Array;
  contentType: string;
}

/** Query of feed reads with a secret key. */
export type FeedQuery = Omit<FeedFilterInput, "data"> & { limit?: number; after?: string; before?: string };

/**
 * A client for one environment's secret-key API. Rejections are
 * {@link TidingsError}s. 429, 409 `request_in_progress`, and 503 or a lost
 * answer (when repeating cannot act twice: not creates, replays or saving a
 * workflow, which makes a version) are retried, honouring `Retry-After`.
 */
export declare class TidingsServer {
  constructor(options: TidingsServerOptions);
  /** Triggers a workflow; resolves once every message is stored (202). */
  trigger(event: TriggerRequest, options?: TriggerOptions): Promise<TriggerResponse>;
  /** Up to 100 triggers in one request. */
  triggerBulk(events: TriggerRequest[], options?: TriggerOptions): Promise<BulkTriggerResponse>;
  /** The environment the key belongs to. */
  environment(): Promise<EnvironmentInfo>;
  subscribers: {
    list(query?: { limit?: number; after?: string }): Promise<SubscriberList>;
    get(subscriberId: string): Promise<Subscriber>;
    upsert(subscriberId: string, profile?: SubscriberInput): Promise<Subscriber>;
    bulkUpsert(subscribers: SubscriberInput[]): Promise<BulkSubscribersResponse>;
    delete(subscriberId: string): Promise<{ subscriber_id: string; deleted: true }>;
    getPreferences(subscriberId: string): Promise<PreferencesInput>;
    updatePreferences(subscriberId: string, patch: PreferencesInput): Promise<PreferencesInput>;
    /** Mints a subscriber token through the API. */
    mintToken(subscriberId: string, options?: { ttlSeconds?: number; scope?: "read" | "write" }): Promise<TokenResponse>;
    /** Revokes every token issued for the subscriber so far. */
    revokeTokens(subscriberId: string): Promise<TokenRevocation>;
  };
  /** A subscriber's feed, read and changed with the secret key. */
  feed: {
    list(subscriberId: string, query?: FeedQuery): Promise<FeedResponse>;
    /** Counts for one filter, or for up to 10 at once with `{ filters: [...] }` (then `{ results }`, in order). */
    counts(subscriberId: string, query?: Omit<FeedFilterInput, "data">): Promise<FeedCounts>;
    counts(subscriberId: string, query: { filters: FeedFilterInput[] }): Promise<{ results: FeedCounts[] }>;
    changes(subscriberId: string, since: string, query?: Omit<FeedQuery, "after" | "before">): Promise<FeedChangesResponse>;
    /** Applied once: always sent with an `Idempotency-Key` (yours, or a fresh one). */
    act(subscriberId: string, action: { action: string; ids?: string[]; filter?: FeedFilterInput }, options?: { idempotencyKey?: string }): Promise<FeedActionResponse>;
    streamTicket(subscriberId: string): Promise<StreamTicketResponse>;
  };
  workflows: {
    list(): Promise<WorkflowList>;
    get(key: string): Promise<WorkflowResponse>;
    create(input: WorkflowInput): Promise<WorkflowResponse>;
    save(key: string, input: WorkflowInput): Promise<WorkflowResponse>;
    delete(key: string): Promise<{ key: string; deleted: true }>;
    versions(key: string): Promise<WorkflowList>;
  };
  variables: {
    list(): Promise<VariableList>;
    get(name: string): Promise<Variable>;
    put(name: string, input: VariableInput): Promise<Variable>;
    delete(name: string): Promise<{ name: string; deleted: true }>;
  };
  integrations: {
    list(): Promise<IntegrationList>;
    get(id: string): Promise<Integration>;
    create(input: IntegrationInput): Promise<Integration>;
    save(id: string, input: IntegrationInput): Promise<Integration>;
    delete(id: string): Promise<{ id: string; deleted: true }>;
  };
  preferences: {
    getDefaults(): Promise<PreferencesInput>;
    putDefaults(preferences: PreferencesInput): Promise<PreferencesInput>;
  };
  brand: {
    get(): Promise<Brand>;
    put(input: BrandInput): Promise<Brand>;
    getLogo(): Promise<FileBody>;
    putLogo(bytes: Uint8Array, contentType: string): Promise<Brand>;
  };
  logs: {
    list(query?: { limit?: number; after?: string; workflow?: string; subscriber_id?: string; transaction_id?: string; status?: string; since?: string; until?: string }): Promise<LogList>;
  };
  deliveries: {
    list(query?: { limit?: number; after?: string; status?: string; integration?: string; workflow?: string; since?: string }): Promise<DeliveryList>;
    get(id: string): Promise<DeliveryDetail>;
    replay(id: string): Promise<ReplayResult>;
    replayMany(filter?: ReplayFilter): Promise<ReplayResult>;
  };
  files: {
    list(query?: { prefix?: string; after?: string; limit?: number }): Promise<FileList>;
    signUrls(request: SignFilesRequest): Promise<SignedFileUrls>;
    put(path: string, bytes: Uint8Array, contentType: string): Promise<FileInfo>;
    get(path: string): Promise<FileBody>;
    delete(path: string): Promise<{ path: string; deleted: true }>;
  };
  /** Topics: groups of subscribers a trigger can address (`to: [{ topic: key }]`). */
  topics: {
    list(query?: { limit?: number; after?: string }): Promise<TopicList>;
    get(key: string): Promise<Topic>;
    put(key: string, input?: { name?: string | null }): Promise<Topic>;
    delete(key: string): Promise<{ key: string; deleted: true }>;
    members(key: string, query?: { limit?: number; after?: string }): Promise<TopicMemberList>;
    /** 1 to 1,000 ids; unknown ones become empty subscribers. */
    addMembers(key: string, subscriberIds: string[]): Promise<TopicMembersResponse>;
    removeMembers(key: string, subscriberIds: string[]): Promise<TopicMembersResponse>;
  };
  /** Where a trigger stands: a fan-out to topics runs until every page is written. */
  transactions: {
    get(transactionId: string): Promise<Transaction>;
  };
  /** Calls any secret-key operation by its openapi.json `operationId`. */
  request(
    operationId: string,
    options?: {
      params?: Record<string, string>;
      query?: Record<string, unknown>;
      body?: unknown;
      contentType?: string;
      idempotencyKey?: string;
      headers?: Record<string, string>;
    },
  ): Promise<unknown>;
}

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
  /** `write` (default) or `read` (feed, counts and preferences; changes nothing). */
  scope?: "read" | "write";
  /** The signing secret's key id (`key_id` of its rotation; default `s1`). A stale id still verifies, a little slower. */
  keyId?: string;
  /** Issue time in milliseconds since the epoch (default: now). */
  now?: number;
}

/** Signs a subscriber token for `X-Subscriber-Token` / the `subscriberToken` client option. */
export declare function signSubscriberToken(options: SignSubscriberTokenOptions): string;

/** The subscriber hash for `X-Subscriber-Hash` (hex HMAC-SHA256 of the id under the secret's ASCII). */
export declare function subscriberHash(signingSecret: string, subscriberId: string): string;

/** Options of {@link verifyWebhook}. */
export interface VerifyWebhookOptions {
  /** The raw request body, exactly as received. */
  body: string | Uint8Array;
  /** The `Tidings-Signature` header (`t=…,v1=…`), or null when absent. */
  signature: string | null | undefined;
  /** The integration's signing secret. */
  secret: string;
  /** How far the signature's time may be from now (default 300 seconds). */
  toleranceSeconds?: number;
  /** Now, in milliseconds (default: `Date.now()`). */
  now?: number;
}

/** Whether a webhook request is signed by Tidings with `secret`, recently; compared in constant time. */
export declare function verifyWebhook(options: VerifyWebhookOptions): boolean;

/** The `Tidings-Signature` Tidings would send for `body` at `timestamp` (Unix seconds), to test handlers. */
export declare function signWebhook(options: { body: string | Uint8Array; secret: string; timestamp: number }): string;
