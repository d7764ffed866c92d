// The Tidings admin console: sign in with a personal access token, pick an
// environment with the tabs at the top, and work on one page of it. Pages
// live in ./pages; the location hash says which: #/environments or
// #/<environment>/<page>[/<argument>].
import { api, token } from "./api.js";
import { h, errorBox, fill } from "./ui.js";
import { renderEnvironments } from "./pages/environments.js";
import { renderKeys } from "./pages/keys.js";
import { renderChanges } from "./pages/changes.js";
import { renderWorkflows } from "./pages/workflows.js";
import { renderSubscribers, renderLogs, renderIntegrations, renderAudit } from "./pages/data.js";

const $ = (id) => document.getElementById(id);

/** Each environment page, and whether the member's access there shows it. */
const PAGES = [
  { id: "workflows", label: "Workflows", render: renderWorkflows, shown: () => true },
  { id: "changes", label: "Changes", render: renderChanges, shown: () => true },
  { id: "keys", label: "Keys", render: renderKeys, shown: (access) => access.may_manage_keys },
  { id: "subscribers", label: "Subscribers", render: renderSubscribers, shown: () => true },
  { id: "logs", label: "Logs", render: renderLogs, shown: () => true },
  { id: "integrations", label: "Integrations", render: renderIntegrations, shown: () => true },
  // Reading the audit log needs the same admin rights as managing keys.
  { id: "audit", label: "Audit log", render: renderAudit, shown: (access) => access.may_manage_keys },
];

/** The colour of an environment: its own, or its type's. */
export function colourOf(environment) {
  return environment.colour ?? { development: "#2f9e44", staging: "#f08c00", production: "#e03131" }[environment.type] ?? "#495061";
}

let session = null;

function showLogin(error) {
  session = null;
  $("who").hidden = true;
  $("sign-out").hidden = true;
  $("pages-nav").hidden = true;
  fill($("environments-nav"));
  const input = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true,
    placeholder: "mt_…", "aria-describedby": "token-help", size: 40 });
  const form = h("form", { class: "panel", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Sign in to the console"),
    h("label", { for: "token" }, "Personal access token"), input,
    h("p", { id: "token-help", class: "muted" },
      "Members get tokens from an admin (POST /v1/members/{id}/tokens). `npm start` prints the owner's."),
    h("div", { class: "actions" }, h("button", { class: "primary", type: "submit" }, "Sign in")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    token.set(input.value.trim());
    await start();
  });
  fill($("main"), ...(error ? [errorBox(error)] : []), form);
  input.focus();
}

/** Loads who the member is and what they see, then shows the page the hash names. */
async function start() {
  if (!token.get()) return showLogin();
  try {
    const [me, list] = await Promise.all([api("/v1/me"), api("/v1/environments")]);
    session = { me, environments: list.environments.sort((a, b) => a.position - b.position) };
  } catch (error) {
    token.clear();
    return showLogin(error);
  }
  $("who").hidden = false;
  $("who").textContent = `${session.me.name} · ${session.me.role}`;
  $("sign-out").hidden = false;
  if (!location.hash || location.hash === "#/login") location.hash = "#/environments";
  else await route();
}

/** Reloads the environment list (after a create or delete) and shows the page again. */
async function refresh() {
  const [me, list] = await Promise.all([api("/v1/me"), api("/v1/environments")]);
  session = { me, environments: list.environments.sort((a, b) => a.position - b.position) };
  renderTabs(currentName());
}

function currentName() {
  const [first] = location.hash.replace(/^#\//, "").split("/");
  return first === "environments" ? null : decodeURIComponent(first);
}

function renderTabs(current) {
  const nav = $("environments-nav");
  fill(nav,
    h("a", { href: "#/environments", "aria-current": current === null ? "page" : undefined, style: "--tab: #495061" }, "All environments"),
    ...session.environments.map((environment) =>
      h("a", {
        href: `#/${environment.name}/workflows`,
        "aria-current": environment.name === current ? "page" : undefined,
        style: `--tab: ${colourOf(environment)}`,
        dataset: { environment: environment.name, type: environment.type },
      }, environment.label ?? environment.name)),
  );
  const environment = session.environments.find((candidate) => candidate.name === current);
  document.documentElement.style.setProperty("--env", environment ? colourOf(environment) : "#495061");
}

async function route() {
  if (!session) return start();
  const [first, page = "workflows", ...rest] = location.hash.replace(/^#\//, "").split("/").map(decodeURIComponent);
  const main = $("main");
  const pagesNav = $("pages-nav");
  fill($("environment-banner"));
  $("environment-banner").hidden = true;
  if (first === "environments" || !first) {
    renderTabs(null);
    pagesNav.hidden = true;
    document.title = "Environments · Tidings console";
    await renderEnvironments(main, { session, refresh });
    return focusMain();
  }
  renderTabs(first);
  const environment = session.environments.find((candidate) => candidate.name === first);
  const access = session.me.environments.find((candidate) => candidate.name === first);
  if (!environment || !access) {
    pagesNav.hidden = true;
    fill(main, errorBox({ code: "environment_not_found", message: `there is no environment named ${first}` }));
    return focusMain();
  }
  const shown = PAGES.filter((candidate) => candidate.shown(access));
  const current = shown.find((candidate) => candidate.id === page) ?? shown[0];
  pagesNav.hidden = false;
  fill(pagesNav, ...shown.map((candidate) =>
    h("a", { href: `#/${first}/${candidate.id}`, "aria-current": candidate === current ? "page" : undefined }, candidate.label)));
  document.title = `${current.label} · ${first} · Tidings console`;
  fill(main, h("p", { role: "status" }, "Loading…"));
  showDeliveryBanner(environment);
  try {
    await current.render(main, { session, environment, access, argument: rest.join("/"), refresh });
  } catch (error) {
    fill(main, errorBox(error));
  }
  focusMain();
}

/**
 * Warns on an environment that is not production and delivers webhooks to real recipients
 * (it has integrations and no test mode): a test there can reach customers.
 */
async function showDeliveryBanner(environment) {
  if (environment.type === "production" || environment.deliver_only_to) return;
  const { items } = await api(`/v1/environments/${environment.name}/integrations`).catch(() => ({ items: [] }));
  if (items.length === 0 || currentName() !== environment.name) return;
  const banner = $("environment-banner");
  fill(banner, h("p", { class: "banner warning", role: "note", dataset: { banner: "external-deliveries" } },
    h("strong", {}, `${environment.label ?? environment.name} delivers webhooks to every recipient. `),
    "Tests here can reach real people: turn on test mode (deliver_only_to in the environment's settings, or ",
    h("code", {}, "npm run env -- create … --deliver-only-to"), ") so only listed recipients get them."));
  banner.hidden = false;
}

function focusMain() {
  $("main").focus({ preventScroll: true });
}

$("sign-out").addEventListener("click", () => {
  token.clear();
  location.hash = "#/login";
  showLogin();
});
window.addEventListener("hashchange", () => {
  if (location.hash !== "#/login") route();
});
start();
