// Promotion into this environment: the pending changes from the one before
// it with their typed field-level diff and preflight problems, promote some
// or all (with a dry run first if wanted); release requests waiting for a
// second member (where the environment requires approval), with approve and
// reject; then its releases, with rollback.
import { api } from "../api.js";
import { act, h, json, table, time, fill } from "../ui.js";

export async function renderChanges(main, { session, environment, access }) {
  // The chain alone: previews (off the chain, from position 1,000,000) are never a source or a target.
  const preview = (candidate) => candidate.preview_of || candidate.position >= 1_000_000;
  const chain = session.environments.filter((candidate) => !preview(candidate));
  const index = chain.findIndex((candidate) => candidate.name === environment.name);
  const source = index > 0 ? chain[index - 1] : null;
  const pending = h("section", { "aria-labelledby": "pending-title" });
  const outcome = h("div", { role: "status", "aria-live": "polite" });
  const releases = h("section", { "aria-labelledby": "releases-title" });
  const requests = h("section", { "aria-labelledby": "requests-title" });
  const requestsBase = `/v1/environments/${environment.name}/release-requests`;

  async function drawPending() {
    if (!source) {
      fill(pending, h("h2", { id: "pending-title" }, "Pending changes"),
        h("p", { class: "notice" }, preview(environment)
          ? `${environment.name} is a preview environment: nothing is promoted into it; it promotes into ${environment.preview_of ?? "its source"} through the API.`
          : `${environment.name} is where changes start; nothing is promoted into it.`));
      return;
    }
    const list = await api(`/v1/changes?from=${encodeURIComponent(source.name)}&to=${encodeURIComponent(environment.name)}`);
    const boxes = [];
    const cards = list.changes.map((change) => {
      const box = h("input", { type: "checkbox", id: `pick-${change.id}`, value: change.id, checked: true });
      boxes.push(box);
      return h("article", { class: "panel change", dataset: { change: change.change, resource: change.resource, key: change.key } },
        h("h3", {}, box, h("label", { for: `pick-${change.id}`, style: "margin: 0" }, `${change.resource} ${change.key}`),
          h("span", { class: "status" }, change.change)),
        table(`Fields of ${change.resource} ${change.key}`, ["Field", "Kind", `In ${environment.name}`, `In ${source.name}`],
          change.fields.map((field) => [h("code", {}, field.path), field.kind, json(field.from), json(field.to)])));
    });
    const problems = list.problems.map((problem) =>
      h("li", { class: "problem", dataset: { blocking: String(problem.blocking), code: problem.code } },
        h("code", {}, problem.code), ` ${problem.resource}: ${problem.message}`, problem.blocking ? " (blocks promotion)" : ""));
    const selected = () => boxes.filter((box) => box.checked).map((box) => box.value);
    const promote = (changes, dryRun) => async () => {
      if (changes.length === 0) throw { code: "nothing_selected", message: "select at least one change" };
      const answer = await api("/v1/promotions", { method: "POST", body: { from: source.name, to: environment.name, changes, dry_run: dryRun } });
      if (dryRun) {
        fill(outcome, h("div", { class: "notice" },
          h("strong", {}, `Dry run: ${answer.changes.length} change(s) would be applied to ${environment.name}.`),
          answer.problems.length ? h("ul", {}, answer.problems.map((problem) => h("li", { class: "problem", dataset: { blocking: String(problem.blocking) } }, `${problem.code}: ${problem.message}`))) : null));
      } else if (answer.release_request) {
        fill(outcome, h("div", { class: "notice", dataset: { request: answer.release_request.id } },
          `${environment.name} requires approval: request ${answer.release_request.id} waits for another member to approve its ${answer.changes.length} change(s).`));
        await drawRequests();
      } else {
        fill(outcome, h("div", { class: "notice" }, `Release ${answer.release.id} applied ${answer.release.changes.length} change(s) to ${environment.name}.`));
        await Promise.all([drawPending(), drawReleases()]);
      }
    };
    const buttons = access.may_promote && list.changes.length > 0
      ? h("div", { class: "actions" },
        h("button", { type: "button", onclick: (event) => act(event.currentTarget, pending, promote(selected(), true)) }, "Preview (dry run)"),
        h("button", { type: "button", onclick: (event) => act(event.currentTarget, pending, promote(selected(), false)) }, "Promote selected"),
        h("button", { type: "button", class: "primary", onclick: (event) => act(event.currentTarget, pending, promote("all", false)) }, "Promote all"))
      : null;
    fill(pending,
      h("h2", { id: "pending-title" }, `Pending changes from ${source.name}`),
      list.changes.length === 0 ? h("p", { class: "notice" }, `${environment.name} has everything ${source.name} has.`) : null,
      problems.length ? h("div", { class: "panel" }, h("h3", {}, "Preflight problems"), h("ul", { id: "problems" }, problems)) : null,
      ...cards, buttons,
      !access.may_promote && list.changes.length > 0 ? h("p", { class: "muted" }, `Your role may not promote into ${environment.name}.`) : null);
  }

  async function drawReleases() {
    const { items } = await api(`/v1/environments/${environment.name}/releases`);
    fill(releases, h("h2", { id: "releases-title" }, "Releases"),
      items.length === 0 ? h("p", { class: "muted" }, "No releases yet.") :
        table(`Releases of ${environment.name}, newest first`, ["Release", "Kind", "From", "By", "When", "Changes", ""],
          items.map((release) => [
            h("code", {}, release.id), release.kind, release.source ?? "—", release.actor, time(release.created_at),
            release.changes.map((change) => `${change.change} ${change.resource} ${change.key}`).join(", "),
            release.rolled_back_by ? h("span", { class: "muted" }, `rolled back by ${release.rolled_back_by}`)
              : release.kind === "promotion" && access.may_promote
                ? h("button", { type: "button", "aria-label": `Roll back ${release.id}`, onclick: (event) => {
                  if (!confirm(`Roll back ${release.id}? ${environment.name} gets back what it had before.`)) return;
                  act(event.currentTarget, releases, async () => {
                    const rollback = await api(`/v1/environments/${environment.name}/releases/${release.id}/rollback`, { method: "POST" });
                    fill(outcome, h("div", { class: "notice" }, rollback.status === "pending"
                      ? `${environment.name} requires approval: rollback request ${rollback.id} waits for another member.`
                      : `Rolled back ${release.id} with release ${rollback.id}.`));
                    await Promise.all([drawPending(), drawReleases(), drawRequests()]);
                  });
                } }, "Roll back")
                : "",
          ])));
  }

  /** Release requests: pending ones with their diff and, for another member who may promote here, approve and reject. */
  async function drawRequests() {
    const { items } = await api(requestsBase);
    const mayReview = (request) => access.may_promote && !session.me.break_glass && request.requested_by !== session.me.id;
    const review = (request, verdict) => (event) => {
      const comment = verdict === "reject" ? prompt(`Why reject ${request.id}? The requester sees this.`) : undefined;
      if (verdict === "reject" && !comment) return;
      act(event.currentTarget, requests, async () => {
        const answer = await api(`${requestsBase}/${request.id}/${verdict}`, { method: "POST", body: comment ? { comment } : {} });
        fill(outcome, h("div", { class: "notice" }, verdict === "approve"
          ? `Approved ${request.id}: release ${answer.release.id} applied ${answer.release.changes.length} change(s) to ${environment.name}.`
          : `Rejected ${request.id}.`));
        await Promise.all([drawPending(), drawReleases(), drawRequests()]);
      });
    };
    const card = (request) => h("article", { class: "panel request", dataset: { request: request.id, status: request.status } },
      h("h3", {}, `${request.kind} ${request.source ? `from ${request.source} ` : ""}`, h("code", {}, request.id),
        h("span", { class: "status", dataset: { status: request.status } }, request.status)),
      h("p", { class: "muted" }, `Asked by ${request.requested_by} `, time(request.created_at),
        request.status === "pending" ? [" · expires ", time(request.expires_at)] : null,
        request.reviewed_by ? ` · ${request.status} by ${request.reviewed_by}` : null,
        request.comment ? ` · “${request.comment}”` : null),
      request.changes.map((change) =>
        table(`${change.change} ${change.resource} ${change.key}`, ["Field", "Kind", "Now", "After"],
          change.fields.map((field) => [h("code", {}, field.path), field.kind, json(field.from), json(field.to)]))),
      request.status === "pending" && mayReview(request)
        ? h("div", { class: "actions" },
          h("button", { type: "button", class: "primary", "aria-label": `Approve ${request.id}`, onclick: review(request, "approve") }, "Approve"),
          h("button", { type: "button", class: "danger", "aria-label": `Reject ${request.id}`, onclick: review(request, "reject") }, "Reject"))
        : request.status === "pending" ? h("p", { class: "muted" }, request.requested_by === session.me.id
          ? "Another member who may promote here must approve it." : "You may not review it.") : null);
    fill(requests, h("h2", { id: "requests-title" }, "Release requests"),
      environment.require_approval ? h("p", { class: "muted" }, `Promotions, imports and rollbacks into ${environment.name} wait for a second member's approval.`) : null,
      items.length === 0 ? h("p", { class: "muted" }, "No release requests.") : items.slice(0, 20).map(card));
  }

  fill(main, h("h1", {}, `Changes · ${environment.name}`), outcome, pending, requests, releases);
  await Promise.all([drawPending(), drawReleases(), drawRequests()]);
}
