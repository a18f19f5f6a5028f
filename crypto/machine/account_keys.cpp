// The device's own keys: the attested device_keys, one-time keys kept at kOneTimeKeyTarget on
// the server, and a fallback key rotated weekly or once the server reports it used.
#include <mrt/canonical_json.hpp>
#include <mrt/matrix_signing.hpp>

#include "machine_impl.hpp"

namespace mrt {

json E2eeMachine::Impl::sign_object(json object) const {
  auto payload = signing_payload(object);
  if (!payload) throw std::logic_error("e2ee: signing an object with no canonical form");
  object["signatures"][user_id]["ed25519:" + device_id] = account->sign(as_bytes(*payload));
  return object;
}

void E2eeMachine::Impl::create_account(store::Changes& changes) {
  account = OlmAccount::create();
  identity = account->identity_keys();
  const std::int64_t issued_at = now();
  json keys = {{"algorithms", {kOlmAlgorithm, kMegolmAlgorithm}},
               {"device_id", device_id},
               {"keys",
                {{"curve25519:" + device_id, identity.curve25519},
                 {"ed25519:" + device_id, identity.ed25519}}},
               {"user_id", user_id}};
  // The attestation goes in before the self-signature, so that the signature covers it.
  auto attested = attest_device_keys(std::move(keys), eth_key, issued_at);
  if (!attested) throw std::logic_error("e2ee: the device keys cannot be attested");
  device_keys = sign_object(std::move(*attested));
  account_meta = {{"device_id", device_id},
                  {"device_keys", device_keys},
                  {"keys_published", false},
                  {"fallback_created_ms", 0}};
  save_account(changes);
}

void E2eeMachine::Impl::save_account(store::Changes& changes) {
  json record = account_meta;
  const SecretBuffer pickle = account->pickle(pickle_key.view());
  record["pickle"] = std::string(as_chars(pickle.view()));
  changes.put(account_table, "account", record);
}

void E2eeMachine::Impl::queue_keys_upload() {
  if (upload_request) return;
  if (upload_refused_at != 0 && now() - upload_refused_at < kRefusedRequestRetryMs) return;
  json body = json::object();
  store::Changes changes;
  if (!account_meta.at("keys_published").get<bool>()) body["device_keys"] = device_keys;

  // Before the first upload the server holds none; afterwards trust the counts sync reports.
  const std::uint64_t on_server = server_otk_count.value_or(
      account_meta.at("keys_published").get<bool>() ? kOneTimeKeyTarget : 0);
  auto unpublished = account->one_time_keys();
  const std::size_t wanted = on_server + unpublished.size() < kOneTimeKeyTarget
                                 ? kOneTimeKeyTarget - on_server - unpublished.size()
                                 : 0;
  if (wanted > 0) {
    account->generate_one_time_keys(std::min(wanted, account->max_one_time_keys() / 2));
    unpublished = account->one_time_keys();
  }
  if (!unpublished.empty() && on_server < kOneTimeKeyTarget) {
    json otks = json::object();
    for (const auto& [id, key] : unpublished) {
      otks["signed_curve25519:" + id] = sign_object({{"key", key}});
    }
    body["one_time_keys"] = std::move(otks);
  }

  const auto fallback_created = account_meta.at("fallback_created_ms").get<std::int64_t>();
  if (fallback_created == 0 || fallback_used ||
      now() - fallback_created >= kFallbackKeyLifetimeMs) {
    if (account->unpublished_fallback_key().empty()) account->generate_fallback_key();
    account_meta["fallback_created_ms"] = now();
    fallback_used = false;
  }
  const auto fallback = account->unpublished_fallback_key();
  if (!fallback.empty()) {
    json keys = json::object();
    for (const auto& [id, key] : fallback) {
      keys["signed_curve25519:" + id] = sign_object({{"key", key}, {"fallback", true}});
    }
    body["fallback_keys"] = std::move(keys);
  }
  if (body.empty()) return;
  // The new keys are saved before they leave, so the server never holds a key we lost.
  save_account(changes);
  commit(std::move(changes));
  const std::string id = new_request_id();
  requests[id] = {id, RequestType::keys_upload, std::move(body), ""};
  upload_request = id;
}

void E2eeMachine::Impl::on_keys_uploaded(const json& response) {
  upload_request.reset();
  account->mark_keys_as_published();
  account_meta["keys_published"] = true;
  if (const auto* counts = json_object(response, "one_time_key_counts")) {
    const auto it = counts->find("signed_curve25519");
    server_otk_count =
        it != counts->end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
  }
  store::Changes changes;
  save_account(changes);
  commit(std::move(changes));
}

}  // namespace mrt
