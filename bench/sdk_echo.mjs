// The SDK benchmark through the Node.js SDK (bench/sdk_echo.cpp does the same in C++; see it).
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    homeserver: { type: 'string' }, 'server-name': { type: 'string', default: 'localhost' },
    dir: { type: 'string' }, messages: { type: 'string', default: '2000' }, rate: { type: 'string', default: '1000' },
    package: { type: 'string' },
  },
});
const mrt = createRequire(import.meta.url)(args.package);
const n = Number(args.messages);
const rate = Number(args.rate);

async function start(name) {
  const node = new mrt.Node(mrt.PrivateKey.generate(), {
    homeserver: args.homeserver, serverName: args['server-name'], dataDir: `${args.dir}/${name}`,
    carrier: 'to_device', durable: false,
  });
  await node.start();
  return node;
}

const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const a = await start('a');
const b = await start('b');
const sent = new Array(n).fill(0);
const latency = [];
let received = 0;
let delivered = 0;
const done = new Promise((resolve) => {
  const check = () => { if (received === n && delivered === n) resolve(); };
  b.on('message', (event) => {
    latency.push(performance.now() - sent[Number(event.body)]);
    received += 1;
    check();
  });
  a.on('delivered', () => { delivered += 1; check(); });
});
const cpu0 = cpu();
const t0 = performance.now();
const sends = [];
for (let i = 0; i < n; i += 1) {
  const pause = t0 + (i * 1000) / rate - performance.now();
  if (pause > 1) await new Promise((r) => setTimeout(r, pause));
  sent[i] = performance.now();
  sends.push(a.send(b.address, String(i)));
}
await Promise.all(sends);
await Promise.race([done, new Promise((r) => setTimeout(r, 60000).unref())]);
const seconds = (performance.now() - t0) / 1000;
const used = cpu() - cpu0;
// Nearest rank, as bench/support's percentile() (0 for no samples).
const percentile = (samples, p) => {
  if (samples.length === 0) return 0;
  const ordered = [...samples].sort((x, y) => x - y);
  return ordered[Math.min(Math.max(Math.ceil(p * ordered.length), 1), ordered.length) - 1];
};
console.log(JSON.stringify({
  sdk: 'node', messages: n, rate, received, delivered,
  p50_ms: percentile(latency, 0.5),
  p99_ms: percentile(latency, 0.99),
  cpu_us_per_msg: (used * 1e6) / n, seconds,
}));
await a.stop();
await b.stop();
