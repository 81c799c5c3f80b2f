// @orq-ai/node 4.15.11 (threads, /v2/sessions) under Node: its zod schemas reject nulls
// and naive datetimes, so every read below also checks sessionhub's output.
// Usage: node npm_threads.cjs <serverURL> <apiKey> <legacyId>
// (legacyId: a thread made through the legacy API with project_id null and a naive date)
const { Orq } = require("@orq-ai/node");

const zero = { inputCost: 0, outputCost: 0, totalCost: 0 };
const none = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };

function view(t) {
  return {
    id: t.id, externalId: t.externalId, duration: t.duration, tags: t.tags,
    contactIds: t.contactIds, tracesCount: t.tracesCount, usage: t.usage, billing: t.billing,
    projectId: t.projectId, kind: t.kind, client: t.client, title: t.title,
    startedAt: t.startedAt && t.startedAt.toISOString(),
    updatedAt: t.updatedAt && t.updatedAt.toISOString(),
  };
}

async function failure(promise) {
  try {
    await promise;
    return null;
  } catch (err) {
    return { name: err.name, status: err.statusCode, body: err.body && JSON.parse(err.body) };
  }
}

async function main() {
  const [serverURL, apiKey, legacyId] = process.argv.slice(2);
  const orq = new Orq({ apiKey, serverURL });
  const created = await orq.sessions.create({
    externalId: "node/thread 1", duration: 12.5, contactIds: ["c1"], billing: zero,
    usage: none, tracesCount: 2, tags: ["node"], startedAt: new Date("2025-02-03T04:05:06Z"),
    kind: "THREAD_KIND_CONVERSATION", client: "codex", title: "from node",
  });
  const second = await orq.sessions.create({
    externalId: "node-2", duration: 0, contactIds: [], billing: zero, usage: none,
    tracesCount: 0, tags: [],
  });
  const byExternal = await orq.sessions.get({ sessionId: created.externalId });
  const byId = await orq.sessions.get({ sessionId: created.id });
  const legacy = await orq.sessions.get({ sessionId: legacyId });
  const interval = "SESSION_INTERVAL_ALL_TIME";
  const page1 = await orq.sessions.list({ filters: { interval }, limit: 2, page: 1 });
  const page2 = await orq.sessions.list({ filters: { interval }, limit: 2, page: 2 });
  const updated = await orq.sessions.update({
    sessionId: created.externalId,
    updateThreadRequest: { tags: ["node", "x"], clearContactIds: true, tracesCount: 5 },
  });
  const count = await orq.sessions.getCount({ filters: { interval } });
  const tags = await orq.sessions.listTags();
  await orq.sessions.delete({ sessionId: second.id });
  const afterDelete = await failure(orq.sessions.get({ sessionId: second.id }));
  const deleteMissing = await failure(orq.sessions.delete({ sessionId: "no-such-thread" }));
  const unauthorized = await failure(
    new Orq({ apiKey: "shk_wrong", serverURL }).sessions.get({ sessionId: created.id }),
  );
  console.log(JSON.stringify({
    created: view(created), second: view(second), byExternal: view(byExternal),
    byId: view(byId), legacy: view(legacy), updated: view(updated), count, tags,
    page1: { ids: page1.data.map((t) => t.externalId), more: page1.hasMore, object: page1.object },
    page2: { ids: page2.data.map((t) => t.externalId), more: page2.hasMore },
    afterDelete, deleteMissing, unauthorized,
  }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
