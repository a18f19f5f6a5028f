// The matrix-js-sdk reference of the node-to-node benchmarks (bench/node_run.sh): two
// matrix-js-sdk clients with Rust crypto in one node process, logged in to their own
// `mrt serve` (rate limits lifted) with the Ethereum login of PROTOCOL.md section 2, hold an
// encrypted DM room and measure
//   - latency: sendEvent of an m.room.message on one client -> the other's decrypted event,
//     one message at a time, alternating direction, each send's own request finished before the
//     next; p50/p99/max after a warm-up;
//   - throughput: a burst of N sendEvent calls from one client (none awaited before the next),
//     messages/s until the other has decrypted all of them; process CPU per message.
// Prints one JSON line (with JS_BENCH_DEBUG=1 also the most frequent of the silenced console
// messages).
//
//   node bench/js_sdk_latency.mjs --mrt build/cli/mrt [--samples 200] [--warmup 20]
//                                 [--burst 500] [--body-bytes 128] [--dir /tmp]
// (--dir: where the server's store goes; /dev/shm takes the disk out)
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";

import { Wallet } from "ethers";
import * as sdk from "matrix-js-sdk";
import { deadline, loginEthereum, openEncryptedDm } from "../tests/interop/js_sdk_client.mjs";
import { startServer } from "../tests/interop/mrt_serve.mjs";
// The instance of matrix-sdk-crypto-wasm that matrix-js-sdk imports (its own node_modules).
const { LoggerLevel, Tracing } = await import(
  new URL("../node_modules/matrix-js-sdk/node_modules/@matrix-org/matrix-sdk-crypto-wasm/node.mjs",
          import.meta.url).href);

const { values } = parseArgs({
  options: {
    mrt: { type: "string" },
    samples: { type: "string", default: "200" },
    warmup: { type: "string", default: "20" },
    burst: { type: "string", default: "500" },
    "body-bytes": { type: "string", default: "128" },
    dir: { type: "string", default: tmpdir() },
  },
});
if (!values.mrt) {
  console.error("usage: js_sdk_latency.mjs --mrt PATH_TO_MRT [--samples N] [--warmup N] [--burst N]");
  process.exit(2);
}
// Quiet: js-sdk logs every step at debug level to the console by default, which costs it time.
const quiet = {
  trace() {}, debug() {}, info() {}, log() {},
  warn: (...a) => console.error(...a),
  error: (...a) => console.error(...a),
  getChild() { return quiet; },
};
let consoleCalls = 0;
const consoleSeen = new Map();
for (const m of ["log", "debug", "info"]) console[m] = (...a) => { consoleCalls++; if (process.env.JS_BENCH_DEBUG) { const k = String(a[0]).slice(0, 60); consoleSeen.set(k, (consoleSeen.get(k) ?? 0) + 1); } };
const samples = Number(values.samples), warmup = Number(values.warmup);
const burst = Number(values.burst), bodyBytes = Number(values["body-bytes"]);
const SERVER_NAME = "localhost";
const PATIENCE_MS = 30000;
const sdkVersion = JSON.parse(
  readFileSync(new URL("../node_modules/matrix-js-sdk/package.json", import.meta.url), "utf8"),
).version;

// A logged-in client whose decrypted room messages from others go to `client.onMessage(body)`.
function login(baseUrl, wallet) {
  return loginEthereum(baseUrl, wallet, SERVER_NAME, {
    logger: quiet,
    displayName: "js-sdk bench",
    setup: (client) => {
      // initRustCrypto turns the Rust crypto's tracing on at debug level: back to warnings.
      new Tracing(LoggerLevel.Warn).turnOn();
      client.onMessage = () => {};
      const seen = new Set();
      const deliver = (event) => {
        if (event.getType() !== "m.room.message" || event.getSender() === client.getUserId()) return;
        if (!event.isEncrypted() || event.isDecryptionFailure() || seen.has(event.getId())) return;
        seen.add(event.getId());
        client.onMessage(event.getContent().body);
      };
      // Decrypted after it reached the timeline, or already decrypted when it got there.
      client.on(sdk.MatrixEventEvent.Decrypted, (event) => deliver(event));
      client.on(sdk.RoomEvent.Timeline, (event, _room, toStart) => {
        if (!toStart && !event.isBeingDecrypted()) deliver(event);
      });
    },
  });
}

