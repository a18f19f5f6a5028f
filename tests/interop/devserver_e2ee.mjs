// matrix-js-sdk (Rust crypto) against `mrt serve`: two users log in with the Ethereum
// login of PROTOCOL.md section 2 (ethers signs the server name), Alice creates an encrypted DM
// and invites Bob, Bob joins, each sends, each decrypts the other's message, and the user
// directory finds Alice by her address.
//
//   node tests/interop/devserver_e2ee.mjs --mrt build/cli/mrt
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { Wallet } from "ethers";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { loginEthereum, openEncryptedDm, until } from "./js_sdk_client.mjs";
import { startServer } from "./mrt_serve.mjs";

const { values } = parseArgs({ options: { mrt: { type: "string" }, verbose: { type: "boolean" } } });
if (!values.mrt) {
  console.error("usage: devserver_e2ee.mjs --mrt PATH_TO_MRT");
  process.exit(2);
}
if (!values.verbose) logger.setLevel("warn");

const SERVER_NAME = "localhost";
function decryptedBodies(client, roomId) {
  const room = client.getRoom(roomId);
  if (!room) return [];
  return room
    .getLiveTimeline()
    .getEvents()
    .filter((e) => e.getType() === "m.room.message" && e.isEncrypted() && !e.isDecryptionFailure())
    .map((e) => ({ sender: e.getSender(), body: e.getContent().body }));
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), "mrt-devserver-e2ee-"));
  const server = startServer(values.mrt, dataDir, { serverName: SERVER_NAME, args: ["--log-level", "debug"] });
  let alice, bob;
  try {
    const baseUrl = await server.ready;
    const aliceWallet = Wallet.createRandom(), bobWallet = Wallet.createRandom();
    alice = await loginEthereum(baseUrl, aliceWallet, SERVER_NAME);
    bob = await loginEthereum(baseUrl, bobWallet, SERVER_NAME);
    const aliceId = alice.getUserId(), bobId = bob.getUserId();
    const roomId = await openEncryptedDm(alice, bob);
    if (!(await alice.getCrypto().isEncryptionEnabledInRoom(roomId))) {
      throw new Error("Alice does not see the room as encrypted");
    }

    await alice.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "hello from alice" });
    await until("Bob to decrypt Alice's message", () =>
      decryptedBodies(bob, roomId).some((m) => m.sender === aliceId && m.body === "hello from alice"));

    await bob.sendEvent(roomId, "m.room.message", { msgtype: "m.text", body: "hello from bob" });
    await until("Alice to decrypt Bob's message", () =>
      decryptedBodies(alice, roomId).some((m) => m.sender === bobId && m.body === "hello from bob"));

    // The raw events on the server are ciphertext: nothing readable went over the wire.
    const raw = await bob.createMessagesRequest(roomId, null, 50, "b");
    const plaintext = raw.chunk.filter((e) => e.type === "m.room.message");
    if (plaintext.length) throw new Error("the server holds plaintext messages");
    if (!raw.chunk.some((e) => e.type === "m.room.encrypted")) throw new Error("no ciphertext");

    const found = await bob.searchUserDirectory({ term: aliceWallet.address.toLowerCase() });
    if (!found.results.some((r) => r.user_id === aliceId)) {
      throw new Error("user directory does not find Alice by address");
    }
    if (values.verbose) console.log(server.log.join(""));
    console.log("ok: E2EE DM between two Ethereum logins through mrt serve; directory finds Alice");
  } catch (e) {
    console.error("FAILED:", e.message);
    console.error("server log (tail):\n" + server.tail(40));
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
