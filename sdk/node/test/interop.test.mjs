// A Python node (the Python SDK) and a Node.js node on one dev homeserver.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';

import { devHomeserver, mrt, nextEvent } from './homeserver.mjs';

const PYTHON_PEER = `
import os, sys, mrt
key = mrt.PrivateKey.generate()
node = mrt.Node(key, sys.argv[1], sys.argv[2], server_name="localhost", carrier="to_device", durable=False)
node.start()
print(node.address, flush=True)
node.send(sys.argv[3], "from python")
got = delivered = False
for event in node.events(30):
    node.consumed(event)
    delivered = delivered or event.type == "delivered"
    if event.type == "message":
        print("got", event.body, flush=True)
        got = True
    if got and delivered:
        print("delivered", flush=True)
        break
node.stop()
`;

test('a Python node and a Node.js node exchange messages both ways', async (t) => {
  if (!process.env.MRT_PYTHON_PATH) return t.skip('no Python SDK in this build');
  const server = await devHomeserver();
  try {
    const js = server.node(mrt.PrivateKey.generate(), 'js');
    await js.start();
    const fromPython = nextEvent(js, 'message', 30000);
    const python = spawn(process.env.MRT_PYTHON || 'python3', ['-c', PYTHON_PEER, server.url, `${server.dir}/py`, js.address],
      { env: { ...process.env, PYTHONPATH: process.env.MRT_PYTHON_PATH }, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    python.stdout.on('data', (chunk) => { output += chunk; });
    const exited = new Promise((resolve) => python.once('exit', resolve));
    const message = await fromPython;
    assert.equal(message.body, 'from python');
    const reply = await js.sendAndWait(message.peer, 'from node');
    assert.equal(reply.type, 'delivered');
    assert.equal(await exited, 0, output);
    assert.match(output, /got from node/);
    assert.match(output, /delivered/);
  } finally {
    await server.close();
  }
});
