#include "secret_input.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include "command.hpp"

namespace mrt::cli {
namespace {

// Reads up to the first '\n' (or EOF) from fd into a wiped buffer.
SecretBuffer read_line(int fd) {
  SecretBuffer line(4096);
  std::size_t used = 0;
  char c;
  for (;;) {
    const ssize_t n = ::read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    if (used == line.size()) {
      SecretBuffer bigger(line.size() * 2);
      std::memcpy(bigger.data(), line.data(), used);
      line = std::move(bigger);
    }
    line.data()[used++] = static_cast<std::uint8_t>(c);
  }
  c = 0;
  if (used > 0 && line.data()[used - 1] == '\r') --used;
  SecretBuffer out(ByteView(line.data(), used));
  return out;
}

SecretBuffer prompt(int tty, const char* text) {
  (void)!::write(tty, text, std::strlen(text));
  termios saved;
  const bool is_tty = ::tcgetattr(tty, &saved) == 0;
  if (is_tty) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  SecretBuffer line = read_line(tty);
  if (is_tty) ::tcsetattr(tty, TCSAFLUSH, &saved);
  (void)!::write(tty, "\n", 1);
  return line;
}

}  // namespace

SecretBuffer read_first_line(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw CommandError(kBadInput, "cannot read " + path + ": " + std::strerror(errno));
  SecretBuffer line = read_line(fd);
  ::close(fd);
  return line;
}

SecretBuffer read_password(const std::optional<std::string>& password_file, bool confirm) {
  if (password_file) return read_first_line(*password_file);
  const int tty = ::open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (tty < 0) {
    throw CommandError(kUsage, "no --password-file given and no terminal to ask for the password");
  }
  SecretBuffer password = prompt(tty, "Password: ");
  if (confirm) {
    SecretBuffer again = prompt(tty, "Repeat password: ");
    if (again.size() != password.size() ||
        !std::equal(again.view().begin(), again.view().end(), password.view().begin())) {
      ::close(tty);
      throw CommandError(kUsage, "the two passwords differ");
    }
  }
  ::close(tty);
  return password;
}

}  // namespace mrt::cli
