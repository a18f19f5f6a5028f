// matrix-js-sdk (Rust crypto) against `mrt serve` (issue 5): two users log in with the Ethereum
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
import * as sdk from "matrix-js-sdk";
import { logger } from "matrix-js-sdk/lib/logger.js";
import { startServer } from "./mrt_serve.mjs";

const { values } = parseArgs({ options: { mrt: { type: "string" }, verbose: { type: "boolean" } } });
if (!values.mrt) {
  console.error("usage: devserver_e2ee.mjs --mrt PATH_TO_MRT");
  process.exit(2);
}
if (!values.verbose) logger.setLevel("warn");

const SERVER_NAME = "localhost";
const deadline = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref());

async function until(what, check, ms = 15000) {
  const stop = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > stop) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function login(baseUrl, wallet) {
  const anonymous = sdk.createClient({ baseUrl });
  const address = wallet.address.toLowerCase();
  const password = await wallet.signMessage(SERVER_NAME);
  const r = await anonymous.loginRequest({
    type: "m.login.password",
    identifier: { type: "m.id.user", user: address },
    password,
    initial_device_display_name: "js-sdk " + address.slice(0, 8),
  });
  if (r.user_id !== `@${address}:${SERVER_NAME}`) throw new Error(`unexpected user id ${r.user_id}`);
  const client = sdk.createClient({
    baseUrl,
    userId: r.user_id,
    deviceId: r.device_id,
    accessToken: r.access_token,
  });
  await client.initRustCrypto({ useIndexedDB: false });
  const prepared = new Promise((resolve) => {
    client.on(sdk.ClientEvent.Sync, (state) => {
      if (state === "PREPARED") resolve();
    });
  });
  await client.startClient({ initialSyncLimit: 20, lazyLoadMembers: true });
  await Promise.race([prepared, deadline(15000, `${r.user_id} initial sync`)]);
  return client;
}

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
    alice = await login(baseUrl, aliceWallet);
    bob = await login(baseUrl, bobWallet);
    const aliceId = alice.getUserId(), bobId = bob.getUserId();

    // Bob accepts the invite as soon as his sync shows it.
    bob.on(sdk.RoomMemberEvent.Membership, (event, member) => {
      if (member.membership === "invite" && member.userId === bobId) {
        bob.joinRoom(member.roomId).catch((e) => console.error("join failed", e));
      }
    });

    const { room_id: roomId } = await alice.createRoom({
      preset: sdk.Preset.PrivateChat,
      is_direct: true,
      invite: [bobId],
      initial_state: [
        { type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } },
      ],
    });
    await until("Bob to join", () => alice.getRoom(roomId)?.getMember(bobId)?.membership === "join");
    await until("Bob to see the room joined", () => bob.getRoom(roomId)?.getMyMembership() === "join");
    if (!(await alice.getCrypto().isEncryptionEnabledInRoom(roomId))) {
      throw new Error("Alice does not see the room as encrypted");
    }

    // Each side knows the other's device before the first Olm message (js-sdk 37.5 drops the
    // first message from a device it does not track yet: TOOLCHAIN.md).
    await alice.getCrypto().getUserDeviceInfo([bobId], true);
    await bob.getCrypto().getUserDeviceInfo([aliceId], true);

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
