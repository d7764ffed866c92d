// Every environment the member sees, with type, status and creation time;
// admins create and delete custom environments here and watch the status
// move (creating → ready → active, deleting → deleted).
import { api } from "../api.js";
import { act, errorBox, h, status, table, time, fill } from "../ui.js";

const PROTECTED = ["development", "production"];
const SETTLING = ["creating", "deleting"];

export async function renderEnvironments(main, { session, refresh }) {
  const admin = ["owner", "admin"].includes(session.me.role);
  const list = h("div", { id: "environment-list" });
  const announcements = h("div", { role: "status", "aria-live": "polite" });
  let timer = null;

  async function draw() {
    const { environments } = await api("/v1/environments");
    environments.sort((a, b) => a.position - b.position);
    fill(list, table("Environments, in promotion order", ["Name", "Type", "Status", "Created", ""],
      environments.map((environment) => [
        h("a", { href: `#/${environment.name}/workflows` }, environment.label ?? environment.name),
        environment.type,
        h("span", {}, status(environment.status),
          environment.status_reason ? h("div", { class: "muted" }, environment.status_reason) : null,
          environment.status === "creating"
            ? h("div", { class: "muted" }, "Locally: ", h("code", {}, `npm run env -- create ${environment.name} --type ${environment.type}`))
            : null),
        time(environment.created_at),
        admin && !PROTECTED.includes(environment.name) && environment.status !== "deleted"
          ? h("button", { type: "button", class: "danger", "aria-label": `Delete ${environment.name}`,
            onclick: (event) => remove(event.currentTarget, environment.name) }, "Delete")
          : "",
      ])));
    poll(environments.some((environment) => SETTLING.includes(environment.status)));
  }

  /** Reads the list again in 2 s while a status is still moving and this page is shown. */
  function poll(settling) {
    clearTimeout(timer);
    if (!settling || !main.contains(list)) return;
    // A failed read (the worker restarting as it picks up new bindings) is tried again.
    timer = setTimeout(() => draw().catch(() => poll(true)), 2000);
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
  const label = h("input", { id: "new-label", name: "label", maxlength: 40 });
  const colour = h("input", { id: "new-colour", name: "colour", type: "color", value: "#7048e8" });
  const submit = h("button", { class: "primary", type: "submit" }, "Create environment");
  const result = h("div");
  const form = h("form", { class: "panel inline", "aria-labelledby": "create-title" },
    h("h2", { id: "create-title", style: "flex-basis: 100%; margin: 0" }, "Create an environment"),
    field("new-name", "Name", name), field("new-type", "Type", type), field("new-after", "After", after),
    field("new-label", "Label (optional)", label), field("new-colour", "Colour", colour), submit);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(submit, form, async () => {
      const created = await api("/v1/environments", {
        method: "POST",
        body: { name: name.value, type: type.value, after: after.value || null, label: label.value || null, colour: colour.value },
      });
      fill(result, h("div", { class: "secret", role: "alert" },
        h("strong", {}, `${created.name} is ${created.status}. Its subscriber signing secret is shown only now:`),
        h("code", { id: "signing-secret" }, created.subscriber_signing_secret),
        h("span", { class: "muted" }, "Store it with your server's configuration; rotate it from the API if it leaks.")));
      announcements.textContent = `${created.name} created; status ${created.status}.`;
      form.reset();
      await done();
    });
  });
  return h("div", {}, form, result);
}
