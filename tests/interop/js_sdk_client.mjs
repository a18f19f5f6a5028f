// matrix-js-sdk clients logged in to `mrt serve` with an Ethereum wallet (PROTOCOL.md §2), for
// the node scripts that use the js-sdk as a reference client: the interop test
// devserver_e2ee.mjs and the benchmark bench/js_sdk_latency.mjs.
//
//   const alice = await loginEthereum(baseUrl, Wallet.createRandom(), 'localhost');
//   const bob = await loginEthereum(baseUrl, Wallet.createRandom(), 'localhost');
//   const roomId = await openEncryptedDm(alice, bob);   // both joined, devices known
import * as sdk from 'matrix-js-sdk';

// A promise that rejects after `ms` (and does not keep node alive).
export const deadline = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref());

// Polls `check` until it returns something truthy, which it returns.
export async function until(what, check, ms = 15000, every = 20) {
  const stop = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > stop) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

// Logs in with the wallet (password = personal_sign of the server name), starts Rust crypto
// and the sync loop, and returns once the first sync is done. `setup(client)` runs before the
// client starts (to attach listeners, or to quieten logging).
export async function loginEthereum(baseUrl, wallet, serverName,
                                    { logger, displayName = 'js-sdk', setup = () => {} } = {}) {
  const anonymous = sdk.createClient({ baseUrl, logger });
  const address = wallet.address.toLowerCase();
  const r = await anonymous.loginRequest({
    type: 'm.login.password',
    identifier: { type: 'm.id.user', user: address },
    password: await wallet.signMessage(serverName),
    initial_device_display_name: `${displayName} ${address.slice(0, 8)}`,
  });
  if (r.user_id !== `@${address}:${serverName}`) throw new Error(`unexpected user id ${r.user_id}`);
  const client = sdk.createClient({
    baseUrl, userId: r.user_id, deviceId: r.device_id, accessToken: r.access_token, logger,
  });
  await client.initRustCrypto({ useIndexedDB: false });
  setup(client);
  const prepared = new Promise((resolve) => {
    client.on(sdk.ClientEvent.Sync, (state) => { if (state === 'PREPARED') resolve(); });
  });
  await client.startClient({ initialSyncLimit: 20, lazyLoadMembers: true });
  await Promise.race([prepared, deadline(15000, `${r.user_id} initial sync`)]);
  return client;
}

// Alice creates an encrypted DM and invites Bob, who joins as soon as his sync shows the invite;
// returns the room id once both see it joined and each knows the other's devices (js-sdk 37.5
// drops the first Olm message from a device it does not track yet: TOOLCHAIN.md).
export async function openEncryptedDm(alice, bob) {
  const aliceId = alice.getUserId(), bobId = bob.getUserId();
  bob.on(sdk.RoomMemberEvent.Membership, (_event, member) => {
    if (member.membership === 'invite' && member.userId === bobId) {
      bob.joinRoom(member.roomId).catch((e) => console.error('join failed', e));
    }
  });
  const { room_id: roomId } = await alice.createRoom({
    preset: sdk.Preset.PrivateChat,
    is_direct: true,
    invite: [bobId],
    initial_state: [
      { type: 'm.room.encryption', state_key: '', content: { algorithm: 'm.megolm.v1.aes-sha2' } },
    ],
  });
  await until('Bob to join', () => alice.getRoom(roomId)?.getMember(bobId)?.membership === 'join');
  await until('Bob to see the room joined', () => bob.getRoom(roomId)?.getMyMembership() === 'join');
  await alice.getCrypto().getUserDeviceInfo([bobId], true);
  await bob.getCrypto().getUserDeviceInfo([aliceId], true);
  return roomId;
}
