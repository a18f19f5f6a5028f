// Keystore files on disk: read with the strict JSON parser, write atomically with mode 0600.
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

#include <mrt/canonical_json.hpp>
#include <mrt/keystore.hpp>

namespace mrt {
namespace {

Failure<KeystoreFailure> io_error(const std::string& what, const std::filesystem::path& path,
                                  int err) {
  return fail(KeystoreFailure{
      KeystoreError::io, what + " " + path.string() + ": " + std::generic_category().message(err)});
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

Result<nlohmann::json, KeystoreFailure> read_keystore_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("cannot open", path, errno);
  // A keystore is a few hundred bytes; a path to something endless (/dev/zero) must not be
  // read until memory runs out.
  std::string text(kMaxKeystoreFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) return io_error("cannot read", path, errno);
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxKeystoreFileBytes) {
    return fail(KeystoreFailure{KeystoreError::malformed,
                                path.string() + " is larger than a keystore can be (1 MiB)"});
  }
  auto parsed = parse_json_strict(text);
  if (!parsed) {
    return fail(KeystoreFailure{KeystoreError::malformed,
                                path.string() + " is not valid JSON: " + parsed.error().message});
  }
  return std::move(*parsed);
}

Result<Unit, KeystoreFailure> write_keystore_file(const std::filesystem::path& path,
                                                  const nlohmann::json& keystore) {
  auto text = canonical_json(keystore);
  if (!text) return fail(KeystoreFailure{KeystoreError::malformed, text.error().message});
  *text += '\n';

  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  std::string tmp = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = ::mkstemp(tmp.data());  // creates with mode 0600
  if (fd < 0) return io_error("cannot create a temporary file in", dir, errno);
  const bool written = ::fchmod(fd, 0600) == 0 && write_all(fd, *text) && ::fsync(fd) == 0;
  const int write_errno = errno;
  ::close(fd);
  if (!written) {
    ::unlink(tmp.c_str());
    return io_error("cannot write", tmp, write_errno);
  }
  // link() fails with EEXIST instead of replacing: an existing keystore is never clobbered.
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    const int link_errno = errno;
    ::unlink(tmp.c_str());
    if (link_errno == EEXIST) {
      return fail(KeystoreFailure{KeystoreError::exists,
                                  path.string() + " already exists; refusing to overwrite it"});
    }
    return io_error("cannot create", path, link_errno);
  }
  ::unlink(tmp.c_str());
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);  // make the new directory entry durable
    ::close(dir_fd);
  }
  return Unit{};
}

}  // namespace mrt
