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
};

template <>
struct OlmTraits<OlmOutboundGroupSession> {
  static std::size_t size() { return olm_outbound_group_session_size(); }
  static OlmOutboundGroupSession* place(void* m) { return olm_outbound_group_session(m); }
  static void clear(OlmOutboundGroupSession* s) { olm_clear_outbound_group_session(s); }
  static OlmErrorCode error(OlmOutboundGroupSession* s) {
    return olm_outbound_group_session_last_error_code(s);
  }
};

template <>
struct OlmTraits<::OlmAccount> {
  static std::size_t size() { return olm_account_size(); }
  static ::OlmAccount* place(void* m) { return olm_account(m); }
  static void clear(::OlmAccount* a) { olm_clear_account(a); }
  static OlmErrorCode error(::OlmAccount* a) { return olm_account_last_error_code(a); }
};

template <>
struct OlmTraits<::OlmSession> {
  static std::size_t size() { return olm_session_size(); }
  static ::OlmSession* place(void* m) { return olm_session(m); }
  static void clear(::OlmSession* s) { olm_clear_session(s); }
  static OlmErrorCode error(::OlmSession* s) { return olm_session_last_error_code(s); }
};

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

// Pickle keys are 32 bytes; anything else is a programming error (std::invalid_argument).
void check_pickle_key(ByteView key);

// Random bytes from libsodium, for the libolm calls that take them.
SecretBuffer olm_random(std::size_t n);

enum class Base64Padding { refused, accepted };
// Strict base64 in, a canonical unpadded copy out (libolm's decoder ignores non-zero spare bits
// and refuses padding, and overwrites the buffer it is given). nullopt when not base64.
std::optional<SecretBuffer> canonical_base64(std::string_view text, Base64Padding padding);

}  // namespace mrt::detail
