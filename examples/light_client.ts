// A Raiden light-client-style node in TypeScript on mrt (Node.js): it watches its channel
// partner, listens to the Pathfinding Service's room, sends a balance proof and waits for its
// `delivered`. Types: sdk/node/lib/index.d.ts (checked by `ctest -L node`).
//
//   build/cli/mrt serve --server-name localhost --listen 127.0.0.1:8008 --data /tmp/hs &
//   npm install build/sdk/node/package          # the addon's package folder
//   npx tsc examples/light_client.ts && node examples/light_client.js 0x…partner
import { LogRecord, Node, NodeError, NodeEvent, PrivateKey } from 'mrt';

const PATHFINDING = 'raiden_1_path_finding';

async function main(partner: string): Promise<void> {
  const key = PrivateKey.generate(); // or: await PrivateKey.fromKeystore(file, password)
  const node = new Node(key, {
    homeserver: 'http://127.0.0.1:8008',
    serverName: 'localhost',
    dataDir: 'light-client-data',
    allowlist: [partner],
    capabilities: { Receive: true, Mediate: false, toDevice: true },
    onLog: (record: LogRecord) => console.error(record.level, record.component, record.event, record.fields),
    logLevel: 'warning',
  });
  node.on('message', async (event: NodeEvent) => {
    console.log('from', event.topic ?? event.peer, event.body); // consumed once this settles
  });
  node.on('reachability', (event: NodeEvent) => console.log(event.peer, 'is', event.reachability));
  await node.start();
  node.watch(partner); // ids, DM room and reachability before the first payment
  console.log('metadata for the PFS:', node.metadata());
  await node.subscribe(PATHFINDING);
  const balanceProof = JSON.stringify({ type: 'LockedTransfer', nonce: 1, amount: '10' });
  try {
    const outcome = await node.sendAndWait(partner, balanceProof);
    console.log(outcome.type, outcome.id); // delivered, or failed after max_age
  } catch (error) {
    if (error instanceof NodeError) console.error('refused:', error.kind, error.message);
    else throw error;
  } finally {
    await node.stop();
  }
}

main(process.argv[2] ?? '').catch((error) => {
  console.error(error);
  process.exit(1);
});
