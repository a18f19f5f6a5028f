// The mrt binary as a user runs it: exit codes, --json output, password handling.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <mrt/eth.hpp>

#include "run_mrt.hpp"
#include "testing/temp_dir.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using testing::run_mrt;

class Cli : public ::testing::Test {
 protected:
  fs::path dir = testing::fresh_dir("cli");
  void SetUp() override {
    fs::create_directories(dir);
    write("pw",
          "Gr\xC3\xBC\xC3\x9F"
          "e pw\nsecond line is ignored\n");
    write("wrong", "nope\n");
  }
  void TearDown() override { fs::remove_all(dir); }
  void write(const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
  }
  testing::Run mrt(std::vector<std::string> args) { return run_mrt(args, dir); }
  json json_of(const testing::Run& r) {
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one line of JSON: " << r.out;
    return json::parse(r.out);
  }
  std::string new_key() {
    auto r =
        mrt({"key", "new", "--keystore", "ks.json", "--password-file", "pw", "--light", "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json_of(r)["address"];
  }
};

TEST_F(Cli, KeyNewThenShowGiveTheSameChecksummedAddress) {
  const std::string address = new_key();
  EXPECT_TRUE(Address::parse_checksummed(address));
  auto show = mrt({"key", "show", "--keystore", "ks.json", "--password-file", "pw", "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(json_of(show)["address"], address);
}

TEST_F(Cli, KeyShowWithServerNamePrintsTheMatrixIdentity) {
  new_key();
  auto show = mrt({"key", "show", "--keystore", "ks.json", "--password-file", "pw", "--server-name",
                   "localhost", "--json"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  const json out = json_of(show);
  const Address address = Address::parse_checksummed(out["address"].get<std::string>()).value();
  EXPECT_EQ(out["user_id"], "@" + address.to_hex() + ":localhost");
  EXPECT_EQ(*ecrecover(as_bytes("localhost"), out["password"].get<std::string>()), address);
  EXPECT_EQ(*ecrecover(as_bytes(out["user_id"].get<std::string>()),
                       out["displayname"].get<std::string>()),
            address);
}

TEST_F(Cli, PasswordFileCrLfIsStripped) {
  write("pw", "secret\r\n");
  write("pw2", "secret");
  new_key();
  auto show = mrt({"key", "show", "--keystore", "ks.json", "--password-file", "pw2"});
  EXPECT_EQ(show.exit_code, 0) << show.err;
}

TEST_F(Cli, WrongPasswordExits4) {
  new_key();
  auto r = mrt({"key", "show", "--keystore", "ks.json", "--password-file", "wrong"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("password"), std::string::npos) << r.err;
}

TEST_F(Cli, ExistingKeystoreIsNotOverwrittenExit5) {
  const std::string address = new_key();
  auto r = mrt({"key", "new", "--keystore", "ks.json", "--password-file", "pw", "--light"});
  EXPECT_EQ(r.exit_code, 5);
  auto show = mrt({"key", "show", "--keystore", "ks.json", "--password-file", "pw", "--json"});
  EXPECT_EQ(json_of(show)["address"], address);
}

TEST_F(Cli, MissingPasswordFileAndNoTerminalIsAUsageError) {
  auto r = mrt({"key", "new", "--keystore", "ks.json", "--light"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--password-file"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "ks.json"));
}

TEST_F(Cli, ImportThenExportGiveTheSameKey) {
  const std::string secret = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
  write("key.txt", secret + "\n");
  auto imp = mrt({"key", "import", "--keystore", "ks.json", "--private-key-file", "key.txt",
                  "--password-file", "pw", "--light", "--json"});
  ASSERT_EQ(imp.exit_code, 0) << imp.err;
  EXPECT_EQ(json_of(imp)["address"], "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23");
  auto exp = mrt({"key", "export", "--keystore", "ks.json", "--password-file", "pw", "--json"});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  EXPECT_EQ(json_of(exp)["private_key"], secret);
}

TEST_F(Cli, ImportRefusesAnInvalidKeyExit3) {
  write("key.txt", "0x00\n");
  auto r = mrt({"key", "import", "--keystore", "ks.json", "--private-key-file", "key.txt",
                "--password-file", "pw"});
  EXPECT_EQ(r.exit_code, 3);
}

TEST_F(Cli, SignThenRecoverGiveTheSigner) {
  const std::string address = new_key();
  auto sig = mrt({"sign", "--keystore", "ks.json", "--password-file", "pw", "--message-hex",
                  "0x00ff10", "--json"});
  ASSERT_EQ(sig.exit_code, 0) << sig.err;
  auto rec = mrt({"recover", "--message-hex", "0x00ff10", "--signature",
                  json_of(sig)["signature"].get<std::string>(), "--json"});
  ASSERT_EQ(rec.exit_code, 0) << rec.err;
  EXPECT_EQ(json_of(rec)["address"], address);
}

TEST_F(Cli, RecoverOfAMalformedSignatureExits3) {
  auto r = mrt({"recover", "--message", "x", "--signature", "0x1234"});
  EXPECT_EQ(r.exit_code, 3);
}

TEST_F(Cli, RecoverOfABadSignatureExits1) {
  const std::string bad_v = "0x" + std::string(128, '1') + "1d";  // v = 29
  auto r = mrt({"recover", "--message", "x", "--signature", bad_v});
  EXPECT_EQ(r.exit_code, 1);
}

TEST_F(Cli, TwoMessagesAreAUsageError) {
  auto r = mrt({"recover", "--message", "x", "--message-hex", "0x00", "--signature", "0x00"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST_F(Cli, UnknownOptionIsAUsageErrorWithUsage) {
  auto r = mrt({"key", "new", "--keystore", "ks.json", "--password", "hunter2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option --password"), std::string::npos);
  EXPECT_NE(r.err.find("usage: mrt key new"), std::string::npos);
}

TEST_F(Cli, ErrorsUnderJsonAreOneJsonObject) {
  auto r = mrt({"key", "show", "--keystore", "absent.json", "--password-file", "pw", "--json"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(json_of(r)["error"], "bad_input");
}

TEST_F(Cli, EveryCommandHasHelp) {
  for (std::vector<std::string> cmd : {std::vector<std::string>{"key", "new"},
                                       {"key", "import"},
                                       {"key", "show"},
                                       {"key", "export"},
                                       {"sign"},
                                       {"recover"},
                                       {"vectors"}}) {
    cmd.push_back("--help");
    auto r = mrt(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd[0];
    EXPECT_NE(r.out.find("mrt " + cmd[0]), std::string::npos) << r.out;
  }
}

TEST_F(Cli, UnknownCommandIsAUsageError) {
  EXPECT_EQ(mrt({"frobnicate"}).exit_code, 2);
}

TEST_F(Cli, VectorsEndsWithTheSummaryLine) {
  write("v.json", R"({"kind":"keccak256","cases":[{"input":"0x","hash":"0x00"}]})");
  auto r = mrt({"vectors", "v.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.ends_with("0 passed, 1 failed\n")) << r.out;
}

TEST_F(Cli, VectorsOfAnUnreadableFileFail) {
  auto r = mrt({"vectors", "absent.json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(r.out.ends_with("0 passed, 1 failed\n")) << r.out;
}

}  // namespace
}  // namespace mrt
