// A tiny HTTP client for the dev homeserver tests (libcurl easy handles, keep-alive per
// client): every test talks to a real `mrt serve` over 127.0.0.1.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace mrt::testing {

struct HttpResult {
  long status = 0;
  std::string body;
  std::string headers;  // the raw response header block
  nlohmann::json json;  // discarded when the body is not JSON
  std::string errcode() const {
    return json.is_object() && json.contains("errcode") ? json["errcode"].get<std::string>() : "";
  }
};

class HttpClient {
 public:
  explicit HttpClient(std::string base_url);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `body` is sent as is (raw text) when given; `token` as a Bearer header.
  HttpResult request(const std::string& method, const std::string& path,
                     const std::optional<std::string>& body = std::nullopt,
                     const std::string& token = "", long timeout_ms = 30000);
  HttpResult get(const std::string& path, const std::string& token = "") {
    return request("GET", path, std::nullopt, token);
  }
  HttpResult post(const std::string& path, const nlohmann::json& body,
                  const std::string& token = "") {
    return request("POST", path, body.dump(), token);
  }
  HttpResult put(const std::string& path, const nlohmann::json& body,
                 const std::string& token = "") {
    return request("PUT", path, body.dump(), token);
  }
  const std::string& base_url() const { return base_; }

 private:
  std::string base_;
  void* curl_;
};

// %-encodes a path segment ("!room:server" -> "%21room%3Aserver").
std::string url_encode(const std::string& segment);

}  // namespace mrt::testing
