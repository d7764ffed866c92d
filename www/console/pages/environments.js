// Every environment the member sees, with type, status and creation time:
// the promotion chain, then preview environments in their own group. Admins
// create environments (and previews, with a lifetime), lock and unlock their
// content, archive, restore, purge and delete them here, and watch the status
// move (creating → ready → active, archived, deleting → deleted).
import { api } from "../api.js";
import { act, errorBox, h, status, table, time, fill } from "../ui.js";

const PROTECTED = ["development", "production"];
const SETTLING = ["creating", "deleting"];
/** Where preview environments' positions start (`tidings_core::lifecycle::PREVIEW_POSITIONS`). */
const PREVIEW_POSITIONS = 1_000_000;

export async function renderEnvironments(main, { session, refresh }) {
  const admin = ["owner", "admin"].includes(session.me.role);
  const list = h("div", { id: "environment-list" });
  const announcements = h("div", { role: "status", "aria-live": "polite" });
  let timer = null;
  /** Whether a status shown is still moving (creating, deleting). */
  let moving = false;

  const row = (environment) => [
    h("a", { href: `#/${environment.name}/workflows` }, environment.label ?? environment.name),
    environment.preview_of ? `${environment.type}, preview of ${environment.preview_of}` : environment.position >= PREVIEW_POSITIONS ? `${environment.type}, preview` : environment.type,
    h("span", {}, status(environment.status),
      environment.lock ? h("div", { class: "badge locked", "data-lock": environment.name }, `Locked: ${environment.lock.reason}`) : null,
      environment.purge_at ? h("div", { class: "muted" }, "Purged ", time(environment.purge_at), " unless restored") : null,
      environment.deliver_only_to ? h("div", { class: "muted", "data-test-mode": environment.name },
        `Test mode: webhooks only to ${environment.deliver_only_to.join(", ") || "nobody"}`) : null,
      environment.expires_at && environment.status !== "archived" ? h("div", { class: "muted" }, "Expires ", time(environment.expires_at)) : null,
      environment.status_reason ? h("div", { class: "muted" }, environment.status_reason) : null,
      environment.status === "creating"
        ? h("div", { class: "muted" }, "Locally: ", h("code", {}, `npm run env -- create ${environment.name} --type ${environment.type}`))
        : null),
    time(environment.created_at),
    h("span", { class: "actions" }, ...actions(environment)),
  ];

  let access = session.me.environments;

  /** The buttons for what the member may do to the environment in its present state. */
  function actions(environment) {
    const button = (label, onclick, danger = false) => h("button", { type: "button", class: danger ? "danger" : "",
      "aria-label": `${label} ${environment.name}`, onclick: (event) => onclick(event.currentTarget, environment.name) }, label);
    const may = access.find((entry) => entry.name === environment.name);
    const live = ["ready", "active"].includes(environment.status);
    const custom = !PROTECTED.includes(environment.name);
    return [
      may?.may_lock && live ? (environment.lock ? button("Unlock", unlock) : button("Lock", lock)) : null,
      admin && custom && live ? button("Archive", archive) : null,
      admin && environment.status === "archived" ? button("Restore", restore) : null,
      admin && environment.status === "archived" ? button("Purge", purge, true) : null,
      admin && custom && environment.status !== "deleted" && environment.status !== "archived" ? button("Delete", remove, true) : null,
    ].filter(Boolean);
  }

  async function draw() {
    // What the member may do is read again with the list: environments come and go.
    const [{ environments }, me] = await Promise.all([api("/v1/environments"), api("/v1/me")]);
    access = me.environments;
    environments.sort((a, b) => a.position - b.position);
    // Previews sit off the chain, from position 1,000,000 (their source may be hidden from this member).
    const isPreview = (environment) => environment.preview_of || environment.position >= PREVIEW_POSITIONS;
    const previews = environments.filter(isPreview);
    fill(list,
      table("Environments, in promotion order", ["Name", "Type", "Status", "Created", ""],
        environments.filter((environment) => !isPreview(environment)).map(row)),
      previews.length ? table("Preview environments (off the chain; each promotes into its source only)", ["Name", "Type", "Status", "Created", ""], previews.map(row)) : null);
    poll(environments.some((environment) => SETTLING.includes(environment.status)));
  }

  /** Runs a lifecycle call, says what happened, and draws the list again. */
  async function change(button, name, step, body, said) {
    await act(button, main, async () => {
      const after = await api(`/v1/environments/${name}/${step}`, { method: "POST", body });
      announcements.textContent = said(after);
      await refresh();
      await draw();
    });
  }

  function lock(button, name) {
    const reason = prompt(`Lock ${name}: its content (workflows, integrations, variables, brand, promotions into it) is frozen until unlocked. Why?`);
    if (!reason) return;
    return change(button, name, "lock", { reason }, () => `${name} is locked: ${reason}`);
  }

  const unlock = (button, name) => change(button, name, "unlock", undefined, () => `${name} is unlocked.`);

  function archive(button, name) {
    if (!confirm(`Archive ${name}? Its keys stop working at once; its data is kept 30 days, and a restore brings it back as it was.`)) return;
    return change(button, name, "archive", {}, (after) => `${name} is archived; it is purged ${after.purge_at} unless restored.`);
  }

  const restore = (button, name) => change(button, name, "restore", undefined, (after) => `${name} is ${after.status} again; its keys work.`);

  function purge(button, name) {
    if (!confirm(`Purge ${name} now? Its keys are revoked and all its data removed; this cannot be undone.`)) return;
    return change(button, name, "purge", undefined, (after) => `${name} is ${after.status}; ${after.revoked_keys} keys revoked.`);
  }

  /**
   * Reads the list again every 2 s while a status is still moving and this page is shown. One
   * ticker, not a chain of timers: a read that fails (the worker restarting as it picks up new
   * bindings; a read that hangs gives up after 15 s, api.js) cannot end it, and only one read
   * runs at a time.
   */
  function poll(settling) {
    moving = settling;
    if (timer !== null || !settling) return;
    let reading = false;
    timer = setInterval(() => {
      if (!main.contains(list)) {
        clearInterval(timer);
        timer = null;
        return;
      }
      if (!moving || reading) return;
      reading = true;
      // A read that fails leaves the list as it was, still moving: the next tick tries again.
      draw().catch(() => {}).finally(() => {
        reading = false;
      });
    }, 2000);
  }

  async function remove(button, name) {
    if (!confirm(`Delete ${name}? Its keys are revoked and its data removed.`)) return;
    await act(button, main, async () => {
      const deleted = await api(`/v1/environments/${name}`, { method: "DELETE" });
      announcements.textContent = `${name} is ${deleted.status}; ${deleted.revoked_keys} keys revoked.`;
      await refresh();
      await draw();
    });
  }

  const children = [h("h1", {}, "Environments"), announcements, list];
  if (admin) children.push(createForm(main, session, announcements, async () => {
    await refresh();
    await draw();
  }));
  fill(main, ...children);
  await draw();
}

