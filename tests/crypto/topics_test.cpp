#include <gtest/gtest.h>

#include <mrt/envelope.hpp>
#include <mrt/topics.hpp>

namespace mrt {
namespace {

const Address kOperator = Address::parse("0x00000000000000000000000000000000000000aa").value();

TEST(TopicsTest, TopicsAreThoseOfProtocolSection6) {
  EXPECT_EQ(monitoring_topic(5), "raiden_5_monitoring");
  EXPECT_EQ(path_finding_topic(1), "raiden_1_path_finding");
  EXPECT_EQ(discovery_topic(1, kOperator),
            "raiden_1_discovery_0x00000000000000000000000000000000000000aa");
  EXPECT_EQ(events_topic(4321, kOperator),
            "raiden_4321_events_0x00000000000000000000000000000000000000aa");
  EXPECT_TRUE(is_topic(events_topic(~0ULL, kOperator)));
}

TEST(TopicsTest, AnEventsTopicNamesItsOperator) {
  EXPECT_EQ(events_topic_operator(events_topic(1, kOperator)), kOperator);
}

TEST(TopicsTest, OtherTopicsNameNoOperator) {
  for (const char* topic :
       {"raiden_1_monitoring", "raiden_1_discovery_0x00000000000000000000000000000000000000aa",
        "raiden__events_0x00000000000000000000000000000000000000aa",
        "raiden_01_events_0x00000000000000000000000000000000000000aa",
        "raiden_x_events_0x00000000000000000000000000000000000000aa",
        "raiden_1_events_0x00000000000000000000000000000000000000AA",
        "raiden_1_events_0x00000000000000000000000000000000000000aa_more", "raiden_1_events_",
        "other_1_events_0x00000000000000000000000000000000000000aa"}) {
    EXPECT_FALSE(events_topic_operator(topic)) << topic;
  }
}

}  // namespace
}  // namespace mrt
