#include "testing/caller_wait.hpp"

#include <stdexcept>

namespace mrt::testing {

transport::MatrixResult call_and_wait(transport::MatrixCaller& caller, transport::MatrixCall c) {
  return caller.call(std::move(c)).get();
}

transport::LoginInfo login_and_wait(transport::MatrixCaller& caller, const PrivateKey& key,
                                    const std::string& server_name,
                                    const std::optional<std::string>& device_id) {
  auto login = caller.login_ethereum(key, server_name, device_id).get();
  if (!login) throw std::runtime_error("login at " + server_name + ": " + describe(login.error()));
  return std::move(*login);
}

void send_machine_requests(transport::MatrixCaller& caller, E2eeMachine& machine) {
  for (int round = 0; round < 8; ++round) {
    auto requests = machine.outgoing_requests();
    if (requests.empty()) return;
    for (const auto& r : requests) {
      const auto call = transport::calls::machine_request(r);
      auto answer = call_and_wait(caller, call);
      if (!answer) throw std::runtime_error(call.path + ": " + describe(answer.error()));
      machine.mark_request_as_sent(r.id, *answer);
    }
  }
}

}  // namespace mrt::testing
