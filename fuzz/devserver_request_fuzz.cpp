// The dev homeserver's request dispatcher (devserver/homeserver.hpp), in process, no socket:
// arbitrary method, path, query, Authorization header and body. Every answer must be a
// well-formed Matrix JSON response (an object; errors carry an "M_" errcode and an error text)
// and no exception may escape. One homeserver serves 5,000 inputs, with a logged-in user and a
// room, so that inputs reach past authentication; then a fresh one takes over.
//
// Input: byte 0 picks the method (bits 0-2), the token (bit 3 valid, bit 4 junk), and whether
// the path gets the "/_matrix/client/v3/" prefix (bit 5); then the target up to the first '\n',
// then the body. "$ROOM" and "$ME" in the target become the room id and the user id.
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <unistd.h>

#include <mrt/matrix_identity.hpp>

#include "fuzz_common.hpp"
#include "homeserver.hpp"

namespace {

using mrt::devserver::Homeserver;
using mrt::devserver::Outcome;
using mrt::devserver::Reply;
using mrt::devserver::Request;
using mrt::devserver::SyncWait;

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

std::string encode(const std::string& s) {
  return replace_all(replace_all(replace_all(s, "!", "%21"), ":", "%3A"), "@", "%40");
}

Reply settle(Homeserver& hs, Outcome outcome) {
  if (auto* wait = std::get_if<SyncWait>(&outcome)) outcome = hs.resume_sync(*wait, true);
  FUZZ_CHECK(std::holds_alternative<Reply>(outcome));
  Reply reply = std::move(std::get<Reply>(outcome));
  if (reply.changes) {
    hs.env().commit(std::move(*reply.changes)).get();
    hs.mark_durable(reply.position);
  }
  return reply;
}

struct Harness {
  Harness() {
    char templ[] = "/tmp/mrt-devserver-fuzz-XXXXXX";
    FUZZ_CHECK(::mkdtemp(templ) != nullptr);
    dir = templ;
    mrt::devserver::Config config;
    config.data_dir = dir / "data";
    config.durability = mrt::store::Durability::off;
    config.open_registration = true;
    auto opened = Homeserver::open(config);
    FUZZ_CHECK(opened.ok());
    hs = std::move(*opened);
    const auto key = mrt::PrivateKey::generate();
    const auto id = mrt::matrix_identity(key, "localhost");
    nlohmann::json login = {{"type", "m.login.password"},
                            {"identifier", {{"type", "m.id.user"}, {"user", id.user_id}}},
                            {"password", id.password.to_hex()}};
    Reply r = settle(*hs, hs->handle({"POST", "/_matrix/client/v3/login", "", login.dump(), ""}));
    FUZZ_CHECK(r.response.status == 200);
    token = "Bearer " + r.response.body["access_token"].get<std::string>();
    user_id = id.user_id;
    Reply room = settle(*hs, hs->handle({"POST", "/_matrix/client/v3/createRoom", token,
                                         R"({"preset":"public_chat"})", ""}));
    FUZZ_CHECK(room.response.status == 200);
    room_id = room.response.body["room_id"];
  }
  ~Harness() {
    hs.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::filesystem::path dir;
  std::unique_ptr<Homeserver> hs;
  std::string token, user_id, room_id;
};

}  // namespace

// Inputs per homeserver: then a fresh one, so that the state the fuzzer writes (users, rooms,
// account data) cannot grow without bound over a long run. A finding that needs the state of
// earlier inputs may therefore not replay alone; the smoke run's artifacts show the sequence.
constexpr int kInputsPerServer = 5000;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static auto owned = std::make_unique<Harness>();
  static int inputs = 0;
  if (++inputs % kInputsPerServer == 0) {
    owned.reset();
    owned = std::make_unique<Harness>();
  }
  Harness& harness = *owned;
  if (size == 0) return 0;
  static const char* const kMethods[] = {"GET",     "POST",  "PUT",  "DELETE",
                                         "OPTIONS", "PATCH", "HEAD", "GET"};
  const std::uint8_t flags = data[0];
  const std::string rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t newline = rest.find('\n');
  std::string target = rest.substr(0, newline);
  const std::string body = newline == std::string::npos ? "" : rest.substr(newline + 1);
  if (flags & 32) target = "/_matrix/client/v3/" + target;
  target = replace_all(replace_all(target, "$ROOM", encode(harness.room_id)), "$ME",
                       encode(harness.user_id));
  Request request{kMethods[flags & 7], target,
                  (flags & 8) ? harness.token : ((flags & 16) ? "Bearer junk" : ""), body,
                  "localhost"};
  const Reply reply = settle(*harness.hs, harness.hs->handle(request));
  const auto& r = reply.response;
  FUZZ_CHECK(r.status >= 200 && r.status <= 599);
  FUZZ_CHECK(r.body.is_object() || (r.status == 200 && r.body.is_array()));
  if (r.status >= 400) {
    FUZZ_CHECK(r.body.contains("errcode") && r.body["errcode"].is_string());
    FUZZ_CHECK(r.body["errcode"].get<std::string>().starts_with("M_"));
    FUZZ_CHECK(r.body.contains("error") && r.body["error"].is_string());
    // Server faults are bugs, not answers.
    FUZZ_CHECK(r.status != 500);
  }
  // What goes on the wire is JSON that parses back to the same value.
  const std::string wire = mrt::devserver::to_wire(r.body);
  FUZZ_CHECK(!nlohmann::json::parse(wire, nullptr, false).is_discarded());
  return 0;
}
