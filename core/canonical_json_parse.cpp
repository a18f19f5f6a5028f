// Strict JSON parsing on nlohmann's SAX interface: nlohmann's own DOM parser silently keeps the
// last of duplicate keys and turns fractions, exponents and -0 into values canonical JSON can not
// tell apart from integers, so each number and key is judged as it is read.
#include <vector>

#include <mrt/canonical_json.hpp>

#include "utf8.hpp"

namespace mrt {
namespace {

using json = nlohmann::json;

class StrictBuilder : public nlohmann::json_sax<json> {
 public:
  std::optional<JsonFailure> failure;
  json root;

  bool null() override { return put(nullptr); }
  bool boolean(bool b) override { return put(b); }
  bool number_integer(number_integer_t n) override {
    // nlohmann reports non-negative literals through number_unsigned; a signed zero here is "-0".
    if (n == 0)
      return refuse(JsonError::negative_zero, "-0 is not an integer canonical JSON allows");
    if (n < -kMaxJsonInteger) return out_of_range(std::to_string(n));
    return put(n);
  }
  bool number_unsigned(number_unsigned_t n) override {
    if (n > static_cast<number_unsigned_t>(kMaxJsonInteger)) return out_of_range(std::to_string(n));
    return put(static_cast<number_integer_t>(n));
  }
  bool number_float(number_float_t, const string_t& text) override {
    if (text.find_first_of("eE") != string_t::npos) {
      return refuse(JsonError::exponent, "number " + text + " has an exponent");
    }
    if (text.find('.') != string_t::npos) {
      return refuse(JsonError::fraction, "number " + text + " has a fraction");
    }
    return out_of_range(text);  // an integer literal too large for 64 bits
  }
  bool string(string_t& s) override { return put(std::move(s)); }
  bool binary(binary_t&) override {
    return refuse(JsonError::not_representable, "binary values are not JSON");
  }
  bool start_object(std::size_t) override { return open(json::object()); }
  bool key(string_t& k) override {
    json& object = *stack_.back();
    if (object.contains(k)) {
      return refuse(JsonError::duplicate_key, "duplicate object key \"" + k + "\"");
    }
    pending_key_ = &object[k];  // std::map nodes stay put while siblings are added
    return true;
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(json::array()); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    const std::string what = ex.what();
    if (what.find("surrogate") != std::string::npos) {
      return refuse(JsonError::lone_surrogate, "a \\u escape leaves a lone surrogate: " + what);
    }
    return refuse(JsonError::syntax, what);
  }

 private:
  bool refuse(JsonError code, std::string message) {
    if (!failure) failure = JsonFailure{code, std::move(message)};
    return false;
  }
  bool out_of_range(const std::string& text) {
    return refuse(JsonError::integer_out_of_range,
                  "integer " + text + " is outside the range ±(2^53-1)");
  }
  // Places a value where the parser is: the root, the key just read, or the end of an array.
  json* place(json value) {
    if (stack_.empty()) {
      root = std::move(value);
      return &root;
    }
    json& parent = *stack_.back();
    if (parent.is_object()) {
      *pending_key_ = std::move(value);
      return pending_key_;
    }
    parent.push_back(std::move(value));
    return &parent.back();
  }
  bool put(json value) {
    place(std::move(value));
    return true;
  }
  bool open(json container) {
    if (stack_.size() >= kMaxJsonDepth) {
      return refuse(JsonError::too_deep,
                    "nesting is deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    stack_.push_back(place(std::move(container)));
    return true;
  }
  bool close() {
    stack_.pop_back();
    return true;
  }

  std::vector<json*> stack_;
  json* pending_key_ = nullptr;
};

}  // namespace

Result<json, JsonFailure> parse_json_strict(std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) {
    return fail(JsonFailure{JsonError::byte_order_mark, "JSON text starts with a UTF-8 BOM"});
  }
  if (auto bad = detail::first_invalid_utf8(text)) {
    return fail(JsonFailure{JsonError::invalid_utf8,
                            "invalid UTF-8 at byte offset " + std::to_string(*bad)});
  }
  StrictBuilder builder;
  const bool ok = json::sax_parse(text, &builder, json::input_format_t::json, /*strict=*/true,
                                  /*ignore_comments=*/false);
  if (!ok || builder.failure) {
    if (builder.failure) return fail(std::move(*builder.failure));
    return fail(JsonFailure{JsonError::syntax, "JSON syntax error"});
  }
  return std::move(builder.root);
}

}  // namespace mrt
