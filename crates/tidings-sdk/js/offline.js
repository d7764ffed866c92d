// The offline copy of live views, and actions waiting for the network, in
// IndexedDB. Each entry belongs to one environment and subscriber (its
// `owner`), so no other environment or subscriber ever reads it. Bounded:
// at most MAX_ITEMS items per view and MAX_VIEWS views in all (the least
// recently written go first). Without IndexedDB (Node.js, some private
// modes) every call does nothing and answers nothing.

const DATABASE = "tidings";
const MAX_ITEMS = 100;
const MAX_VIEWS = 20;
let opening = null;

function database() {
  opening ??= new Promise((resolve) => {
    // Reading `indexedDB` itself throws in some sandboxed frames.
    let request;
    try {
      request = globalThis.indexedDB?.open(DATABASE, 1);
    } catch {
      request = null;
    }
    if (!request) return resolve(null);
    request.onupgradeneeded = () => {
      request.result.createObjectStore("views", { keyPath: "key" });
      request.result.createObjectStore("actions", { keyPath: "id", autoIncrement: true }).createIndex("owner", "owner");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => resolve(null);
    request.onblocked = () => resolve(null);
  });
  return opening;
}

/** Runs `work(store)` in one transaction; answers its request's result (or null when storage is unavailable). */
async function run(storeName, mode, work) {
  const db = await database();
  if (!db) return null;
  return new Promise((resolve) => {
    let transaction;
    let request;
    try {
      transaction = db.transaction(storeName, mode);
      request = work(transaction.objectStore(storeName));
    } catch {
      return resolve(null);
    }
    transaction.oncomplete = () => resolve(request?.result ?? null);
    transaction.onerror = () => resolve(null);
    transaction.onabort = () => resolve(null);
  });
}

/** The cached snapshot of a view (`{ items, counts, hasMore, after, watermark }`), or null. */
export async function readView(owner, view) {
  const entry = await run("views", "readonly", (store) => store.get(`${owner}\u0000${view}`));
  return entry?.owner === owner ? entry.snapshot : null;
}

/** Stores a view's snapshot (its newest MAX_ITEMS items), then trims the oldest views past MAX_VIEWS. */
export async function writeView(owner, view, snapshot) {
  const items = snapshot.items.slice(0, MAX_ITEMS);
  const trimmed = { ...snapshot, items, hasMore: snapshot.hasMore || items.length < snapshot.items.length,
    after: items.length < snapshot.items.length ? items.at(-1)?.id ?? null : snapshot.after };
  await run("views", "readwrite", (store) => store.put({ key: `${owner}\u0000${view}`, owner, written: Date.now(), snapshot: trimmed }));
  if (((await run("views", "readonly", (store) => store.count())) ?? 0) <= MAX_VIEWS) return;
  const all = (await run("views", "readonly", (store) => store.getAll())) ?? [];
  const stale = all.sort((a, b) => b.written - a.written).slice(MAX_VIEWS);
  if (stale.length) await run("views", "readwrite", (store) => stale.forEach((entry) => store.delete(entry.key)));
}

/** Queues an action body for `owner` with its Idempotency-Key; answers its queue id. */
export function queueAction(owner, body, key) {
  return run("actions", "readwrite", (store) => store.add({ owner, body, key, queued: Date.now() }));
}

/** `owner`'s queued actions, oldest first: `[{ id, body, key }]`. */
export async function queuedActions(owner) {
  const entries = (await run("actions", "readonly", (store) => store.index("owner").getAll(owner))) ?? [];
  return entries.sort((a, b) => a.id - b.id);
}

/** Gives a queued action (from before actions had keys) its Idempotency-Key, kept for its later attempts. */
export function keyAction(entry, key) {
  entry.key = key;
  return run("actions", "readwrite", (store) => store.put(entry));
}

/** Removes one queued action. */
export function removeAction(id) {
  return run("actions", "readwrite", (store) => store.delete(id));
}

/** Deletes `owner`'s cached views and queued actions (sign-out); other accounts on the device keep theirs. */
export async function clearOwner(owner) {
  const views = (await run("views", "readonly", (store) => store.getAll())) ?? [];
  await run("views", "readwrite", (store) => views.filter((entry) => entry.owner === owner).forEach((entry) => store.delete(entry.key)));
  const actions = (await run("actions", "readonly", (store) => store.index("owner").getAllKeys(owner))) ?? [];
  await run("actions", "readwrite", (store) => actions.forEach((id) => store.delete(id)));
}
