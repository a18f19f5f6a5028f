#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mrt::cli {

// The outcome of one conformance vector file (PROTOCOL.md §7).
struct VectorReport {
  std::string file;
  std::string kind;
  int passed = 0;
  int failed = 0;
  std::vector<std::string> failures;  // "case 3 (comment): what differed"
  // Set when the file as a whole could not be run (unreadable, not JSON, unknown kind); such a
  // file counts as one failure.
  std::optional<std::string> file_error;
};

VectorReport run_vector_document(const nlohmann::json& document, const std::string& file);
VectorReport run_vector_file(const std::filesystem::path& path);

// Kinds this build can check.
std::vector<std::string> supported_vector_kinds();

}  // namespace mrt::cli
