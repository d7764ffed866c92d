"use client";
// @tidings/sdk/react: React bindings. <TidingsProvider> connects one
// subscriber's session; useFeed(), useCounts() and usePreferences() keep
// components in step with it, live. React is a peer dependency.
import { createContext, createElement, useContext, useEffect, useMemo, useRef, useState } from "react";
import { createTidings } from "./index.js";

const SessionContext = createContext(null);
const EMPTY_FEED = { items: [], counts: { total: 0, unread: 0, unseen: 0 }, hasMore: false, status: "connecting", error: null };

/**
 * Connects to one subscriber's feed for the components inside it. Props:
 * the options of `Tidings.connect` (`apiUrl`, `publishableKey`,
 * `subscriberId`, `subscriberToken` or `subscriberHash`,
 * `getSubscriberToken`, `wasmUrl`). Changing any of them connects anew,
 * except a new `getSubscriberToken` function, which is simply used next time.
 */
export function TidingsProvider({ children, apiUrl, publishableKey, subscriberId, subscriberToken, subscriberHash, getSubscriberToken, wasmUrl }) {
  const [value, setValue] = useState({ session: null, error: null });
  // The latest callback, without reconnecting when the app passes a new function each render.
  const tokenSource = useRef(getSubscriberToken);
  tokenSource.current = getSubscriberToken;
  const renews = typeof getSubscriberToken === "function";
  useEffect(() => {
    let current = true;
    let opened = null;
    setValue({ session: null, error: null });
    const getToken = renews ? () => tokenSource.current() : undefined;
    createTidings({ apiUrl, publishableKey, subscriberId, subscriberToken, subscriberHash, getSubscriberToken: getToken, wasmUrl }).then(
      (session) => {
        opened = session;
        if (current) setValue({ session, error: null });
        else session.close();
      },
      (error) => current && setValue({ session: null, error }),
    );
    return () => {
      current = false;
      opened?.close();
    };
  }, [apiUrl, publishableKey, subscriberId, subscriberToken, subscriberHash, renews, String(wasmUrl ?? "")]);
  return createElement(SessionContext.Provider, { value }, children);
}

/** `{ session, error }`: the provider's session (null while it connects) and why it could not connect. */
export function useTidings() {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useTidings(), useFeed(), useCounts() and usePreferences() need a <TidingsProvider> around them");
  return value;
}

const notReady = () => Promise.reject(Object.assign(new Error("the Tidings session is still connecting"), { name: "TidingsError", code: "not_connected" }));

/**
 * A live view of the feed: `{ items, counts, hasMore, status, error }`, and
 * the feed's actions (`markRead(ids)`, `archive(ids)`, `markAllRead()`, …,
 * `loadMore()`), which show at once and are undone if the API refuses them.
 * `options`: `limit` and the filters of `feed.list` (`archived`, `read`, `tags`, …).
 */
export function useFeed(options) {
  const { session, error } = useTidings();
  const [state, setState] = useState(EMPTY_FEED);
  const live = useRef(null);
  const key = JSON.stringify(options ?? {});
  useEffect(() => {
    if (!session) return undefined;
    const view = session.feed.subscribe(setState, JSON.parse(key));
    live.current = view;
    return () => {
      live.current = null;
      view.close();
      setState(EMPTY_FEED);
    };
  }, [session, key]);
  const actions = useMemo(() => {
    const feed = session?.feed;
    const act = (name) => (feed ? (...args) => feed[name](...args) : notReady);
    return {
      markSeen: act("markSeen"),
      markRead: act("markRead"),
      markUnread: act("markUnread"),
      archive: act("archive"),
      unarchive: act("unarchive"),
      delete: act("delete"),
      markAllSeen: act("markAllSeen"),
      markAllRead: act("markAllRead"),
      archiveAll: act("archiveAll"),
      loadMore: () => live.current?.loadMore() ?? notReady(),
    };
  }, [session]);
  return { ...state, error: state.error ?? error, ...actions };
}

/** The live counts `{ total, unread, unseen }` of the feed (or of a filtered view). */
export function useCounts(filter) {
  const { counts } = useFeed({ ...filter, limit: 1 });
  return counts;
}

/**
 * The subscriber's preferences: `{ preferences, loading, error, update(changes) }`.
 * `update({ global: { in_app: false } })` saves and answers the new settings.
 */
export function usePreferences() {
  const { session, error: connectError } = useTidings();
  const [state, setState] = useState({ preferences: null, loading: true, error: null });
  useEffect(() => {
    if (!session) return undefined;
    let current = true;
    setState((before) => ({ ...before, loading: true }));
    session.preferences.get().then(
      (preferences) => current && setState({ preferences, loading: false, error: null }),
      (error) => current && setState({ preferences: null, loading: false, error }),
    );
    return () => {
      current = false;
    };
  }, [session]);
  const update = useMemo(
    () =>
      session
        ? async (changes) => {
            try {
              const preferences = await session.preferences.update(changes);
              setState({ preferences, loading: false, error: null });
              return preferences;
            } catch (error) {
              setState((before) => ({ ...before, error }));
              throw error;
            }
          }
        : notReady,
    [session],
  );
  return { ...state, error: state.error ?? connectError, update };
}

const ATTRIBUTES = { apiUrl: "api-url", publishableKey: "publishable-key", subscriberId: "subscriber-id", subscriberToken: "subscriber-token",
  subscriberHash: "subscriber-hash", wasmUrl: "wasm-url", locale: "locale", limit: "limit" };
const PROPERTIES = ["getSubscriberToken", "renderItem", "messages", "tabs"];

/**
 * A React component over one of the custom elements (no second
 * implementation): connection props become attributes, the others
 * properties; inside a <TidingsProvider> without connection props it shares
 * the provider's session. The elements' code loads on first use.
 */
function elementComponent(tag) {
  return function TidingsElement(props) {
    const context = useContext(SessionContext);
    const node = useRef(null);
    const [defined, setDefined] = useState(() => Boolean(globalThis.customElements?.get(tag)));
    useEffect(() => {
      if (defined) return undefined;
      let current = true;
      import("./elements.js").then(() => current && setDefined(true));
      return () => {
        current = false;
      };
    }, [defined]);
    const ownConnection = Boolean(props.apiUrl);
    const getToken = useRef(props.getSubscriberToken);
    getToken.current = props.getSubscriberToken;
    const renews = typeof props.getSubscriberToken === "function";
    useEffect(() => {
      const element = node.current;
      // Properties set before the element is defined would hide its setters.
      if (!element || !defined) return;
      // One stable callback, so a new function each render does not reconnect the element.
      const wanted = { ...Object.fromEntries(PROPERTIES.map((name) => [name, props[name]])),
        getSubscriberToken: renews ? (element.tidingsTokenSource ??= () => getToken.current()) : undefined };
      for (const [name, value] of Object.entries(wanted)) {
        if (element[`tidings:${name}`] !== value) {
          element[`tidings:${name}`] = value;
          element[name] = value;
        }
      }
      // Inside a provider: its session, and none while it has none (signed out, reconnecting).
      if (!ownConnection) element.session = context?.session ?? null;
    });
    const attributes = { ref: node, className: props.className, style: props.style, id: props.id };
    for (const [prop, attribute] of Object.entries(ATTRIBUTES)) if (props[prop] !== undefined) attributes[attribute] = String(props[prop]);
    return createElement(tag, attributes);
  };
}

/** `<Inbox />`: the `<tidings-inbox>` element. */
export const Inbox = elementComponent("tidings-inbox");
/** `<Bell />`: the `<tidings-bell>` element. */
export const Bell = elementComponent("tidings-bell");
