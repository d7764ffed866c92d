// `npm start`: install what is missing, build, migrate, seed the default
// environments once, and serve the worker and the demo on 127.0.0.1.
import { build } from "./build.mjs";
import { setup } from "./setup.mjs";
import { startStack } from "./stack.mjs";

await setup();
build();
const apiPort = Number(process.env.TIDINGS_PORT ?? 8787);
const wwwPort = Number(process.env.TIDINGS_WWW_PORT ?? 8788);
const stack = await startStack({ persistTo: ".wrangler/state", keysFile: ".tidings/local-keys.json", apiPort, wwwPort });

const { environments } = stack.keys;
console.log(`
Tidings is running.
  API   ${stack.apiUrl}    (OpenAPI: ${stack.apiUrl}/openapi.json)
  Demo  ${stack.wwwUrl}    (the development feed of subscriber user-1)
  Console ${stack.apiUrl}/console/    (the console's worker behind the API's, as in a deployment)

Keys (also in .tidings/local-keys.json):`);
for (const [name, keys] of Object.entries(environments)) {
  console.log(`  ${name.padEnd(12)} ${keys.publishable_key}\n  ${"".padEnd(12)} ${keys.secret_key}`);
}
if (stack.keys.owner) {
  console.log(`
Sign in as the owner (${stack.keys.owner.email}) with this personal access token:
  ${stack.keys.owner.token}
  curl ${stack.apiUrl}/v1/me -H "Authorization: Bearer ${stack.keys.owner.token}"`);
}
console.log(`
Send a notification:
  curl -X POST ${stack.apiUrl}/v1/events/trigger \\
    -H "Authorization: Bearer ${environments.development.secret_key}" \\
    -d '{"workflow":"welcome","to":["user-1"],"payload":{"name":"Ada"}}'

Stop with Ctrl+C.`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await stack.stop();
    process.exit(0);
  });
}
