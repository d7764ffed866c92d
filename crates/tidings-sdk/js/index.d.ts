// Types of @tidings/sdk. The response shapes mirror tidings_core::wire.

/** Options of {@link createTidings}. */
export interface TidingsOptions {
  /** Base URL of the Tidings API, e.g. `http://127.0.0.1:8787`. */
  apiUrl: string;
  /** The environment's publishable key (`pk_…`). Never a secret key. */
  publishableKey: string;
  /** The subscriber whose feed to show, as your app names them. */
  subscriberId: string;
  /** A subscriber token from your server (`POST /v1/subscribers/{id}/token` or `signSubscriberToken`). */
  subscriberToken?: string;
  /** Or: HMAC-SHA256 of the subscriber id, computed by your server. One credential is required outside development. */
  subscriberHash?: string;
  /** Where to load the SDK's `.wasm` from, if not next to the package's JS. */
  wasmUrl?: string | URL;
}

/** Options of `feed.list`. */
export interface FeedOptions extends FeedFilter {
  /** Page size, 1–100 (default 20). */
  limit?: number;
  /** Older messages: `page_info.after` of the previous page. */
  after?: string;
  /** Newer messages: `page_info.before` of a later page. */
  before?: string;
}

/** Which messages: by read/seen/archive state, tags, workflow or payload fields. */
export interface FeedFilter {
  read?: boolean;
  seen?: boolean;
  /** Default `exclude`. */
  archived?: "exclude" | "include" | "only";
  /** Messages carrying all of these tags. */
  tags?: string[];
  /** Messages carrying any of these tags. */
  tags_any?: string[];
  workflow?: string;
  /** Payload fields by dotted path, each equal to the value (actions and counts only). */
  data?: Record<string, string | number | boolean>;
}

/** Exact counts. */
export interface FeedCounts {
  total: number;
  unread: number;
  unseen: number;
}

/** What an action changed, and the feed's counts after it. */
export interface ActionResult {
  updated: number;
  counts: FeedCounts;
}

/** A notification in the feed. Times are RFC 3339 strings. */
export interface FeedItem {
  id: string;
  workflow: string;
  subject: string;
  body: string;
  /** Avatar URL, when the workflow sets one. */
  avatar: string | null;
  /** Up to three buttons. */
  actions: { label: string; url: string }[];
  /** The workflow's tags. */
  tags: string[];
  payload: Record<string, unknown>;
  created_at: string;
  seen_at: string | null;
  read_at: string | null;
  archived_at: string | null;
}

/** One page of a feed, newest first, with exact counts over the whole feed. */
export interface FeedPage {
  items: FeedItem[];
  page_info: { after: string | null; before: string | null; has_more: boolean };
  counts: { total: number; unread: number; unseen: number };
}

/** The environment a publishable key opens. */
export interface EnvironmentInfo {
  name: string;
  type: "development" | "staging" | "production";
  status: string;
  position: number;
  requires_subscriber_credential: boolean;
}

/**
 * Every rejection of the SDK is an `Error` with a stable `code`: the API's
 * code (e.g. `unknown_key`, `origin_not_allowed`,
 * `subscriber_credential_required`) or the SDK's own (`invalid_options`,
 * `network_error`, `unexpected_response`).
 */
export interface TidingsError extends Error {
  name: "TidingsError";
  code: string;
  status?: number;
  field?: string;
}

/** The subscriber's feed. */
export interface Feed {
  list(options?: FeedOptions): Promise<FeedPage>;
  counts(filter?: FeedFilter): Promise<FeedCounts>;
  markSeen(ids: string | string[]): Promise<ActionResult>;
  markRead(ids: string | string[]): Promise<ActionResult>;
  markUnread(ids: string | string[]): Promise<ActionResult>;
  archive(ids: string | string[]): Promise<ActionResult>;
  unarchive(ids: string | string[]): Promise<ActionResult>;
  delete(ids: string | string[]): Promise<ActionResult>;
  markAllSeen(filter?: FeedFilter): Promise<ActionResult>;
  markAllRead(filter?: FeedFilter): Promise<ActionResult>;
  archiveAll(filter?: FeedFilter): Promise<ActionResult>;
}

/** On/off per channel; unset means on (or, for a workflow, "as global"). */
export interface ChannelSettings {
  in_app?: boolean | null;
  webhook?: boolean | null;
}

/** Channel preferences: global, and per workflow (which beat global). */
export interface Preferences {
  global?: ChannelSettings;
  workflows?: Record<string, ChannelSettings>;
}

/** One subscriber's connection. */
export interface Session {
  readonly subscriberId: string;
  environment(): Promise<EnvironmentInfo>;
  readonly feed: Feed;
  readonly preferences: {
    get(): Promise<Preferences>;
    /** Only the settings given change; `null` removes a workflow override. */
    update(changes: Preferences): Promise<Preferences>;
  };
}

/** The low-level client behind a session. */
export declare class TidingsClient {
  constructor(options: Omit<TidingsOptions, "wasmUrl">);
  readonly subscriberId: string;
  environment(): Promise<EnvironmentInfo>;
  feed(options?: FeedOptions): Promise<FeedPage>;
  counts(filter?: FeedFilter): Promise<FeedCounts>;
  act(body: { action: string; ids?: string[]; filter?: FeedFilter }): Promise<ActionResult>;
  free(): void;
}

/** Loads the SDK once and connects. Rejects with a {@link TidingsError}. */
export declare function createTidings(options: TidingsOptions): Promise<Session>;

/** `Tidings.connect(options)`: the same as {@link createTidings}. */
export declare const Tidings: { connect(options: TidingsOptions): Promise<Session> };
