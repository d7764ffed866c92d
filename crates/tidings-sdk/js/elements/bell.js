// <tidings-bell>: a bell with the unread count that opens the inbox in a
// popover (a modal dialog: focus stays inside, Escape or a click outside
// closes it and focus returns to the bell).
import { ElementSession, upgradeProperties } from "./connection.js";
import { h, TidingsInbox, validLocale } from "./inbox.js";
import { messagesFor } from "./messages.js";
import { BELL_STYLE } from "./style.js";

const Base = globalThis.HTMLElement ?? class {};
const SVG = "http://www.w3.org/2000/svg";
const ICON = "M12 22a2.5 2.5 0 0 0 2.5-2.5h-5A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3a1.5 1.5 0 0 0-3 0v1.16A7 7 0 0 0 5 11v5l-2 2v1h18v-1Z";

function icon() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("fill", "currentColor");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICON);
  svg.append(path);
  return svg;
}

/**
 * `<tidings-bell>` takes the attributes and properties of `<tidings-inbox>`
 * and shares one session with the inbox it opens.
 */
export class TidingsBell extends Base {
  static observedAttributes = TidingsInbox.observedAttributes;
  #root;
  #connection = new ElementSession();
  #counts = null;
  #unread = 0;
  #open = false;
  #inbox = null;
  #properties = {};

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: "open" });
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
    if (callback === this.#properties.getSubscriberToken) return;
    this.#properties.getSubscriberToken = callback;
    // A session this element opened (or is opening) was made without it: open it again.
    if (this.#connection.own || this.#connection.current === null) {
      this.#dropSession();
      if (this.isConnected) this.#restart();
    }
  }

  set renderItem(render) {
    this.#set("renderItem", render);
  }

  set messages(overrides) {
    this.#set("messages", overrides);
    this.#render();
  }

  set tabs(tabs) {
    this.#set("tabs", tabs);
  }

  /** Whether the popover is open. */
  get open() {
    return this.#open;
  }

  connectedCallback() {
    upgradeProperties(this);
    this.#render();
    if (!this.#counts) this.#restart();
    document.addEventListener("pointerdown", this.#outside, true);
  }

  disconnectedCallback() {
    // A connection still under way is abandoned.
    this.#connection.abandon();
    document.removeEventListener("pointerdown", this.#outside, true);
    if (this.#connection.own) this.#dropSession();
    this.#counts?.close();
    this.#counts = null;
  }

  attributeChangedCallback(name, before, after) {
    if (before === after) return;
    // Another user, key or token: nothing of the previous session stays, not even the count.
    if (this.#connection.own && name !== "locale" && name !== "limit") this.#dropSession();
    if (this.isConnected) this.#restart();
  }

  /** Closes the session if this element opened it, forgets it, and clears the badge and the inbox. */
  #dropSession() {
    this.#counts?.close();
    this.#counts = null;
    this.#connection.drop();
    this.#unread = 0;
    if (this.#inbox) this.#inbox.session = null;
    if (this.#root.querySelector(".bell")) this.#render();
  }

  /** Opens the popover and focuses the inbox. */
  show() {
    if (this.#open) return;
    this.#open = true;
    this.#render();
    requestAnimationFrame(() => this.#inbox?.focus());
  }

  /** Closes the popover; focus returns to the bell. */
  hide() {
    if (!this.#open) return;
    this.#open = false;
    this.#render();
    this.#root.querySelector(".bell")?.focus();
  }

  #set(name, value) {
    this.#properties[name] = value;
    if (this.#inbox) this.#inbox[name] = value;
  }

  #outside = (event) => {
    if (this.#open && !event.composedPath().includes(this)) this.hide();
  };

  async #restart() {
    this.#counts?.close();
    this.#counts = null;
    const attempt = this.#connection.begin();
    try {
      const session = await this.#connection.open(this, this.#properties.getSubscriberToken, attempt);
      if (!session) return;
      if (this.#inbox) this.#inbox.session = session;
      // The smallest live view: its counts are the badge.
      let known = null;
      this.#counts = session.feed.subscribe((state) => {
        if (!this.#connection.isCurrent(attempt)) return;
        this.#unread = state.counts.unread;
        this.#render();
        // Closed, the inbox (and its live region) is hidden: the bell announces arrivals itself.
        const newest = state.items[0]?.id ?? null;
        if (known && newest && newest > known.id && !this.#open) {
          const fresh = Math.max(1, state.counts.total - known.total);
          this.#root.querySelector(".announce").textContent = this.#messages().newNotifications(fresh);
        }
        if (newest && (!known || newest > known.id)) known = { id: newest, total: state.counts.total };
      }, { limit: 1 });
    } catch {
      // The inbox shows the error when opened.
    }
  }

  #messages() {
    return messagesFor(validLocale(this.getAttribute("locale") ?? document.documentElement.lang), this.#properties.messages);
  }

  #render() {
    const m = this.#messages();
    if (!this.#inbox) {
      this.#inbox = new TidingsInbox();
      this.#inbox.setAttribute("part", "inbox");
      for (const [name, value] of Object.entries(this.#properties)) if (name !== "getSubscriberToken") this.#inbox[name] = value;
    }
    for (const name of ["locale", "limit"]) {
      const value = this.getAttribute(name);
      if (value === null) this.#inbox.removeAttribute(name);
      else if (this.#inbox.getAttribute(name) !== value) this.#inbox.setAttribute(name, value);
    }
    const session = this.#connection.current;
    if (session && this.#inbox.session !== session) this.#inbox.session = session;
    let style = this.#root.querySelector("style");
    if (!style) {
      style = h("style", {}, BELL_STYLE);
      const button = h("button", { type: "button", class: "bell", part: "bell", "aria-haspopup": "dialog", onclick: () => (this.#open ? this.hide() : this.show()) });
      const popover = h("div", { class: "popover", part: "popover", role: "dialog", "aria-modal": "true" }, this.#inbox);
      popover.addEventListener("keydown", (event) => this.#trap(event));
      this.#root.append(style, button, h("div", { class: "announce visually-hidden", role: "status", "aria-live": "polite" }), popover);
    }
    const button = this.#root.querySelector(".bell");
    button.setAttribute("aria-label", m.bell(this.#unread));
    button.setAttribute("aria-expanded", String(this.#open));
    button.replaceChildren(
      icon(),
      this.#unread > 0 ? h("span", { class: "count", part: "badge", "aria-hidden": "true" }, this.#unread > 99 ? "99+" : String(this.#unread)) : "",
    );
    const popover = this.#root.querySelector(".popover");
    popover.setAttribute("aria-label", m.title);
    popover.hidden = !this.#open;
  }

  /** Escape closes; Tab and Shift+Tab cycle inside the popover. */
  #trap(event) {
    if (event.key === "Escape") {
      event.preventDefault();
      return this.hide();
    }
    if (event.key !== "Tab") return;
    const focusables = this.#inbox.focusables();
    if (focusables.length === 0) return;
    const active = this.#inbox.shadowRoot.activeElement;
    const [first, last] = [focusables[0], focusables.at(-1)];
    if (event.shiftKey && (active === first || !active)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first.focus();
    }
  }
}
