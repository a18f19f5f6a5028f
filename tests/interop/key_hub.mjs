// The part of a Matrix homeserver that E2EE devices need, in memory: key directory, one-time and
// fallback keys, to-device queues. Shared by tests/interop/e2ee_vodozemac.mjs and
// bench/vodozemac_megolm.mjs, which act as the homeserver of the devices they drive.

export const OTK = 'signed_curve25519';

export class Homeserver {
  deviceKeys = new Map(); // user -> Map(device -> device_keys)
  otks = new Map(); // `${user}|${device}` -> Map(key id -> signed key)
  fallback = new Map(); // `${user}|${device}` -> {keys, used}
  inbox = new Map(); // `${user}|${device}` -> [to-device event]
  // Applied to a device_keys object before it is stored (the attestation of the wasm devices).
  onDeviceKeys = async (keys) => keys;

  async upload(user, device, body) {
    const slot = `${user}|${device}`;
    if (body.device_keys) {
      if (!this.deviceKeys.has(user)) this.deviceKeys.set(user, new Map());
      this.deviceKeys.get(user).set(device, await this.onDeviceKeys(body.device_keys));
    }
    if (!this.otks.has(slot)) this.otks.set(slot, new Map());
    for (const [id, key] of Object.entries(body.one_time_keys ?? {})) this.otks.get(slot).set(id, key);
    if (body.fallback_keys && Object.keys(body.fallback_keys).length > 0) {
      this.fallback.set(slot, { keys: body.fallback_keys, used: false });
    }
    return { one_time_key_counts: { [OTK]: this.otkCount(user, device) } };
  }

  query(body) {
    const out = {};
    for (const user of Object.keys(body.device_keys)) {
      out[user] = Object.fromEntries(this.deviceKeys.get(user) ?? []);
    }
    return { device_keys: out, failures: {} };
  }

  claim(body) {
    const out = {};
    for (const [user, devices] of Object.entries(body.one_time_keys)) {
      for (const device of Object.keys(devices)) {
        const slot = `${user}|${device}`;
        const pool = this.otks.get(slot);
        let key;
        if (pool && pool.size > 0) {
          const [id, value] = pool.entries().next().value;
          pool.delete(id);
          key = { [id]: value };
        } else if (this.fallback.has(slot)) {
          const fallback = this.fallback.get(slot);
          fallback.used = true;
          key = fallback.keys;
        }
        if (key) (out[user] ??= {})[device] = key;
      }
    }
    return { one_time_keys: out, failures: {} };
  }

  sendToDevice(sender, type, messages) {
    for (const [user, devices] of Object.entries(messages)) {
      for (const [device, content] of Object.entries(devices)) {
        const targets = device === '*' ? [...(this.deviceKeys.get(user)?.keys() ?? [])] : [device];
        for (const target of targets) {
          const slot = `${user}|${target}`;
          if (!this.inbox.has(slot)) this.inbox.set(slot, []);
          this.inbox.get(slot).push({ type, sender, content });
        }
      }
    }
    return {};
  }

  takeInbox(user, device) {
    const slot = `${user}|${device}`;
    const events = this.inbox.get(slot) ?? [];
    this.inbox.set(slot, []);
    return events;
  }
  otkCount(user, device) {
    return this.otks.get(`${user}|${device}`)?.size ?? 0;
  }
  unusedFallback(user, device) {
    const fallback = this.fallback.get(`${user}|${device}`);
    return fallback && !fallback.used ? [OTK] : [];
  }
}
