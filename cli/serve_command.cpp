// `mrt serve`: the dev homeserver of devserver/ on a socket. Not for production.
#include <charconv>
#include <iostream>

#include "args.hpp"
#include "command.hpp"
#include "devserver/homeserver.hpp"
#include "devserver/http_server.hpp"

namespace mrt::cli {

namespace {

std::pair<std::string, std::uint16_t> parse_listen(const std::string& text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) throw UsageError("--listen wants HOST:PORT");
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    throw UsageError("bad port in --listen: " + port_text);
  }
  return {host, static_cast<std::uint16_t>(port)};
}

int serve(const std::vector<std::string>& argv, bool) {
  const Args args(
      argv, {"--server-name", "--listen", "--data", "--rate-limits", "--max-body", "--log-level"},
      {"--open-registration", "--broadcast-rules", "--json"});
  devserver::Config config;
  config.server_name = args.require("--server-name");
  if (config.server_name.empty() ||
      config.server_name.find_first_of("/@#!$ \t") != std::string::npos) {
    throw UsageError("bad --server-name");
  }
  config.data_dir = args.require("--data");
  config.open_registration = args.has("--open-registration");
  config.broadcast_rules = args.has("--broadcast-rules");
  if (auto limits = args.get("--rate-limits")) {
    if (auto error = config.rate_limits.parse(*limits))
      throw UsageError("--rate-limits: " + *error);
  }
  devserver::HttpOptions http;
  std::tie(http.host, http.port) = parse_listen(args.require("--listen"));
  if (auto max_body = args.get("--max-body")) {
    std::size_t bytes = 0;
    auto [end, ec] = std::from_chars(max_body->data(), max_body->data() + max_body->size(), bytes);
    if (ec != std::errc() || end != max_body->data() + max_body->size() || bytes < 1024) {
      throw UsageError("--max-body wants a byte count of at least 1024");
    }
    http.max_body_bytes = bytes;
  }
  const std::string level = args.get("--log-level").value_or("info");
  if (level != "info" && level != "debug") throw UsageError("--log-level is info or debug");
  http.log_requests = level == "debug";
  http.handle_signals = true;

  auto homeserver = devserver::Homeserver::open(config);
  if (!homeserver) throw CommandError(kBadInput, homeserver.error());
  std::unique_ptr<devserver::HttpServer> server;
  try {
    server = std::make_unique<devserver::HttpServer>(**homeserver, http);
  } catch (const std::runtime_error& e) {
    throw CommandError(kBadInput, e.what());
  }
  const std::string shown_host =
      http.host.find(':') != std::string::npos ? "[" + http.host + "]" : http.host;
  std::cout << "listening on http://" << shown_host << ":" << server->port() << std::endl;
  std::cerr << "mrt serve: dev homeserver '" << config.server_name
            << "' (not for production: use Synapse, Conduit or Dendrite)\n";
  server->run();
  // The store finishes its queued writes first; their completions are posted to the server's
  // (stopped) event loop, which must still exist then.
  homeserver->reset();
  server.reset();
  std::cerr << "mrt serve: stopped\n";
  return kOk;
}

}  // namespace

Command serve_command() {
  return {
      "serve",
      "mrt serve --server-name NAME --listen HOST:PORT --data DIR [--open-registration]\n"
      "          [--rate-limits send=50/500,to_device=100/1000,invite=5/50,create_room=2/20,"
      "login=1/10]\n"
      "          [--max-body BYTES] [--log-level info|debug]\n"
      "  Runs the development homeserver (docs/devserver.md): the Matrix client-server API a\n"
      "  Raiden node and matrix-js-sdk need, with the Ethereum login of PROTOCOL.md section 2,\n"
      "  stored in DIR. Prints \"listening on http://HOST:PORT\" once ready (PORT 0 picks a\n"
      "  free port); SIGINT or SIGTERM stop it. Rate limits are per user: RATE per second,\n"
      "  BURST tokens; RATE 0 lifts a limit. Not for production: use Synapse, Conduit or\n"
      "  Dendrite.",
      serve};
}

}  // namespace mrt::cli
