// mrt vectors FILE...
#include <iostream>

#include "args.hpp"
#include "command.hpp"
#include "vector_runner.hpp"

namespace mrt::cli {
namespace {

int vectors(const std::vector<std::string>& argv, bool json_out) {
  const Args args(argv, {}, {"--json"});
  if (args.positional().empty()) throw UsageError("give at least one vector file");
  int passed = 0, failed = 0;
  nlohmann::json files = nlohmann::json::array();
  for (const std::string& file : args.positional()) {
    const VectorReport r = run_vector_file(file);
    passed += r.passed;
    failed += r.failed;
    if (json_out) {
      files.push_back({{"file", r.file},
                       {"kind", r.kind},
                       {"passed", r.passed},
                       {"failed", r.failed},
                       {"failures", r.failures}});
      if (r.file_error) files.back()["error"] = *r.file_error;
      continue;
    }
    if (r.file_error) {
      std::cout << "ERROR " << r.file << ": " << *r.file_error << "\n";
      continue;
    }
    for (const std::string& f : r.failures) std::cout << "FAIL " << r.file << " " << f << "\n";
    std::cout << r.file << " (" << r.kind << "): " << r.passed << " passed, " << r.failed
              << " failed\n";
  }
  if (json_out) {
    std::cout << nlohmann::json{{"files", files}, {"passed", passed}, {"failed", failed}}.dump()
              << "\n";
  } else {
    std::cout << passed << " passed, " << failed << " failed\n";
  }
  return failed == 0 ? kOk : kCheckFailed;
}

}  // namespace

Command vectors_command() {
  std::string kinds;
  for (const auto& k : supported_vector_kinds()) kinds += (kinds.empty() ? "" : ", ") + k;
  return {"vectors",
          "mrt vectors FILE... [--json]\n"
          "  Checks every case of conformance vector files (PROTOCOL.md section 7) and ends with\n"
          "  \"N passed, N failed\". Exit 1 on any failure, unreadable file or unknown kind.\n"
          "  Kinds: " +
              kinds + ".",
          vectors};
}

}  // namespace mrt::cli
