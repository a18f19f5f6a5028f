// File: mrt/result.hpp
//
// `Result<T, E>`: either a value or an error, never both, never neither. Protocol outcomes that
// a peer or a file can cause (a bad signature, a malformed keystore) are returned as a Result;
// programming errors and storage failures are exceptions.
//
//   mrt::Result<mrt::Address, mrt::SignatureError> r = mrt::ecrecover(data, sig);
//   if (!r) log(mrt::to_string(r.error()));
//   else use(*r);
#pragma once

#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace mrt {

// Wraps an error so that Result<T, E> can be built from it even when T and E convert.
template <class E>
struct Failure {
  E error;
};
template <class E>
Failure(E) -> Failure<E>;

template <class E>
[[nodiscard]] Failure<std::decay_t<E>> fail(E&& error) {
  return {std::forward<E>(error)};
}

// Thrown by Result::value() when it holds an error: reading it is a programming error.
class BadResultAccess : public std::logic_error {
 public:
  BadResultAccess() : std::logic_error("mrt::Result: value() called on an error") {}
};

// Empty value for Result<Unit, E>, the result of a check that has nothing to return.
struct Unit {
  friend bool operator==(Unit, Unit) = default;
};

template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  template <class F>
  Result(Failure<F> failure) : state_(std::in_place_index<1>, std::move(failure.error)) {}

  [[nodiscard]] bool ok() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return check(), std::get<0>(state_); }
  const T& value() const& { return check(), std::get<0>(state_); }
  T&& value() && { return check(), std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // Precondition: !ok(). Reading the error of a success is a programming error.
  const E& error() const {
    if (ok()) throw std::logic_error("mrt::Result: error() called on a value");
    return std::get<1>(state_);
  }

 private:
  void check() const {
    if (!ok()) throw BadResultAccess();
  }
  std::variant<T, E> state_;
};

}  // namespace mrt
