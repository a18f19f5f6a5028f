'use strict';
// Matrix Raiden Transport for Node.js: a Raiden node's messaging over Matrix.
//
//   const mrt = require('mrt');
//   const key = await mrt.PrivateKey.fromKeystore('node.json', password);
//   const node = new mrt.Node(key, { homeserver: 'http://127.0.0.1:8008', dataDir: 'node' });
//   node.on('message', async (event) => { await handle(event); });   // consumed once settled
//   await node.start();
//   const outcome = await node.sendAndWait(partner, balanceProof);   // the delivered event
//   await node.stop();

const { EventEmitter } = require('node:events');
const path = require('node:path');
const errors = require('./errors.js');

const native = require(path.join(__dirname, 'mrt.node'));
native.setErrorClasses(errors);

const OUTCOMES = new Set(['delivered', 'failed']);

/**
 * A Raiden node's transport (C++: mrt::Node). Events are emitted in order, by type ('message',
 * 'delivered', 'failed', 'rejected', 'reachability', 'squatted', 'store_failed') and as
 * 'event'; the next one waits until every listener of this one returned or its promise
 * settled, and only then is it consumed (not reported again after a restart).
 */
class Node extends EventEmitter {
  constructor(key, options) {
    super();
    const onLog = options && options.onLog;
    this.native = new native.NativeNode(key, typeof onLog === 'function'
      ? { ...options, onLog: (record) => this.log(onLog, record) }
      : options);
    this.waiting = new Map(); // message id -> {resolve, reject} of sendAndWait
    this.early = new Map(); // outcomes that came before their send's id
    this.sending = 0;
    this.chain = Promise.resolve();
    this.iterators = new Set(); // finish() of each open events() iterator
  }

  get address() { return this.native.address; }
  get userId() { return this.native.userId; }
  get deviceId() { return this.native.deviceId; }

  /** Logs in and starts syncing; unconsumed events of the last run are emitted again. */
  async start() {
    await this.native.start();
    this.native.pump((event) => {
      this.chain = this.chain.then(() => this.dispatch(event));
    });
  }

  /** Stops the node and closes its store (a new Node may open it). */
  async stop() {
    await this.native.stop();
    for (const finish of this.iterators) finish();
    await this.chain;
    for (const w of this.waiting.values()) w.reject(new errors.NodeError('the node stopped'));
    this.waiting.clear();
  }

  // A log hook that throws must not stop the node: 'error' listeners hear it, if any.
  log(onLog, record) {
    try {
      onLog(record);
    } catch (error) {
      if (this.listenerCount('error') > 0) this.emit('error', error);
    }
  }

  async dispatch(event) {
    if (OUTCOMES.has(event.type)) {
      const waiter = this.waiting.get(event.id);
      if (waiter) {
        this.waiting.delete(event.id);
        waiter.resolve(event);
        this.native.consumed(event);
        return;
      }
      if (this.sending > 0) {
        this.early.set(event.id, event);
        return;
      }
    }
    await this.emitAndSettle(event);
  }

  async emitAndSettle(event) {
    const listeners = [...this.listeners(event.type), ...this.listeners('event')];
    const results = listeners.map((listener) => {
      try {
        return Promise.resolve(listener.call(this, event));
      } catch (error) {
        return Promise.reject(error);
      }
    });
    const settled = await Promise.allSettled(results);
    const failure = settled.find((s) => s.status === 'rejected');
    if (failure) {
      // Not consumed: reported again after a restart. 'error' listeners hear why.
      if (this.listenerCount('error') > 0) this.emit('error', failure.reason);
      return;
    }
    if (listeners.length > 0) this.native.consumed(event);
  }

  // Calls that return a Promise report every error by rejecting it (TypeError for a wrong
  // argument); the others throw.

  /** Durable when resolved: the message's id. Rejects with NodeError (not_started,
   * too_large, outbox_full, store) or AddressError. */
  async send(to, body) { return this.native.send(to, body); }
  /** One durable write for many bodies to one recipient; the ids in order. */
  async sendMany(to, bodies) { return this.native.sendMany(to, bodies); }

