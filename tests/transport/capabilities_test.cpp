// Raiden's capabilities URL (include/mrt/capabilities.hpp): what Raiden's clients write and read
// in a profile's avatar_url.
#include <gtest/gtest.h>

#include <mrt/capabilities.hpp>

namespace mrt {
namespace {

TEST(Capabilities, AreWrittenAsRaidensCapabilitiesUrl) {
  const Capabilities caps{{"Receive", "1"}, {"Mediate", "0"}, {"toDevice", "1"}};
  EXPECT_EQ(capabilities_url(caps).value(),
            "mxc://raiden.network/cap?Receive=1&Mediate=0&toDevice=1");
}

TEST(Capabilities, NoneAreWrittenAsTheBareScheme) {
  EXPECT_EQ(capabilities_url({}).value(), "mxc://");
  EXPECT_TRUE(parse_capabilities_url("mxc://").value().empty());
}

TEST(Capabilities, WhatRaidenPublishesIsReadInOrder) {
  const auto caps = parse_capabilities_url(
      "mxc://raiden.network/cap?Receive=1&webRTC=1&Delivery=1&Mediate=1&toDevice=1&"
      "immutableMetadata=1");
  ASSERT_TRUE(caps);
  ASSERT_EQ(caps->size(), 6u);
  EXPECT_EQ(caps->front(), (std::pair<std::string, std::string>{"Receive", "1"}));
  EXPECT_EQ(caps->back(), (std::pair<std::string, std::string>{"immutableMetadata", "1"}));
}

TEST(Capabilities, AListIsItsKeyRepeated) {
  const Capabilities caps{{"k", "a"}, {"k", "b"}};
  EXPECT_EQ(parse_capabilities_url(capabilities_url(caps).value()).value(), caps);
}

TEST(Capabilities, ReservedCharactersSurviveTheRoundTrip) {
  const Capabilities caps{{"a&b=c", "x y+z%?#/"}, {"ü", "日本"}};
  const std::string url = capabilities_url(caps).value();
  EXPECT_EQ(url.find_first_of(" #", url.find('?')), std::string::npos) << url;
  EXPECT_EQ(parse_capabilities_url(url).value(), caps);
}

TEST(Capabilities, PlusIsASpaceAndAKeyWithoutValueIsEmpty) {
  EXPECT_EQ(parse_capabilities_url("mxc://raiden.network/cap?note=a+b&flag&&x=").value(),
            (Capabilities{{"note", "a b"}, {"flag", ""}, {"x", ""}}));
}

TEST(Capabilities, AnOrdinaryAvatarHoldsNone) {
  EXPECT_TRUE(parse_capabilities_url("mxc://matrix.org/AbCdEf").value().empty());
  EXPECT_TRUE(parse_capabilities_url("").value().empty());
}

TEST(Capabilities, ABadEscapeIsRefused) {
  EXPECT_EQ(parse_capabilities_url("mxc://raiden.network/cap?a=%2").error(),
            CapabilitiesError::bad_escape);
  EXPECT_EQ(parse_capabilities_url("mxc://raiden.network/cap?a=%zz").error(),
            CapabilitiesError::bad_escape);
}

TEST(Capabilities, AnEmptyKeyIsRefused) {
  EXPECT_EQ(parse_capabilities_url("mxc://raiden.network/cap?=1").error(),
            CapabilitiesError::empty_key);
  EXPECT_EQ(capabilities_url({{"", "1"}}).error(), CapabilitiesError::empty_key);
}

TEST(Capabilities, TextThatIsNotUtf8IsRefused) {
  EXPECT_EQ(parse_capabilities_url("mxc://raiden.network/cap?a=%ff").error(),
            CapabilitiesError::not_utf8);
  EXPECT_EQ(capabilities_url({{"a", "\xff"}}).error(), CapabilitiesError::not_utf8);
}

TEST(Capabilities, AUrlSynapseWouldRefuseIsTooLong) {
  EXPECT_EQ(capabilities_url({{"k", std::string(kMaxCapabilitiesUrlBytes, 'v')}}).error(),
            CapabilitiesError::too_long);
  EXPECT_EQ(parse_capabilities_url(std::string(kMaxCapabilitiesUrlBytes + 1, 'v')).error(),
            CapabilitiesError::too_long);
}

TEST(Capabilities, AsJsonARepeatedKeyIsAnArray) {
  EXPECT_EQ(capabilities_to_json({{"Receive", "1"}, {"k", "a"}, {"k", "b"}}),
            (nlohmann::json{{"Receive", "1"}, {"k", {"a", "b"}}}));
}

TEST(Capabilities, FromJsonBooleansAreOneOrZeroAndIntegersTheirText) {
  const auto caps = capabilities_from_json(
      nlohmann::json{{"Mediate", false}, {"Receive", true}, {"fee", 12}, {"k", {"a", "b"}}});
  EXPECT_EQ(
      caps.value(),
      (Capabilities{{"Mediate", "0"}, {"Receive", "1"}, {"fee", "12"}, {"k", "a"}, {"k", "b"}}));
}

TEST(Capabilities, FromJsonAnythingElseIsABadValue) {
  EXPECT_EQ(capabilities_from_json(nlohmann::json::array()).error(), CapabilitiesError::bad_value);
  EXPECT_EQ(capabilities_from_json({{"k", 1.5}}).error(), CapabilitiesError::bad_value);
  EXPECT_EQ(capabilities_from_json({{"k", {{"nested", "1"}}}}).error(),
            CapabilitiesError::bad_value);
  EXPECT_EQ(capabilities_from_json({{"k", nullptr}}).error(), CapabilitiesError::bad_value);
  EXPECT_EQ(capabilities_from_json({{"", "1"}}).error(), CapabilitiesError::empty_key);
}

}  // namespace
}  // namespace mrt
