// The demo inbox: the custom elements, as the README shows them. The local
// defaults come from /demo-config.json; URL parameters override them:
// ?subscriber=…&key=…&api=…&token=…&locale=…&limit=…
import "@tidings/sdk/elements";

const defaults = await (await fetch("/demo-config.json")).json();
const params = new URLSearchParams(location.search);
const attributes = {
  "api-url": params.get("api") ?? defaults.apiUrl,
  "publishable-key": params.get("key") ?? defaults.publishableKey,
  "subscriber-id": params.get("subscriber") ?? defaults.subscriberId,
  "subscriber-token": params.get("token"),
  locale: params.get("locale"),
  limit: params.get("limit"),
};
for (const element of [document.getElementById("bell"), document.getElementById("inbox")]) {
  for (const [name, value] of Object.entries(attributes)) if (value) element.setAttribute(name, value);
}
