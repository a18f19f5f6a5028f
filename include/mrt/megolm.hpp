// File: mrt/megolm.hpp
//
// Megolm group sessions (the Matrix m.megolm.v1.aes-sha2 ratchet) behind mrt's own interface;
// libolm does the cryptography today, so that a vodozemac backend can replace it. Inputs are
// checked as strict unpadded base64 before libolm sees them, libolm only ever gets our own
// copies (its decrypt functions overwrite their input), and every failure is a reason value.
//
//   auto out = mrt::MegolmOutboundSession::create();
//   std::string ciphertext = out.encrypt(mrt::as_bytes(R"({"type":"m.room.message"})"));
//   auto in = mrt::MegolmInboundSession::from_session_key(out.session_key()).value();
//   auto message = in.decrypt(ciphertext);       // Result<MegolmPlaintext, MegolmError>
//
// Pickles are libolm's standard format, encrypted with a 32-byte pickle key.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <mrt/bytes.hpp>
#include <mrt/result.hpp>

namespace mrt {

enum class MegolmError : int {
  bad_base64 = 1,             // not strict unpadded base64
  bad_session_key = 2,        // not a session key of the expected format, or bad signature
  bad_message_format = 3,     // wrong version byte, truncated, undecodable header
  bad_mac = 4,                // ciphertext or MAC modified, or another session's message
  bad_signature = 5,          // the message's Ed25519 signature does not verify
  unknown_message_index = 6,  // earlier than the session's first known index
  bad_pickle = 7,             // corrupted pickle, or the wrong pickle key
  message_too_large = 8,      // above kMaxMegolmCiphertext
};
std::string_view to_string(MegolmError e);

// Ciphertexts above this are refused before decoding (a Matrix event is at most 64 KiB).
inline constexpr std::size_t kMaxMegolmCiphertext = 65536;
inline constexpr std::size_t kPickleKeySize = 32;

struct MegolmPlaintext {
  SecretBuffer plaintext;
  std::uint32_t message_index;
};

class MegolmInboundSession {
 public:
  // From the session-sharing format of an m.room_key (version 0x02, signed).
  static Result<MegolmInboundSession, MegolmError> from_session_key(std::string_view base64);
  // From the export format of a key export or m.forwarded_room_key (version 0x01).
  static Result<MegolmInboundSession, MegolmError> from_exported_key(std::string_view base64);
  static Result<MegolmInboundSession, MegolmError> unpickle(std::string_view pickle,
                                                            ByteView pickle_key);

  MegolmInboundSession(MegolmInboundSession&&) noexcept;
  MegolmInboundSession& operator=(MegolmInboundSession&&) noexcept;
  ~MegolmInboundSession();

  [[nodiscard]] Result<MegolmPlaintext, MegolmError> decrypt(std::string_view ciphertext_base64);
  std::string session_id() const;
  std::uint32_t first_known_index() const;
  // The export format at `index` (>= first_known_index()).
  [[nodiscard]] Result<SecretBuffer, MegolmError> export_at(std::uint32_t index) const;
  SecretBuffer pickle(ByteView pickle_key) const;

 private:
  struct Impl;
  explicit MegolmInboundSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class MegolmOutboundSession {
 public:
  static MegolmOutboundSession create();
  static Result<MegolmOutboundSession, MegolmError> unpickle(std::string_view pickle,
                                                             ByteView pickle_key);

  MegolmOutboundSession(MegolmOutboundSession&&) noexcept;
  MegolmOutboundSession& operator=(MegolmOutboundSession&&) noexcept;
  ~MegolmOutboundSession();

  // Unpadded base64 Megolm message; advances the ratchet.
  std::string encrypt(ByteView plaintext);
  std::string session_id() const;
  std::uint32_t message_index() const;
  // The session-sharing format at the current index, for m.room_key. A secret.
  SecretBuffer session_key() const;
  SecretBuffer pickle(ByteView pickle_key) const;

 private:
  struct Impl;
  explicit MegolmOutboundSession(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mrt
