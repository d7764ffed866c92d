// <tidings-inbox>: a subscriber's feed, ready to drop into any page. It
// connects from its attributes (or uses the `session` property), keeps a
// live view per tab, and renders it in its own shadow root.
import { CONNECTION, ElementSession, upgradeProperties } from "./connection.js";
import { messagesFor } from "./messages.js";
import { INBOX_STYLE } from "./style.js";

const Base = globalThis.HTMLElement ?? class {};
const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];

/** `h("li", { class: "x", onclick }, child…)`: an element; strings become text, never markup. */
export function h(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return node;
}

/** `locale` if it is a valid language tag, else undefined (the browser's). */
export function validLocale(locale) {
  try {
    return locale ? Intl.getCanonicalLocales(locale)[0] : undefined;
  } catch {
    return undefined;
  }
}

/** "3 minutes ago", "yesterday", … in `locale`, for an ISO time. */
export function relativeTime(iso, locale, now = Date.now()) {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  const format = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return format.format(0, "second");
}

/**
 * `<tidings-inbox api-url publishable-key subscriber-id [subscriber-token]
 * [subscriber-hash] [locale] [limit]>`. Properties: `session` (share one),
 * `getSubscriberToken`, `messages`, `tabs` (extra `{ id, label, filter }`),
 * `renderItem(item)` (a Node for custom item markup).
 */
