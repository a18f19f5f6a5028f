#include <nlohmann/json.hpp>

#include <mrt/olm.hpp>

#include "olm_account_impl.hpp"

namespace mrt {
namespace {

using detail::olm_failed;

// libolm reports keys as JSON {"curve25519": {id: key}}; a failure here is a libolm bug.
std::map<std::string, std::string> curve25519_map(const std::string& text) {
  std::map<std::string, std::string> out;
  const auto parsed = nlohmann::json::parse(text);
  for (const auto& [id, key] : parsed.at("curve25519").items()) out[id] = key.get<std::string>();
  return out;
}

}  // namespace

std::string_view to_string(OlmError e) {
  switch (e) {
    case OlmError::bad_base64:
      return "bad_base64";
    case OlmError::bad_key:
      return "bad_key";
    case OlmError::bad_message_format:
      return "bad_message_format";
    case OlmError::bad_mac:
      return "bad_mac";
    case OlmError::unknown_one_time_key:
      return "unknown_one_time_key";
    case OlmError::bad_pickle:
      return "bad_pickle";
    case OlmError::message_too_large:
      return "message_too_large";
    case OlmError::not_a_pre_key_message:
      return "not_a_pre_key_message";
  }
  return "unknown";
}

OlmAccount::OlmAccount(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
OlmAccount::OlmAccount(OlmAccount&&) noexcept = default;
OlmAccount& OlmAccount::operator=(OlmAccount&&) noexcept = default;
OlmAccount::~OlmAccount() = default;

OlmAccount OlmAccount::create() {
  auto impl = std::make_unique<Impl>();
  ::OlmAccount* a = impl->account.get();
  SecretBuffer random = detail::olm_random(olm_create_account_random_length(a));
  if (olm_failed(olm_create_account(a, random.data(), random.size()))) {
    throw std::runtime_error("olm_create_account failed");
  }
  return OlmAccount(std::move(impl));
}

Result<OlmAccount, OlmError> OlmAccount::unpickle(std::string_view pickle, ByteView pickle_key) {
  auto impl = std::make_unique<Impl>();
  if (!impl->account.unpickle(pickle, pickle_key)) return fail(OlmError::bad_pickle);
  return OlmAccount(std::move(impl));
}

IdentityKeys OlmAccount::identity_keys() const {
  ::OlmAccount* a = impl_->account.get();
  std::string text(olm_account_identity_keys_length(a), '\0');
  olm_account_identity_keys(a, text.data(), text.size());
  const auto parsed = nlohmann::json::parse(text);
  return {parsed.at("curve25519").get<std::string>(), parsed.at("ed25519").get<std::string>()};
}

std::string OlmAccount::sign(ByteView message) const {
  ::OlmAccount* a = impl_->account.get();
  std::string sig(olm_account_signature_length(a), '\0');
  olm_account_sign(a, message.data(), message.size(), sig.data(), sig.size());
  return sig;
}

std::size_t OlmAccount::max_one_time_keys() const {
  return olm_account_max_number_of_one_time_keys(impl_->account.get());
}

void OlmAccount::generate_one_time_keys(std::size_t count) {
  ::OlmAccount* a = impl_->account.get();
  SecretBuffer random =
      detail::olm_random(olm_account_generate_one_time_keys_random_length(a, count));
  if (olm_failed(olm_account_generate_one_time_keys(a, count, random.data(), random.size()))) {
    throw std::runtime_error("olm_account_generate_one_time_keys failed");
  }
}

std::map<std::string, std::string> OlmAccount::one_time_keys() const {
  ::OlmAccount* a = impl_->account.get();
  std::string text(olm_account_one_time_keys_length(a), '\0');
  olm_account_one_time_keys(a, text.data(), text.size());
  return curve25519_map(text);
}

void OlmAccount::mark_keys_as_published() {
  olm_account_mark_keys_as_published(impl_->account.get());
}

void OlmAccount::generate_fallback_key() {
  ::OlmAccount* a = impl_->account.get();
  SecretBuffer random = detail::olm_random(olm_account_generate_fallback_key_random_length(a));
  if (olm_failed(olm_account_generate_fallback_key(a, random.data(), random.size()))) {
    throw std::runtime_error("olm_account_generate_fallback_key failed");
  }
}

std::map<std::string, std::string> OlmAccount::unpublished_fallback_key() const {
  ::OlmAccount* a = impl_->account.get();
  std::string text(olm_account_unpublished_fallback_key_length(a), '\0');
  olm_account_unpublished_fallback_key(a, text.data(), text.size());
  return curve25519_map(text);
}

void OlmAccount::forget_old_fallback_key() {
  olm_account_forget_old_fallback_key(impl_->account.get());
}

SecretBuffer OlmAccount::pickle(ByteView pickle_key) const {
  return impl_->account.pickle(pickle_key);
}

}  // namespace mrt
