// The in-process homeserver hub that the node scenarios run on: servers alone or federated, and
// servers that go down and come back.
#include "testing/homeserver_hub.hpp"

#include <gtest/gtest.h>

#include <mrt/matrix_identity.hpp>

#include "testing/caller_wait.hpp"
#include "testing/temp_dir.hpp"

namespace mrt::testing {
namespace {

namespace calls = transport::calls;

class HomeserverHubTest : public ::testing::Test {
 protected:
  ~HomeserverHubTest() override { std::filesystem::remove_all(dir); }

  // A logged-in account on `server` whose displayname is `name`; its caller.
  std::unique_ptr<transport::MatrixCaller> account(const std::string& server, std::string& user_id,
                                                   const std::string& name = "someone") {
    auto caller = hub.caller(server);
    user_id = login_and_wait(*caller, PrivateKey::generate(), server, std::nullopt).user_id;
    EXPECT_TRUE(call_and_wait(*caller, calls::set_displayname(user_id, name)));
    return caller;
  }

  std::filesystem::path dir = fresh_dir("hub");
  HomeserverHub hub{dir / "servers"};
};

TEST_F(HomeserverHubTest, ServersAddedAloneDoNotKnowEachOthersUsers) {
  hub.add_server("one.test");
  hub.add_server("two.test");
  std::string on_one, on_two;
  auto one = account("one.test", on_one);
  auto two = account("two.test", on_two);
  EXPECT_TRUE(call_and_wait(*one, calls::displayname(on_one)));
  const auto far = call_and_wait(*one, calls::displayname(on_two));
  ASSERT_FALSE(far);
  EXPECT_EQ(far.error().http_status, 404);
}

TEST_F(HomeserverHubTest, AFederationsServersShareTheirUsersAndEachLogsInItsOwn) {
  hub.add_federation({"one.test", "two.test"});
  std::string on_one, on_two;
  auto one = account("one.test", on_one, "first");
  auto two = account("two.test", on_two, "second");
  EXPECT_TRUE(on_one.ends_with(":one.test"));
  EXPECT_TRUE(on_two.ends_with(":two.test"));
  const auto far = call_and_wait(*one, calls::displayname(on_two));
  ASSERT_TRUE(far) << describe(far.error());
  EXPECT_EQ((*far)["displayname"], "second");
  // The Ethereum password is signed for one server name: it logs in only there.
  const PrivateKey key = PrivateKey::generate();
  auto caller = hub.caller("two.test");
  const auto elsewhere =
      call_and_wait(*caller, calls::login_ethereum(key, "one.test", std::nullopt));
  ASSERT_FALSE(elsewhere);
  EXPECT_EQ(elsewhere.error().http_status, 403);
}

TEST_F(HomeserverHubTest, ADownServerAnswersNothingAndOthersCannotAskIt) {
  hub.add_federation({"one.test", "two.test"});
  std::string on_one, on_two;
  auto one = account("one.test", on_one);
  auto two = account("two.test", on_two);
  hub.take_down("two.test");
  const auto refused = call_and_wait(*two, calls::whoami());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, transport::MatrixErrorKind::network);
  const auto far = call_and_wait(*one, calls::displayname(on_two));
  ASSERT_FALSE(far);
  EXPECT_EQ(far.error().http_status, 502);
  EXPECT_TRUE(call_and_wait(*one, calls::displayname(on_one))) << "one.test still answers";

  hub.bring_up("two.test");
  EXPECT_TRUE(call_and_wait(*two, calls::whoami()));
  EXPECT_TRUE(call_and_wait(*one, calls::displayname(on_two)));
}

TEST_F(HomeserverHubTest, AServerBroughtBackIsRestartedFromItsStoreWithItsAccounts) {
  hub.add_server("one.test");
  std::string user;
  auto caller = account("one.test", user, "kept");
  hub.take_down("one.test");
  hub.bring_up("one.test");
  const auto me = call_and_wait(*caller, calls::whoami());
  ASSERT_TRUE(me) << describe(me.error());
  EXPECT_EQ((*me)["user_id"], user);
  EXPECT_EQ((*call_and_wait(*caller, calls::displayname(user)))["displayname"], "kept");
}

TEST_F(HomeserverHubTest, AWaitingSyncOfAServerThatGoesDownGetsNoAnswer) {
  hub.add_server("one.test");
  std::string user;
  auto caller = account("one.test", user);
  const auto first = call_and_wait(*caller, calls::sync("", 0));
  ASSERT_TRUE(first);
  std::optional<transport::MatrixResult> answer;
  caller->call(calls::sync((*first)["next_batch"], 30'000),
               [&](transport::MatrixResult r) { answer = std::move(r); });
  EXPECT_FALSE(answer) << "a long-poll with nothing to report waits";
  hub.take_down("one.test");
  ASSERT_TRUE(answer);
  ASSERT_FALSE(*answer);
  EXPECT_EQ(answer->error().kind, transport::MatrixErrorKind::network);
}

TEST_F(HomeserverHubTest, ADelayedRequestIsAnsweredAtOnceAndAppliedWhenDue) {
  hub.add_server("one.test");
  std::string user;
  auto caller = account("one.test", user, "before");
  hub.delay_next("/displayname", 1, 500);
  EXPECT_TRUE(call_and_wait(*caller, calls::set_displayname(user, "after")));
  hub.pump();
  EXPECT_EQ((*call_and_wait(*caller, calls::displayname(user)))["displayname"], "before");
  EXPECT_EQ(hub.next_deadline(), hub.clock().steady_ms + 500);
  hub.clock().advance(500);
  EXPECT_TRUE(hub.pump());
  EXPECT_EQ((*call_and_wait(*caller, calls::displayname(user)))["displayname"], "after");
}

}  // namespace
}  // namespace mrt::testing
