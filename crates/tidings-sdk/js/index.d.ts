// Types of @tidings/sdk. The API's shapes (FeedItem, FeedCounts, …) are
// generated from the Rust wire types into ./wire.d.ts; this file describes
// the package's own surface.
import type {
  ChannelSettings,
  EnvironmentInfo,
  ErrorCode,
  FeedActionResponse,
  FeedChangesResponse,
  FeedCounts,
  FeedFilterInput,
  FeedItem,
  FeedResponse,
  PreferencesInput,
} from "./wire.js";

export type {
  ActionInput,
  ChannelSettings,
  EnvironmentInfo,
  ErrorBody,
  ErrorCode,
  ErrorDetail,
  FeedActionResponse,
  FeedChange,
  FeedChangesResponse,
  FeedCounts,
  FeedFilterInput,
  FeedItem,
  FeedResponse,
  PageInfo,
  PreferencesInput,
  RemovalReason,
} from "./wire.js";

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
  /**
   * Asks your server for a fresh subscriber token. The session calls it
   * before the current token expires (a minute ahead, or at 80 % of a
   * shorter lifetime), when the API answers `subscriber_credential_expired`
   * (then the refused request is sent once more), and at connect when no
   * `subscriberToken` is given. Views and the realtime socket carry on.
   */
  getSubscriberToken?: () => Promise<string>;
  /** Where to load the SDK's `.wasm` from, if not next to the package's JS. */
  wasmUrl?: string | URL;
}

/** Which messages: by read/seen/archive state, tags, workflow or payload fields. */
export type FeedFilter = FeedFilterInput;

/** Options of `feed.list`. */
export interface FeedOptions extends FeedFilter {
  /** Page size, 1–100 (default 20). */
  limit?: number;
  /** Older messages: `page_info.after` of the previous page. */
  after?: string;
  /** Newer messages: `page_info.before` of a later page. */
  before?: string;
}

/** Options of `feed.changes` and `feed.subscribe`: a page size and the view's filter. */
export interface ViewOptions extends FeedFilter {
  /** Changes (or, for `subscribe`, items of the first page) per request, 1–100. */
  limit?: number;
}

/** One page of a feed, newest first, with exact counts and the watermark for delta sync. */
export type FeedPage = FeedResponse;
/** What an action changed, and the feed's counts after it. */
/**
 * What an action answers: the API's `{ updated, counts }`, or, taken offline,
 * `{ queued: true }` (kept in IndexedDB, sent once the browser is online).
 */
export type ActionResult = FeedActionResponse | { updated: 0; counts: null; queued: true };
/** Channel preferences: global, and per workflow (which beat global). */
export type Preferences = PreferencesInput;

/** The realtime connection of a live view. */
/** `cached`: the view shown is this device's offline copy, until the first sync after loading. */
export type LiveStatus = "connecting" | "live" | "reconnecting" | "cached";

/** What a live view's listener receives after every change. */
export interface LiveState {
  /** The view's items, newest first. */
  items: FeedItem[];
  /** Exact counts over the whole feed. */
  counts: FeedCounts;
  /** Whether older items can be loaded with `loadMore()`. */
  hasMore: boolean;
  status: LiveStatus;
  /** The last failure (e.g. `network_error` while offline), cleared by the next success. */
  error: TidingsError | null;
}

/** A live view of the feed. */
export interface LiveFeed {
  /** Resolves when the first page is shown; rejects with a {@link TidingsError}. */
  readonly ready: Promise<void>;
  /** Loads the next, older page into the view. */
  loadMore(): Promise<void>;
  /** Catches up with the server now (it also does so on every realtime event). */
  sync(): Promise<void>;
  /** Stops listening; the shared socket closes when no tab needs it. */
  close(): void;
}

/**
 * Every rejection of the SDK is an `Error` with a stable `code`: the API's
 * code (e.g. `unknown_key`, `origin_not_allowed`,
 * `subscriber_credential_required`) or the SDK's own (`invalid_options`,
 * `network_error`, `unexpected_response`), one of the `ErrorCode` union
 * generated from the Rust type the worker, the SDK and the console share.
 */
export interface TidingsError extends Error {
  name: "TidingsError";
  code: ErrorCode;
  status?: number;
  field?: string;
}

/** The subscriber's feed. */
export interface Feed {
  list(options?: FeedOptions): Promise<FeedPage>;
  /** Delta sync: every change after `since` (a `watermark`), in order. */
  changes(since: string, options?: ViewOptions): Promise<FeedChangesResponse>;
  counts(filter?: FeedFilter): Promise<FeedCounts>;
  /**
   * Keeps `listener` up to date with a view of the feed, in real time, in every tab. Where the
   * runtime has no `WebSocket` (Node.js 20), the view loads but follows changes only on `sync()`.
   */
  subscribe(listener: (state: LiveState) => void, options?: ViewOptions): LiveFeed;
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

/** One subscriber's connection. */
export interface Session {
  readonly subscriberId: string;
  environment(): Promise<EnvironmentInfo>;
  readonly feed: Feed;
  readonly preferences: {
    get(): Promise<Preferences>;
    /** Only the settings given change; `null` removes a workflow override. */
    update(changes: { global?: ChannelSettings; workflows?: Record<string, ChannelSettings | null> }): Promise<Preferences>;
  };
  /** Closes every live view and stops renewing the token (on sign-out). */
  close(): void;
  /** Deletes this device's offline copies of views and its queued actions (on sign-out). */
  clearCache(): Promise<void>;
}

/** The low-level client behind a session. */
export declare class TidingsClient {
  constructor(options: Omit<TidingsOptions, "wasmUrl" | "getSubscriberToken">);
  readonly subscriberId: string;
  /** The environment the key names (no request). */
  readonly environmentName: string;
  environment(): Promise<EnvironmentInfo>;
  feed(options?: FeedOptions): Promise<FeedPage>;
  changes(since: string, options?: ViewOptions): Promise<FeedChangesResponse>;
  counts(filter?: FeedFilter): Promise<FeedCounts>;
  /** With `idempotencyKey`, the API applies the action once however often it is sent. */
  act(body: { action: string; ids?: string[]; filter?: FeedFilter }, idempotencyKey?: string): Promise<ActionResult>;
  preferences(): Promise<Preferences>;
  updatePreferences(changes: object): Promise<Preferences>;
  /**
   * The realtime socket's URL: the key and subscriber credential are exchanged (in headers) for a
   * one-time ticket valid 60 s, and only the ticket is in the URL. Ask again for every connection.
   */
  streamUrl(): Promise<string>;
  free(): void;
}

/** Loads the SDK once and connects. Rejects with a {@link TidingsError}. */
export declare function createTidings(options: TidingsOptions): Promise<Session>;

/** `Tidings.connect(options)`: the same as {@link createTidings}. */
export declare const Tidings: { connect(options: TidingsOptions): Promise<Session> };
