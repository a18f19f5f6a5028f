#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace mrt::detail {

// Offset of the first byte that breaks UTF-8 well-formedness (Unicode table 3-7: no overlongs,
// no surrogates, nothing above U+10FFFF), or nullopt when all of `text` is well-formed.
std::optional<std::size_t> first_invalid_utf8(std::string_view text);

}  // namespace mrt::detail
