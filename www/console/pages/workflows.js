// Workflows: the list, and an editor for the in-app step with a live
// preview. The preview is the core's own template rendering compiled to
// wasm (crates/tidings-console), so it shows exactly what a trigger would
// send, errors included. Production is read-only: its workflows arrive by
// promotion.
import init, { preview } from "/console/pkg/tidings_console.js";
import { api } from "../api.js";
import { act, errorBox, h, table, time, fill } from "../ui.js";

/** The preview's wasm, fetched the first time an editor opens. */
let ready = null;
/** The fields of a saved workflow that a save sends back (WorkflowInput). */
const INPUT_FIELDS = ["name", "description", "tags", "category", "payload_schema", "steps"];
const BLANK = {
  name: "",
  steps: [{ type: "in_app", subject: "Hello {{ subscriber.first_name | default('there') }}", body: "{{ payload.message }}" }],
};

export async function renderWorkflows(main, context) {
  if (context.argument) return renderEditor(main, context);
  const { environment, access } = context;
  const { items } = await api(`/v1/environments/${environment.name}/workflows`);
  fill(main,
    h("h1", {}, `Workflows · ${environment.name}`),
    access.may_edit_content ? null : readOnlyNote(environment),
    access.may_edit_content
      ? h("div", { class: "actions" }, h("a", { href: `#/${environment.name}/workflows/new`, class: "button", role: "button" }, "New workflow"))
      : null,
    items.length === 0 ? h("p", { class: "muted" }, "No workflows yet.") :
      table(`Workflows of ${environment.name}`, ["Key", "Name", "Version", "Updated"],
        items.map((workflow) => [
          h("a", { href: `#/${environment.name}/workflows/${workflow.key}` }, h("code", {}, workflow.key)),
          workflow.name, String(workflow.version), time(workflow.updated_at),
        ])));
}

function readOnlyNote(environment) {
  return h("p", { class: "readonly", role: "note" }, environment.type === "production"
    ? `${environment.name} is read-only: its workflows change only by promotion. Edit them in a development environment.`
    : `Your role may read ${environment.name}'s workflows but not change them.`);
}

async function renderEditor(main, { environment, access, argument }) {
  const creating = argument === "new";
  const editable = access.may_edit_content;
  const saved = creating ? null : (await api(`/v1/environments/${environment.name}/workflows`)).items.find((workflow) => workflow.key === argument);
  if (!creating && !saved) throw { code: "workflow_not_found", message: `there is no workflow ${argument} in ${environment.name}` };
  const definition = structuredClone(saved ? Object.fromEntries(INPUT_FIELDS.filter((field) => field in saved).map((field) => [field, saved[field]])) : BLANK);
  let step = definition.steps.find((candidate) => candidate.type === "in_app");
  if (!step) {
    step = { type: "in_app", subject: "", body: "" };
    definition.steps.unshift(step);
  }

  const input = (id, label, value, options = {}) => {
    const control = options.multiline
      ? h("textarea", { id, class: options.code ? "code" : undefined, rows: options.rows ?? 4, readOnly: !editable, spellcheck: !options.code }, value)
      : h("input", { id, value, readOnly: !editable || options.locked, size: 40, ...(options.pattern ? { pattern: options.pattern, required: true } : {}) });
    return [h("label", { for: id }, label), control];
  };
  const [keyLabel, key] = input("workflow-key", "Key", saved?.key ?? "", { locked: !creating, pattern: "[a-z0-9_\\-]{1,64}" });
  const [nameLabel, name] = input("workflow-name", "Name", definition.name);
  const [subjectLabel, subject] = input("workflow-subject", "Subject", step.subject);
  const [bodyLabel, body] = input("workflow-body", "Body", step.body, { multiline: true });
  const [payloadLabel, payload] = input("sample-payload", "Sample payload (JSON)", JSON.stringify({ message: "Your report is ready" }, null, 2), { multiline: true, code: true, rows: 5 });
  payload.readOnly = false;
  const [subscriberLabel, subscriber] = input("sample-subscriber", "Send to subscriber", "user-1");
  subscriber.readOnly = false;
  const rendered = h("div", { id: "preview", "aria-live": "polite" });
  const outcome = h("div", { role: "status", "aria-live": "polite" });

  function current() {
    definition.name = name.value;
    step.subject = subject.value;
    step.body = body.value;
    return definition;
  }

  async function refreshPreview() {
    await (ready ??= init());
    let sample;
    try {
      sample = { to: { subscriber_id: subscriber.value || "preview-subscriber", first_name: "Ada" }, payload: JSON.parse(payload.value || "{}") };
    } catch (error) {
      fill(rendered, errorBox({ code: "malformed_json", message: `the sample payload is not JSON: ${error.message}` }));
      return;
    }
    const answer = JSON.parse(preview(key.value || "preview", JSON.stringify(current()), JSON.stringify(sample)));
    if (answer.error) {
      fill(rendered, errorBox(answer.error));
    } else if (answer.in_app) {
      fill(rendered, h("div", { class: "preview-item" },
        h("h3", {}, answer.in_app.subject), h("p", {}, answer.in_app.body),
        answer.in_app.actions.length ? h("div", { class: "actions" }, answer.in_app.actions.map((action) => h("span", { class: "status" }, action.label))) : null),
      answer.webhooks.length ? h("p", { class: "muted" }, `and ${answer.webhooks.length} webhook delivery(ies)`) : null);
    }
  }
  for (const control of [name, subject, body, payload, subscriber, key]) control.addEventListener("input", refreshPreview);

  const save = h("button", { type: "submit", class: "primary" }, creating ? "Create workflow" : "Save new version");
  const send = h("button", { type: "button", id: "send-test" }, "Send test notification");
  const form = h("form", { class: "panel", "aria-labelledby": "editor-title" },
    keyLabel, key, nameLabel, name, subjectLabel, subject, bodyLabel, body,
    editable ? h("div", { class: "actions" }, save) : null);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(save, form, async () => {
      const stored = await api(`/v1/environments/${environment.name}/workflows/${encodeURIComponent(key.value)}`, { method: "PUT", body: current() });
      fill(outcome, h("p", { class: "notice" }, `Saved ${stored.key}, version ${stored.version}.`));
      if (creating) history.replaceState(null, "", `#/${environment.name}/workflows/${stored.key}`);
      key.readOnly = true;
    });
  });
  send.addEventListener("click", () => act(send, sampleBox, async () => {
    const sent = await api(`/v1/environments/${environment.name}/workflows/${encodeURIComponent(key.value)}/test`, {
      method: "POST",
      body: { to: [subscriber.value], payload: JSON.parse(payload.value || "{}") },
    });
    fill(outcome, h("p", { class: "notice" }, `Sent to ${subscriber.value}: ${sent.messages?.length ?? 0} message(s), transaction ${sent.transaction_id}.`));
  }));
  const sampleBox = h("section", { class: "panel", "aria-labelledby": "preview-title" },
    h("h2", { id: "preview-title", style: "margin-top: 0" }, "Live preview"), rendered,
    payloadLabel, payload, subscriberLabel, subscriber,
    editable ? h("div", { class: "actions" }, send) : null);

  fill(main,
    h("h1", { id: "editor-title" }, creating ? `New workflow · ${environment.name}` : `${saved.name} · ${environment.name}`),
    editable ? null : readOnlyNote(environment), outcome,
    h("div", { class: "editor" }, form, sampleBox),
    h("p", {}, h("a", { href: `#/${environment.name}/workflows` }, "← All workflows")));
  await refreshPreview();
}
