#include "homeserver.hpp"

#include <string_view>

#include "state.hpp"

namespace mrt::devserver {

namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t start = 1;  // after the leading '/'
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

struct CompiledRoute {
  std::string method;
  std::vector<std::string> segments;
  Handler handler;
  bool needs_auth;
};

}  // namespace

struct Homeserver::Impl {
  explicit Impl(State st) : s(std::move(st)) {
    for (auto table : {auth_routes, room_routes, key_routes, profile_routes, server_info_routes}) {
      for (auto& r : table()) {
        routes.push_back({r.method, split_path(std::string("/") + r.pattern), std::move(r.handler),
                          r.needs_auth});
      }
    }
  }
  State s;
  std::vector<CompiledRoute> routes;

  void authenticate(Ctx& c) {
    std::string token;
    const std::string& header = c.req.authorization;
    if (header.starts_with("Bearer "))
      token = header.substr(7);
    else if (auto it = c.query.find("access_token"); it != c.query.end())
      token = it->second;
    if (token.empty()) throw ApiError(401, "M_MISSING_TOKEN", "missing access token");
    auto it = s.tokens.find(token);
    if (it == s.tokens.end()) {
      throw ApiError(401, "M_UNKNOWN_TOKEN", "unknown access token", {{"soft_logout", false}});
    }
    c.user = &s.users.at(it->second.first);
    c.device = &c.user->devices.at(it->second.second);
  }

  Reply finish(Ctx& c, Response response) {
    Reply reply{std::move(response)};
    reply.answer_after_commit = c.answer_after_commit;
    if (c.dirty_users.empty() && c.new_events.empty() && c.alias_changes.empty() &&
        c.new_device_changes.empty()) {
      reply.position = s.position;
      return reply;
    }
    auto changes = std::make_shared<store::Changes>();
    for (const auto& id : c.dirty_users) {
      if (auto it = s.users.find(id); it != s.users.end()) s.storage.put_user(*changes, it->second);
    }
    for (StreamPos pos : c.new_events) s.storage.put_event(*changes, pos, s.events.at(pos));
    for (const auto& [alias, room] : c.alias_changes) {
      if (room)
        s.storage.put_alias(*changes, alias, *room);
      else
        s.storage.erase_alias(*changes, alias);
    }
    for (StreamPos pos : c.new_device_changes) {
      for (const auto& [p, user] : s.device_changes) {
        if (p == pos) s.storage.put_device_change(*changes, pos, user);
      }
    }
    s.storage.put_position(*changes, s.position);
    reply.changes = std::move(changes);
    reply.position = s.position;
    reply.wake = std::move(c.wake);
    return reply;
  }

  Outcome dispatch(const Request& req) {
    // Query and path.
    const std::size_t q = req.target.find('?');
    const std::string_view path = std::string_view(req.target).substr(0, q);
    Ctx c{s, req};
    c.query = parse_query(q == std::string::npos ? std::string_view()
                                                 : std::string_view(req.target).substr(q + 1));
    if (req.method == "OPTIONS") return Reply{Response{200, Json::object()}};
    if (!path.starts_with("/")) throw ApiError(404, "M_UNRECOGNIZED", "unrecognized request");
    std::vector<std::string> raw = split_path(path);
    std::vector<std::string> segments;
    if (raw.size() >= 3 && raw[0] == ".well-known" && raw[1] == "matrix" && raw[2] == "client") {
      segments = {".well-known"};
    } else if (raw.size() >= 3 && raw[0] == "_matrix" && raw[1] == "client") {
      if (raw[2] == "versions" && raw.size() == 3) {
        segments = {"versions"};
      } else if (raw[2] == "r0" || raw[2] == "v3" || raw[2] == "v1" || raw[2] == "unstable") {
        segments.assign(raw.begin() + 3, raw.end());
      }
    }
    if (segments.empty()) throw ApiError(404, "M_UNRECOGNIZED", "unrecognized request");
    bool path_known = false;
    for (const auto& route : routes) {
      if (route.segments.size() != segments.size()) continue;
      std::vector<std::string> params;
      bool match = true;
      for (std::size_t i = 0; i < segments.size() && match; ++i) {
        if (route.segments[i] == "{}") {
          auto decoded = percent_decode(segments[i]);
          if (!decoded) throw ApiError(400, "M_INVALID_PARAM", "bad percent-encoding in path");
          params.push_back(std::move(*decoded));
        } else {
          match = route.segments[i] == segments[i];
        }
      }
      if (!match) continue;
      path_known = true;
      if (route.method != req.method) continue;
      c.params = std::move(params);
      if (route.needs_auth) authenticate(c);
      if (c.device) c.device->last_seen_ts = now_ms();
      if (req.method != "GET")
        c.body = parse_object_body(req.body);
      else
        c.body = Json::object();
      if (segments[0] == "sync") {
        const std::int64_t timeout = std::clamp<std::int64_t>(
            query_int(c.query, "timeout").value_or(0), 0, s.config.max_sync_timeout_ms);
        std::optional<Response> r = compute_sync(c, false);
        if (!r) {
          return SyncWait{c.user->id, c.device->id,
                          q == std::string::npos ? "" : req.target.substr(q + 1),
                          std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout)};
        }
        return finish(c, std::move(*r));
      }
      // A handler that fails after changing something still persists what it changed, so that
      // memory and store never disagree.
      try {
        return finish(c, route.handler(c));
      } catch (const ApiError& e) {
        Response r = error_response(e.status, e.code, e.what());
        for (const auto& [k, v] : e.extra.items()) r.body[k] = v;
        return finish(c, std::move(r));
      }
    }
    if (path_known) throw ApiError(405, "M_UNRECOGNIZED", "method not allowed here");
    throw ApiError(404, "M_UNRECOGNIZED", "unrecognized request");
  }
};

