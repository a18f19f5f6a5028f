// Types of the mrt Node.js SDK. Every error is an MrtError subclass whose `kind` names the
// reason; TypeError for arguments of the wrong type.

export class MrtError extends Error { kind: string; }
/** bad_config, store, login, not_started, too_large, stopped, bad_topic, network, outbox_full,
 * squatted, bad_user_id */
export class NodeError extends MrtError {}
/** io, malformed, unsupported, unsafe_parameters, wrong_password, address_mismatch,
 * invalid_key, exists */
export class KeystoreError extends MrtError {}
/** wrong_length, out_of_range, bad_hex */
export class InvalidKeyError extends MrtError {}
/** malformed, not_lowercase, bad_checksum */
export class AddressError extends MrtError {}
/** malformed, bad_v, high_s, r_or_s_out_of_range, no_key */
export class SignatureError extends MrtError {}
/** the PROTOCOL §4 RejectReason of the first rule that failed */
export class EnvelopeError extends MrtError {}

export class PrivateKey {
  private constructor();
  static generate(): PrivateKey;
  /** @throws InvalidKeyError */
  static fromHex(hex: string): PrivateKey;
  /** Rejects with KeystoreError. */
  static fromKeystore(path: string, password: string | Buffer): Promise<PrivateKey>;
  /** Rejects with KeystoreError (exists, io). `light`: scrypt's light parameters (tests). */
  toKeystore(path: string, password: string | Buffer, options?: { light?: boolean }): Promise<void>;
  readonly address: string;
  readonly checksumAddress: string;
}

/** personal_sign (EIP-191): 0x + 130 hex digits. */
export function sign(key: PrivateKey, data: string | Buffer): string;
/** @throws SignatureError */
export function recover(data: string | Buffer, signature: string): string;

export interface CheckedEnvelope {
  kind: 'message' | 'ack';
  sender: string;
  recipient: string | null;
  topic: string | null;
  nonce: string;
  ts: number;
  body: string;
  acks: string[];
  sig: string;
}
/** PROTOCOL §4 rules 1-5. @throws EnvelopeError, AddressError, TypeError */
export function validateEnvelope(
  envelope: string,
  options: { receiver?: string; topic?: string; nowMs?: number; maxBytes?: number; maxAgeMs?: number },
): CheckedEnvelope;
export function messageEnvelope(key: PrivateKey, recipient: string, body: string, options?: { nowMs?: number }): string;
/** @throws NodeError(bad_topic) */
export function broadcastEnvelope(key: PrivateKey, topic: string, body: string, options?: { nowMs?: number }): string;
export function runVectors(path: string): {
  kind: string; passed: number; failed: number; failures: string[]; fileError: string | null;
};

export type EventType =
  'message' | 'delivered' | 'failed' | 'rejected' | 'reachability' | 'squatted' | 'store_failed';
export interface NodeEvent {
  type: EventType;
  id: string;
  peer: string | null;
  body: string;
  ts: number;
  carrier: 'room' | 'to_device' | null;
  topic: string | null;
  reason: string | null;
  reachability: 'reachable' | 'unreachable' | 'unknown' | null;
  detail: string;
}

export interface NodeOptions {
  homeserver: string;
  dataDir: string;
  serverName?: string;
  homeservers?: { url: string; serverName?: string }[];
  homes?: number;
  knownServers?: string[];
  broadcastServer?: string;
  broadcastOperators?: string[] | null;
  carrier?: 'room' | 'to_device';
  allowlist?: string[] | null;
  publishers?: Record<string, string[]>;
  maxAgeMs?: number;
  resendInitialMs?: number;
  resendMaxMs?: number;
  syncTimeoutMs?: number;
  maxOutboxPerRecipient?: number;
  /** false is for tests only: gives up exactly-once across crashes */
  durable?: boolean;
}

/** The node's counters, named as mrt::to_json(NodeStats) names them (also `mrt node`'s stats
 * event and the Python SDK's stats()). */
export interface NodeStats {
  sent: number;
  transmitted: number;
  resent: number;
  payloads: number;
  delivered: number;
  failed: number;
  received: number;
  acks_sent: number;
  rejected: Record<string, number>;
  undecryptable: number;
  undecryptable_by_reason: { to_device: Record<string, number>; room: Record<string, number> };
  outbox: number;
  inbox: number;
  syncs: number;
  [counter: string]: unknown;
}

export type Listener = (event: NodeEvent) => void | Promise<void>;

/** A Raiden node's transport. Events are emitted in order; each is consumed once every
 * listener returned or its promise settled (a rejected one leaves it unconsumed). */
export class Node {
  /** @throws NodeError (bad_config, store), AddressError, TypeError */
  constructor(key: PrivateKey, options: NodeOptions);
  readonly address: string;
  readonly userId: string;
  readonly deviceId: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  send(to: string, body: string): Promise<string>;
  sendMany(to: string, bodies: string[]): Promise<string[]>;
  /** Resolves with the 'delivered' or 'failed' event. */
  sendAndWait(to: string, body: string): Promise<NodeEvent>;
  cancel(id: string): Promise<boolean>;
  subscribe(topic: string): Promise<string>;
  broadcast(topic: string, body: string): Promise<string>;
  discover(address: string): Promise<string[]>;
  reachability(address: string): Promise<'reachable' | 'unreachable' | 'unknown'>;
  watch(address: string): void;
  addUserIds(address: string, userIds: string[]): void;
  setAllowlist(addresses: string[] | null): void;
  setPublishers(topic: string, addresses: string[] | null): void;
  stats(): NodeStats;
  events(types?: EventType[]): AsyncIterableIterator<NodeEvent>;
  on(type: EventType | 'event', listener: Listener): this;
  on(type: 'error', listener: (error: unknown) => void): this;
  off(type: string, listener: (...args: any[]) => void): this;
}
