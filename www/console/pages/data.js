// What members read of an environment's data: subscribers and their
// messages, webhook deliveries (with a Replay button for those who may),
// execution logs, integrations and their health, and the audit log. The API masks personal data
// and hides message contents where the environment's privacy settings say
// so and the member has no personal-data grant; the console shows what it gets.
import { api } from "../api.js";
import { act, h, json, status, table, time, fill } from "../ui.js";

export async function renderSubscribers(main, { environment, argument }) {
  const base = `/v1/environments/${environment.name}`;
  const privacy = environment.hide_message_contents || environment.obfuscate_subscriber_data
    ? h("p", { class: "notice" }, `${environment.name} ${[
      environment.obfuscate_subscriber_data ? "masks subscribers' personal data" : null,
      environment.hide_message_contents ? "hides message contents" : null,
    ].filter(Boolean).join(" and ")} unless your membership grants personal data here.`)
    : null;
  if (argument) {
    const { items } = await api(`${base}/subscribers/${encodeURIComponent(argument)}/messages?limit=50`);
    fill(main, h("h1", {}, `Messages of ${argument} · ${environment.name}`), privacy,
      table(`Messages of ${argument}, newest first`, ["Subject", "Body", "Workflow", "Read", "Created"],
        items.map((item) => [item.subject, item.body, h("code", {}, item.workflow), time(item.read_at), time(item.created_at)])),
      h("p", {}, h("a", { href: `#/${environment.name}/subscribers` }, "← All subscribers")));
    return;
  }
  const { items } = await api(`${base}/subscribers?limit=100`);
  fill(main, h("h1", {}, `Subscribers · ${environment.name}`), privacy,
    items.length === 0 ? h("p", { class: "muted" }, "No subscribers yet.") :
      table(`Subscribers of ${environment.name}`, ["Subscriber", "Name", "Email", "Created"],
        items.map((subscriber) => [
          h("a", { href: `#/${environment.name}/subscribers/${encodeURIComponent(subscriber.subscriber_id)}` }, h("code", {}, subscriber.subscriber_id)),
          [subscriber.first_name, subscriber.last_name].filter(Boolean).join(" ") || "—",
          subscriber.email ?? "—", time(subscriber.created_at),
        ])));
}

export async function renderLogs(main, context) {
  const { environment, access } = context;
  const base = `/v1/environments/${environment.name}`;
  const [{ items }, deliveries] = await Promise.all([api(`${base}/logs?limit=100`), api(`${base}/deliveries?limit=100`)]);
  const replayButton = (delivery) => h("button", {
    type: "button",
    "aria-label": `Replay delivery ${delivery.id}`,
    onclick: (event) => act(event.currentTarget, main, async () => {
      await api(`${base}/deliveries/${delivery.id}/replay`, { method: "POST" });
      await renderLogs(main, context);
    }),
  }, "Replay");
  const replayable = (delivery) => access.may_manage_keys && (delivery.status === "dead" || delivery.status === "failed");
  fill(main, h("h1", {}, `Logs · ${environment.name}`),
    h("h2", {}, "Webhook deliveries"),
    h("p", { class: "muted" }, "Retried on a schedule for about 32 hours; a dead delivery can be replayed under the same delivery id."),
    deliveries.items.length === 0 ? h("p", { class: "muted" }, "No webhook deliveries yet.") :
      table(`Webhook deliveries of ${environment.name}, newest first`,
        ["When", "Workflow", "Subscriber", "Integration", "Status", "Attempts", "Last error", "Next attempt", ""],
        deliveries.items.map((delivery) => [time(delivery.created_at), h("code", {}, delivery.workflow), delivery.subscriber_id,
          h("code", {}, delivery.integration), status(delivery.status), String(delivery.attempts), delivery.last_error ?? "—",
          time(delivery.next_attempt_at), replayable(delivery) ? replayButton(delivery) : ""])),
    h("h2", {}, "Execution logs"),
    h("p", { class: "muted" }, "Each step of each trigger: ids, statuses and errors, never personal data."),
    items.length === 0 ? h("p", { class: "muted" }, "Nothing has run yet.") :
      table(`Execution logs of ${environment.name}, newest first`, ["When", "Workflow", "Subscriber", "Step", "Status", "Detail"],
        items.map((entry) => [time(entry.created_at), h("code", {}, entry.workflow), entry.subscriber_id ?? "—", entry.step,
          h("span", { class: "status", dataset: { status: entry.status === "failed" ? "failed" : "active" } }, entry.status), json(entry.detail)])));
}

export async function renderIntegrations(main, { environment }) {
  const { items } = await api(`/v1/environments/${environment.name}/integrations`);
  fill(main, h("h1", {}, `Integrations · ${environment.name}`),
    h("p", { class: "muted" }, "Where webhook steps deliver. An integration that fails 5 times in a row is held (its circuit breaker) and retried later instead of hammered; a success clears it."),
    items.length === 0 ? h("p", { class: "muted" }, "No integrations yet (create them with the API: POST /v1/integrations).") :
      table(`Integrations of ${environment.name}`, ["Integration", "Name", "URL", "Health", "Failures in a row", "Held until"],
        items.map((integration) => [h("code", {}, integration.id), integration.name, h("code", {}, integration.url),
          integration.health.failing
            ? h("span", { class: "status", dataset: { status: "failed" }, role: "status" }, "failing")
            : h("span", { class: "status", dataset: { status: "active" } }, "healthy"),
          String(integration.health.consecutive_failures), time(integration.health.held_until)])));
}

export async function renderAudit(main, { environment }) {
  const { items } = await api(`/v1/environments/${environment.name}/audit-log?limit=100`);
  fill(main, h("h1", {}, `Audit log · ${environment.name}`),
    items.length === 0 ? h("p", { class: "muted" }, "No changes recorded yet.") :
      table(`Who changed what in ${environment.name}, newest first`, ["When", "Who", "Action", "Resource", "Summary"],
        items.map((entry) => [time(entry.created_at), entry.actor, h("code", {}, entry.action), entry.resource, json(entry.summary)])));
}
