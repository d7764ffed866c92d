// The demo inbox: uses @tidings/sdk exactly as an app would.
// URL parameters override the local defaults: ?subscriber=…&key=…&api=…&token=…
import { createTidings } from "@tidings/sdk";

const $ = (id) => document.getElementById(id);

async function loadConfig() {
  const defaults = await (await fetch("/demo-config.json")).json();
  const params = new URLSearchParams(location.search);
  return {
    apiUrl: params.get("api") ?? defaults.apiUrl,
    publishableKey: params.get("key") ?? defaults.publishableKey,
    subscriberId: params.get("subscriber") ?? defaults.subscriberId,
    ...(params.get("hash") ? { subscriberHash: params.get("hash") } : {}),
    ...(params.get("token") ? { subscriberToken: params.get("token") } : {}),
  };
}

function showError(error) {
  const box = $("error");
  box.hidden = false;
  box.dataset.code = error.code ?? "unknown";
  box.replaceChildren();
  const code = document.createElement("code");
  code.textContent = error.code ?? "error";
  box.append(code, document.createTextNode(`: ${error.message}`));
  $("status").textContent = "Notifications could not be loaded.";
  const badge = $("environment");
  if (badge.dataset.state === "loading") badge.hidden = true;
}

function renderItem(item) {
  const li = document.createElement("li");
  li.className = item.read_at ? "read" : "unread";
  li.dataset.id = item.id;
  const archive = document.createElement("button");
  archive.type = "button";
  archive.className = "archive";
  archive.dataset.action = item.archived_at ? "unarchive" : "archive";
  archive.textContent = item.archived_at ? "Unarchive" : "Archive";
  archive.setAttribute("aria-label", `${archive.textContent}: ${item.subject}`);
  const title = document.createElement("h2");
  title.textContent = item.subject;
  const body = document.createElement("p");
  body.textContent = item.body;
  const time = document.createElement("time");
  time.dateTime = item.created_at;
  time.textContent = new Date(item.created_at).toLocaleString();
  li.append(archive, title, body, time);
  return li;
}

/** Renders a state of the live feed: items, exact counts, connection status. */
function render(client, state, known) {
  if (state.error && !state.items.length) return showError(state.error);
  $("feed").replaceChildren(
    ...state.items.map((item) => {
      const li = renderItem(item);
      // New arrivals slide in; the first render does not animate.
      if (known.size && !known.has(item.id)) li.classList.add("arrived");
      return li;
    }),
  );
  known.clear();
  for (const item of state.items) known.add(item.id);
  const unread = $("unread");
  unread.hidden = state.counts.unread === 0;
  unread.textContent = String(state.counts.unread);
  unread.title = `${state.counts.unread} unread`;
  $("status").textContent = state.items.length
    ? `${state.counts.total} notification${state.counts.total === 1 ? "" : "s"} for ${client.subscriberId}`
    : `No notifications yet for ${client.subscriberId}.`;
  document.body.dataset.status = state.status;
}

/** The filter of each tab. */
const VIEWS = { all: {}, unread: { read: false }, archived: { archived: "only" } };

async function main() {
  try {
    const client = await createTidings(await loadConfig());
    const environment = await client.environment();
    const badge = $("environment");
    badge.textContent = environment.name;
    badge.dataset.type = environment.type;
    badge.dataset.state = "ready";
    let live;
    const open = async (view) => {
      live?.close();
      for (const tab of document.querySelectorAll("#views [data-view]")) {
        tab.setAttribute("aria-selected", String(tab.dataset.view === view));
      }
      const known = new Set();
      live = client.feed.subscribe((state) => {
        render(client, state, known);
        $("more").hidden = !state.hasMore;
      }, { limit: 20, ...VIEWS[view] });
      await live.ready;
      document.body.dataset.view = view;
    };
    await open("all");
    document.body.dataset.loaded = "true";
    $("views").addEventListener("click", (event) => {
      const tab = event.target.closest("[data-view]");
      if (tab) open(tab.dataset.view).catch(showError);
    });
    $("refresh").addEventListener("click", () => live.sync());
    $("read-all").addEventListener("click", () => client.feed.markAllRead().catch(showError));
    $("more").addEventListener("click", () => live.loadMore().catch(showError));
    // Infinite scroll: the button loads the next page as it comes into view.
    new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting) && !$("more").hidden) live.loadMore().catch(showError);
    }).observe($("more"));
    $("feed").addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (button) {
        const id = button.closest("li").dataset.id;
        (button.dataset.action === "archive" ? client.feed.archive(id) : client.feed.unarchive(id)).catch(showError);
        return;
      }
      // Opening a notification marks it read.
      const item = event.target.closest("li.unread");
      if (item) client.feed.markRead(item.dataset.id).catch(showError);
    });
    const preferences = await client.preferences.get();
    for (const box of document.querySelectorAll("#preferences input[data-channel]")) {
      box.checked = preferences.global?.[box.dataset.channel] !== false;
      box.addEventListener("change", () =>
        client.preferences.update({ global: { [box.dataset.channel]: box.checked } }).catch(showError));
    }
    $("preferences").dataset.ready = "true";
  } catch (error) {
    showError(error);
    document.body.dataset.loaded = "error";
  }
}

main();
