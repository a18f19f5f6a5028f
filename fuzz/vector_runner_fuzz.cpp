// Fuzz target: the conformance vector runner behind `mrt vectors FILE…` (cli/vector_runner.hpp),
// on arbitrary JSON documents parsed by parse_json_strict (as run_vector_file parses a file).
//
// Documents of kind keystore_v3 with a case whose kdfparams would cost more than
// kMaxFuzzKdfCost are skipped (the library's own limits are tested elsewhere). Properties:
// - run_vector_document never crashes and never throws (an escaping exception aborts the
//   fuzzer: a malformed case must be reported as a failed case, not end the program);
// - the report is consistent: a document that is not a vector file, or of an unknown kind,
//   counts as exactly one failure with a file_error; otherwise passed + failed equals the number
//   of cases and there is one failure message per failed case.
#include <cstdint>

#include <mrt/canonical_json.hpp>

#include "fuzz_common.hpp"
#include "vector_runner.hpp"

namespace {

bool expensive_keystore_document(const nlohmann::json& document) {
  if (!document.is_object()) return false;
  const auto kind = document.find("kind");
  const auto cases = document.find("cases");
  if (kind == document.end() || *kind != "keystore_v3" || cases == document.end() ||
      !cases->is_array()) {
    return false;
  }
  for (const auto& c : *cases) {
    if (!c.is_object()) continue;
    const auto keystore = c.find("keystore");
    if (keystore != c.end() && mrt::fuzz::keystore_is_expensive(*keystore)) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto document = mrt::parse_json_strict(mrt::fuzz::as_text(data, size));
  if (!document) return 0;
  if (expensive_keystore_document(*document)) return 0;

  const mrt::cli::VectorReport report = mrt::cli::run_vector_document(*document, "fuzz-input");
  FUZZ_CHECK(report.file == "fuzz-input");
  if (report.file_error) {
    FUZZ_CHECK(report.passed == 0 && report.failed == 1 && report.failures.empty());
    FUZZ_CHECK(!report.file_error->empty());
    return 0;
  }
  const nlohmann::json& doc = *document;
  const auto& cases = doc.at("cases");
  FUZZ_CHECK(cases.is_array());
  FUZZ_CHECK(report.kind == doc.at("kind").get<std::string>());
  FUZZ_CHECK(report.passed >= 0 && report.failed >= 0);
  FUZZ_CHECK(static_cast<std::size_t>(report.passed + report.failed) == cases.size());
  FUZZ_CHECK(report.failures.size() == static_cast<std::size_t>(report.failed));
  return 0;
}
