#include <gtest/gtest.h>

#include <mrt/canonical_json.hpp>

namespace mrt {
namespace {

std::string canon(std::string_view text) {
  auto parsed = parse_json_strict(text);
  if (!parsed) return "refused: " + parsed.error().message;
  return canonical_json(*parsed).value();
}

JsonError refusal(std::string_view text) {
  auto parsed = parse_json_strict(text);
  EXPECT_FALSE(parsed) << text;
  return parsed ? JsonError{} : parsed.error().code;
}

TEST(CanonicalJson, SortsKeysAndDropsWhitespace) {
  EXPECT_EQ(canon(R"({ "b" : "2", "a" : "1" })"), R"({"a":"1","b":"2"})");
}

TEST(CanonicalJson, SortsKeysByCodePointNotUtf16) {
  // U+FFFF sorts before U+1F600 by code point; UTF-16 order (surrogate 0xD83D) is the reverse.
  EXPECT_EQ(canon(R"({"\ud83d\ude00":1,"\uffff":2})"),
            "{\"\xEF\xBF\xBF\":2,\"\xF0\x9F\x98\x80\":1}");
}

TEST(CanonicalJson, WritesNonAsciiAsRawUtf8) {
  EXPECT_EQ(canon(R"({"a":"\u65E5"})"), "{\"a\":\"\xE6\x97\xA5\"}");
}

TEST(CanonicalJson, UsesShortEscapesAndLowercaseUnicodeEscapes) {
  EXPECT_EQ(canon(R"(["\"\\\/\b\f\n\r\t\u0001\u001F\u007f"])"),
            "[\"\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"]");
}

TEST(CanonicalJson, KeepsNulAsAnEscape) {
  EXPECT_EQ(canon(R"(["\u0000"])"), R"(["\u0000"])");
}

TEST(CanonicalJson, AcceptsTheIntegerLimits) {
  EXPECT_EQ(canon("[9007199254740991,-9007199254740991,0,-1]"),
            "[9007199254740991,-9007199254740991,0,-1]");
}

TEST(CanonicalJson, RefusesIntegersBeyondTheLimits) {
  EXPECT_EQ(refusal("9007199254740992"), JsonError::integer_out_of_range);
  EXPECT_EQ(refusal("-9007199254740992"), JsonError::integer_out_of_range);
  EXPECT_EQ(refusal("18446744073709551616"), JsonError::integer_out_of_range);
}

TEST(CanonicalJson, RefusesFractions) {
  EXPECT_EQ(refusal("1.0"), JsonError::fraction);
  EXPECT_EQ(refusal(R"({"a":1.5})"), JsonError::fraction);
}

TEST(CanonicalJson, RefusesExponentsEvenWhenIntegral) {
  EXPECT_EQ(refusal("1e10"), JsonError::exponent);
  EXPECT_EQ(refusal("1E5"), JsonError::exponent);
}

TEST(CanonicalJson, RefusesNegativeZero) {
  EXPECT_EQ(refusal("-0"), JsonError::negative_zero);
  EXPECT_EQ(refusal(R"({"a":-0})"), JsonError::negative_zero);
  EXPECT_EQ(refusal("-0.0"), JsonError::fraction);
}

TEST(CanonicalJson, RefusesDuplicateKeysAlsoWhenEscaped) {
  EXPECT_EQ(refusal(R"({"a":1,"a":2})"), JsonError::duplicate_key);
  EXPECT_EQ(refusal(R"({"a":1,"\u0061":2})"), JsonError::duplicate_key);
  EXPECT_EQ(refusal(R"({"x":{"a":1,"a":1}})"), JsonError::duplicate_key);
}

TEST(CanonicalJson, AllowsTheSameKeyInDifferentObjects) {
  EXPECT_EQ(canon(R"({"a":{"a":1},"b":{"a":2}})"), R"({"a":{"a":1},"b":{"a":2}})");
}

TEST(CanonicalJson, RefusesLoneSurrogates) {
  EXPECT_EQ(refusal(R"("\ud800")"), JsonError::lone_surrogate);
  EXPECT_EQ(refusal(R"("\udc00")"), JsonError::lone_surrogate);
  EXPECT_EQ(refusal(R"("\ud800\u0041")"), JsonError::lone_surrogate);
}

TEST(CanonicalJson, RefusesInvalidUtf8) {
  EXPECT_EQ(refusal("\"\xff\""), JsonError::invalid_utf8);
  EXPECT_EQ(refusal("\"\xc0\xaf\""), JsonError::invalid_utf8);          // overlong
  EXPECT_EQ(refusal("\"\xed\xa0\x80\""), JsonError::invalid_utf8);      // encoded surrogate
  EXPECT_EQ(refusal("\"\xf4\x90\x80\x80\""), JsonError::invalid_utf8);  // above U+10FFFF
  EXPECT_EQ(refusal("\"\xe2\x82\""), JsonError::invalid_utf8);          // truncated
}

TEST(CanonicalJson, RefusesAByteOrderMark) {
  EXPECT_EQ(refusal("\xEF\xBB\xBF{}"), JsonError::byte_order_mark);
}

TEST(CanonicalJson, RefusesSyntaxErrors) {
  for (const char* text : {"", "{", "{\"a\":1,}", "{a:1}", "'a'", "{} x", "NaN", "+1", "01",
                           "\"\x01\"", "[1 2]", "/* c */ 1"}) {
    EXPECT_EQ(refusal(text), JsonError::syntax) << text;
  }
}

TEST(CanonicalJson, SyntaxErrorsSayWhere) {
  auto r = parse_json_strict("{\"a\":}");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("column"), std::string::npos) << r.error().message;
}

TEST(CanonicalJson, RefusesNestingBeyondTheLimit) {
  std::string deep(kMaxJsonDepth + 1, '[');
  deep += std::string(kMaxJsonDepth + 1, ']');
  EXPECT_EQ(refusal(deep), JsonError::too_deep);
  std::string ok(kMaxJsonDepth, '[');
  ok += std::string(kMaxJsonDepth, ']');
  EXPECT_EQ(canon(ok), ok);
}

TEST(CanonicalJson, SerialiserRefusesFloats) {
  EXPECT_EQ(canonical_json(nlohmann::json(1.0)).error().code, JsonError::not_representable);
}

TEST(CanonicalJson, SerialiserRefusesOutOfRangeIntegers) {
  EXPECT_EQ(canonical_json(nlohmann::json(std::uint64_t{1} << 53)).error().code,
            JsonError::integer_out_of_range);
  EXPECT_EQ(canonical_json(nlohmann::json(-(std::int64_t{1} << 53))).error().code,
            JsonError::integer_out_of_range);
}

TEST(CanonicalJson, SerialiserRefusesInvalidUtf8InStringsAndKeys) {
  EXPECT_EQ(canonical_json(nlohmann::json("\xff")).error().code, JsonError::invalid_utf8);
  EXPECT_EQ(canonical_json(nlohmann::json{{"\xff", 1}}).error().code, JsonError::invalid_utf8);
}

TEST(CanonicalJson, SerialiserRefusesBuiltValuesNestedTooDeep) {
  nlohmann::json v = 1;
  for (std::size_t i = 0; i <= kMaxJsonDepth; ++i) v = nlohmann::json::array({v});
  EXPECT_EQ(canonical_json(v).error().code, JsonError::too_deep);
}

TEST(CanonicalJson, TopLevelScalarsAreAllowed) {
  EXPECT_EQ(canon(" \"x\" "), "\"x\"");
  EXPECT_EQ(canon("true"), "true");
  EXPECT_EQ(canon("null"), "null");
}

}  // namespace
}  // namespace mrt
