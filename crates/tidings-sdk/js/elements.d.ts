// @tidings/sdk/elements: <tidings-inbox> and <tidings-bell>.
import type { FeedItem, FeedFilter, Session } from "./index.js";

/** Every string the elements show; functions take the numbers or names they mention. */
export interface InboxMessages {
  title: string;
  all: string;
  unread: string;
  archived: string;
  markAllRead: string;
  markRead: string;
  markUnread: string;
  archive: string;
  unarchive: string;
  loadMore: string;
  loading: string;
  empty: string;
  emptyUnread: string;
  emptyArchived: string;
  offline: string;
  reconnecting: string;
  error: (code: string) => string;
  retry: string;
  close: string;
  newNotifications: (count: number) => string;
  bell: (unread: number) => string;
  environment: (name: string) => string;
}

/** The shipped locales. */
export declare const messages: { en: InboxMessages; fr: InboxMessages };

/** A tab beside all / unread / archived: the messages a filter selects. */
export interface InboxTab {
  id: string;
  label: string;
  filter: FeedFilter;
}

/** What both elements take as properties (attributes: api-url, publishable-key, subscriber-id, subscriber-token, subscriber-hash, wasm-url, locale, limit). */
export interface InboxProperties {
  /** A session to share instead of connecting from the attributes. */
  session: Session | null;
  /** Renews the subscriber token (see `TidingsOptions.getSubscriberToken`). */
  getSubscriberToken: (() => Promise<string>) | undefined;
  /** Custom markup for an item's content (the element keeps the read/archive controls). */
  renderItem: ((item: FeedItem) => Node | null | undefined) | undefined;
  /** Strings to change, on top of the locale's. */
  messages: Partial<InboxMessages> | undefined;
  /** Tabs after all / unread / archived. */
  tabs: InboxTab[];
}

/** `<tidings-inbox>`: the feed, with tabs, actions, infinite scroll, live updates. */
export declare class TidingsInbox extends HTMLElement implements InboxProperties {
  session: Session | null;
  getSubscriberToken: (() => Promise<string>) | undefined;
  renderItem: ((item: FeedItem) => Node | null | undefined) | undefined;
  messages: Partial<InboxMessages> | undefined;
  tabs: InboxTab[];
  /** The focusable elements inside, in order. */
  focusables(): HTMLElement[];
}

/** `<tidings-bell>`: the unread badge, opening the inbox in a popover. */
export declare class TidingsBell extends HTMLElement implements InboxProperties {
  session: Session | null;
  getSubscriberToken: (() => Promise<string>) | undefined;
  renderItem: ((item: FeedItem) => Node | null | undefined) | undefined;
  messages: Partial<InboxMessages> | undefined;
  tabs: InboxTab[];
  readonly open: boolean;
  show(): void;
  hide(): void;
}

declare global {
  interface HTMLElementTagNameMap {
    "tidings-inbox": TidingsInbox;
    "tidings-bell": TidingsBell;
  }
}
