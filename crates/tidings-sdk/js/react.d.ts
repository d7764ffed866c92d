// Types of @tidings/sdk/react.
import type { ReactElement, ReactNode } from "react";
import type {
  ActionResult,
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

export interface FeedActions {
  markSeen(ids: string | string[]): Promise<ActionResult>;
  markRead(ids: string | string[]): Promise<ActionResult>;
  markUnread(ids: string | string[]): Promise<ActionResult>;
  archive(ids: string | string[]): Promise<ActionResult>;
  unarchive(ids: string | string[]): Promise<ActionResult>;
  delete(ids: string | string[]): Promise<ActionResult>;
  markAllSeen(filter?: FeedFilter): Promise<ActionResult>;
  markAllRead(filter?: FeedFilter): Promise<ActionResult>;
  archiveAll(filter?: FeedFilter): Promise<ActionResult>;
  /** Loads the next, older page into the view. */
  loadMore(): Promise<void>;
}

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
