// The dev homeserver (`mrt serve`) as a child process for the SDK's tests, and helpers.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const require = createRequire(import.meta.url);
export const mrt = require(process.env.MRT_NODE_PACKAGE);

export async function devHomeserver() {
  const dir = mkdtempSync(path.join(tmpdir(), 'mrt-js-'));
  const child = spawn(process.env.MRT_CLI, ['serve', '--server-name', 'localhost', '--listen',
    '127.0.0.1:0', '--data', path.join(dir, 'server')], { stdio: ['ignore', 'pipe', 'ignore'] });
  const line = await new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: child.stdout });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`mrt serve exited with ${code}`)));
  });
  if (!line.startsWith('listening on ')) throw new Error(`mrt serve: ${line}`);
  const nodes = [];
  // A child killed by a signal has a signalCode and no exitCode.
  const exited = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(); else child.once('exit', resolve);
  });
  return {
    url: line.split(' ').pop(),
    dir,
    node(key, name, options = {}) {
      const node = new mrt.Node(key, {
        homeserver: this.url, serverName: 'localhost', dataDir: path.join(dir, name),
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
      child.kill('SIGTERM');
      await exited();
      rmSync(dir, { recursive: true, force: true });
    },
  };
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
