// Waiting on any transport::MatrixCaller, for test peers that act step by step: over HTTP the
// answer comes on the I/O thread, from a HomeserverHub before call() returns.
#pragma once

#include <optional>
#include <string>

#include <mrt/e2ee_machine.hpp>
#include <mrt/eth.hpp>

#include "transport/matrix_client.hpp"

namespace mrt::testing {

transport::MatrixResult call_and_wait(transport::MatrixCaller& caller, transport::MatrixCall c);

// Logs in (the first login makes the account; `device_id` stays that device); throws naming the
// server's error.
transport::LoginInfo login_and_wait(transport::MatrixCaller& caller, const PrivateKey& key,
                                    const std::string& server_name,
                                    const std::optional<std::string>& device_id = std::nullopt);

// Sends `machine`'s queued requests (and those their answers make) until none is left; throws
// naming the request the server refused.
void send_machine_requests(transport::MatrixCaller& caller, E2eeMachine& machine);

}  // namespace mrt::testing