  /** Sends and resolves with the message's 'delivered' or 'failed' event (consumed then). */
  async sendAndWait(to, body) {
    this.sending += 1;
    let id;
    try {
      id = await this.native.send(to, body);
    } finally {
      this.sending -= 1;
    }
    const outcome = new Promise((resolve, reject) => {
      const early = this.early.get(id);
      if (early) {
        this.early.delete(id);
        this.native.consumed(early);
        resolve(early);
      } else {
        this.waiting.set(id, { resolve, reject });
      }
    });
    if (this.sending === 0 && this.early.size > 0) {
      const others = [...this.early.values()];
      this.early.clear();
      for (const event of others) this.chain = this.chain.then(() => this.emitAndSettle(event));
    }
    return outcome;
  }

  /** True when the message was waiting for its ack: no outcome event follows. */
  async cancel(id) {
    const cancelled = await this.native.cancel(id);
    const waiter = this.waiting.get(id);
    if (cancelled && waiter) {
      this.waiting.delete(id);
      waiter.reject(new errors.NodeError(`message ${id} was cancelled`));
    }
    return cancelled;
  }

  async subscribe(topic) { return this.native.subscribe(topic); }
  async broadcast(topic, body) { return this.native.broadcast(topic, body); }
  async discover(address) { return this.native.discover(address); }
  async reachability(address) { return this.native.reachability(address); }
  watch(address) { this.native.watch(address); }
  addUserIds(address, userIds) { this.native.addUserIds(address, userIds); }
  /** A peer's address metadata ({user_id, displayname}, as Raiden's Pathfinding Service
   * hands it out): an id its displayname proves is validated at once, no homeserver asked.
   * Throws NodeError (bad_user_id, not_started), AddressError, TypeError. */
  addMetadata(address, metadata) { this.native.addMetadata(address, metadata); }
  /** Resolves once `userId` answered a live challenge with `address`'s signature. Rejects with
   * NodeError (challenge_failed, bad_user_id, not_started) or AddressError. */
  async challenge(address, userId, options = {}) {
    return this.native.challenge(address, userId, options.waitMs ?? 10000);
  }
  /** The node's own {user_id, displayname, capabilities}. Throws NodeError (not_started). */
  metadata() { return this.native.metadata(); }

  /** An events room's signed envelopes (JSON text), oldest first. */
  evidence(topic) { return this.native.evidence(topic); }
  /** A peer's capabilities from its profile ({} when none). Rejects with NodeError (network,
   * not_started) or AddressError. */
  async capabilitiesOf(address) { return this.native.capabilitiesOf(address); }
  /** Publishes the node's capabilities on every home now and at every later login. Rejects
   * with NodeError (bad_config, network, not_started). */
  async setCapabilities(capabilities) { return this.native.setCapabilities(capabilities); }
  setAllowlist(addresses) { this.native.setAllowlist(addresses); }
  setPublishers(topic, addresses) { this.native.setPublishers(topic, addresses); }
  stats() { return this.native.stats(); }

  /** Events of `types` (all when omitted) as an async iterator, ending when the node stops;
   * each is consumed when the next one is asked for, or when the loop is left (break). Events
   * queued behind it then are not consumed: they come again after a restart. */
  events(types) {
    const wanted = types ? new Set(types) : null;
    const queue = [];
    let wake = null;
    let done = false;
    const listener = (event) => {
      if (wanted && !wanted.has(event.type)) return undefined;
      return new Promise((handled) => {
        queue.push({ event, handled });
        if (wake) wake();
      });
    };
    this.on('event', listener);
    let previous = null;
    const finish = () => {
      done = true;
      this.off('event', listener);
      this.iterators.delete(finish);
      if (previous) previous.handled();
      previous = null;
      for (const item of queue.splice(0)) item.handled(Promise.reject(new Error('not handled')));
      if (wake) wake();
    };
    this.iterators.add(finish);
    return {
      [Symbol.asyncIterator]() { return this; },
      next: async () => {
        if (previous) previous.handled();
        previous = null;
        while (queue.length === 0 && !done) await new Promise((r) => { wake = r; });
        wake = null;
        if (queue.length === 0) return { done: true, value: undefined };
        previous = queue.shift();
        return { done: false, value: previous.event };
      },
      return: async () => {
        finish();
        return { done: true, value: undefined };
      },
    };
  }
}

module.exports = {
  ...errors,
  Node,
  PrivateKey: native.PrivateKey,
  sign: native.sign,
  recover: native.recover,
  validateEnvelope: native.validateEnvelope,
  refuseBroadcastEvent: native.refuseBroadcastEvent,
  messageEnvelope: native.messageEnvelope,
  broadcastEnvelope: native.broadcastEnvelope,
  runVectors: native.runVectors,
};
