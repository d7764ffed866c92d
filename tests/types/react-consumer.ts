// Compiled by `npm test` with strict settings: the React bindings' types, as an app uses them.
import { createElement } from "react";
import type { ReactElement } from "react";
import { TidingsProvider, useCounts, useFeed, usePreferences, useTidings } from "@tidings/sdk/react";
import type { FeedItem } from "@tidings/sdk";

function Inbox(): ReactElement {
  const { items, counts, status, error, markRead, loadMore, hasMore } = useFeed({ limit: 10, read: false });
  const first: FeedItem | undefined = items[0];
  const unread: number = useCounts({ archived: "exclude" }).unread + counts.unread;
  const { preferences, update } = usePreferences();
  const { session } = useTidings();
  void markRead(first?.id ?? "none");
  if (hasMore) void loadMore();
  void update({ global: { in_app: !(preferences?.global?.in_app ?? true) } });
  return createElement("p", null, `${status} ${unread} ${error?.code ?? ""} ${session?.subscriberId ?? ""}`);
}

export const app: ReactElement = createElement(
  TidingsProvider,
  { apiUrl: "http://127.0.0.1:8787", publishableKey: "pk_development_…", subscriberId: "user-1" },
  createElement(Inbox),
);