function createForm(main, session, announcements, done) {
  const field = (id, label, control) => h("div", { class: "field" }, h("label", { for: id }, label), control);
  const name = h("input", { id: "new-name", name: "name", required: true, pattern: "[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?", placeholder: "qa" });
  const type = h("select", { id: "new-type", name: "type" },
    ["staging", "development", "production"].map((value) => h("option", { value }, value)));
  const after = h("select", { id: "new-after", name: "after" },
    h("option", { value: "" }, "(by type)"),
    session.environments.filter((environment) => environment.type !== "production")
      .map((environment) => h("option", { value: environment.name }, environment.name)));
  const from = h("select", { id: "new-from", name: "from" },
    h("option", { value: "" }, "(none: on the chain)"),
    session.environments.filter((environment) => environment.type !== "production")
      .map((environment) => h("option", { value: environment.name }, environment.name)));
  const ttl = h("input", { id: "new-ttl", name: "ttl", type: "number", min: 1, max: 2160, value: 72 });
  const label = h("input", { id: "new-label", name: "label", maxlength: 40 });
  const colour = h("input", { id: "new-colour", name: "colour", type: "color", value: "#7048e8" });
  const submit = h("button", { class: "primary", type: "submit" }, "Create environment");
  const result = h("div");
  const form = h("form", { class: "panel inline", "aria-labelledby": "create-title" },
    h("h2", { id: "create-title", style: "flex-basis: 100%; margin: 0" }, "Create an environment"),
    field("new-name", "Name", name), field("new-type", "Type", type), field("new-after", "After", after),
    field("new-from", "Preview of", from), field("new-ttl", "Preview lifetime (hours)", ttl),
    field("new-label", "Label (optional)", label), field("new-colour", "Colour", colour), submit);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(submit, form, async () => {
      const created = await api("/v1/environments", {
        method: "POST",
        body: {
          name: name.value, type: type.value, label: label.value || null, colour: colour.value,
          ...(from.value ? { from: from.value, ttl_seconds: Number(ttl.value) * 3600 } : { after: after.value || null }),
        },
      });
      fill(result, created.subscriber_signing_secret
        ? h("div", { class: "secret", role: "alert" },
          h("strong", {}, `${created.name} is ${created.status}. Its subscriber signing secret is shown only now:`),
          h("code", { id: "signing-secret" }, created.subscriber_signing_secret),
          h("span", { class: "muted" }, "Store it with your server's configuration; rotate it from the API if it leaks."))
        : h("div", { role: "alert" },
          h("strong", {}, `${created.name} is ${created.status}.`),
          h("span", { id: "signing-secret-withheld" }, ` It masks personal data and you have no personal-data grant there, so its subscriber signing secret is not shown: a member with the grant gets one by rotating it.`)));
      announcements.textContent = `${created.name} created; status ${created.status}.`;
      form.reset();
      await done();
    });
  });
  return h("div", {}, form, result);
}
