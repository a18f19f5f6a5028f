#include "testing/raw_peer.hpp"

#include <stdexcept>

#include <mrt/matrix_identity.hpp>
#include <mrt/owner_store_key.hpp>

#include "testing/caller_wait.hpp"

namespace mrt::testing {

RawPeer::RawPeer(const std::string& base_url, const std::string& server_name, const PrivateKey& key,
                 const std::filesystem::path& dir)
    : io_(std::make_unique<transport::HttpIo>()) {
  client_ = std::make_unique<transport::MatrixClient>(
      *io_, transport::MatrixClientOptions{.base_url = base_url});
  open(server_name, key, dir);
}

RawPeer::RawPeer(std::unique_ptr<transport::MatrixCaller> caller, const std::string& server_name,
                 const PrivateKey& key, const std::filesystem::path& dir)
    : client_(std::move(caller)) {
  open(server_name, key, dir);
}

transport::MatrixResult RawPeer::call(transport::MatrixCall c) {
  return call_and_wait(*client_, std::move(c));
}

void RawPeer::open(const std::string& server_name, const PrivateKey& key,
                   const std::filesystem::path& dir) {
  const transport::LoginInfo login = login_and_wait(*client_, key, server_name);
  user_id_ = login.user_id;
  // Its displayname proves its user id, as a node's does (PROTOCOL §2): nodes message and ack
  // only proven ids (§8). Tests of unproven ids set another one afterwards.
  auto named = call(transport::calls::set_displayname(
      user_id_, matrix_identity(key, server_name).displayname.to_hex()));
  if (!named) throw std::runtime_error("raw peer displayname: " + describe(named.error()));
  auto env = store::Env::open(
      {.dir = dir, .tables = E2eeMachine::tables(), .durability = store::Durability::off},
      store_key_for(key));
  if (!env) throw std::runtime_error("raw peer store: " + env.error().message);
  env_.emplace(std::move(*env));
  auto machine = E2eeMachine::open(*env_, key, login.user_id, login.device_id);
  if (!machine) throw std::runtime_error("raw peer machine");
  machine_.emplace(std::move(*machine));
  flush();
}

RawPeer::~RawPeer() {
  if (io_) io_->shutdown();
  client_.reset();
  machine_.reset();
  env_.reset();
}

void RawPeer::flush() {
  send_machine_requests(*client_, *machine_);
}

void RawPeer::send_to_device(const std::string& user, const nlohmann::json& payload,
                             const std::string& type) {
  machine_->update_tracked_users({user});
  for (int round = 0; round < 8; ++round) {
    flush();
    auto outcome = machine_->encrypt_to_device(user, type, payload);
    if (outcome.complete()) {
      if (outcome.sent.empty()) throw std::runtime_error("raw peer: no attested device of " + user);
      flush();
      return;
    }
  }
  throw std::runtime_error("raw peer: keys of " + user + " never arrived");
}

}  // namespace mrt::testing
