// Compiled (not run) by `npm test` with `tsc --strict`: what an app written
// in TypeScript does with @tidings/sdk must type-check, and misuse must not.
import { Tidings, type ErrorCode, type FeedItem, type LiveState, type TidingsError } from "@tidings/sdk";
import { signSubscriberToken } from "@tidings/sdk/server";

export async function inbox(render: (items: FeedItem[], unread: number) => void): Promise<() => void> {
  const tidings = await Tidings.connect({
    apiUrl: "http://127.0.0.1:8787",
    publishableKey: "pk_development_…",
    subscriberId: "user-1",
    subscriberToken: signSubscriberToken({ signingSecret: "…", environment: "development", subscriberId: "user-1", keyId: "s2" }),
  });
  const page = await tidings.feed.list({ limit: 20, read: false, archived: "include", data: { order: 42 } });
  const first: string | null = page.page_info.after;
  const watermark: string = page.watermark;
  const changes = await tidings.feed.changes(watermark, { limit: 50 });
  for (const change of changes.changes) {
    if (change.kind === "upsert") render([change.item], changes.counts.unread);
    else console.log(change.id, change.reason satisfies "deleted" | "filtered");
  }
  const { unread } = await tidings.feed.counts({ tags: ["billing"] });
  const result = await tidings.feed.markRead(page.items.map((item) => item.id));
  const updated: number = result.updated + unread;
  await tidings.preferences.update({ workflows: { digest: { in_app: false }, weekly: null } });
  const environment = await tidings.environment();
  console.log(first, updated, environment.type, environment.position + 1);

  const live = tidings.feed.subscribe((state: LiveState) => {
    if (state.error) {
      const code: ErrorCode = (state.error satisfies TidingsError).code;
      // Codes are a union: a branch on a code that does not exist fails to compile.
      if (code === "origin_not_allowed" || code === "network_error") console.warn(code);
      // @ts-expect-error there is no such code
      if (code === "origin_forbidden") console.warn(code);
    }
    render(state.items, state.counts.unread);
  }, { archived: "exclude" });
  await live.ready;
  await live.loadMore();

  // @ts-expect-error archived takes exclude, include or only
  await tidings.feed.list({ archived: "everything" });
  // @ts-expect-error counts are numbers
  const wrong: string = (await tidings.feed.counts()).total;
  // @ts-expect-error a payload is an object, not a string
  const payload: string = page.items[0].payload;
  // @ts-expect-error the options need a subscriber
  await Tidings.connect({ apiUrl: "http://127.0.0.1:8787", publishableKey: "pk_development_…" });
  console.log(wrong, payload);
  return () => live.close();
}