namespace {

Reply error_reply(unsigned status, const std::string& code, const std::string& message,
                  const Json& extra = Json::object()) {
  Response r = error_response(status, code, message);
  for (const auto& [k, v] : extra.items()) r.body[k] = v;
  return Reply{std::move(r)};
}

template <class F>
Outcome guarded(F&& f) noexcept {
  try {
    return f();
  } catch (const ApiError& e) {
    return error_reply(e.status, e.code, e.what(), e.extra);
  } catch (const nlohmann::json::exception& e) {
    // A field of the wrong type that a handler read without the typed helpers.
    return error_reply(400, "M_BAD_JSON", std::string("bad JSON field: ") + e.what());
  } catch (const std::exception& e) {
    return error_reply(500, "M_UNKNOWN", std::string("internal error: ") + e.what());
  } catch (...) {
    return error_reply(500, "M_UNKNOWN", "internal error");
  }
}

}  // namespace

Result<std::unique_ptr<Homeserver>, std::string> Homeserver::open(Config config) {
  auto storage = Storage::open(config.data_dir, config.durability);
  if (!storage) return fail(storage.error());
  LoadedState loaded = storage->load();
  State s(std::move(config), std::move(*storage));
  for (auto& u : loaded.users) {
    for (const auto& [id, d] : u.devices) {
      if (!d.access_token.empty()) s.tokens[d.access_token] = {u.id, id};
    }
    std::string id = u.id;
    s.users.emplace(std::move(id), std::move(u));
  }
  for (auto& [pos, event] : loaded.events) apply_event(s, pos, std::move(event));
  for (auto& [alias, room] : loaded.aliases) {
    s.rooms[room].aliases.insert(alias);
    s.aliases.emplace(alias, room);
  }
  s.device_changes = std::move(loaded.device_changes);
  for (const auto& [id, u] : s.users) s.last_presence = std::max(s.last_presence, u.presence_pos);
  s.position = s.durable = loaded.position;
  return std::unique_ptr<Homeserver>(new Homeserver(std::make_unique<Impl>(std::move(s))));
}

Homeserver::Homeserver(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Homeserver::~Homeserver() = default;

Outcome Homeserver::handle(const Request& request) noexcept {
  return guarded([&] { return impl_->dispatch(request); });
}

Outcome Homeserver::resume_sync(const SyncWait& wait, bool last_try) noexcept {
  return guarded([&]() -> Outcome {
    Request req{"GET", "/_matrix/client/v3/sync?" + wait.query};
    Ctx c{impl_->s, req};
    c.query = parse_query(wait.query);
    auto user = impl_->s.users.find(wait.user);
    if (user == impl_->s.users.end() || !user->second.devices.count(wait.device)) {
      throw ApiError(401, "M_UNKNOWN_TOKEN", "logged out while waiting", {{"soft_logout", false}});
    }
    c.user = &user->second;
    c.device = &user->second.devices.at(wait.device);
    std::optional<Response> r = compute_sync(c, last_try);
    if (!r) return wait;
    return impl_->finish(c, std::move(*r));
  });
}

void Homeserver::mark_durable(std::uint64_t position) {
  impl_->s.durable = std::max(impl_->s.durable, position);
}

store::Env& Homeserver::env() {
  return impl_->s.storage.env();
}
const Config& Homeserver::config() const {
  return impl_->s.config;
}

}  // namespace mrt::devserver
