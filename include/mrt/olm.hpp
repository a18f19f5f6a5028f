// File: mrt/olm.hpp
//
// Olm (m.olm.v1.curve25519-aes-sha2) accounts and sessions behind mrt's own interface; libolm
// does the cryptography today. Every input is copied before libolm sees it (libolm decodes in
// place), randomness comes from libsodium, failures are `OlmError` values.
//
//   auto alice = mrt::OlmAccount::create(), bob = mrt::OlmAccount::create();
//   bob.generate_one_time_keys(1);
//   auto [otk_id, otk] = *bob.one_time_keys().begin();
//   auto session = mrt::OlmSession::outbound(alice, bob.identity_keys().curve25519, otk).value();
//   mrt::OlmMessage m = session.encrypt(mrt::as_bytes("hi"));       // a pre-key message
//   auto [bob_session, plain] = mrt::OlmSession::inbound(bob, alice.identity_keys().curve25519,
//                                                        m).value();
//   // bob's one-time key is gone from `bob` now: save bob and bob_session together.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include <mrt/bytes.hpp>
#include <mrt/result.hpp>

namespace mrt {

enum class OlmError : int {
  bad_base64 = 1,  // not strict unpadded base64
  bad_key = 2,     // a Curve25519 key that is not 32 bytes of base64
  bad_message_format = 3,
  bad_mac = 4,               // wrong session, or a modified message
  unknown_one_time_key = 5,  // the pre-key message names a one-time key we do not have (any more)
  bad_pickle = 6,
  message_too_large = 7,
  not_a_pre_key_message = 8,
};
std::string_view to_string(OlmError e);

inline constexpr std::size_t kMaxOlmMessage = 65536;

enum class OlmMessageType : int { pre_key = 0, normal = 1 };

struct OlmMessage {
  OlmMessageType type;
  std::string body;  // unpadded base64
};

struct IdentityKeys {
  std::string curve25519;  // unpadded base64
  std::string ed25519;
};

class OlmSession;

class OlmAccount {
 public:
  static OlmAccount create();
  static Result<OlmAccount, OlmError> unpickle(std::string_view pickle, ByteView pickle_key);

  OlmAccount(OlmAccount&&) noexcept;
  OlmAccount& operator=(OlmAccount&&) noexcept;
  ~OlmAccount();

  IdentityKeys identity_keys() const;
  // Unpadded base64 Ed25519 signature with the device key.
  std::string sign(ByteView message) const;

  std::size_t max_one_time_keys() const;
  void generate_one_time_keys(std::size_t count);
  // Unpublished one-time keys: key id -> Curve25519 key (base64).
  std::map<std::string, std::string> one_time_keys() const;
  void mark_keys_as_published();
  void generate_fallback_key();
  std::map<std::string, std::string> unpublished_fallback_key() const;
  void forget_old_fallback_key();

  SecretBuffer pickle(ByteView pickle_key) const;

 private:
  friend class OlmSession;
  struct Impl;
  explicit OlmAccount(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class OlmSession {
 public:
  static Result<OlmSession, OlmError> outbound(const OlmAccount& account,
                                               std::string_view their_curve25519,
                                               std::string_view their_one_time_key);
  // Creates a session from a pre-key message and decrypts it. Only when both succeed is the
  // one-time key it used removed from `account` (a fallback key stays); the caller then saves
  // the account and the session in one step.
  static Result<std::pair<OlmSession, SecretBuffer>, OlmError> inbound(
      OlmAccount& account, std::string_view their_curve25519, const OlmMessage& pre_key);
  static Result<OlmSession, OlmError> unpickle(std::string_view pickle, ByteView pickle_key);

  OlmSession(OlmSession&&) noexcept;
  OlmSession& operator=(OlmSession&&) noexcept;
  ~OlmSession();

  // Whether a pre-key message from `their_curve25519` belongs to this session.
  bool matches_inbound(std::string_view their_curve25519, const OlmMessage& pre_key) const;
  OlmMessage encrypt(ByteView plaintext);
  [[nodiscard]] Result<SecretBuffer, OlmError> decrypt(const OlmMessage& message);
  std::string session_id() const;
  bool has_received_message() const;
  SecretBuffer pickle(ByteView pickle_key) const;

 private:
  struct Impl;
  explicit OlmSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mrt
