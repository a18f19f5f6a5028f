// Helpers every handler file uses: ids, time, errors, rate limits, the Ethereum login check.
#include <algorithm>
#include <chrono>

#include <sodium.h>

#include <mrt/eth.hpp>
#include <mrt/matrix_identity.hpp>

#include "state.hpp"

namespace mrt::devserver {

std::string random_id(std::size_t length) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out(length, 'A');
  for (char& ch : out) ch = kAlphabet[randombytes_uniform(sizeof(kAlphabet) - 1)];
  return out;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void forbidden(const std::string& why) {
  throw ApiError(403, "M_FORBIDDEN", why);
}
void not_found(const std::string& why) {
  throw ApiError(404, "M_NOT_FOUND", why);
}

void rate_limit(Ctx& c, Action action) {
  const std::string key = c.user ? c.user->id : std::string("?");
  if (auto wait = c.s.limiter.take(key, action)) {
    throw ApiError(429, "M_LIMIT_EXCEEDED",
                   "too many requests (" + std::string(to_string(action)) + ")",
                   {{"retry_after_ms", *wait}});
  }
}

namespace {

bool is_user_id_of(const std::string& user_id, const std::string& server_name) {
  return user_id.size() > server_name.size() + 2 && user_id[0] == '@' &&
         user_id.ends_with(":" + server_name);
}

}  // namespace

bool is_local_user_id(const State& s, const std::string& user_id) {
  if (is_user_id_of(user_id, s.config.server_name)) return true;
  return std::any_of(s.config.also_serves.begin(), s.config.also_serves.end(),
                     [&](const std::string& name) { return is_user_id_of(user_id, name); });
}

const std::string& server_name_of(const Ctx& c) {
  const auto& also = c.s.config.also_serves;
  const auto it = std::find(also.begin(), also.end(), c.req.host);
  return it == also.end() ? c.s.config.server_name : *it;
}

void require_self(Ctx& c, const std::string& user_id) {
  if (user_id != c.user->id) forbidden("cannot act for another user");
}

std::string ethereum_login_user(const Ctx& c, const Json& body) {
  // The user: identifier {type: m.id.user, user}, or the deprecated top-level "user".
  std::optional<std::string> user;
  const Json& identifier = opt_object(body, "identifier");
  if (!identifier.empty()) {
    if (opt_string(identifier, "type").value_or("m.id.user") != "m.id.user") {
      throw ApiError(400, "M_UNKNOWN", "only m.id.user identifiers are supported");
    }
    user = opt_string(identifier, "user");
  }
  if (!user) user = opt_string(body, "user");
  if (!user) throw ApiError(400, "M_MISSING_PARAM", "no user given");
  const std::string password = req_string(body, "password");
  const std::string& server_name = server_name_of(c);
  std::string user_id = *user;
  if (!user_id.starts_with("@")) user_id = "@" + user_id + ":" + server_name;
  if (!is_user_id_of(user_id, server_name)) forbidden("not a user of this server");
  auto address = address_of_user_id(user_id);
  if (!address) forbidden("the localpart must be an Ethereum address (0x + 40 lowercase hex)");
  auto signer = ecrecover(as_bytes(server_name), password);
  if (!signer || *signer != *address) {
    forbidden("the password is not this address's signature of the server name");
  }
  return user_id;
}

}  // namespace mrt::devserver
