#include "oversized_element_filter.hpp"

namespace mrt::transport {

namespace {

constexpr std::size_t kMaxKeyBytes = 64;  // longer keys name nothing on the path

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

OversizedElementFilter::OversizedElementFilter(OversizedElements what)
    : path_(std::move(what.array_path)), max_element_bytes_(what.max_element_bytes) {}

bool OversizedElementFilter::at_target() const {
  // Frames are kept down to the array only; deeper nesting is just counted (depth_).
  if (depth_ != path_.size() + 1 || stack_.size() != path_.size() + 1) return false;
  for (std::size_t i = 0; i < path_.size(); ++i)
    if (!stack_[i].object || stack_[i].key != path_[i]) return false;
  return !stack_.back().object;
}

void OversizedElementFilter::open_element(std::string& out) {
  in_element_ = true;
  dropping_ = false;
  element_bytes_ = 0;
  element_start_ = out.size();
  if (kept_ > 0) out.push_back(',');  // commas between kept elements are written anew
}

void OversizedElementFilter::close_element() {
  if (dropping_) {
    ++dropped_;
  } else {
    ++kept_;
  }
  in_element_ = dropping_ = false;
}

// Follows strings, keys and nesting, outside and inside elements alike.
void OversizedElementFilter::track(char c) {
  if (in_string_) {
    if (escaped_) {
      escaped_ = false;
    } else if (c == '\\') {
      escaped_ = true;
    } else if (c == '"') {
      in_string_ = capturing_key_ = false;
      return;
    }
    if (capturing_key_ && stack_.back().key.size() < kMaxKeyBytes) stack_.back().key.push_back(c);
    return;
  }
  const bool innermost_kept = depth_ > 0 && depth_ == stack_.size();
  switch (c) {
    case '"':
      in_string_ = true;
      if (innermost_kept && stack_.back().object && stack_.back().expecting_key) {
        capturing_key_ = true;
        stack_.back().expecting_key = false;
        stack_.back().key.clear();
      }
      break;
    case '{':
    case '[':
      if (depth_ == stack_.size() && depth_ <= path_.size())
        stack_.push_back({c == '{', c == '{', {}});
      ++depth_;
      break;
    case '}':
    case ']':
      if (innermost_kept) stack_.pop_back();
      if (depth_ > 0) --depth_;
      break;
    case ',':
      if (innermost_kept && stack_.back().object) stack_.back().expecting_key = true;
      break;
    default:
      break;
  }
}

void OversizedElementFilter::feed(std::string_view chunk, std::string& out) {
  for (const char c : chunk) {
    // An element ends at its array's next comma or bracket, outside strings.
    if (in_element_ && !in_string_ && depth_ == element_depth_ && (c == ',' || c == ']'))
      close_element();
    if (!in_element_ && !in_string_ && at_target()) {
      if (is_space(c) || c == ',') continue;  // rewritten by open_element
      if (c == ']') {
        kept_ = 0;  // the array closes
      } else {
        open_element(out);
        element_depth_ = depth_;
      }
    }
    if (in_element_ && !dropping_ && ++element_bytes_ > max_element_bytes_) {
      out.resize(element_start_);  // its comma goes too
      dropping_ = true;
    }
    if (!dropping_) out.push_back(c);
    track(c);
  }
}

}  // namespace mrt::transport
