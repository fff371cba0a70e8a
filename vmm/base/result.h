// Result<T>: the error type every module boundary returns.
//
// An Error names the operation that failed and, when the failure came from the OS or KVM, the
// errno. Messages are written for users: "KVM_SET_MSRS: processed 12 of 40, failed at MSR 0x6e0
// (IA32_TSC_DEADLINE)" rather than "ioctl failed".
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

#include "vmm/base/check.h"

namespace rrvm {

struct Error {
  std::string message;  // what failed, in words a user can act on
  int err = 0;          // errno when the failure came from a system call, else 0

  // "KVM_RUN: Invalid argument (errno 22)" or just the message when err == 0.
  std::string describe() const;

  // Prepends context: Error{"read"}.context("loading snapshot") -> "loading snapshot: read".
  Error context(const std::string& what) const;
};

// An Error for a failed system call, taking errno at the call site.
inline Error errno_error(std::string operation, int err = errno) {
  return Error{std::move(operation), err};
}

inline Error make_error(std::string message) { return Error{std::move(message), 0}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    RRVM_CHECK_MSG(ok(), "Result::value() on error: " + std::get<1>(v_).describe());
    return std::get<0>(v_);
  }
  const T& value() const& {
    RRVM_CHECK_MSG(ok(), "Result::value() on error: " + std::get<1>(v_).describe());
    return std::get<0>(v_);
  }
  T&& value() && {
    RRVM_CHECK_MSG(ok(), "Result::value() on error: " + std::get<1>(v_).describe());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    RRVM_CHECK_MSG(!ok(), "Result::error() on success");
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    RRVM_CHECK_MSG(!ok_, "Result::error() on success");
    return error_;
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status ok_status() { return Status(); }

}  // namespace rrvm

// Propagate an error: RRVM_TRY(expr) returns expr's Error from the enclosing function.
#define RRVM_TRY(expr)                                   \
  do {                                                   \
    auto&& rrvm_try_result_ = (expr);                    \
    if (!rrvm_try_result_.ok()) return rrvm_try_result_.error(); \
  } while (0)

#define RRVM_CONCAT_INNER_(a, b) a##b
#define RRVM_CONCAT_(a, b) RRVM_CONCAT_INNER_(a, b)

// RRVM_ASSIGN_OR_RETURN(auto fd, open_file(path)); declares fd from a Result's value.
#define RRVM_ASSIGN_OR_RETURN(decl, expr) \
  RRVM_ASSIGN_OR_RETURN_IMPL_(RRVM_CONCAT_(rrvm_res_, __LINE__), decl, expr)
#define RRVM_ASSIGN_OR_RETURN_IMPL_(tmp, decl, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return tmp.error();                 \
  decl = std::move(tmp).value()
