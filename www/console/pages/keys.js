// An environment's API keys: masked, with status and expiry; create,
// regenerate with a grace period, revoke. A new key is shown once. A secret
// key may be restricted to scopes when it is created; the list shows them.
import { api } from "../api.js";
import { act, h, status, table, time, fill } from "../ui.js";

const GRACE = [["0", "Revoke the old key now"], ["3600", "Keep the old key 1 hour"], ["86400", "Keep the old key 24 hours"],
  ["604800", "Keep the old key 7 days"]];

/** A key's kind, with a restricted secret key's scopes. */
function scopesOf(key) {
  if (key.kind !== "secret") return key.kind;
  return key.scopes ? h("span", { "data-scopes": key.scopes.join(",") }, "secret: ", key.scopes.join(", ")) : "secret, full access";
}

export async function renderKeys(main, { environment }) {
  const base = `/v1/environments/${environment.name}/keys`;
  const list = h("div");
  const shownOnce = h("div");

  function reveal(issued, note) {
    fill(shownOnce, h("div", { class: "secret", role: "alert" },
      h("strong", {}, `${note} Copy it now: it is shown only once.`),
      h("code", { id: "new-key" }, issued.key),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => navigator.clipboard?.writeText(issued.key) }, "Copy"),
        h("button", { type: "button", onclick: () => fill(shownOnce) }, "I have stored it"))));
    shownOnce.querySelector("button").focus();
  }

  async function draw() {
    const { keys } = await api(base);
    fill(list, table(`Keys of ${environment.name}`, ["Key", "Kind", "Status", "Created", "Expires", "Actions"],
      keys.map((key) => {
        const live = key.status === "active";
        const grace = h("select", { "aria-label": `Grace period for ${key.masked}` },
          GRACE.map(([value, label]) => h("option", { value }, label)));
        return [
          h("code", {}, key.masked), scopesOf(key), status(key.status), time(key.created_at), time(key.expires_at),
          live
            ? h("div", { class: "actions", style: "margin: 0" }, grace,
              h("button", { type: "button", "aria-label": `Regenerate ${key.masked}`, onclick: (event) => act(event.currentTarget, main, async () => {
                const regenerated = await api(`${base}/${key.id}/regenerate`, { method: "POST", body: { grace_period_seconds: Number(grace.value) } });
                await draw();
                reveal(regenerated.new_key, `New ${key.kind} key for ${environment.name}.`);
              }) }, "Regenerate"),
              h("button", { type: "button", class: "danger", "aria-label": `Revoke ${key.masked}`, onclick: (event) => {
                if (!confirm(`Revoke ${key.masked}? Requests with it fail at once.`)) return;
                act(event.currentTarget, main, async () => {
                  await api(`${base}/${key.id}`, { method: "DELETE" });
                  await draw();
                });
              } }, "Revoke"))
            : "",
        ];
      })));
  }

  const kind = h("select", { id: "key-kind" }, h("option", { value: "publishable" }, "Publishable (browsers)"),
    h("option", { value: "secret" }, "Secret (servers)"));
  const scopes = h("input", { id: "key-scopes", placeholder: "e.g. trigger, feed:read", autocomplete: "off" });
  const create = h("button", { class: "primary", type: "submit" }, "Create key");
  const form = h("form", { class: "panel inline" },
    h("div", { class: "field" }, h("label", { for: "key-kind" }, "Kind"), kind),
    h("div", { class: "field" }, h("label", { for: "key-scopes" }, "Scopes (secret keys; empty for full access)"), scopes), create);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(create, main, async () => {
      const listed = scopes.value.split(",").map((scope) => scope.trim()).filter(Boolean);
      const issued = await api(base, { method: "POST", body: listed.length ? { kind: kind.value, scopes: listed } : { kind: kind.value } });
      scopes.value = "";
      await draw();
      reveal(issued, `New ${issued.kind} key for ${environment.name}.`);
    });
  });
  fill(main, h("h1", {}, `Keys · ${environment.name}`), shownOnce, form, list);
  await draw();
}
