// The live feed: a local copy of one view of the feed, kept exact by delta
// sync, woken by one realtime socket per origin, and changed optimistically.
//
// One tab of an origin holds the subscriber's socket (the Web Lock
// `tidings:<environment>:<subscriber>`); it relays each `changed` event to the
// other tabs over a BroadcastChannel of the same name. Every tab then reads
// `…/feed/changes` from its own watermark, so each tab's items and counts are
// exact whatever it missed. When the holding tab closes, the lock passes to
// another tab, which opens the socket and catches up.

/** The offline store, loaded on first use: its own chunk in an app's bundle. */
let store;
const NO_STORE = { readView: async () => null, writeView: async () => {}, queueAction: async () => null,
  queuedActions: async () => [], removeAction: async () => {}, clearOwner: async () => {} };
/** The offline store; where its chunk cannot load (a deploy replaced it), a store that keeps nothing, for now. */
export const offlineStore = () => (store ??= import("./offline.js").catch(() => {
  store = undefined;
  return NO_STORE;
}));

const BACKOFF_MS = [500, 1000, 2000, 5000, 10000, 30000];
const newestFirst = (a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** One shared socket per origin and subscriber, with its listeners in this tab. */
class Relay {
  #client;
  #name;
  #channel;
  #listeners = new Set();
  #socket = null;
  #attempt = 0;
  #release = null;
  #closed = false;
  #connecting = false;
  status = "connecting";

  constructor(client) {
    this.#client = client;
    this.#name = `tidings:${client.environmentName}:${client.subscriberId}`;
    this.#channel = typeof BroadcastChannel === "function" ? new BroadcastChannel(this.#name) : null;
    this.#channel?.addEventListener("message", (event) => {
      // A tab that just opened asks how the shared socket is doing; the holder answers.
      if (event.data.type === "hello") {
        if (this.#socket) this.#channel.postMessage({ type: "status", status: this.status });
        return;
      }
      this.#emit(event.data);
    });
    this.#channel?.postMessage({ type: "hello" });
    // One socket across tabs only where its events can reach them: without BroadcastChannel,
    // a socket of this view's own.
    if (globalThis.navigator?.locks && this.#channel) {
      navigator.locks.request(this.#name, () => new Promise((release) => {
        this.#release = release;
        if (this.#closed) return release();
        this.#connect();
      }));
    } else {
      this.#connect();
    }
    globalThis.addEventListener?.("online", this.#online);
  }

  /** `listener({ type })`: `changed` on every committed change, `status` when the connection changes. */
  listen(listener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close() {
    this.#closed = true;
    globalThis.removeEventListener?.("online", this.#online);
    this.#socket?.close();
    this.#release?.();
    this.#channel?.close();
  }

  #online = () => {
    // Back online: reconnect now rather than at the end of the backoff, and let every tab catch up.
    this.#attempt = 0;
    if (this.#release && !this.#socket && !this.#connecting) this.#connect();
    this.#broadcast({ type: "changed" });
  };

  async #connect() {
    if (this.#closed || this.#connecting) return;
    // A runtime without WebSocket (Node.js 20): views load and sync() on demand, with no socket.
    if (typeof WebSocket !== "function") return;
    // Each connection exchanges the credentials for a one-time ticket first: no credential in the URL.
    this.#connecting = true;
    let url;
    try {
      url = await this.#client.streamUrl();
    } catch {
      url = null;
    } finally {
      this.#connecting = false;
    }
    if (this.#closed) return;
    if (!url) return this.#retry();
    const socket = new WebSocket(url);
    this.#socket = socket;
    let ping;
    let ended = false;
    // Once: the hub's "closed" message (its credentials ended) or the close event, whichever comes first.
    const end = () => {
      if (ended) return;
      ended = true;
      clearInterval(ping);
      if (this.#socket === socket) this.#socket = null;
      if (!this.#closed) this.#retry();
    };
    socket.addEventListener("message", (event) => {
      if (event.data === "pong") return;
      const { type, reason } = JSON.parse(event.data);
      if (type === "closed") {
        socket.close();
        // Replaced by the subscriber's newest socket (more than the hub keeps): wait longest before
        // asking again, so devices past the limit do not take turns closing each other.
        if (reason === "replaced") this.#attempt = BACKOFF_MS.length - 1;
        return end();
      }
      if (type === "ready") {
        this.#attempt = 0;
        ping = setInterval(() => socket.readyState === 1 && socket.send("ping"), 25000);
        this.#broadcast({ type: "status", status: "live" });
      }
      // Ready too: whatever happened while the socket was away is caught up now.
      this.#broadcast({ type: "changed" });
    });
    socket.addEventListener("close", end);
  }

  #retry() {
    this.#broadcast({ type: "status", status: "reconnecting" });
    const wait = BACKOFF_MS[Math.min(this.#attempt, BACKOFF_MS.length - 1)] * (0.75 + Math.random() / 2);
    this.#attempt += 1;
    setTimeout(() => this.#socket || this.#connect(), wait);
  }

  #broadcast(event) {
    this.#channel?.postMessage(event);
    this.#emit(event);
  }

  #emit(event) {
    if (event.type === "status") this.status = event.status;
    for (const listener of this.#listeners) listener(event);
  }
}

/**
 * A live view: `{ items, counts, hasMore, status, error }`, newest first,
 * passed to `listener` after every change. Actions made through the feed
 * show at once and are undone if the API refuses them.
 */
export class LiveFeed {
  #client;
  #filter;
  #limit;
  #relay;
  #listener;
  #watermark = null;
  #syncing = null;
  #again = false;
  // Advanced by every optimistic change, so sync answers read before it are not applied over it.
  #epoch = 0;
  // Optimistic changes not yet answered by the API.
  #pending = 0;
  #stop;
  state = { items: [], counts: { total: 0, unread: 0, unseen: 0 }, hasMore: false, status: "connecting", error: null };
  #after = null;
  // Where this view is cached ({ owner, view }), and whether what is shown is only the cache.
  #cache;
  #cachedOnly = false;
  #saving = null;
  #closed = false;

  constructor(client, listener, { limit = 20, ...filter } = {}, cache = null) {
    this.#client = client;
    this.#listener = listener;
    this.#filter = filter;
    this.#limit = limit;
    this.#cache = cache && { owner: cache.owner, view: JSON.stringify([limit, Object.entries(filter).sort()]) };
    this.#relay = new Relay(client);
    this.#stop = this.#relay.listen((event) => {
      // Before the first page or the cache is shown there is no view to report on.
      if (event.type === "status") {
        if (this.#watermark !== null) this.#publish({ status: this.#cachedOnly ? "cached" : event.status });
      }
      else this.sync();
    });
    this.ready = this.#start();
  }

  /** Shows the cached view at once when there is one, then catches up by delta sync; else loads the first page. */
  async #start() {
    const cached = this.#cache && (await (await offlineStore()).readView(this.#cache.owner, this.#cache.view));
    if (!cached) return this.#load();
    this.#watermark = cached.watermark;
    this.#after = cached.after;
    this.#cachedOnly = true;
    this.#publish({ items: cached.items, counts: cached.counts, hasMore: cached.hasMore, error: null, status: "cached" });
    this.sync();
  }

  async #load() {
    try {
      const page = await this.#client.feed({ ...this.#filter, limit: this.#limit });
      this.#watermark = page.watermark;
      this.#after = page.page_info.after;
      this.#cachedOnly = false;
      this.#publish({ items: page.items, counts: page.counts, hasMore: page.page_info.has_more, error: null,
        status: this.#relay.status });
    } catch (error) {
      this.#publish({ error });
      throw error;
    }
  }

  /** Loads the next, older page into the view (infinite scroll). */
  async loadMore() {
    if (!this.#after) return;
    const page = await this.#client.feed({ ...this.#filter, limit: this.#limit, after: this.#after });
    this.#after = page.page_info.after;
    const known = new Set(this.state.items.map((item) => item.id));
    const items = [...this.state.items, ...page.items.filter((item) => !known.has(item.id))];
    this.#publish({ items, counts: page.counts, hasMore: page.page_info.has_more });
  }

  /** Catches up with every change since the last one seen (runs one at a time). */
  async sync() {
    if (this.#watermark === null) return;
    if (this.#syncing) {
      this.#again = true;
      return this.#syncing;
    }
    this.#syncing = (async () => {
      try {
        do {
          this.#again = false;
          let page;
          do {
            const epoch = this.#epoch;
            page = await this.#client.changes(this.#watermark, this.#filter);
            // While an action is shown but not answered, the server lags the view: settle() syncs after it.
            if (this.#pending > 0) {
              this.#again = false;
              break;
            }
            // An action shown meanwhile makes this answer stale: ask again rather than undo it.
            if (epoch !== this.#epoch) {
              this.#again = true;
              break;
            }
            this.#apply(page.changes);
            this.#watermark = page.watermark;
            const { counts, error } = this.state;
            const same = error === null && ["total", "unread", "unseen"].every((name) => counts[name] === page.counts[name]);
            if (!same) this.#publish({ counts: page.counts, error: null });
          } while (page.has_more);
        } while (this.#again);
        if (this.#cachedOnly) {
          this.#cachedOnly = false;
          this.#publish({ status: this.#relay.status });
        }
      } catch (error) {
        if (error.code === "watermark_expired") await this.#load().catch(() => {});
        // Offline with a cached view: the cache is the view until the network returns.
        else if (this.#cachedOnly && error.code === "network_error") return;
        // A cached view the API will not show these credentials is withdrawn, not left on screen.
        else if (this.#cachedOnly && error.status >= 400 && error.status < 500 && error.code !== "rate_limited") {
          this.#publish({ items: [], counts: { total: 0, unread: 0, unseen: 0 }, hasMore: false, error });
        } else this.#publish({ error });
      } finally {
        this.#syncing = null;
      }
    })();
    return this.#syncing;
  }

  #apply(changes) {
    if (changes.length === 0) return;
    const byId = new Map(this.state.items.map((item) => [item.id, item]));
    const oldest = this.state.hasMore ? this.state.items.at(-1)?.id : undefined;
    for (const change of changes) {
      if (change.kind === "remove") byId.delete(change.id);
      // Older than the loaded pages and not shown: it will come with loadMore.
      else if (byId.has(change.item.id) || oldest === undefined || change.item.id > oldest) byId.set(change.item.id, change.item);
    }
    this.#publish({ items: [...byId.values()].sort(newestFirst) });
  }

  /**
   * Shows `change(item)` (null: gone) on the items `ids` names, or on every
   * loaded item when `ids` is null, at once. Returns a function that puts
   * the view back, for when the API refuses.
   */
  show(ids, change) {
    this.#epoch += 1;
    this.#pending += 1;
    const before = this.state;
    const chosen = ids ? new Set(ids) : null;
    const all = before.items.map((item) => (chosen && !chosen.has(item.id) ? item : change(item))).filter(Boolean);
    this.#publish({ items: all.filter((item) => this.#inView(item)), counts: estimate(before, all) });
    return () => {
      this.#pending -= 1;
      this.#publish({ items: before.items, counts: before.counts });
    };
  }

  /** Takes the API's exact counts after an action (`shown`: one it showed), then reconciles with the server. */
  settle(counts, shown) {
    if (shown) this.#pending -= 1;
    this.#publish({ counts });
    this.sync();
  }

  #inView(item) {
    const archived = this.#filter.archived ?? "exclude";
    if (archived === "exclude" && item.archived_at) return false;
    if (archived === "only" && !item.archived_at) return false;
    if (this.#filter.read !== undefined && Boolean(item.read_at) !== this.#filter.read) return false;
    if (this.#filter.seen !== undefined && Boolean(item.seen_at) !== this.#filter.seen) return false;
    return true;
  }

  /**
   * After the API refused an action replayed from the offline queue: the
   * view is loaded afresh (the optimistic change may be long buried under
   * newer ones), and the refusal shown as its error.
   */
  async refuse(error, shown) {
    if (shown) this.#pending -= 1;
    await this.#load().catch(() => {});
    this.#publish({ error });
  }

  /** Lets an action queued offline stop holding sync answers back (it is sent later, maybe by another tab). */
  release(shown) {
    if (shown) this.#pending -= 1;
  }

  /** Stops writing this view to the offline store (the cache was cleared). */
  forget() {
    clearTimeout(this.#saving);
    this.#saving = null;
    this.#cache = null;
  }

  #publish(patch) {
    // A closed view tells nobody anything: its listener may belong to someone else now.
    if (this.#closed) return;
    this.state = { ...this.state, ...patch };
    try {
      this.#listener(this.state);
    } catch (error) {
      // A failing listener must not leave the view half updated; it still surfaces.
      queueMicrotask(() => {
        throw error;
      });
    }
    if (this.#cache && this.#watermark !== null && !this.#saving) {
      // One write per burst of changes.
      this.#saving = setTimeout(() => {
        this.#saving = null;
        // Never an action the API has not answered yet (the page may close before it does):
        // the view is written again once it settles.
        if (this.#pending > 0) return;
        const { items, counts, hasMore } = this.state;
        const { owner, view } = this.#cache ?? {};
        if (owner) offlineStore().then((offline) => offline.writeView(owner, view, { items, counts, hasMore, after: this.#after, watermark: this.#watermark }));
      }, 100);
    }
  }

  close() {
    // Nothing is written or told after a view closes (sign-out clears the cache after closing).
    this.#closed = true;
    this.forget();
    this.#stop();
    this.#relay.close();
  }
}

/** Counts after an optimistic change, from the loaded items' differences (the API's answer replaces them). */
function estimate(before, after) {
  const tally = (list) => ({
    total: list.filter((item) => !item.archived_at).length,
    unread: list.filter((item) => !item.archived_at && !item.read_at).length,
    unseen: list.filter((item) => !item.archived_at && !item.seen_at).length,
  });
  const [was, now] = [tally(before.items), tally(after)];
  const counts = {};
  for (const name of ["total", "unread", "unseen"]) counts[name] = Math.max(0, before.counts[name] + now[name] - was[name]);
  return counts;
}
