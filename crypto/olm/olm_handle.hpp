#pragma once

#include <cstdint>
#include <memory>
#include <olm/olm.h>
#include <optional>
#include <string>
#include <string_view>

#include <mrt/bytes.hpp>

namespace mrt::detail {

// One traits struct per libolm object: how big it is, how to place it, how to wipe it, how to
// read its last error. OlmHandle<T> is usable from construction and wiped by its deleter.
template <class T>
struct OlmTraits;

template <>
struct OlmTraits<OlmInboundGroupSession> {
  static std::size_t size() { return olm_inbound_group_session_size(); }
  static OlmInboundGroupSession* place(void* m) { return olm_inbound_group_session(m); }
  static void clear(OlmInboundGroupSession* s) { olm_clear_inbound_group_session(s); }
  static OlmErrorCode error(OlmInboundGroupSession* s) {
    return olm_inbound_group_session_last_error_code(s);
  }
  static constexpr auto pickle_length = olm_pickle_inbound_group_session_length;
  static constexpr auto pickle = olm_pickle_inbound_group_session;
  static constexpr auto unpickle = olm_unpickle_inbound_group_session;
};

template <>
struct OlmTraits<OlmOutboundGroupSession> {
  static std::size_t size() { return olm_outbound_group_session_size(); }
  static OlmOutboundGroupSession* place(void* m) { return olm_outbound_group_session(m); }
  static void clear(OlmOutboundGroupSession* s) { olm_clear_outbound_group_session(s); }
  static OlmErrorCode error(OlmOutboundGroupSession* s) {
    return olm_outbound_group_session_last_error_code(s);
  }
  static constexpr auto pickle_length = olm_pickle_outbound_group_session_length;
  static constexpr auto pickle = olm_pickle_outbound_group_session;
  static constexpr auto unpickle = olm_unpickle_outbound_group_session;
};

template <>
struct OlmTraits<::OlmAccount> {
  static std::size_t size() { return olm_account_size(); }
  static ::OlmAccount* place(void* m) { return olm_account(m); }
  static void clear(::OlmAccount* a) { olm_clear_account(a); }
  static OlmErrorCode error(::OlmAccount* a) { return olm_account_last_error_code(a); }
  static constexpr auto pickle_length = olm_pickle_account_length;
  static constexpr auto pickle = olm_pickle_account;
  static constexpr auto unpickle = olm_unpickle_account;
};

template <>
struct OlmTraits<::OlmSession> {
  static std::size_t size() { return olm_session_size(); }
  static ::OlmSession* place(void* m) { return olm_session(m); }
  static void clear(::OlmSession* s) { olm_clear_session(s); }
  static OlmErrorCode error(::OlmSession* s) { return olm_session_last_error_code(s); }
  static constexpr auto pickle_length = olm_pickle_session_length;
  static constexpr auto pickle = olm_pickle_session;
  static constexpr auto unpickle = olm_unpickle_session;
};

// Pickle keys are 32 bytes; anything else is a programming error (std::invalid_argument).
void check_pickle_key(ByteView key);

template <class T>
class OlmHandle {
 public:
  OlmHandle()
      : memory_(new std::uint8_t[OlmTraits<T>::size()]), ptr_(OlmTraits<T>::place(memory_.get())) {}
  OlmHandle(OlmHandle&&) noexcept = default;
  OlmHandle& operator=(OlmHandle&& other) noexcept {
    reset();
    memory_ = std::move(other.memory_);
    ptr_ = other.ptr_;
    other.ptr_ = nullptr;
    return *this;
  }
  ~OlmHandle() { reset(); }

  T* get() const { return ptr_; }
  OlmErrorCode last_error() const { return OlmTraits<T>::error(ptr_); }

  // libolm's standard pickle format, encrypted under a 32-byte key. Written once for every
  // object over its traits.
  SecretBuffer pickle(ByteView key) const {
    check_pickle_key(key);
    SecretBuffer out(OlmTraits<T>::pickle_length(ptr_));
    OlmTraits<T>::pickle(ptr_, key.data(), key.size(), out.data(), out.size());
    return out;
  }
  // False for a corrupted pickle or the wrong key. libolm decodes in place: it gets a copy.
  [[nodiscard]] bool unpickle(std::string_view text, ByteView key) {
    check_pickle_key(key);
    SecretBuffer copy(as_bytes(text));
    return OlmTraits<T>::unpickle(ptr_, key.data(), key.size(), copy.data(), copy.size()) !=
           olm_error();
  }

 private:
  void reset() {
    if (ptr_) OlmTraits<T>::clear(ptr_);  // wipes the keys inside
    ptr_ = nullptr;
    memory_.reset();
  }
  std::unique_ptr<std::uint8_t[]> memory_;
  T* ptr_;
};

inline bool olm_failed(std::size_t result) {
  return result == olm_error();
}

// Random bytes from libsodium, for the libolm calls that take them.
SecretBuffer olm_random(std::size_t n);

enum class Base64Padding { refused, accepted };
// Strict base64 in, a canonical unpadded copy out (libolm's decoder ignores non-zero spare bits
// and refuses padding, and overwrites the buffer it is given). nullopt when not base64.
std::optional<SecretBuffer> canonical_base64(std::string_view text, Base64Padding padding);

}  // namespace mrt::detail
