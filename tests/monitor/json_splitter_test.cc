#include "vmm/monitor/json_splitter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace rrvm::monitor {
namespace {

std::vector<std::string> split(JsonSplitter& s, const std::string& input) {
  std::vector<JsonSplitter::Item> items;
  s.feed(input, items);
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i.error.empty() ? i.text : "REFUSED " + i.error);
  return out;
}

TEST(JsonSplitter, SeveralObjectsOnOneLineAndOneOverSeveralReads) {
  JsonSplitter s;
  EXPECT_EQ(split(s, R"({"execute":"stop"}{"execute":"cont"})"
                     "\n"),
            (std::vector<std::string>{R"({"execute":"stop"})", R"({"execute":"cont"})"}));
  EXPECT_TRUE(split(s, "{\"execute\":\n  \"query-").empty());
  EXPECT_GT(s.pending(), 0u);
  EXPECT_EQ(split(s, "status\"}\r\n"),
            (std::vector<std::string>{"{\"execute\":\n  \"query-status\"}"}));
  EXPECT_EQ(s.pending(), 0u);
}

TEST(JsonSplitter, BracesInsideStringsAndEscapesDoNotCount) {
  JsonSplitter s;
  std::string text = R"({"execute":"trace-mark","arguments":{"text":"a } \" { ]"}})";
  EXPECT_EQ(split(s, text), std::vector<std::string>{text});
  EXPECT_EQ(split(s, R"(["x\\"])"), std::vector<std::string>{R"(["x\\"])"});
}

TEST(JsonSplitter, JunkIsHandedOutALineAtATime) {
  JsonSplitter s;
  EXPECT_EQ(split(s, "hello world\n{\"a\":1}"),
            (std::vector<std::string>{"hello world", "{\"a\":1}"}));
  EXPECT_EQ(split(s, "}\n42\n"), (std::vector<std::string>{"}", "42"}));
}

TEST(JsonSplitter, OversizedInputIsReportedOnceAndSkippedToTheNextLine) {
  JsonSplitter s(16);
  EXPECT_EQ(split(s, std::string("{\"a\":\"") + std::string(100, 'x')),
            std::vector<std::string>{"REFUSED QMP input too large"});
  EXPECT_EQ(s.pending(), 0u);
  EXPECT_TRUE(split(s, std::string(1000, 'y')).empty());  // still the same oversized line
  EXPECT_EQ(split(s, "\"}\n{\"b\":2}"), std::vector<std::string>{"{\"b\":2}"});
}

TEST(JsonSplitter, DeepNestingIsRefusedBeforeParsing) {
  JsonSplitter s;
  std::string deep(JsonSplitter::MAX_NESTING, '[');
  EXPECT_TRUE(split(s, deep).empty());  // at the limit: still collecting
  EXPECT_EQ(split(s, "[[[["),
            std::vector<std::string>{"REFUSED JSON nesting depth limit exceeded"});
  EXPECT_EQ(split(s, "]]]]\n{\"ok\":1}"), std::vector<std::string>{"{\"ok\":1}"});
}

}  // namespace
}  // namespace rrvm::monitor
