// Room-key export files between mrt and vodozemac (matrix-sdk-crypto-wasm in node), both ways.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include <gtest/gtest.h>

#include <mrt/key_export.hpp>
#include <mrt/megolm.hpp>
#include <mrt/olm.hpp>

#include "testing/temp_dir.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

class KeyExportInterop : public ::testing::Test {
 protected:
  fs::path dir = testing::fresh_dir("keyexport");
  // Non-ASCII on purpose: both sides must use the passphrase's UTF-8 bytes as they are.
  const std::string passphrase = "p\xC3\xA4ss phrase \xF0\x9F\xA6\x8A";
  // A real session in the fields matrix-sdk-crypto exports (it checks the keys).
  const json sessions = [] {
    const OlmAccount device = OlmAccount::create();
    const MegolmOutboundSession out = MegolmOutboundSession::create();
    const auto in =
        MegolmInboundSession::from_session_key(as_chars(out.session_key().view())).value();
    return json::array({{{"algorithm", "m.megolm.v1.aes-sha2"},
                         {"room_id", "!room:localhost"},
                         {"sender_key", device.identity_keys().curve25519},
                         {"session_id", in.session_id()},
                         {"session_key", std::string(as_chars(in.export_at(0)->view()))},
                         {"sender_claimed_keys", {{"ed25519", device.identity_keys().ed25519}}},
                         {"forwarding_curve25519_key_chain", json::array()}}});
  }();

  void SetUp() override {
    fs::create_directories(dir);
    std::ofstream(dir / "pass", std::ios::binary) << passphrase;
  }
  void TearDown() override { fs::remove_all(dir); }

  std::string peer(const std::string& args, const std::string& input) {
    std::ofstream(dir / "in", std::ios::binary) << input;
    const std::string cmd = std::string(MRT_NODE_PATH) + " " + MRT_SOURCE_DIR +
                            "/tests/interop/key_export_peer.mjs " + args + " < " +
                            (dir / "in").string() + " > " + (dir / "out").string();
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
    std::ifstream in(dir / "out", std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
};

TEST_F(KeyExportInterop, VodozemacOpensMrtsExport) {
  const std::string file = encrypt_key_export(sessions, as_bytes(passphrase), 1000);
  const json back = json::parse(peer("decrypt " + (dir / "pass").string(), file));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0]["session_key"], sessions[0]["session_key"]);
  EXPECT_EQ(back[0]["room_id"], sessions[0]["room_id"]);
}

TEST_F(KeyExportInterop, MrtOpensVodozemacsExport) {
  const std::string file = peer("encrypt " + (dir / "pass").string() + " 1000", sessions.dump());
  auto back = decrypt_key_export(file, as_bytes(passphrase));
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ((*back)[0]["session_key"], sessions[0]["session_key"]);
  EXPECT_EQ(decrypt_key_export(file, as_bytes("other")).error(), KeyExportError::wrong_passphrase);
}

}  // namespace
}  // namespace mrt
