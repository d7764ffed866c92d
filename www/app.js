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
  const title = document.createElement("h2");
  title.textContent = item.subject;
  const body = document.createElement("p");
  body.textContent = item.body;
  const time = document.createElement("time");
  time.dateTime = item.created_at;
  time.textContent = new Date(item.created_at).toLocaleString();
  li.append(title, body, time);
  return li;
}

async function refresh(client) {
  const page = await client.feed.list({ limit: 20 });
  $("feed").replaceChildren(...page.items.map(renderItem));
  const unread = $("unread");
  unread.hidden = page.counts.unread === 0;
  unread.textContent = String(page.counts.unread);
  unread.title = `${page.counts.unread} unread`;
  $("status").textContent = page.items.length
    ? `${page.counts.total} notification${page.counts.total === 1 ? "" : "s"} for ${client.subscriberId}`
    : `No notifications yet for ${client.subscriberId}.`;
  document.body.dataset.loaded = "true";
}

async function main() {
  try {
    const client = await createTidings(await loadConfig());
    const environment = await client.environment();
    const badge = $("environment");
    badge.textContent = environment.name;
    badge.dataset.type = environment.type;
    badge.dataset.state = "ready";
    await refresh(client);
    $("refresh").addEventListener("click", () => refresh(client).catch(showError));
    $("read-all").addEventListener("click", () =>
      client.feed.markAllRead().then(() => refresh(client)).catch(showError));
    // Opening a notification marks it read.
    $("feed").addEventListener("click", (event) => {
      const item = event.target.closest("li.unread");
      if (item) client.feed.markRead(item.dataset.id).then(() => refresh(client)).catch(showError);
    });
  } catch (error) {
    showError(error);
    document.body.dataset.loaded = "error";
  }
}

main();
