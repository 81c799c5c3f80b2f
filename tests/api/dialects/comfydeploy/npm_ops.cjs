// comfydeploy@2.0.0-beta.69 under Node: create (waiting), get, list, cancel, then a 404.
// Usage: node npm_ops.cjs <serverURL> <bearer> <machineId>
const { ComfyDeploy } = require("comfydeploy");

async function main() {
  const [serverURL, bearer, machineId] = process.argv.slice(2);
  const cd = new ComfyDeploy({ bearer, serverURL });
  const created = await cd.session.create({ machineId, gpu: "A10G", waitForServer: true });
  const got = await cd.session.get({ sessionId: created.sessionId });
  const listed = await cd.session.list({ machineId });
  const cancelled = await cd.session.cancel({ sessionId: created.sessionId });
  let after;
  try {
    await cd.session.get({ sessionId: created.sessionId });
  } catch (err) {
    after = { status: err.statusCode, body: JSON.parse(err.body) };
  }
  const listedAfter = await cd.session.list({ machineId });
  console.log(JSON.stringify({
    created, got, cancelled, after, listedAfter,
    listed: listed.map((e) => ({
      id: e.id, sessionId: e.sessionId, gpu: e.gpu, gpuProvider: e.gpuProvider,
      startTime: e.startTime && e.startTime.toISOString(), endTime: e.endTime,
      tunnelUrl: e.tunnelUrl,
    })),
  }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
