// @jupyterlab/services connected through one node to a kernel another node owns:
// prints one JSON object {kernel, result, status} (or {error}).
const { ServerConnection, KernelManager } = require('@jupyterlab/services');
const WebSocket = require('ws');

const [baseUrl, kernelId, code] = process.argv.slice(2);
const serverSettings = ServerConnection.makeSettings({ baseUrl, token: 'any', appendToken: true, WebSocket });

async function main() {
  const manager = new KernelManager({ serverSettings });
  const model = { id: kernelId, name: 'python3' };
  const kernel = manager.connectTo({ model });
  let result = null;
  const future = kernel.requestExecute({ code });
  future.onIOPub = (msg) => {
    if (msg.header.msg_type === 'execute_result') result = msg.content.data['text/plain'];
  };
  const reply = await future.done;
  console.log(JSON.stringify({ kernel: kernel.id, result, status: reply.content.status }));
  kernel.dispose();
  manager.dispose();
}

main().then(() => process.exit(0), (err) => {
  console.log(JSON.stringify({ error: String(err && err.stack || err) }));
  process.exit(1);
});
