// Small DOM helpers shared by the console's pages.

/** Creates an element: `h("button", { type: "button", onclick }, "Save")`. */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(element.dataset, value);
    // Through the CSSOM: the console's Content-Security-Policy refuses inline style attributes.
    else if (name === "style") element.style.cssText = value;
    else if (name in element && typeof value !== "string") element[name] = value;
    else element.setAttribute(name, value === true ? "" : value);
  }
  element.append(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
  return element;
}

/** Replaces an element's children, skipping absent ones (`null`, `undefined`, `false`). */
export function fill(element, ...children) {
  element.replaceChildren(...children.flat().filter((child) => child !== null && child !== undefined && child !== false));
}

/** A date as the reader's locale shows it, with the exact time in `datetime`. */
export function time(iso) {
  if (!iso) return "—";
  return h("time", { datetime: iso, title: iso }, new Date(iso).toLocaleString());
}

/** A status pill. */
export function status(value) {
  return h("span", { class: "status", dataset: { status: value } }, value);
}

/** An API error as a person reads it: its code and message, and the field at fault. */
export function errorBox(error) {
  return h("div", { class: "error", role: "alert", dataset: { code: error.code ?? "unknown" } },
    h("code", {}, error.code ?? "error"), `: ${error.message}`,
    error.field ? h("span", { class: "muted" }, ` (field ${error.field})`) : null);
}

/** A table with a header row; `rows` are arrays of cells. */
export function table(caption, headings, rows) {
  return h("div", { class: "scroll" },
    h("table", {},
      h("caption", { class: "muted" }, caption),
      h("thead", {}, h("tr", {}, headings.map((heading) => h("th", { scope: "col" }, heading)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell)))))));
}

/** A JSON value: short ones inline, objects laid out and cut after 40 lines. */
export function json(value) {
  if (value === undefined) return "—";
  if (value === null || typeof value !== "object") return h("code", {}, JSON.stringify(value));
  const lines = JSON.stringify(value, null, 2).split("\n");
  return h("pre", {}, lines.length > 40 ? [...lines.slice(0, 40), "…"].join("\n") : lines.join("\n"));
}

/** Runs `action` for a button, disabling it meanwhile and showing any error in `where`. */
export async function act(button, where, action) {
  button.disabled = true;
  where.querySelectorAll(":scope > .error").forEach((box) => box.remove());
  try {
    await action();
  } catch (error) {
    where.prepend(errorBox(error));
  } finally {
    button.disabled = false;
  }
}
