// The dev homeserver's request and response values, and the error a handler throws to answer
// with a Matrix error. Nothing here knows about sockets: the HTTP layer (http_server.cpp) and
// the fuzz target both speak to the homeserver through these.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mrt::devserver {

struct Request {
  std::string method;         // "GET", "PUT", ...
  std::string target;         // path and query, as sent: "/_matrix/client/v3/sync?since=s4"
  std::string authorization;  // the Authorization header, if any
  std::string body;
  std::string host;  // the Host header (for .well-known)
};

struct Response {
  unsigned status = 200;
  nlohmann::json body = nlohmann::json::object();
};

// Thrown by handlers; the dispatcher turns it into {"errcode", "error", ...extra}.
class ApiError : public std::runtime_error {
 public:
  ApiError(unsigned http_status, std::string errcode, const std::string& message,
           nlohmann::json extra_fields = nlohmann::json::object())
      : std::runtime_error(message),
        status(http_status),
        code(std::move(errcode)),
        extra(std::move(extra_fields)) {}
  unsigned status;
  std::string code;
  nlohmann::json extra;
};

inline Response error_response(unsigned status, const std::string& errcode,
                               const std::string& message) {
  return {status, {{"errcode", errcode}, {"error", message}}};
}

// JSON text for the wire. Invalid UTF-8 can only come from a path or query parameter that slipped
// through; it is replaced rather than allowed to throw.
inline std::string to_wire(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace mrt::devserver
