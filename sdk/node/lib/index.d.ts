// Types of the mrt Node.js SDK. Every error is an MrtError subclass whose `kind` names the
// reason; TypeError for arguments of the wrong type.

export class MrtError extends Error { kind: string; }
/** bad_config, store, login, not_started, too_large, stopped, bad_topic, network, outbox_full,
 * squatted, bad_user_id, challenge_failed */
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
/**
 * PROTOCOL §6 as a homeserver rule (docs/protocol.md "Rules in the homeserver"): null when the
 * network.raiden.envelopes event content (JSON text) that the Matrix user `sender` sends into the
 * broadcast room of `topic` passes, else why it is refused. @throws TypeError
 */
export function refuseBroadcastEvent(content: string, topic: string, sender: string): {
  error: 'not_a_batch' | 'bad_envelope' | 'not_the_sender' | 'not_the_operator';
  index: number;
  reason: string | null;
  message: string;
} | null;
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
  /** Raiden's capabilities, published at start() as the profile's avatar_url
   * (mxc://raiden.network/cap?...); a boolean is written 1 or 0, an array repeats its key. */
  capabilities?: Capabilities | null;
  /** Called on the JavaScript thread with each record at logLevel or above (queued; never
   * blocks the node, a burst past 4,096 queued records is dropped). Does not keep the process
   * alive; a throw goes to the node's 'error' listeners. */
  onLog?: (record: LogRecord) => void;
  logLevel?: 'debug' | 'info' | 'warning' | 'error';
  /** A peer's user id is used only once it answered a live challenge (default false). */
  challengeCandidates?: boolean;
}

export type CapabilityValue = string | boolean | number;
export type Capabilities = Record<string, CapabilityValue | CapabilityValue[]>;

/** What Raiden's services hand out for an address (its `address_metadata`). */
export interface AddressMetadata {
  user_id: string;
  /** the address's signature over user_id (PROTOCOL §2) */
  displayname?: string;
  /** mxc://raiden.network/cap?... */
  capabilities?: string;
}

/** What the node tells a log: never a secret. */
export interface LogRecord {
  level: 'debug' | 'info' | 'warning' | 'error';
  /** sync, e2ee, ids, broadcast, homes, worker */
  component: string;
  event: string;
  fields: Record<string, unknown>;
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
 * listener returned or its promise settled (a rejected one leaves it unconsumed). Calls that
 * return a Promise report errors by rejecting it; the others throw. Every call but stop()
 * fails with NodeError (not_started) once the node stopped; an address argument that is not
 * one fails with AddressError; an argument of the wrong type with TypeError. */
export class Node {
  /** Opens (or creates) the store in dataDir; nothing touches the network yet.
   * @throws NodeError (bad_config: a bad option, named in the message; store: the dataDir is
   * locked by another node, sealed under another key, or unreadable), AddressError, TypeError */
  constructor(key: PrivateKey, options: NodeOptions);
  readonly address: string;
  /** The fastest home's user id; '' before start(). @throws NodeError (not_started once stopped) */
  readonly userId: string;
  /** '' before the first start(). @throws NodeError (not_started once stopped) */
  readonly deviceId: string;
  /** Logs in, publishes keys, displayname and capabilities, starts syncing; unconsumed events
   * of the last run are emitted again. Rejects with NodeError (login, store, stopped). */
  start(): Promise<void>;
  /** Stops the node and closes its store (a new Node may open it). Never rejects. */
  stop(): Promise<void>;
  /** Durable when resolved: the message's id. Rejects with NodeError (not_started,
   * too_large, outbox_full, store), AddressError. */
  send(to: string, body: string): Promise<string>;
  /** send() for many bodies with one durable write; the ids in order. Rejects as send(). */
  sendMany(to: string, bodies: string[]): Promise<string[]>;
  /** Resolves with the 'delivered' or 'failed' event. Rejects as send(), or with NodeError
   * when the message is cancelled or the node stops first. */
  sendAndWait(to: string, body: string): Promise<NodeEvent>;
  /** True when the message waited for its ack (no outcome follows). Rejects with NodeError
   * (not_started, store). */
  cancel(id: string): Promise<boolean>;
  /** The room id. Rejects with NodeError (bad_topic, squatted, network, not_started). */
  subscribe(topic: string): Promise<string>;
  /** The broadcast's id once the homeserver took it. Rejects with NodeError (bad_topic,
   * squatted, too_large, network, not_started). */
  broadcast(topic: string, body: string): Promise<string>;
  /** User ids of the address whose displayname proves them. Rejects with NodeError (network,
   * not_started), AddressError. */
  discover(address: string): Promise<string[]>;
  /** Waits at most 10 s. Rejects with NodeError (not_started), AddressError. */
  reachability(address: string): Promise<'reachable' | 'unreachable' | 'unknown'>;
  /** Ids, DM room and reachability ahead of the first message; returns at once.
   * @throws NodeError (not_started), AddressError */
  watch(address: string): void;
  /** Candidate ids (at most 16), used once proven. @throws NodeError (bad_user_id, not_started),
   * AddressError */
  addUserIds(address: string, userIds: string[]): void;
  /** A peer's address metadata: an id its displayname proves is validated at once, no
   * homeserver asked. @throws NodeError (bad_user_id: not the address's id, or a displayname
   * that does not prove it; not_started), AddressError, TypeError */
  addMetadata(address: string, metadata: AddressMetadata): void;
  /** Resolves once `userId` answered a live challenge with a signature of `address`'s key (a
   * relayed, replayed or forged answer never counts). Rejects with NodeError (challenge_failed:
   * none valid within waitMs, default 10,000; bad_user_id; not_started), AddressError. */
  challenge(address: string, userId: string, options?: { waitMs?: number }): Promise<void>;
  /** The node's own address metadata. @throws NodeError (not_started: before start()) */
  metadata(): Required<AddressMetadata>;
  /**
   * The events room's envelopes (topic `raiden_<chain>_events_<operator>`) this node accepted
   * from the operator, oldest first, each the signed envelope's JSON text: evidence anyone can
   * check with validateEnvelope. Kept after they are consumed and across restarts.
   * @throws NodeError (bad_topic: not an events topic; not_started once stopped)
   */
  evidence(topic: string): string[];
  /** A peer's capabilities from its profile, values as strings (an array for a repeated key);
   * {} when it published none. Rejects with NodeError (network: no user id known, or no
   * answer; not_started), AddressError. */
  capabilitiesOf(address: string): Promise<Record<string, string | string[]>>;
  /** Publishes the capabilities on every home now and at every later login. Rejects with
   * NodeError (bad_config: not strings, booleans, integers or arrays of those, or over 1,000
   * bytes as a URL; network; not_started). */
  setCapabilities(capabilities: Capabilities): Promise<void>;
  /** The only unicast senders accepted from now on (null: all). @throws NodeError
   * (not_started), AddressError */
  setAllowlist(addresses: string[] | null): void;
  /** The only publishers accepted in the topic's room (null: all). @throws NodeError
   * (bad_topic, not_started), AddressError */
  setPublishers(topic: string, addresses: string[] | null): void;
  /** @throws NodeError (not_started) */
  stats(): NodeStats;
  /** Events of `types` (all when omitted) until the node stops; each consumed when the next is
   * asked for, or when the loop is left. */
  events(types?: EventType[]): AsyncIterableIterator<NodeEvent>;
  on(type: EventType | 'event', listener: Listener): this;
  on(type: 'error', listener: (error: unknown) => void): this;
  off(type: string, listener: (...args: any[]) => void): this;
}
