#pragma once

#include <mrt/olm.hpp>

#include "olm_handle.hpp"

namespace mrt {

// Shared by olm_account.cpp and olm_session.cpp (sessions are made from an account).
struct OlmAccount::Impl {
  detail::OlmHandle<::OlmAccount> account;
};

}  // namespace mrt
