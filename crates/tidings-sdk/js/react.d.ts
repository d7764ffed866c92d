// Types of @tidings/sdk/react.
import type { ReactElement, ReactNode } from "react";
import type { InboxProperties } from "./elements.js";
import type {
  Feed,
  FeedCounts,
  FeedFilter,
  LiveState,
  Preferences,
  Session,
  TidingsError,
  TidingsOptions,
  ViewOptions,
} from "./index.js";

export interface TidingsProviderProps extends TidingsOptions {
  children?: ReactNode;
}

/** Connects to one subscriber's feed for the components inside it. */
export declare function TidingsProvider(props: TidingsProviderProps): ReactElement;

/** The provider's session (null while it connects) and why it could not connect. */
export declare function useTidings(): { session: Session | null; error: TidingsError | null };

/** The feed's actions, as on `session.feed`, and `loadMore()` for the view. */
export type FeedActions = Pick<
  Feed,
  "markSeen" | "markRead" | "markUnread" | "archive" | "unarchive" | "delete" | "markAllSeen" | "markAllRead" | "archiveAll"
> & {
  /** Loads the next, older page into the view. */
  loadMore(): Promise<void>;
};

/** A live view of the feed and its actions. */
export declare function useFeed(options?: ViewOptions): LiveState & FeedActions;

/** The live counts of the feed, or of a filtered view. */
export declare function useCounts(filter?: FeedFilter): FeedCounts;

export interface PreferencesState {
  preferences: Preferences | null;
  loading: boolean;
  error: TidingsError | null;
  update(changes: Parameters<Session["preferences"]["update"]>[0]): Promise<Preferences>;
}

/** The subscriber's preferences, and how to change them. */
export declare function usePreferences(): PreferencesState;

/** Props of {@link Inbox} and {@link Bell}: the connection (or none, inside a provider) and the elements' properties. */
export interface InboxProps extends Partial<Omit<TidingsOptions, "wasmUrl">> {
  wasmUrl?: string;
  locale?: string;
  limit?: number;
  renderItem?: InboxProperties["renderItem"];
  messages?: InboxProperties["messages"];
  tabs?: InboxProperties["tabs"];
  className?: string;
  style?: import("react").CSSProperties;
  id?: string;
}

/** The `<tidings-inbox>` custom element as a React component. */
export declare function Inbox(props: InboxProps): ReactElement;
/** The `<tidings-bell>` custom element as a React component. */
export declare function Bell(props: InboxProps): ReactElement;
