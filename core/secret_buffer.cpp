#include <cstring>
#include <new>

#include <sodium.h>

#include <mrt/bytes.hpp>

namespace mrt {

void wipe(std::span<std::uint8_t> bytes) noexcept {
  sodium_memzero(bytes.data(), bytes.size());
}

void wipe(std::string& text) noexcept {
  sodium_memzero(text.data(), text.size());
  text.clear();
}

SecretBuffer::SecretBuffer(std::size_t size)
    : data_(size ? new std::uint8_t[size]() : nullptr), size_(size) {}

SecretBuffer::SecretBuffer(ByteView bytes) : SecretBuffer(bytes.size()) {
  if (size_) std::memcpy(data_, bytes.data(), size_);
}

SecretBuffer::SecretBuffer(SecretBuffer&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

SecretBuffer& SecretBuffer::operator=(SecretBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

SecretBuffer::~SecretBuffer() {
  release();
}

void SecretBuffer::release() noexcept {
  if (data_) {
    sodium_memzero(data_, size_);
    delete[] data_;
  }
  data_ = nullptr;
  size_ = 0;
}

}  // namespace mrt
