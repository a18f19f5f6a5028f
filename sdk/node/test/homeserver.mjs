// The homeserver of the SDK's tests, and helpers: the dev homeserver (`mrt serve`) as a child
// process, one per test; or, with MRT_TEST_HOMESERVER=synapse, one Synapse 1.67 for the whole
// run (../shared/synapse/synapse.sh, named by MRT_SYNAPSE_SH), each test on fresh keys.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(import.meta.url);
export const mrt = require(process.env.MRT_NODE_PACKAGE);

export const onSynapse = process.env.MRT_TEST_HOMESERVER === 'synapse';

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let synapse = null;
// One Synapse for the run, wiped when the process exits.
async function sharedSynapse() {
  if (synapse) return synapse;
  const script = process.env.MRT_SYNAPSE_SH;
  const name = `mrt-test-${process.pid}-node`;
  const instance = path.join(process.env.MRT_SYNAPSE_ROOT ?? '/tmp/mrt-synapse', name);
  mkdirSync(instance, { recursive: true });
  // A signing key written first spares synapse.sh a second Python start (--generate-keys).
  const seed = randomBytes(32).toString('base64').replace(/=+$/, '');
  writeFileSync(path.join(instance, 'signing.key'), `ed25519 a_${randomBytes(2).toString('hex')} ${seed}\n`);
  const [client, federation] = [await freePort(), await freePort()];
  const log = openSync(path.join(instance, 'synapse.sh.log'), 'a');
  const started = spawnSync(script, ['start', name, String(client), String(federation)],
    { stdio: ['ignore', log, log] });
  if (started.status !== 0) throw new Error(`synapse.sh start failed: see ${instance}`);
  process.on('exit', () => spawnSync(script, ['wipe', name], { stdio: 'ignore' }));
  synapse = { url: `http://127.0.0.1:${client}`, serverName: `127.0.0.1:${federation}` };
  return synapse;
}

export async function devHomeserver() {
  if (onSynapse) return homeserverAt(await sharedSynapse(), null);
  const dir = mkdtempSync(path.join(tmpdir(), 'mrt-js-'));
  const child = spawn(process.env.MRT_CLI, ['serve', '--server-name', 'localhost', '--listen',
    '127.0.0.1:0', '--data', path.join(dir, 'server')], { stdio: ['ignore', 'pipe', 'ignore'] });
  const line = await new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`mrt serve exited with ${code}`)));
  });
  if (!line.startsWith('listening on ')) throw new Error(`mrt serve: ${line}`);
  return homeserverAt({ url: line.split(' ').pop(), serverName: 'localhost', dir }, child);
}

// Nodes on `server`; `child` is its process when it is this test's own (kill() needs one).
function homeserverAt(server, child) {
  const dir = server.dir ?? mkdtempSync(path.join(tmpdir(), 'mrt-js-'));
  const nodes = [];
  // A child killed by a signal has a signalCode and no exitCode.
  const exited = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(); else child.once('exit', resolve);
  });
  return {
    url: server.url,
    serverName: server.serverName,
    dir,
    node(key, name, options = {}) {
      const node = new mrt.Node(key, {
        homeserver: this.url, serverName: this.serverName, dataDir: path.join(dir, name),
        carrier: 'to_device', durable: false, ...options,
      });
      nodes.push(node);
      return node;
    },
    async started(key, name, options = {}) {
      const node = this.node(key, name, options);
      await node.start();
      return node;
    },
    // The server goes away (the nodes' syncs fail from then on); close() still cleans up.
    async kill() {
      child.kill('SIGKILL');
      await exited();
    },
    async close() {
      for (const node of nodes) await node.stop();
      if (child) {
        child.kill('SIGTERM');
        await exited();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// `body(server)` with a fresh homeserver, closed afterwards whatever happens.
export async function withServer(body) {
  const server = await devHomeserver();
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

// Two keys, the lower address first (it creates the DM room, PROTOCOL §5).
export function orderedKeys() {
  const a = mrt.PrivateKey.generate();
  const b = mrt.PrivateKey.generate();
  return a.address < b.address ? [a, b] : [b, a];
}

// The next event of `type` (others are consumed on the way).
export function nextEvent(node, type, timeoutMs = 20000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { node.off('event', listener); reject(new Error(`no ${type} event`)); }, timeoutMs);
    const listener = (event) => {
      if (event.type !== type) return;
      clearTimeout(timer);
      node.off('event', listener);
      resolve(event);
    };
    node.on('event', listener);
  });
}
