// Type-checked by `npm run typecheck` (and tests/client/test_typescript.py):
// what a TypeScript user writes, and what the types refuse.
import { createSessionHubClient, type Event, type Session } from "../src/index.js";

export async function firstSession(baseUrl: string, apiKey: string): Promise<Event[]> {
  const hub = createSessionHubClient({ baseUrl, apiKey });
  const created = await hub.POST("/v1/sessions", { body: { title: "first" } });
  if (created.error) throw new Error(JSON.stringify(created.error));
  const session: Session = created.data;
  await hub.POST("/v1/sessions/{session_id}/events", {
    params: { path: { session_id: session.id } },
    body: { type: "message", role: "user", payload: { text: "hi" } },
  });
  const page = await hub.GET("/v1/sessions/{session_id}/events", {
    params: { path: { session_id: session.id }, query: { limit: 50 } },
  });
  if (page.error) throw new Error(JSON.stringify(page.error));
  const seqs: number[] = page.data.items.map((event) => event.seq);
  console.log(seqs);

  // @ts-expect-error: no such path
  await hub.GET("/v1/no-such-path");
  await hub.GET("/v1/sessions/{session_id}", {
    // @ts-expect-error: the path parameter is session_id
    params: { path: { id: session.id } },
  });
  // @ts-expect-error: a session's title is a string
  await hub.POST("/v1/sessions", { body: { title: 42 } });
  return page.data.items;
}
