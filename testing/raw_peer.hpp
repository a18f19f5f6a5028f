// A hostile or careless peer for the node tests: a Matrix device with an attested E2EE machine
// (and a displayname that proves its user id) that sends whatever payload it is given, byte for
// byte, over Olm to-device or as a plaintext room event, with none of mrt::Node's rules applied. It
// drives its machine synchronously, over HTTP or through an in-process HomeserverHub.
//
//   RawPeer eve(server.base_url(), "localhost", key, dir);       // or hub.caller("hs.test")
//   json envelope = mrt::Envelope::message(key, node.address(), "x", now).to_json();
//   envelope["recipient"] = other.to_hex();                 // redirected
//   eve.send_to_device(node.user_id(), {{"envelopes", {envelope}}});
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include <mrt/e2ee_machine.hpp>
#include <mrt/eth.hpp>
#include <mrt/store/env.hpp>

#include "transport/http_io.hpp"
#include "transport/matrix_client.hpp"

namespace mrt::testing {

class RawPeer {
 public:
  RawPeer(const std::string& base_url, const std::string& server_name, const PrivateKey& key,
          const std::filesystem::path& dir);
  RawPeer(std::unique_ptr<transport::MatrixCaller> caller, const std::string& server_name,
          const PrivateKey& key, const std::filesystem::path& dir);
  ~RawPeer();

  const std::string& user_id() const { return user_id_; }
  // Olm-encrypts `payload` (as an event of `type`) to every attested device of `user`. Throws
  // when the user has no device or the server refuses.
  void send_to_device(const std::string& user, const nlohmann::json& payload,
                      const std::string& type = "network.raiden.envelopes");
  // Sends the machine's queued requests until none is left.
  void flush();
  // Any call, answered before it returns.
  transport::MatrixResult call(transport::MatrixCall c);
  transport::MatrixResult request(const std::string& method, const std::string& path,
                                  const nlohmann::json& body) {
    return call(transport::calls::request(method, path, body));
  }

 private:
  void open(const std::string& server_name, const PrivateKey& key,
            const std::filesystem::path& dir);

  std::string user_id_;
  std::unique_ptr<transport::HttpIo> io_;  // over HTTP only
  std::unique_ptr<transport::MatrixCaller> client_;
  std::optional<store::Env> env_;
  std::optional<E2eeMachine> machine_;
};

}  // namespace mrt::testing
