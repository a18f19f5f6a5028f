#include <mrt/matrix_signing.hpp>
#include <mrt/megolm.hpp>

#include "crypto/non_null.hpp"
#include "olm_handle.hpp"

namespace mrt {
namespace {

using detail::olm_failed;
using detail::OlmHandle;

MegolmError from_olm(OlmErrorCode code) {
  switch (code) {
    case OLM_INVALID_BASE64:
      return MegolmError::bad_base64;
    case OLM_BAD_SESSION_KEY:
      return MegolmError::bad_session_key;
    case OLM_BAD_MESSAGE_MAC:
      return MegolmError::bad_mac;
    case OLM_BAD_SIGNATURE:
      return MegolmError::bad_signature;
    case OLM_UNKNOWN_MESSAGE_INDEX:
      return MegolmError::unknown_message_index;
    case OLM_BAD_ACCOUNT_KEY:
    case OLM_CORRUPTED_PICKLE:
    case OLM_UNKNOWN_PICKLE_VERSION:
      return MegolmError::bad_pickle;
    default:
      return MegolmError::bad_message_format;
  }
}

enum class Padding { refused, accepted };

// As vodozemac does, ciphertexts may be padded (the spec asks readers to accept it), session
// keys may not.
Result<SecretBuffer, MegolmError> canonical_base64(std::string_view text, std::size_t max,
                                                   Padding padding) {
  if (text.size() > max) return fail(MegolmError::message_too_large);
  auto out =
      detail::canonical_base64(text, padding == Padding::accepted ? detail::Base64Padding::accepted
                                                                  : detail::Base64Padding::refused);
  if (!out) return fail(MegolmError::bad_base64);
  return std::move(*out);
}

}  // namespace

std::string_view to_string(MegolmError e) {
  switch (e) {
    case MegolmError::bad_base64:
      return "bad_base64";
    case MegolmError::bad_session_key:
      return "bad_session_key";
    case MegolmError::bad_message_format:
      return "bad_message_format";
    case MegolmError::bad_mac:
      return "bad_mac";
    case MegolmError::bad_signature:
      return "bad_signature";
    case MegolmError::unknown_message_index:
      return "unknown_message_index";
    case MegolmError::bad_pickle:
      return "bad_pickle";
    case MegolmError::message_too_large:
      return "message_too_large";
  }
  return "unknown";
}

// ---- inbound ----

struct MegolmInboundSession::Impl {
  OlmHandle<OlmInboundGroupSession> session;
};

MegolmInboundSession::MegolmInboundSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MegolmInboundSession::MegolmInboundSession(MegolmInboundSession&&) noexcept = default;
MegolmInboundSession& MegolmInboundSession::operator=(MegolmInboundSession&&) noexcept = default;
MegolmInboundSession::~MegolmInboundSession() = default;

Result<MegolmInboundSession, MegolmError> MegolmInboundSession::from_session_key(
    std::string_view base64) {
  auto key = canonical_base64(base64, 4096, Padding::refused);
  if (!key) return fail(key.error());
  auto impl = std::make_unique<Impl>();
  if (olm_failed(olm_init_inbound_group_session(impl->session.get(), key->data(), key->size()))) {
    const OlmErrorCode code = impl->session.last_error();  // a bad signature: a bad key
    return fail(code == OLM_BAD_SIGNATURE ? MegolmError::bad_session_key : from_olm(code));
  }
  return MegolmInboundSession(std::move(impl));
}

Result<MegolmInboundSession, MegolmError> MegolmInboundSession::from_exported_key(
    std::string_view base64) {
  auto key = canonical_base64(base64, 4096, Padding::refused);
  if (!key) return fail(key.error());
  auto impl = std::make_unique<Impl>();
  if (olm_failed(olm_import_inbound_group_session(impl->session.get(), key->data(), key->size()))) {
    return fail(from_olm(impl->session.last_error()));
  }
  return MegolmInboundSession(std::move(impl));
}

Result<MegolmInboundSession, MegolmError> MegolmInboundSession::unpickle(std::string_view pickle,
                                                                         ByteView pickle_key) {
  auto impl = std::make_unique<Impl>();
  if (!impl->session.unpickle(pickle, pickle_key)) return fail(MegolmError::bad_pickle);
  return MegolmInboundSession(std::move(impl));
}

Result<MegolmPlaintext, MegolmError> MegolmInboundSession::decrypt(std::string_view ciphertext) {
  auto message = canonical_base64(ciphertext, kMaxMegolmCiphertext, Padding::accepted);
  if (!message) return fail(message.error());
  OlmInboundGroupSession* s = impl_->session.get();
  // Both calls destroy their input: each gets its own copy.
  SecretBuffer for_length(message->view());
  const std::size_t max =
      olm_group_decrypt_max_plaintext_length(s, for_length.data(), for_length.size());
  if (olm_failed(max)) return fail(from_olm(impl_->session.last_error()));
  SecretBuffer plain(max);
  std::uint32_t index = 0;
  const std::size_t n =
      olm_group_decrypt(s, message->data(), message->size(), plain.data(), plain.size(), &index);
  if (olm_failed(n)) return fail(from_olm(impl_->session.last_error()));
  return MegolmPlaintext{SecretBuffer(plain.view().first(n)), index};
}

std::string MegolmInboundSession::session_id() const {
  std::string id(olm_inbound_group_session_id_length(impl_->session.get()), '\0');
  olm_inbound_group_session_id(impl_->session.get(), reinterpret_cast<std::uint8_t*>(id.data()),
                               id.size());
  return id;
}

std::uint32_t MegolmInboundSession::first_known_index() const {
  return olm_inbound_group_session_first_known_index(impl_->session.get());
}

Result<SecretBuffer, MegolmError> MegolmInboundSession::export_at(std::uint32_t index) const {
  SecretBuffer out(olm_export_inbound_group_session_length(impl_->session.get()));
  if (olm_failed(
          olm_export_inbound_group_session(impl_->session.get(), out.data(), out.size(), index))) {
    return fail(from_olm(impl_->session.last_error()));
  }
  return out;
}

SecretBuffer MegolmInboundSession::pickle(ByteView pickle_key) const {
  return impl_->session.pickle(pickle_key);
}

// ---- outbound ----

struct MegolmOutboundSession::Impl {
  OlmHandle<OlmOutboundGroupSession> session;
};

MegolmOutboundSession::MegolmOutboundSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MegolmOutboundSession::MegolmOutboundSession(MegolmOutboundSession&&) noexcept = default;
MegolmOutboundSession& MegolmOutboundSession::operator=(MegolmOutboundSession&&) noexcept = default;
MegolmOutboundSession::~MegolmOutboundSession() = default;

MegolmOutboundSession MegolmOutboundSession::create() {
  auto impl = std::make_unique<Impl>();
  SecretBuffer random =
      detail::olm_random(olm_init_outbound_group_session_random_length(impl->session.get()));
  if (olm_failed(
          olm_init_outbound_group_session(impl->session.get(), random.data(), random.size()))) {
    throw std::runtime_error("olm_init_outbound_group_session failed");
  }
  return MegolmOutboundSession(std::move(impl));
}

Result<MegolmOutboundSession, MegolmError> MegolmOutboundSession::unpickle(std::string_view pickle,
                                                                           ByteView pickle_key) {
  auto impl = std::make_unique<Impl>();
  if (!impl->session.unpickle(pickle, pickle_key)) return fail(MegolmError::bad_pickle);
  return MegolmOutboundSession(std::move(impl));
}

std::string MegolmOutboundSession::encrypt(ByteView plaintext) {
  OlmOutboundGroupSession* s = impl_->session.get();
  // The length grows with the index's varint: ask for every message.
  std::string out(olm_group_encrypt_message_length(s, plaintext.size()), '\0');
  const std::size_t n = olm_group_encrypt(s, detail::non_null(plaintext), plaintext.size(),
                                          reinterpret_cast<std::uint8_t*>(out.data()), out.size());
  if (olm_failed(n)) throw std::runtime_error("olm_group_encrypt failed");
  out.resize(n);
  return out;
}

std::string MegolmOutboundSession::session_id() const {
  std::string id(olm_outbound_group_session_id_length(impl_->session.get()), '\0');
  olm_outbound_group_session_id(impl_->session.get(), reinterpret_cast<std::uint8_t*>(id.data()),
                                id.size());
  return id;
}

std::uint32_t MegolmOutboundSession::message_index() const {
  return olm_outbound_group_session_message_index(impl_->session.get());
}

SecretBuffer MegolmOutboundSession::session_key() const {
  SecretBuffer out(olm_outbound_group_session_key_length(impl_->session.get()));
  olm_outbound_group_session_key(impl_->session.get(), out.data(), out.size());
  return out;
}

SecretBuffer MegolmOutboundSession::pickle(ByteView pickle_key) const {
  return impl_->session.pickle(pickle_key);
}

}  // namespace mrt
