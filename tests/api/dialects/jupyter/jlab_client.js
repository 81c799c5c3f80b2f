// @jupyterlab/services against a live sessionhub: prints one JSON object of results.
const { ServerConnection, SessionManager, KernelManager, SessionAPI } = require('@jupyterlab/services');
const WebSocket = require('ws');

const [baseUrl, token] = process.argv.slice(2);
const serverSettings = ServerConnection.makeSettings({ baseUrl, token, appendToken: true, WebSocket });

async function execute(kernel, code) {
  const future = kernel.requestExecute({ code });
  let result = null;
  future.onIOPub = (msg) => {
    if (msg.header.msg_type === 'execute_result') result = msg.content.data['text/plain'];
  };
  const reply = await future.done;
  return { status: reply.content.status, result };
}

async function main() {
  const out = {};
  const api = new SessionAPI.SessionAPIClient({ serverSettings });
  const made = await api.startNew({ path: 'api.ipynb', type: 'notebook', name: 'api', kernel: { name: 'python3' } });
  out.api_created = { path: made.path, name: made.name, type: made.type, kernel: made.kernel.name };
  out.api_listed = (await api.listRunning()).map((s) => s.id).includes(made.id);
  out.api_get_path = (await api.getModel(made.id)).path;
  const updated = await api.update({ id: made.id, path: 'renamed.ipynb' });
  out.api_updated_path = updated.path;
  // no name sent: jupyter_server answers name null, which validateModel rejects
  const nameless = await api.startNew({ path: 'nameless.ipynb', type: 'notebook', kernel: { name: 'python3' } });
  out.api_nameless = { name: nameless.name, listed: (await api.listRunning()).length };
  await api.shutdown(nameless.id);
  await api.shutdown(made.id);
  out.api_after_shutdown = (await api.listRunning()).map((s) => s.id).includes(made.id);

  const kernelManager = new KernelManager({ serverSettings });
  const sessions = new SessionManager({ kernelManager, serverSettings });
  const session = await sessions.startNew({ path: 'nb.ipynb', type: 'notebook', name: 'nb', kernel: { name: 'python3' } });
  out.started = { path: session.path, name: session.name };
  const info = await session.kernel.info;
  out.kernel_info_language = info.language_info.name;
  out.protocol = session.kernel.serverSettings ? 'ok' : 'none';
  out.execute = await execute(session.kernel, '1+1');
  out.execute_state = await execute(session.kernel, 'x = 41\nx + 1');
  const before = session.kernel.id;
  await session.setPath('moved.ipynb');
  out.set_path = session.path;
  const found = await sessions.findByPath('moved.ipynb');
  out.find_by_path = found ? found.id === session.id : false;
  await session.changeKernel({ name: 'python3' });
  out.changed_kernel = session.kernel.id !== before;
  out.execute_after_change = await execute(session.kernel, 'x = 5\nx * 2');
  await session.shutdown();
  out.after_shutdown = (await SessionAPI.listRunning(serverSettings)).length;
  sessions.dispose();
  kernelManager.dispose();
  console.log(JSON.stringify(out));
  process.exit(0);
}

main().catch((err) => { console.log(JSON.stringify({ error: String(err && err.stack || err) })); process.exit(1); });
