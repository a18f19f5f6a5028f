#include "vector_runner.hpp"

#include <gtest/gtest.h>

namespace mrt::cli {
namespace {

using json = nlohmann::json;

TEST(VectorRunner, PassingCasesArePassed) {
  const json doc = {
      {"kind", "keccak256"},
      {"cases",
       {{{"input", "0x"},
         {"hash", "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"}}}}};
  const VectorReport r = run_vector_document(doc, "mem");
  EXPECT_EQ(r.passed, 1);
  EXPECT_EQ(r.failed, 0);
}

TEST(VectorRunner, FailureNamesTheCaseAndItsComment) {
  const json doc = {{"kind", "keccak256"},
                    {"cases", {{{"input", "0x"}, {"hash", "0x00"}, {"comment", "empty"}}}}};
  const VectorReport r = run_vector_document(doc, "mem");
  ASSERT_EQ(r.failed, 1);
  EXPECT_EQ(r.failures[0].rfind("case 0 (empty): hash: expected 0x00", 0), 0u) << r.failures[0];
}

TEST(VectorRunner, MalformedCaseFailsWithoutStoppingTheFile) {
  const json doc = {
      {"kind", "keccak256"},
      {"cases",
       {{{"input", 7}},
        {{"input", "0x"},
         {"hash", "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"}}}}};
  const VectorReport r = run_vector_document(doc, "mem");
  EXPECT_EQ(r.failed, 1);
  EXPECT_EQ(r.passed, 1);
  EXPECT_NE(r.failures[0].find("malformed case"), std::string::npos);
}

TEST(VectorRunner, UnknownKindFailsTheFile) {
  const VectorReport r = run_vector_document({{"kind", "teleport"}, {"cases", json::array()}}, "m");
  EXPECT_EQ(r.failed, 1);
  ASSERT_TRUE(r.file_error);
  EXPECT_NE(r.file_error->find("teleport"), std::string::npos);
}

TEST(VectorRunner, CanonicalErrorCaseFailsWhenAccepted) {
  const json doc = {{"kind", "canonical_json"},
                    {"cases", {{{"input_text", "{}"}, {"error", true}}}}};
  EXPECT_EQ(run_vector_document(doc, "m").failed, 1);
}

TEST(VectorRunner, EcrecoverNullExpectsARefusal) {
  const json doc = {{"kind", "ecrecover"},
                    {"cases", {{{"message", "0x"}, {"signature", "0x12"}, {"address", nullptr}}}}};
  EXPECT_EQ(run_vector_document(doc, "m").passed, 1);
}

TEST(VectorRunner, EveryShippedFileIsOfAKnownKind) {
  const auto kinds = supported_vector_kinds();
  for (const auto& entry : std::filesystem::directory_iterator(MRT_VECTORS_DIR)) {
    if (entry.path().extension() != ".json") continue;
    const VectorReport r = run_vector_file(entry.path());
    EXPECT_FALSE(r.file_error) << entry.path() << ": " << *r.file_error;
    EXPECT_GT(r.passed, 0) << entry.path();
  }
}

}  // namespace
}  // namespace mrt::cli
