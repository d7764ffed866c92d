// Compiled (not run) by `npm test` with `tsc --strict`: a TypeScript server
// using @tidings/sdk/server must type-check, and misuse must not.
import { TidingsError, TidingsServer, signSubscriberToken, verifyWebhook, type TriggerResponse, type WorkflowResponse } from "@tidings/sdk/server";

export async function server(rawBody: string, header: string | null): Promise<string> {
  const tidings = new TidingsServer({ secretKey: "sk_production_…", apiUrl: "https://tidings.example.workers.dev", maxRetries: 2 });
  const sent: TriggerResponse = await tidings.trigger(
    { workflow: "order-shipped", to: ["user-1", { subscriber_id: "user-2", email: "b@example.com" }], payload: { order: 42 } },
    { idempotencyKey: "order-42-shipped" },
  );
  const ids: string[] = sent.messages.map((message) => message.id);
  const subscriber = await tidings.subscribers.upsert("user-1", { first_name: "Ada", data: { plan: "pro" } });
  const name: string | null = subscriber.first_name;
  const workflow: WorkflowResponse = await tidings.workflows.save("order-shipped", {
    name: "Order shipped",
    steps: [{ type: "in_app", subject: "Order {{ payload.order }}", body: "On its way" }],
  });
  const version: number = workflow.version;
  const { token, expires_at } = await tidings.subscribers.mintToken("user-1", { ttlSeconds: 900, scope: "read" });
  const offline: string = signSubscriberToken({ signingSecret: "…", environment: "production", subscriberId: "user-1" });
  const genuine: boolean = verifyWebhook({ body: rawBody, signature: header, secret: "whsec_…" });
  try {
    await tidings.logs.list({ status: "failed", limit: 50 });
  } catch (error) {
    if (error instanceof TidingsError && error.code === "rate_limited") return String(error.retryAfter);
    // @ts-expect-error there is no such code
    if (error instanceof TidingsError && error.code === "teapot") return "";
  }
  // @ts-expect-error a trigger needs recipients
  await tidings.trigger({ workflow: "x" });
  // @ts-expect-error steps are in_app or webhook
  await tidings.workflows.save("x", { name: "x", steps: [{ type: "sms", body: "b" }] });
  return [ids.join(), name, version, token, expires_at, offline, genuine].join();
}
