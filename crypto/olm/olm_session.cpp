#include <mrt/olm.hpp>

#include "crypto/non_null.hpp"
#include "olm_account_impl.hpp"

namespace mrt {

namespace {

using detail::olm_failed;

OlmError from_olm(OlmErrorCode code) {
  switch (code) {
    case OLM_INVALID_BASE64:
      return OlmError::bad_base64;
    case OLM_BAD_MESSAGE_MAC:
      return OlmError::bad_mac;
    case OLM_BAD_MESSAGE_KEY_ID:
      return OlmError::unknown_one_time_key;
    case OLM_BAD_ACCOUNT_KEY:
    case OLM_CORRUPTED_PICKLE:
    case OLM_UNKNOWN_PICKLE_VERSION:
      return OlmError::bad_pickle;
    default:
      return OlmError::bad_message_format;
  }
}

Result<SecretBuffer, OlmError> key_copy(std::string_view key) {
  auto copy = detail::canonical_base64(key, detail::Base64Padding::refused);
  if (!copy || copy->size() != 43) return fail(OlmError::bad_key);  // 32 bytes, unpadded
  return std::move(*copy);
}

Result<SecretBuffer, OlmError> message_copy(const OlmMessage& m) {
  if (m.body.size() > kMaxOlmMessage) return fail(OlmError::message_too_large);
  auto copy = detail::canonical_base64(m.body, detail::Base64Padding::accepted);
  if (!copy) return fail(OlmError::bad_base64);
  return std::move(*copy);
}

}  // namespace

struct OlmSession::Impl {
  detail::OlmHandle<::OlmSession> session;
};

OlmSession::OlmSession(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OlmSession::OlmSession(OlmSession&&) noexcept = default;
OlmSession& OlmSession::operator=(OlmSession&&) noexcept = default;
OlmSession::~OlmSession() = default;

Result<OlmSession, OlmError> OlmSession::outbound(const OlmAccount& account,
                                                  std::string_view their_curve25519,
                                                  std::string_view their_one_time_key) {
  auto identity = key_copy(their_curve25519);
  auto otk = key_copy(their_one_time_key);
  if (!identity || !otk) return fail(OlmError::bad_key);
  auto impl = std::make_unique<Impl>();
  ::OlmSession* s = impl->session.get();
  SecretBuffer random = detail::olm_random(olm_create_outbound_session_random_length(s));
  if (olm_failed(olm_create_outbound_session(s, account.impl_->account.get(), identity->data(),
                                             identity->size(), otk->data(), otk->size(),
                                             random.data(), random.size()))) {
    return fail(from_olm(impl->session.last_error()));
  }
  return OlmSession(std::move(impl));
}

Result<std::pair<OlmSession, SecretBuffer>, OlmError> OlmSession::inbound(
    OlmAccount& account, std::string_view their_curve25519, const OlmMessage& pre_key) {
  if (pre_key.type != OlmMessageType::pre_key) return fail(OlmError::not_a_pre_key_message);
  auto identity = key_copy(their_curve25519);
  if (!identity) return fail(identity.error());
  auto body = message_copy(pre_key);
  if (!body) return fail(body.error());
  auto impl = std::make_unique<Impl>();
  ::OlmSession* s = impl->session.get();
  ::OlmAccount* a = account.impl_->account.get();
  // Not olm_create_inbound_session_from: libolm 3.2.13 reads the message's identity key through
  // a null pointer when that field is missing and an expected key is given (security.md,
  // finding 5). Without an expected key libolm refuses such a message; the sender is compared
  // afterwards, before anything is decrypted or spent.
  SecretBuffer for_session(body->view());  // each libolm call consumes its own copy
  if (olm_failed(olm_create_inbound_session(s, a, for_session.data(), for_session.size()))) {
    return fail(from_olm(impl->session.last_error()));
  }
  SecretBuffer for_sender(body->view());
  if (olm_matches_inbound_session_from(s, identity->data(), identity->size(), for_sender.data(),
                                       for_sender.size()) != 1) {
    return fail(OlmError::unknown_one_time_key);  // what the _from call said for another sender
  }
  OlmSession session(std::move(impl));
  auto plain = session.decrypt(pre_key);
  if (!plain) return fail(plain.error());  // the one-time key stays: nothing was changed
  // Only now is the key spent. A fallback key is not a one-time key: libolm then reports
  // BAD_MESSAGE_KEY_ID and the key rightly stays.
  (void)olm_remove_one_time_keys(a, session.impl_->session.get());
  return std::pair<OlmSession, SecretBuffer>(std::move(session), std::move(*plain));
}

Result<OlmSession, OlmError> OlmSession::unpickle(std::string_view pickle, ByteView pickle_key) {
  auto impl = std::make_unique<Impl>();
  if (!impl->session.unpickle(pickle, pickle_key)) return fail(OlmError::bad_pickle);
  return OlmSession(std::move(impl));
}

bool OlmSession::matches_inbound(std::string_view their_curve25519,
                                 const OlmMessage& pre_key) const {
  if (pre_key.type != OlmMessageType::pre_key) return false;
  auto identity = key_copy(their_curve25519);
  auto body = message_copy(pre_key);
  if (!identity || !body) return false;
  const std::size_t r = olm_matches_inbound_session_from(
      impl_->session.get(), identity->data(), identity->size(), body->data(), body->size());
  return !olm_failed(r) && r == 1;
}

OlmMessage OlmSession::encrypt(ByteView plaintext) {
  ::OlmSession* s = impl_->session.get();
  const auto type = static_cast<OlmMessageType>(olm_encrypt_message_type(s));
  SecretBuffer random = detail::olm_random(olm_encrypt_random_length(s));
  std::string body(olm_encrypt_message_length(s, plaintext.size()), '\0');
  const std::size_t n = olm_encrypt(s, detail::non_null(plaintext), plaintext.size(), random.data(),
                                    random.size(), body.data(), body.size());
  if (olm_failed(n)) throw std::runtime_error("olm_encrypt failed");
  body.resize(n);
  return {type, std::move(body)};
}

Result<SecretBuffer, OlmError> OlmSession::decrypt(const OlmMessage& message) {
  auto body = message_copy(message);
  if (!body) return fail(body.error());
  ::OlmSession* s = impl_->session.get();
  const auto type = static_cast<std::size_t>(message.type);
  SecretBuffer for_length(body->view());
  const std::size_t max =
      olm_decrypt_max_plaintext_length(s, type, for_length.data(), for_length.size());
  if (olm_failed(max)) return fail(from_olm(impl_->session.last_error()));
  SecretBuffer plain(max);
  const std::size_t n =
      olm_decrypt(s, type, body->data(), body->size(), plain.data(), plain.size());
  if (olm_failed(n)) return fail(from_olm(impl_->session.last_error()));
  return SecretBuffer(plain.view().first(n));
}

std::string OlmSession::session_id() const {
  std::string id(olm_session_id_length(impl_->session.get()), '\0');
  olm_session_id(impl_->session.get(), id.data(), id.size());
  return id;
}

bool OlmSession::has_received_message() const {
  return olm_session_has_received_message(impl_->session.get()) != 0;
}

SecretBuffer OlmSession::pickle(ByteView pickle_key) const {
  return impl_->session.pickle(pickle_key);
}

}  // namespace mrt
