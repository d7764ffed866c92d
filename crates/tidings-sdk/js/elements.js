// @tidings/sdk/elements: <tidings-inbox> and <tidings-bell>, custom elements
// that work in any page or framework. Importing this module defines them
// (where custom elements exist; in Node.js it defines nothing).
import { TidingsBell } from "./elements/bell.js";
import { TidingsInbox } from "./elements/inbox.js";

export { TidingsBell, TidingsInbox };
export { messages } from "./elements/messages.js";

if (globalThis.customElements) {
  if (!customElements.get("tidings-inbox")) customElements.define("tidings-inbox", TidingsInbox);
  if (!customElements.get("tidings-bell")) customElements.define("tidings-bell", TidingsBell);
}