// Resolves with the time at which `client` has decrypted a message whose body starts with `tag`.
const waiting = new Map();  // tag -> resolve
function watch(client) {
  client.onMessage = (body) => {
    const tag = body.split(" ")[0];
    const resolve = waiting.get(tag);
    if (resolve) {
      waiting.delete(tag);
      resolve(performance.now());
    }
  };
}
function arrival(tag) {
  return Promise.race([new Promise((resolve) => waiting.set(tag, resolve)),
                       deadline(PATIENCE_MS, `message ${tag}`)]);
}
const bodyOf = (tag) => (tag + " ").padEnd(bodyBytes, "x");

function percentile(values, p) {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length, Math.max(1, Math.ceil(p * v.length))) - 1];
}
const round3 = (x) => Math.round(x * 1000) / 1000;

async function main() {
  const dataDir = mkdtempSync(join(values.dir, "mrt-js-sdk-bench-"));
  const server = startServer(values.mrt, dataDir, {
    serverName: SERVER_NAME, args: ["--rate-limits", "send=0,to_device=0,invite=0,create_room=0,login=0"] });
  let alice, bob;
  try {
    const baseUrl = await server.ready;
    alice = await login(baseUrl, Wallet.createRandom());
    bob = await login(baseUrl, Wallet.createRandom());
    const roomId = await openEncryptedDm(alice, bob);
    watch(alice);
    watch(bob);

    // Latency, alternating direction.
    const latency = [];
    for (let i = 0; i < warmup + samples; i++) {
      const [from, tag] = i % 2 === 0 ? [alice, `a${i}`] : [bob, `b${i}`];
      const got = arrival(tag);
      const t0 = performance.now();
      const sent = from.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: bodyOf(tag) });
      const t1 = await got;
      await sent;
      if (i >= warmup) latency.push(t1 - t0);
    }

    // A burst from Alice.
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const all = [];
    const sends = [];
    for (let i = 0; i < burst; i++) {
      all.push(arrival(`t${i}`));
      sends.push(alice.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: bodyOf(`t${i}`) }));
    }
    await Promise.all(sends);
    const tSent = performance.now();
    const times = await Promise.all(all);
    const tLast = Math.max(...times);
    const cpu = process.cpuUsage(cpu0);

    process.stdout.write(JSON.stringify({
      kind: "js_sdk",
      dir: values.dir,
      version: sdkVersion,
      node: process.version,
      body_bytes: bodyBytes,
      samples: latency.length,
      p50_ms: round3(percentile(latency, 0.5)),
      p99_ms: round3(percentile(latency, 0.99)),
      max_ms: round3(percentile(latency, 1)),
      burst,
      sent_per_s: Math.round(burst / ((tSent - t0) / 1000)),
      received_per_s: Math.round(burst / ((tLast - t0) / 1000)),
      cpu_us_per_msg: round3((cpu.user + cpu.system) / burst),
      console_calls: consoleCalls,
      ...(process.env.JS_BENCH_DEBUG ? { console_seen: Object.fromEntries([...consoleSeen].sort((a, b) => b[1] - a[1]).slice(0, 15)) } : {}),
    }) + "\n");
  } catch (e) {
    console.error("FAILED:", e.message);
    console.error("server log (tail):\n" + server.tail(20));
    process.exitCode = 1;
  } finally {
    alice?.stopClient();
    bob?.stopClient();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
process.exit(process.exitCode ?? 0);
