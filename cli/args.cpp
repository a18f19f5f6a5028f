#include "args.hpp"

namespace mrt::cli {

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& options,
           const std::set<std::string>& switches) {
  bool only_positional = false;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (only_positional || !a.starts_with("--")) {
      positional_.push_back(a);
    } else if (a == "--") {
      only_positional = true;
    } else if (switches.count(a)) {
      if (!switches_.insert(a).second) throw UsageError(a + " given twice");
    } else if (options.count(a)) {
      if (i + 1 == argv.size()) throw UsageError(a + " needs a value");
      if (!options_.emplace(a, argv[++i]).second) throw UsageError(a + " given twice");
    } else {
      throw UsageError("unknown option " + a);
    }
  }
}

std::optional<std::string> Args::get(const std::string& name) const {
  const auto it = options_.find(name);
  if (it == options_.end()) return std::nullopt;
  return it->second;
}

std::string Args::require(const std::string& name) const {
  auto v = get(name);
  if (!v) throw UsageError(name + " is required");
  return *v;
}

}  // namespace mrt::cli
