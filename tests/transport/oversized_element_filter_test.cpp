// OversizedElementFilter: the elements of one array over a size are dropped while the body streams
// in; every other byte passes unchanged, wherever the chunks are cut.
#include "oversized_element_filter.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace mrt::transport {
namespace {

using json = nlohmann::json;

const OversizedElements kToDevice{{"to_device", "events"}, 40};

std::string filtered(std::string_view body, std::size_t chunk = 1 << 20,
                     const OversizedElements& what = kToDevice, std::size_t* dropped = nullptr) {
  OversizedElementFilter filter(what);
  std::string out;
  for (std::size_t at = 0; at < body.size(); at += chunk) filter.feed(body.substr(at, chunk), out);
  if (dropped) *dropped = filter.dropped();
  return out;
}

std::string big(std::size_t n) {
  return json{{"type", "m.room.encrypted"}, {"pad", std::string(n, 'x')}}.dump();
}

TEST(OversizedElementFilter, ABodyWithoutTheArrayPassesUnchanged) {
  const std::string body =
      R"({"next_batch":"s1","rooms":{"join":{"!r":{"timeline":{"events":[)" + big(100) + "]}}}}}";
  EXPECT_EQ(filtered(body), body);
}

TEST(OversizedElementFilter, ElementsOverTheLimitAreDroppedAndTheRestKeptInOrder) {
  const std::string body = R"({"to_device":{"events":[{"n":1},)" + big(100) + R"(,{"n":2},)" +
                           big(200) + R"(]},"next_batch":"s2"})";
  std::size_t dropped = 0;
  const std::string out = filtered(body, 1 << 20, kToDevice, &dropped);
  EXPECT_EQ(json::parse(out),
            json::parse(R"({"to_device":{"events":[{"n":1},{"n":2}]},"next_batch":"s2"})"));
  EXPECT_EQ(dropped, 2u);
}

TEST(OversizedElementFilter, AllElementsDroppedLeaveAnEmptyArray) {
  const std::string body = R"({"to_device":{"events":[ )" + big(100) + " , " + big(100) + " ]}}";
  EXPECT_EQ(json::parse(filtered(body)), json::parse(R"({"to_device":{"events":[]}})"));
}

TEST(OversizedElementFilter, TheOutputIsTheSameWhereverTheChunksAreCut) {
  const std::string body = R"({"to_device":{"events":[{"s":"a,]\"}{["},)" + big(60) +
                           R"(,"plain",12,[1,[2]],null]},"x":"\\"})";
  const std::string whole = filtered(body);
  for (std::size_t chunk : {1u, 2u, 3u, 7u, 64u}) EXPECT_EQ(filtered(body, chunk), whole) << chunk;
  EXPECT_EQ(json::parse(whole)["to_device"]["events"],
            json::parse(R"([{"s":"a,]\"}{["},"plain",12,[1,[2]],null])"));
}

TEST(OversizedElementFilter, OnlyThePathFromTheRootIsFiltered) {
  // The same keys deeper down (inside an event, inside a room) are not the array.
  const OversizedElements what{{"to_device", "events"}, 1000};
  const std::string body = R"({"rooms":{"to_device":{"events":[)" + big(2000) +
                           R"(]}},"to_device":{"other":[)" + big(2000) +
                           R"(],"events":[{"to_device":{"events":[)" + big(10) + "]}}]}}";
  EXPECT_EQ(filtered(body, 1 << 20, what), body);
}

TEST(OversizedElementFilter, ADroppedElementIsNeverHeldWhole) {
  OversizedElementFilter filter(kToDevice);
  std::string out;
  filter.feed(R"({"to_device":{"events":[")", out);
  const std::size_t before = out.size();
  for (int i = 0; i < 1000; ++i) {
    filter.feed(std::string(1000, 'x'), out);
    ASSERT_LE(out.size(), before + kToDevice.max_element_bytes);
  }
  filter.feed(R"("]}})", out);
  EXPECT_EQ(json::parse(out), json::parse(R"({"to_device":{"events":[]}})"));
  EXPECT_EQ(filter.dropped(), 1u);
}

TEST(OversizedElementFilter, DeepNestingInsideAnElementKeepsNoFramePerLevel) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  const std::string body = R"({"to_device":{"events":[)" + deep + R"(,{"n":1}]},"next_batch":"s"})";
  std::size_t dropped = 0;
  const std::string out = filtered(body, 4096, kToDevice, &dropped);
  EXPECT_EQ(out, R"({"to_device":{"events":[{"n":1}]},"next_batch":"s"})");
  EXPECT_EQ(dropped, 1u);
}

TEST(OversizedElementFilter, MalformedInputPassesThroughWithoutFailing) {
  for (const std::string body : {"", "]]]}}}", R"({"to_device":{"events":[{"a":")", "\"\\",
                                 R"({"to_device":{"events":[1 2 3]}})"}) {
    EXPECT_NO_THROW(filtered(body, 1));
  }
}

}  // namespace
}  // namespace mrt::transport
