'use strict';
// mrt's errors: every one has `kind`, the name of the reason (an mrt enum's name), and a
// message saying what was wrong.

class MrtError extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
    this.kind = 'unknown';
  }
}
/** A node call was refused: bad_config, store, login, not_started, too_large, stopped,
 * bad_topic, network, outbox_full, squatted, bad_user_id. */
class NodeError extends MrtError {}
/** io, malformed, unsupported, unsafe_parameters, wrong_password, address_mismatch,
 * invalid_key, exists. */
class KeystoreError extends MrtError {}
/** wrong_length, out_of_range, bad_hex. */
class InvalidKeyError extends MrtError {}
/** malformed, not_lowercase, bad_checksum. */
class AddressError extends MrtError {}
/** malformed, bad_v, high_s, r_or_s_out_of_range, no_key. */
class SignatureError extends MrtError {}
/** The first PROTOCOL §4 rule the envelope failed (malformed, bad_signature, expired, ...). */
class EnvelopeError extends MrtError {}

module.exports = {
  MrtError, NodeError, KeystoreError, InvalidKeyError, AddressError, SignatureError, EnvelopeError,
};
