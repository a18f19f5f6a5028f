// The live challenge of a discovery candidate (live_challenge.hpp; docs/protocol.md "Live
// challenge"): Node::challenge, the worker's challenges in flight, and its answers to others'.
#include <mrt/matrix_identity.hpp>

#include "live_challenge.hpp"
#include "node_impl.hpp"
#include "node_worker_state.hpp"

namespace mrt {

using json = nlohmann::json;

namespace transport {

using namespace worker;

namespace {
// Ours waiting at once: each holds an application call (and a slot here), so a handful is plenty.
constexpr std::size_t kMaxPendingChallenges = 64;
}  // namespace

void NodeWorker::challenge(std::string target, std::int64_t wait_ms, ChallengeCallback done) {
  post([this, target = std::move(target), wait_ms, done = std::move(done)]() mutable {
    if (challenges_.size() >= kMaxPendingChallenges)
      return done(fail(std::string("too many challenges waiting for their answer")));
    const std::string nonce = new_challenge_nonce();
    challenges_[nonce] = {target, std::move(done)};
    const json messages = {{target, {{"*", challenge_content(nonce, my_user_id_, target)}}}};
    ctx_.client.call(calls::send_to_device(kChallengeEventType, new_transaction_id(), messages),
                     [this, nonce](const MatrixResult& r) {
                       if (r) return;
                       post([this, nonce, why = describe(r.error())] {
                         if (auto c = challenges_.extract(nonce))
                           c.mapped().done(fail("the challenge was not sent: " + why));
                       });
                     });
    post_after(wait_ms, [this, nonce] {
      if (auto c = challenges_.extract(nonce))
        c.mapped().done(fail(std::string("no valid answer in time")));
    });
  });
}

void NodeWorker::take_challenges(json& to_device_events) {
  std::erase_if(to_device_events.get_ref<json::array_t&>(), [&](const json& e) {
    // parse_sync_batch kept only events whose fields have their types.
    const std::string type = e.value("type", "");
    if (type != kChallengeEventType && type != kChallengeAnswerEventType) return false;
    const std::string sender = e.value("sender", "");
    const json content = e.value("content", json::object());
    if (type == kChallengeEventType) {
      // Answering costs a signature and a send: a few a second per Matrix user.
      if (!challenge_answers_.take(sender, steady())) return true;
      auto answer = answer_challenge(content, sender, my_user_id_, ctx_.key);
      if (!answer) return true;
      const json messages = {{sender, {{"*", *answer}}}};
      ctx_.client.call(
          calls::send_to_device(kChallengeAnswerEventType, new_transaction_id(), messages),
          [](const MatrixResult&) {});  // lost: the challenger asks again
      return true;
    }
    const auto nonce = answered_nonce(content);
    auto it = nonce ? challenges_.find(*nonce) : challenges_.end();
    if (it == challenges_.end()) return true;  // unknown, answered, or expired
    auto proven = check_answer(content, sender, *nonce, my_user_id_, it->second.target);
    if (!proven) {
      ctx_.log(LogLevel::info, "ids", "challenge_answer_refused",
               {{"user_id", sender}, {"why", to_string(proven.error())}});
      return true;  // the real target may still answer in time
    }
    auto done = std::move(it->second.done);
    challenges_.erase(it);
    done(*proven);
    return true;
  });
}

}  // namespace transport

Result<Unit, NodeError> Node::challenge(const Address& address, const std::string& user_id,
                                        std::chrono::milliseconds wait) {
  if (auto ok = check_user_id_of(address, user_id); !ok) return fail(ok.error());
  auto answered = std::make_shared<std::promise<Result<Address, std::string>>>();
  {
    std::lock_guard lock(impl_->mutex);
    if (!impl_->started || impl_->stopped || impl_->homes.empty())
      return fail(node_error(NodeErrorKind::not_started, "before start() or after stop()"));
    // From the fastest home: the answer comes back to the user id that asked.
    impl_->homes.front()->worker->challenge(
        user_id, wait.count(),
        [answered](Result<Address, std::string> r) { answered->set_value(std::move(r)); });
  }
  auto future = answered->get_future();
  if (future.wait_for(wait + std::chrono::seconds(5)) != std::future_status::ready)
    return fail(node_error(NodeErrorKind::challenge_failed, user_id + ": the node stopped"));
  auto r = future.get();
  if (!r) return fail(node_error(NodeErrorKind::challenge_failed, user_id + ": " + r.error()));
  return Unit{};
}

}  // namespace mrt