export class TidingsInbox extends Base {
  static observedAttributes = [...CONNECTION, "locale", "limit"];
  #root;
  #content;
  #live;
  #connection = new ElementSession();
  #view = null;
  #state = null;
  #tab = "all";
  #tabs = [];
  #messages = messagesFor();
  #getToken;
  #renderItem;
  #overrides;
  #error = null;
  #environment = null;
  #newestSeen = null;
  #focusedId = null;
  #timer;
  #observer;
  #loadingMore = null;
  #autoLoad = true;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: "open" });
    // The live region stays in place across renders, so screen readers hear what it says.
    this.#content = h("div", { part: "container" });
    this.#live = h("div", { class: "visually-hidden", role: "status", "aria-live": "polite" });
    this.#root.append(h("style", {}, INBOX_STYLE), this.#content, this.#live);
  }

  set session(session) {
    if (session === this.#connection.current) return;
    this.#dropSession();
    this.#connection.share(session);
    this.#restart();
  }

  get session() {
    return this.#connection.current;
  }

  set getSubscriberToken(callback) {
    if (callback === this.#getToken) return;
    this.#getToken = callback;
    // A session this element opened (or is opening) was made without it: open it again.
    if (this.#connection.own || this.#connection.current === null) {
      this.#dropSession();
      if (this.isConnected) this.#restart();
    }
  }

  set renderItem(render) {
    this.#renderItem = render;
    this.#render();
  }

  set messages(overrides) {
    this.#overrides = overrides;
    this.#render();
  }

  set tabs(tabs) {
    this.#tabs = Array.isArray(tabs) ? tabs : [];
    this.#render();
  }

  connectedCallback() {
    upgradeProperties(this);
    this.#render();
    // Relative times move on; going offline or online changes what is shown.
    this.#timer = setInterval(this.#rerender, 60_000);
    globalThis.addEventListener("online", this.#rerender);
    globalThis.addEventListener("offline", this.#rerender);
    if (!this.#view) this.#restart();
  }

  disconnectedCallback() {
    // A connection still under way is abandoned.
    this.#connection.abandon();
    clearInterval(this.#timer);
    globalThis.removeEventListener("online", this.#rerender);
    globalThis.removeEventListener("offline", this.#rerender);
    this.#observer?.disconnect();
    this.#stop();
  }

  attributeChangedCallback(name, before, after) {
    if (before === after) return;
    // Another user, key or token: nothing of the previous session stays, not even on screen.
    if (CONNECTION.includes(name) && this.#connection.own) this.#dropSession();
    if (this.isConnected) this.#restart();
  }

  /** Closes the session if this element opened it, and forgets it either way. */
  #dropSession() {
    this.#view?.close();
    this.#view = null;
    this.#connection.drop();
    this.#state = null;
    this.#environment = null;
  }

  #rerender = () => this.#render();

  /** The focusable elements, in order (for a surrounding focus trap). */
  focusables() {
    return [...this.#root.querySelectorAll("button:not([disabled]), a[href], [tabindex]")].filter((node) => node.tabIndex >= 0 && !node.closest("[hidden]"));
  }

  /** Focuses the selected tab. */
  focus() {
    this.#root.querySelector("[role=tab][aria-selected=true]")?.focus();
  }

  #stop() {
    if (this.#connection.own) this.#dropSession();
    this.#view?.close();
    this.#view = null;
  }

  async #restart() {
    this.#view?.close();
    this.#view = null;
    this.#state = null;
    this.#error = null;
    this.#newestSeen = null;
    this.#autoLoad = true;
    const attempt = this.#connection.begin();
    try {
      const session = await this.#connection.open(this, this.#getToken, attempt);
      if (!session) {
        // No complete connection (shown as such), or a later attempt took over (it renders).
        if (this.#connection.isCurrent(attempt)) this.#render();
        return;
      }
      session.environment().then((environment) => {
        // Only for the connection it was asked for: a slow answer never badges the next one.
        if (!this.#connection.isCurrent(attempt)) return;
        this.#environment = environment;
        this.#render();
      }, () => {});
      const filter = this.#filter();
      const limit = Number(this.getAttribute("limit")) || 20;
      this.#render();
      this.#view = session.feed.subscribe((state) => {
        if (this.#connection.isCurrent(attempt)) this.#update(state);
      }, { limit, ...filter });
      await this.#view.ready;
    } catch (error) {
      if (!this.#connection.isCurrent(attempt)) return;
      this.#error = error;
      this.#render();
    }
  }

  #filter() {
    if (this.#tab === "unread") return { read: false };
    if (this.#tab === "archived") return { archived: "only" };
    return this.#tabs.find((tab) => tab.id === this.#tab)?.filter ?? {};
  }

  #update(state) {
    const previous = this.#state;
    this.#state = state;
    const newest = state.items[0]?.id ?? null;
    // Announce what arrived after the first page, not the first page itself.
    if (previous && this.#newestSeen !== null && newest !== null && newest > this.#newestSeen) {
      const fresh = state.items.filter((item) => item.id > this.#newestSeen).length;
      this.#announce(this.#messages.newNotifications(fresh));
    }
    if (newest !== null && (this.#newestSeen === null || newest > this.#newestSeen)) this.#newestSeen = newest;
    this.#render();
  }

  #announce(text) {
    this.#live.textContent = text;
  }

  #act(name, ...args) {
    this.#error = null;
    this.#connection.current?.feed[name](...args).catch((error) => {
      this.#error = error;
      this.#render();
    });
  }

  #select(tab) {
    if (tab === this.#tab) return;
    this.#tab = tab;
    this.#restart();
  }

  #render() {
    if (!this.#root) return;
    const locale = validLocale(this.getAttribute("locale") ?? document.documentElement.lang);
    const m = (this.#messages = messagesFor(locale, this.#overrides));
    const state = this.#state;
    const hadFocus = this.#root.activeElement !== null;
    const focusKey = this.#root.activeElement?.dataset?.focus;
    const scrolled = this.#root.querySelector(".scroll")?.scrollTop ?? 0;
    const tabs = [{ id: "all", label: m.all }, { id: "unread", label: m.unread }, { id: "archived", label: m.archived }, ...this.#tabs];
    const environment = this.#environment && this.#environment.type !== "production" ? this.#environment.name : null;
    const offline = globalThis.navigator?.onLine === false;
    const status = state?.status;
    let note = null;
    if (this.#error ?? state?.error) note = null;
    else if (!state) note = m.loading;
    else if (state.items.length === 0) note = this.#tab === "unread" ? m.emptyUnread : this.#tab === "archived" ? m.emptyArchived : m.empty;
    const error = this.#error ?? state?.error;
    const list = h("ul", { part: "list", role: "list", "aria-label": m.title }, (state?.items ?? []).map((item, index) => this.#item(item, index, m, locale)));
    list.addEventListener("keydown", (event) => this.#moveFocus(event));
    const sentinel = h("div", { "aria-hidden": "true", "data-sentinel": true });
    const panel = h("div", { class: "scroll", part: "panel", role: "tabpanel", id: "panel", "aria-labelledby": `tab-${this.#tab}` },
      note && h("p", { class: "note", part: "empty" }, note),
      error && h("div", { class: "note", part: "error", role: "alert" }, m.error(error.code ?? "network_error"), " ",
        h("button", { type: "button", class: "link", "data-focus": "retry", onclick: () => this.#restart() }, m.retry)),
      list,
      state?.hasMore && h("button", { type: "button", class: "more", part: "button", "data-focus": "more", onclick: () => this.#loadMore(true) }, m.loadMore),
      sentinel);
    const tablist = h("div", { role: "tablist", part: "tabs", "aria-label": m.title },
      tabs.map((tab) => h("button", {
        type: "button", role: "tab", part: "tab", id: `tab-${tab.id}`, "data-focus": `tab-${tab.id}`, "aria-controls": "panel",
        "aria-selected": String(tab.id === this.#tab), tabindex: tab.id === this.#tab ? "0" : "-1", onclick: () => this.#select(tab.id),
      }, tab.label)));
    tablist.addEventListener("keydown", (event) => this.#moveTab(event, tabs));
    const unread = state?.counts.unread ?? 0;
    this.#content.replaceChildren(
        h("div", { class: "header", part: "header" },
          h("h2", { part: "title" }, m.title),
          environment && h("span", { class: "badge", part: "environment", title: m.environment(environment) }, environment),
          h("button", { type: "button", class: "link", part: "button", "data-focus": "read-all", disabled: unread === 0,
            onclick: () => this.#act("markAllRead") }, m.markAllRead)),
        tablist,
        (offline || status === "reconnecting") && state && h("p", { class: "note", part: "offline", role: "status" }, offline ? m.offline : m.reconnecting),
        panel);
    panel.scrollTop = scrolled;
    // Focus stays where it was, or, when that is gone (archived, disabled), on the selected tab.
    if (hadFocus) (focusKey && this.#root.querySelector(`[data-focus="${CSS.escape(focusKey)}"]`) || this.#root.querySelector("[role=tab][aria-selected=true]"))?.focus();
    this.#observe(sentinel, panel);
  }

  #item(item, index, m, locale) {
    const unread = !item.read_at;
    const focusable = this.#focusedId ? item.id === this.#focusedId : index === 0;
    const custom = this.#renderItem?.(item);
    const content = custom instanceof Node ? custom : h("div", { class: "content" },
      h("p", { class: "subject", part: "subject" }, item.subject),
      item.body && h("p", { class: "body", part: "body" }, item.body),
      h("time", { part: "time", datetime: item.created_at, title: new Date(item.created_at).toLocaleString(locale) }, relativeTime(item.created_at, locale)),
      item.actions?.length > 0 && h("div", { class: "actions", part: "actions" },
        item.actions.map((action) => h("a", { href: action.url, part: "action", onclick: () => unread && this.#act("markRead", item.id) }, action.label))));
    return h("li", {
      part: unread ? "item item-unread" : "item", class: unread ? "unread" : "", tabindex: focusable ? "0" : "-1",
      "data-id": item.id, "data-focus": `item-${item.id}`, "aria-label": `${unread ? `${m.unread}: ` : ""}${item.subject}`,
      onfocus: () => (this.#focusedId = item.id),
    },
    item.avatar && h("img", { src: item.avatar, alt: "", part: "avatar", loading: "lazy" }),
    content,
    h("div", { class: "controls" },
      h("button", { type: "button", part: "button", "data-focus": `read-${item.id}`, onclick: () => this.#act(unread ? "markRead" : "markUnread", item.id) },
        unread ? m.markRead : m.markUnread),
      h("button", { type: "button", part: "button", "data-focus": `archive-${item.id}`, onclick: () => this.#act(item.archived_at ? "unarchive" : "archive", item.id) },
        item.archived_at ? m.unarchive : m.archive)));
  }

  /** The next, older page, one request at a time; after a failure only on request (Retry, Load more). */
  #loadMore(requested = false) {
    if (this.#loadingMore || !this.#view || (!requested && !this.#autoLoad)) return;
    this.#loadingMore = this.#view.loadMore().catch((error) => {
      this.#autoLoad = false;
      this.#error = error;
      this.#render();
    }).finally(() => {
      this.#loadingMore = null;
    });
  }

  /** Arrow keys, Home and End move between items (one of them in the tab order). */
  #moveFocus(event) {
    const items = [...this.#root.querySelectorAll("li[data-id]")];
    const current = items.indexOf(event.target.closest("li"));
    if (current < 0 || event.target !== items[current]) return;
    const next = { ArrowDown: current + 1, ArrowUp: current - 1, Home: 0, End: items.length - 1 }[event.key];
    if (next === undefined) return;
    event.preventDefault();
    const target = items[Math.max(0, Math.min(items.length - 1, next))];
    items.forEach((item) => item.setAttribute("tabindex", item === target ? "0" : "-1"));
    this.#focusedId = target.dataset.id;
    target.focus();
    if (next >= items.length - 1 && this.#state?.hasMore) this.#loadMore();
  }

  /** Arrow keys move between tabs and select them. */
  #moveTab(event, tabs) {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    const index = (tabs.findIndex((tab) => tab.id === this.#tab) + step + tabs.length) % tabs.length;
    this.#select(tabs[index].id);
    this.#root.querySelector(`#tab-${CSS.escape(tabs[index].id)}`)?.focus();
  }

  /** Infinite scroll: the next page loads when the end of the list comes into view. */
  #observe(sentinel, panel) {
    this.#observer?.disconnect();
    if (typeof IntersectionObserver !== "function") return;
    this.#observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting) && this.#state?.hasMore) this.#loadMore();
    }, { root: panel, rootMargin: "80px" });
    this.#observer.observe(sentinel);
  }
}
