// Node, what Raiden's services pass around about an address: a user id proven by its
// displayname, and the capabilities published as the profile's avatar_url
// (include/mrt/capabilities.hpp). PROTOCOL.md is silent on capabilities; docs/protocol.md
// gives mrt's reading.
#include <mrt/matrix_identity.hpp>

#include "node_impl.hpp"

namespace mrt {

using json = nlohmann::json;

namespace {

constexpr auto kProfilePatience = std::chrono::seconds(30);

std::optional<std::string> avatar_url_of(const transport::MatrixResult& r) {
  if (!r || !r->is_object()) return std::nullopt;
  auto it = r->find("avatar_url");
  if (it == r->end() || !it->is_string()) return std::string();  // none set: {} (Synapse)
  return it->get<std::string>();
}

bool none_set(const transport::MatrixResult& r) {
  return !r && r.error().http_status == 404;  // the spec's (and mrt serve's) answer for none
}

}  // namespace

json to_json(const AddressMetadata& m) {
  return {{"user_id", m.user_id}, {"capabilities", m.capabilities}, {"displayname", m.displayname}};
}

Result<Unit, NodeError> Node::Impl::publish_capabilities(Home& home, const std::string& url) {
  auto current = home.client->call(transport::calls::avatar_url(home.user_id)).get();
  if (auto published = avatar_url_of(current); published && *published == url) return Unit{};
  auto set = home.client->call(transport::calls::set_avatar_url(home.user_id, url)).get();
  if (!set)
    return fail(as_node_error(set.error(), "publishing the capabilities at " + home.server.url));
  return Unit{};
}

Result<Unit, NodeError> Node::add_metadata(const Address& address,
                                           const AddressMetadata& metadata) {
  if (auto ok = check_user_id_of(address, metadata.user_id); !ok) return fail(ok.error());
  if (metadata.displayname.empty()) return add_user_ids(address, {metadata.user_id});
  if (auto proven = displayname_proves_user_id(metadata.user_id, metadata.displayname);
      !proven || *proven != address)
    return fail(node_error(NodeErrorKind::bad_user_id,
                           "the displayname does not prove " + metadata.user_id + " (" +
                               std::string(proven ? "another address" : to_string(proven.error())) +
                               ")"));
  std::lock_guard lock(impl_->mutex);
  if (!impl_->started || impl_->stopped)
    return fail(node_error(NodeErrorKind::not_started, "before start() or after stop()"));
  for (auto* w : impl_->workers()) w->add_proven_user_id(address, metadata.user_id);
  return Unit{};
}

Result<Unit, NodeError> Node::set_capabilities(const Capabilities& capabilities) {
  auto url = capabilities_url(capabilities);
  if (!url)
    return fail(node_error(NodeErrorKind::bad_config,
                           "capabilities: " + std::string(to_string(url.error()))));
  {
    std::lock_guard lock(impl_->mutex);
    impl_->capabilities_url = *url;  // for the homes that log in from now on
    if (!impl_->started || impl_->stopped) return Unit{};
  }
  auto answers = impl_->ask_homes<json>(kProfilePatience, [&](transport::NodeWorker& w, auto done) {
    w.set_avatar_url(*url, std::move(done));
  });
  for (auto& a : answers)
    if (!a) return fail(as_node_error(a.error(), "publishing the capabilities"));
  return Unit{};
}

Result<Capabilities, NodeError> Node::capabilities_of(const Address& address) {
  auto ids = discover(address);
  if (!ids) return fail(ids.error());
  if (ids->empty())
    return fail(node_error(NodeErrorKind::network,
                           "no user id of " + address.to_hex() + " is known (PROTOCOL §8)"));
  std::string why;
  for (const auto& id : *ids) {
    auto answers =
        impl_->ask_homes<json>(kProfilePatience, [&](transport::NodeWorker& w, auto done) {
          w.request(transport::calls::avatar_url(id), std::move(done));
        });
    for (auto& a : answers) {
      if (none_set(a)) return Capabilities{};
      if (auto url = avatar_url_of(a)) {
        auto caps = parse_capabilities_url(*url);
        if (caps) return std::move(*caps);
        why = id + "'s avatar_url is not a capabilities URL (" +
              std::string(to_string(caps.error())) + ")";
      } else if (!a && why.empty()) {
        why = as_node_error(a.error(), id + "'s avatar_url").message;
      }
    }
    if (answers.empty())
      return fail(node_error(NodeErrorKind::not_started, "before start() or after stop()"));
  }
  return fail(node_error(NodeErrorKind::network, why));
}

Result<AddressMetadata, NodeError> Node::metadata() const {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->started || impl_->stopped || impl_->homes.empty())
    return fail(node_error(NodeErrorKind::not_started, "before start() or after stop()"));
  const Impl::Home& home = *impl_->homes.front();
  return AddressMetadata{
      .user_id = home.user_id,
      .displayname = matrix_identity(impl_->key, home.server.server_name).displayname.to_hex(),
      .capabilities = impl_->capabilities_url.value_or("mxc://")};
}

}  // namespace mrt
