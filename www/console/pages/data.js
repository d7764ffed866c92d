// What members read of an environment's data: subscribers and their
// messages, execution logs, and the audit log. The API masks personal data
// and hides message contents where the environment's privacy settings say
// so and the member has no personal-data grant; the console shows what it gets.
import { api } from "../api.js";
import { h, json, table, time, fill } from "../ui.js";

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

export async function renderLogs(main, { environment }) {
  const { items } = await api(`/v1/environments/${environment.name}/logs?limit=100`);
  fill(main, h("h1", {}, `Logs · ${environment.name}`),
    h("p", { class: "muted" }, "Each step of each trigger: ids, statuses and errors, never personal data."),
    items.length === 0 ? h("p", { class: "muted" }, "Nothing has run yet.") :
      table(`Execution logs of ${environment.name}, newest first`, ["When", "Workflow", "Subscriber", "Step", "Status", "Detail"],
        items.map((entry) => [time(entry.created_at), h("code", {}, entry.workflow), entry.subscriber_id ?? "—", entry.step,
          h("span", { class: "status", dataset: { status: entry.status === "failed" ? "failed" : "active" } }, entry.status), json(entry.detail)])));
}

export async function renderAudit(main, { environment }) {
  const { items } = await api(`/v1/environments/${environment.name}/audit-log?limit=100`);
  fill(main, h("h1", {}, `Audit log · ${environment.name}`),
    items.length === 0 ? h("p", { class: "muted" }, "No changes recorded yet.") :
      table(`Who changed what in ${environment.name}, newest first`, ["When", "Who", "Action", "Resource", "Summary"],
        items.map((entry) => [time(entry.created_at), entry.actor, h("code", {}, entry.action), entry.resource, json(entry.summary)])));
}
