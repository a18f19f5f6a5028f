#pragma once

#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace mrt::cli {

// A usage error: wrong flags or arguments. main() prints it with the command's usage, exit 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `--name value` options, `--name` switches and positional arguments, checked against what the
// command declares: an unknown or repeated flag is a UsageError, never ignored.
class Args {
 public:
  Args(const std::vector<std::string>& argv, const std::set<std::string>& options,
       const std::set<std::string>& switches);

  std::optional<std::string> get(const std::string& name) const;
  std::string require(const std::string& name) const;
  bool has(const std::string& name) const { return switches_.count(name) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::string> options_;
  std::set<std::string> switches_;
  std::vector<std::string> positional_;
};

}  // namespace mrt::cli
