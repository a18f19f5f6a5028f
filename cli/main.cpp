// mrt: the command-line tool. One entry per command; each prints --help and supports --json.
#include <algorithm>
#include <iostream>
#include <sstream>

#include "args.hpp"
#include "command.hpp"

namespace mrt::cli {

void print_result(bool json, const nlohmann::json& object,
                  const std::vector<std::pair<std::string, std::string>>& text_lines) {
  if (json) {
    std::cout << object.dump() << "\n";
    return;
  }
  for (const auto& [name, value] : text_lines) std::cout << name << ": " << value << "\n";
}

namespace {

std::vector<Command> all_commands() {
  std::vector<Command> all = key_commands();
  for (auto& c : signature_commands()) all.push_back(std::move(c));
  all.push_back(vectors_command());
  all.push_back(serve_command());
  for (auto& c : node_commands()) all.push_back(std::move(c));
  all.push_back(demo_command());
  all.push_back(bench_command());
  return all;
}

std::string_view code_name(int code) {
  switch (code) {
    case kCheckFailed:
      return "check_failed";
    case kUsage:
      return "usage";
    case kBadInput:
      return "bad_input";
    case kKeyRefused:
      return "key_refused";
    case kWouldOverwrite:
      return "would_overwrite";
    case kStoreRefused:
      return "store_refused";
    case kStartFailed:
      return "start_failed";
    case kNotDelivered:
      return "not_delivered";
    default:
      return "error";
  }
}

void print_overview(std::ostream& os, const std::vector<Command>& commands) {
  os << "mrt - Matrix Raiden Transport tools\n\nCommands:\n";
  for (const auto& c : commands) os << "\n" << c.usage << "\n";
  os << "\nExit codes: 0 ok, 1 check failed, 2 usage, 3 bad input, 4 key refused,\n"
        "5 would overwrite, 6 store refused, 7 start failed, 8 not delivered. Passwords are\n"
        "read from --password-file (first line) or a no-echo prompt, never from the command\n"
        "line.\n";
}

int run(int argc, char** argv) {
  const std::vector<std::string> words(argv + 1, argv + argc);
  const std::vector<Command> commands = all_commands();
  if (words.empty() || words[0] == "--help" || words[0] == "help" || words[0] == "-h") {
    print_overview(words.empty() ? std::cerr : std::cout, commands);
    return words.empty() ? kUsage : kOk;
  }
  if (words[0] == "--version") {
    std::cout << "mrt " << MRT_VERSION << "\n";
    return kOk;
  }
  // Longest command name that prefixes the words ("key new" before "key").
  const Command* command = nullptr;
  std::size_t used = 0;
  for (const auto& c : commands) {
    std::vector<std::string> name_words;
    for (std::size_t start = 0, end; start <= c.name.size(); start = end + 1) {
      end = std::min(c.name.find(' ', start), c.name.size());
      name_words.push_back(c.name.substr(start, end - start));
    }
    if (name_words.size() <= words.size() &&
        std::equal(name_words.begin(), name_words.end(), words.begin()) &&
        name_words.size() > used) {
      command = &c;
      used = name_words.size();
    }
  }
  if (!command) {
    // A group word alone ("mrt key", "mrt key --help") lists the group's commands.
    const bool help = words.size() == 2 && words[1] == "--help";
    std::ostringstream group;
    for (const auto& c : commands) {
      if (c.name.starts_with(words[0] + " ")) group << c.usage << "\n\n";
    }
    if (group.str().empty() || (words.size() > 1 && !help)) {
      std::cerr << "mrt: unknown command \"" << words[0] << "\" (see mrt --help)\n";
      return kUsage;
    }
    (help ? std::cout : std::cerr) << group.str();
    return help ? kOk : kUsage;
  }
  const std::vector<std::string> rest(words.begin() + static_cast<std::ptrdiff_t>(used),
                                      words.end());
  if (std::find(rest.begin(), rest.end(), "--help") != rest.end()) {
    std::cout << command->usage << "\n";
    return kOk;
  }
  const bool json = std::find(rest.begin(), rest.end(), "--json") != rest.end();
  try {
    return command->run(rest, json);
  } catch (const UsageError& e) {
    std::cerr << "mrt " << command->name << ": " << e.what() << "\n\nusage: " << command->usage
              << "\n";
    if (json) std::cout << nlohmann::json{{"error", "usage"}, {"message", e.what()}}.dump() << "\n";
    return kUsage;
  } catch (const CommandError& e) {
    std::cerr << "mrt " << command->name << ": " << e.what() << "\n";
    if (json) {
      std::cout << nlohmann::json{{"error", code_name(e.code)}, {"message", e.what()}}.dump()
                << "\n";
    }
    return e.code;
  }
}

}  // namespace
}  // namespace mrt::cli

int main(int argc, char** argv) {
  try {
    return mrt::cli::run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "mrt: internal error: " << e.what() << "\n";
    return 70;
  }
}
